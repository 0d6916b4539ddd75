"""`rct-tflm train` and `rct-tflm compare`: host training (RCT, FP32, QAT) and the comparison.

Everything that can be wrong with the input is checked before training starts. Outputs go to
a temp folder beside --out that replaces --out only when the run succeeded, so a failed or
interrupted run leaves --out as it was (absent if it did not exist).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import click

from ..errors import UserError
from .options import FINITE, controller_config, controller_options, out_callback
from .outdir import staged_out

DEFAULTS = {"epochs": 20, "lr": 0.1, "batch_size": 32}


def _options(with_method: bool) -> Callable:
    def deco(f: Callable) -> Callable:
        opts = [
            click.option("--model", default="builtin", show_default=True,
                         help="builtin, builtin:NAME (mlp, mlp784, mlp196, cnn, text, tabular), "
                              "or a .keras/.h5 file"),
            click.option("--data", default="digits", show_default=True,
                         help="digits, mnist-idx:DIR[@14x14], sms:PATH, npz:PATH or csv:PATH"),
            *([click.option("--method", default="rct", show_default=True,
                            help="rct, qat or fp32")] if with_method else []),
            click.option("--epochs", type=int, default=DEFAULTS["epochs"], show_default=True),
            click.option("--seed", type=int, default=0, show_default=True),
            click.option("--out", type=click.Path(), callback=out_callback("dir"), required=True,
                         help="output folder (replaced only when the run succeeds)"),
            click.option("--lr", type=FINITE, default=DEFAULTS["lr"], show_default=True,
                         help="SGD learning rate (no momentum)"),
            click.option("--batch-size", type=int, default=DEFAULTS["batch_size"], show_default=True),
            click.option("--progress/--no-progress", default=True, show_default=True),
        ]
        for o in reversed(opts):
            f = o(f)
        return controller_options(f)
    return deco


def _config(kw: dict[str, Any], method: str) -> Any:
    from ..rct.runner import TrainConfig
    # the trainer's baseline switch is `bits`, so its controller stays enabled here
    ctrl = controller_config({**kw, "fixed_bits": False})
    cfg = TrainConfig(model=kw["model"], data=kw["data"], method=method, epochs=kw["epochs"],
                      seed=kw["seed"], lr=kw["lr"], batch_size=kw["batch_size"],
                      rounding=kw["rounding"], bits="fixed" if kw["fixed_bits"] else "dynamic",
                      controller=ctrl)
    cfg.validate()
    return cfg


def _summary(m: dict) -> str:
    f1 = f", F1 {100 * m['test_f1']:.2f}%" if m.get("test_f1") is not None else ""
    bits = "/".join(str(b) for b in m["final_bitwidths"].values())
    return (f"{m['method']}: test accuracy {100 * m['test_accuracy']:.2f}%{f1}, final bits "
            f"{bits}, {m['steps']} steps in {m['train_seconds']:.1f} s")


@click.command("train")
@_options(with_method=True)
def train_cmd(**kw: Any) -> None:
    """Train a model on the host with RCT (integer weights), or the FP32 / QAT baselines."""
    from ..rct.runner import prepare, train_run
    cfg = _config(kw, kw["method"])
    prep = prepare(cfg)  # every user error before any output or training
    with staged_out(kw["out"]) as tmp:
        m = train_run(cfg, tmp, progress=kw["progress"], prep=prep)
    click.echo(_summary(m))
    click.echo(f"wrote {kw['out']}/: model.rct metrics.json bitwidths.png curves.png energy_memory.png")


@click.command("compare")
@_options(with_method=False)
def compare_cmd(**kw: Any) -> None:
    """Train fp32, qat and rct with the same settings; write compare.md and compare.json."""
    from ..rct.runner import compare_run
    cfg = _config(kw, "rct")
    with staged_out(kw["out"]) as tmp:
        compare_run(cfg, tmp, progress=kw["progress"],
                    on_done=lambda meth, m: click.echo(_summary(m)))
        c = json.loads((tmp / "compare.json").read_text())
    r = c.get("rct_vs_fp32", {})
    fmt = lambda v: "n/a" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    click.echo(f"RCT vs FP32: GEMM energy saving {fmt(r.get('gemm_energy_saving'))}, parameter "
               f"memory saving {fmt(r.get('param_memory_saving'))} (containers), "
               f"{fmt(r.get('param_memory_saving_packed'))} (packed)")
    click.echo(f"wrote {kw['out']}/: compare.md compare.json fp32/ qat/ rct/")


COMMANDS = [train_cmd, compare_cmd]
