"""`rct-tflm train`: host RCT training (baselines: fp32, QAT) into a run folder."""
from __future__ import annotations

from typing import Any, Callable

import click

from .options import FINITE, controller_config, controller_options, out_callback
from .outdir import staged_out


DEFAULTS = {"epochs": 20, "lr": 0.1, "batch_size": 32}


def train_options(with_method: bool) -> Callable:
    """The key options first (model, data, out, method), then the SGD settings, then the
    bitwidth controller's section."""
    def deco(f: Callable) -> Callable:
        opts = [
            click.option("--model", default="builtin", show_default=True,
                         help="builtin, builtin:NAME (mlp, mlp784, mlp196, cnn, resnet8, text, "
                              "tabular, autoencoder), or a .keras/.h5 file"),
            click.option("--data", default="digits", show_default=True,
                         help="digits, anomaly, mnist-idx:DIR[@14x14], sms:PATH, npz:PATH or "
                              "csv:PATH"),
            click.option("--loss", type=click.Choice(["auto", "softmax_ce", "mse"]),
                         default="auto", show_default=True,
                         help="auto: the Keras model's compile loss, else the data's (labels: "
                              "softmax_ce; 2-D y or no y: mse)"),
            click.option("--autoencoder", is_flag=True,
                         help="targets are the inputs (MSE); y, if 0/1, marks anomalies"),
            click.option("--out", type=click.Path(), callback=out_callback("dir"), required=True,
                         help="output folder (replaced only when the run succeeds)"),
            *([click.option("--method", type=click.Choice(["rct", "qat", "fp32"]), default="rct",
                            show_default=True,
                            help="rct: integer weights only; qat / fp32: the baselines")]
              if with_method else []),
            click.option("--epochs", type=int, default=DEFAULTS["epochs"], show_default=True),
            click.option("--lr", type=FINITE, default=DEFAULTS["lr"], show_default=True,
                         help="SGD learning rate (no momentum)"),
            click.option("--batch-size", type=int, default=DEFAULTS["batch_size"],
                         show_default=True, help="samples per weight update"),
            click.option("--seed", type=int, default=0, show_default=True),
            click.option("--progress/--no-progress", default=True, show_default=True),
        ]
        f = controller_options(f)
        for o in reversed(opts):
            f = o(f)
        return f
    return deco


def train_config(kw: dict[str, Any], method: str) -> Any:
    from ..trainer.runner import TrainConfig
    # the trainer's baseline switch is `bits`, so its controller stays enabled here
    ctrl = controller_config({**kw, "fixed_bits": False})
    cfg = TrainConfig(model=kw["model"], data=kw["data"], method=method, epochs=kw["epochs"],
                      seed=kw["seed"], lr=kw["lr"], batch_size=kw["batch_size"],
                      rounding=kw["rounding"], bits="fixed" if kw["fixed_bits"] else "dynamic",
                      controller=ctrl, loss=kw["loss"], autoencoder=kw["autoencoder"])
    cfg.validate()
    return cfg


def train_summary(m: dict) -> str:
    f1 = f", F1 {100 * m['test_f1']:.2f}%" if m.get("test_f1") is not None else ""
    bits = "/".join(str(b) for b in m["final_bitwidths"].values())
    if m.get("loss") == "mse":
        auc = "" if m.get("test_auc") is None else f", anomaly AUC {m['test_auc']:.4f}"
        return (f"{m['method']}: mean test score (MSE) {m['test_score_mean']:.5f}{auc}, final "
                f"bits {bits}, {m['steps']} steps in {m['train_seconds']:.1f} s")
    return (f"{m['method']}: test accuracy {100 * m['test_accuracy']:.2f}%{f1}, final bits "
            f"{bits}, {m['steps']} steps in {m['train_seconds']:.1f} s")


@click.command("train")
@train_options(with_method=True)
def train_cmd(**kw: Any) -> None:
    """Train a model on the host with RCT (integer weights), or the FP32 / QAT baselines."""
    from ..trainer.runner import prepare, train_run
    cfg = train_config(kw, kw["method"])
    prep = prepare(cfg)  # every user error before any output or training
    with staged_out(kw["out"]) as tmp:
        m = train_run(cfg, tmp, progress=kw["progress"], prep=prep)
    click.echo(train_summary(m))
    click.echo(f"wrote {kw['out']}/: model.rct metrics.json bitwidths.png curves.png energy_memory.png")


COMMANDS = [train_cmd]
