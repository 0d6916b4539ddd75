"""Click options shared by several commands: the RCT bitwidth controller's settings."""
from __future__ import annotations

from typing import Any, Callable

import click

from ..errors import UserError


def controller_options(f: Callable) -> Callable:
    """--rounding, --fixed-bits/--dynamic-bits, --bits-init/min/max, --t-min/max, --sat-guard,
    --period-samples (defaults: docs/numerics.md)."""
    opts = [
        click.option("--rounding", type=click.Choice(["stochastic", "nearest"]),
                     default="stochastic", show_default=True, help="rounding of weight updates"),
        click.option("--fixed-bits/--dynamic-bits", default=False, show_default=True,
                     help="keep every tensor at its initial bitwidth (controller off)"),
        click.option("--bits-init", type=int, default=8, show_default=True,
                     help="bitwidth of float tensors when quantised"),
        click.option("--bits-min", type=int, default=4, show_default=True),
        click.option("--bits-max", type=int, default=16, show_default=True),
        click.option("--t-min", type=float, default=0.1, show_default=True,
                     help="Gavg below this adds a low bit"),
        click.option("--t-max", type=float, default=0.5, show_default=True,
                     help="Gavg above this drops a low bit"),
        click.option("--sat-guard", type=float, default=0.005, show_default=True,
                     help="saturated fraction that adds a high bit"),
        click.option("--period-samples", type=int, default=1600, show_default=True,
                     help="controller decision period, in samples (>= 512)"),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def controller_config(kw: dict[str, Any]) -> Any:
    """The ControllerConfig of the options above; a bad combination is a UserError."""
    from ..fixedpoint import ControllerConfig
    try:
        return ControllerConfig(bits_init=kw["bits_init"], bits_min=kw["bits_min"],
                                bits_max=kw["bits_max"], t_min=kw["t_min"], t_max=kw["t_max"],
                                sat_guard=kw["sat_guard"], period_samples=kw["period_samples"],
                                enabled=not kw["fixed_bits"],
                                gavg_ref_samples=kw.get("gavg_ref_samples", 0))
    except ValueError as e:
        raise UserError(f"bad controller option: {e}") from None
