"""Click options shared by several commands: the RCT bitwidth controller's settings, finite
floats, and the --out check every command runs before it starts work."""
from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any, Callable

import click
from click_option_group import optgroup

from ..errors import UserError


class FiniteFloat(click.ParamType):
    """A float that is not NaN or +-inf (click's FLOAT accepts both)."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            v = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(v):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return v


FINITE = FiniteFloat()


def check_out(value: str | Path, kind: str = "dir", opt: str = "--out") -> None:
    """UserError unless `value` can become a `kind` ("dir" or "file"): not the other kind, under
    a folder, and writable there (a probe file; root ignores permission bits, not read-only
    mounts)."""
    p = Path(value)
    if kind == "dir" and p.exists() and not p.is_dir():
        raise UserError(f"{opt} {p} exists and is not a folder; give a folder path")
    if kind == "file" and p.is_dir():
        raise UserError(f"{opt} {p} is a folder; give a file path")
    where = [p] if kind == "dir" and p.is_dir() else []  # stream writes into an existing --out
    a = p.parent
    while not a.exists() and a != a.parent:
        a = a.parent
    if not a.is_dir():
        raise UserError(f"{opt} {p} cannot be created: {a} is a file, not a folder; choose a "
                        f"path under a folder")
    for d in where + [a]:
        try:
            with tempfile.TemporaryFile(dir=d):
                pass
        except OSError as e:
            raise UserError(f"{opt} {p} is not writable ({d}: {e.strerror or e}); choose a "
                            f"writable path") from None


def out_callback(kind: str = "dir") -> Callable:
    """click callback running check_out on an --out option (None passes)."""
    def cb(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            check_out(value, kind, param.opts[0] if param.opts else "--out")
        return value
    return cb


def grouped(f: Callable, title: str, help: str, opts: list[tuple[tuple, dict]]) -> Callable:
    """Apply `opts` ((names, click kwargs) pairs) as one titled section of --help
    (click-option-group), in the order given."""
    for names, kw in reversed(opts):
        f = optgroup.option(*names, **kw)(f)
    return optgroup.group(title, help=help)(f)


def controller_options(f: Callable, t_max: float = 0.5) -> Callable:
    """--rounding, --fixed-bits/--dynamic-bits, --bits-init/min/max, --t-min/max, --sat-guard,
    --period-samples (defaults: docs/numerics.md; `t_max`: the trainer's 0.5 or the integer
    engine's DEVICE_T_MAX), one --help section placed where the decorator stands."""
    return grouped(f, "Bitwidth controller", "the RCT rules (docs/numerics.md)", [
        (("--rounding",), dict(type=click.Choice(["stochastic", "nearest"]), default="stochastic",
                               show_default=True, help="rounding of weight updates")),
        (("--fixed-bits/--dynamic-bits",), dict(default=False, show_default=True,
                                                help="keep every tensor at its initial bitwidth "
                                                     "(controller off)")),
        (("--bits-init",), dict(type=int, default=8, show_default=True,
                                help="bitwidth of float tensors when quantised")),
        (("--bits-min",), dict(type=int, default=4, show_default=True)),
        (("--bits-max",), dict(type=int, default=16, show_default=True)),
        (("--t-min",), dict(type=FINITE, default=0.1, show_default=True,
                            help="Gavg below this adds a low bit")),
        (("--t-max",), dict(type=FINITE, default=t_max, show_default=True,
                            help="Gavg above this drops a low bit")),
        (("--sat-guard",), dict(type=FINITE, default=0.005, show_default=True,
                                help="saturated fraction that adds a high bit")),
        (("--period-samples",), dict(type=int, default=1600, show_default=True,
                                     help="controller decision period, in samples (>= 512)")),
    ])


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



# = fixedpoint.controller.DEVICE_GAVG_REF_SAMPLES / DEVICE_T_MAX (no numpy at import)
DEVICE_GAVG_REF_SAMPLES = 32
DEVICE_T_MAX = 2.0


def lr_to_shift(lr: float) -> int:
    """The integer engine's learning rate is 2^-N: the N nearest to `lr` in log2, 0..30."""
    from ..fixedpoint.config import LR_SHIFT_MAX
    if not lr > 0:
        raise UserError(f"--lr must be positive, got {lr:g}")
    n = round(-math.log2(lr))
    if not 0 <= n <= LR_SHIFT_MAX:
        raise UserError(f"--lr {lr:g} is outside the integer engine's 2^-{LR_SHIFT_MAX} .. 1; "
                        f"give a rate in that range")
    return n


def lr_callback(ctx: click.Context, param: click.Parameter, value: Any) -> int | None:
    """--lr RATE -> its power-of-two shift; a rate the user typed is printed as it will be used."""
    if value is None:
        return None
    n = lr_to_shift(value)
    if ctx.get_parameter_source(param.name) == click.core.ParameterSource.COMMANDLINE:
        click.echo(f"--lr {value:g}: the integer engine's rates are powers of two; using "
                   f"2^-{n} = {2.0 ** -n:g}", err=True)
    return n


def lr_kwargs(default: float | None, help: str) -> dict[str, Any]:
    """click kwargs of --lr on the integer-engine commands: the command receives `lr_shift`
    (N of 2^-N)."""
    return dict(type=FINITE, default=default, callback=lr_callback,
                show_default=default is not None, metavar="RATE", help=help)


def engine_options(f: Callable) -> Callable:
    """The integer engine's options (learning rate, accumulator policy, the split) and the
    controller's, as two --help sections."""
    f = controller_options(f, t_max=DEVICE_T_MAX)
    f = grouped(f, "Integer engine", "on-device training settings", [
        (("--lr", "lr_shift"), lr_kwargs(2.0 ** -5, "learning rate, rounded to the nearest "
                                                    "power of two (printed)")),
        (("--acc-policy",), dict(type=click.Choice(["int64", "cap"]), default="int64",
                                 show_default=True,
                                 help="layers whose int32 sum could overflow: 64-bit "
                                      "accumulator, or cap their bitwidth to the largest safe one")),
        (("--trainable-layers",), dict(type=int, default=None,
                                       help="train the last K parametric layers (default: the "
                                            "partition plan's, else the artefact's choice)")),
        (("--frozen-layers",), dict(type=int, default=None,
                                    help="freeze the first K parametric layers")),
        (("--gavg-ref-samples",), dict(type=int, default=DEVICE_GAVG_REF_SAMPLES,
                                       show_default=True,
                                       help="controller: compare T_min/T_max with Gavg "
                                            "accumulated over N samples (0: the per-step mean, "
                                            "the trainer's rule; always 0 with --rounding "
                                            "nearest)")),
    ])
    return f


def engine_config(kw: dict[str, Any], max_batch: int):
    from ..fixedpoint.config import EngineConfig
    cc = controller_config(kw)
    return EngineConfig(lr_shift=kw["lr_shift"], seed=kw["seed"], controller=cc,
                        stochastic=kw["rounding"] == "stochastic", max_batch=max_batch,
                        acc_policy=kw["acc_policy"])


def device_defaults(max_batch: int = 1):
    """The EngineConfig `rct-tflm build` compiles when given no engine options."""
    from .build import build_cmd
    ctx = build_cmd.make_context("build", ["--out", ".", "--model", "."], resilient_parsing=True)
    return engine_config(ctx.params, max_batch)


def plan_target(art: Any, model_path: str, board: str | None, max_batch: int | None,
                kw: dict[str, Any]) -> Any:
    """partition.Target of a command's --board/--batch-size/split flags against the model's
    plan (a contradiction is a UserError naming both)."""
    from ..partition import target_for
    return target_for(art, board, max_batch, kw.get("trainable_layers"), kw.get("frozen_layers"),
                      model_path)
