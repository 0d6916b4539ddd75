"""`rct-tflm compare`: RCT against the fp32 and QAT baselines on the same data."""
from __future__ import annotations

import json
from typing import Any

import click

from .outdir import staged_out
from .train import train_config, train_options, train_summary


@click.command("compare")
@train_options(with_method=False)
def compare_cmd(**kw: Any) -> None:
    """Train fp32, qat and rct with the same settings; write compare.md and compare.json."""
    from ..trainer.runner import compare_run
    cfg = train_config(kw, "rct")
    with staged_out(kw["out"]) as tmp:
        compare_run(cfg, tmp, progress=kw["progress"],
                    on_done=lambda meth, m: click.echo(train_summary(m)))
        c = json.loads((tmp / "compare.json").read_text())
    r = c.get("rct_vs_fp32", {})
    fmt = lambda v: "n/a" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    click.echo(f"RCT vs FP32: GEMM energy saving {fmt(r.get('gemm_energy_saving'))}, parameter "
               f"memory saving {fmt(r.get('param_memory_saving'))} (containers), "
               f"{fmt(r.get('param_memory_saving_packed'))} (packed)")
    click.echo(f"wrote {kw['out']}/: compare.md compare.json fp32/ qat/ rct/")


COMMANDS = [compare_cmd]
