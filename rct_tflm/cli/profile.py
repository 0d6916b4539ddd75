"""`rct-tflm profile`: instruction counts of a firmware's training step and inference per kernel
call, in an instruction-counting Cortex-M emulator, checked against the golden engine
(rct_tflm.profile, docs/profile.md). No TensorFlow."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..boards import DEFAULT_BOARD, KERNEL_SETS
from ..errors import UserError
from .options import engine_config, engine_options, out_callback, plan_target
from .outdir import staged_out


@click.command("profile")
@click.option("--model", "model_path", required=True, type=click.Path(),
              help="model artefact (.rct, or its `rct-tflm train --out` folder): generated and "
                   "built for --board, then profiled")
@click.option("--board", default=None,
              help="a Cortex-M board from `rct-tflm boards` (default: the partition plan's, "
                   f"else {DEFAULT_BOARD})")
@click.option("--out", required=True, type=click.Path(), callback=out_callback("dir"),
              help="output folder: profile.json, profile.txt, profile.png, firmware/")
@click.option("--data", "data_spec", default=None,
              help="training samples (digits, mnist-idx:DIR, ...; default: seeded random int8)")
@click.option("--steps", type=int, default=4, show_default=True,
              help="training steps profiled (batch 1) before the weights check")
@click.option("--boundary/--no-boundary", default=False, show_default=True,
              help="also train up to the controller's first period boundary and profile that "
                   "step (--period-samples steps in all)")
@click.option("--kernels", type=click.Choice(KERNEL_SETS), default="auto", show_default=True,
              help="kernel set to build: fast (Cortex-M4/M7 DSP), portable, or auto (the board's)")
@click.option("--seed", type=int, default=0, show_default=True, help="PRNG seed")
@engine_options
def profile_cmd(model_path: str, board: str | None, out: str, data_spec: str | None, steps: int,
                boundary: bool, kernels: str, seed: int, **kw: Any) -> None:
    """Count the instructions of each kernel call of a training step and an inference."""
    from ..program import load_artefact
    from ..profile import report
    from ..profile.run import build, cortex_m_board, profile_firmware

    if steps < 1:
        raise UserError(f"--steps must be >= 1, got {steps}")
    if not Path(model_path).exists():
        raise UserError(f"--model {model_path} does not exist; give a model artefact (.rct) "
                        f"from `rct-tflm train`")
    art = load_artefact(model_path)
    t = plan_target(art, model_path, board, None, kw)
    b = cortex_m_board(t.board)
    b.kernel_set(kernels)  # a fast set on a core without DSP is refused before building
    cfg = engine_config({**kw, "seed": seed}, t.max_batch)
    x = y = None
    if data_spec:
        from ..data import load_dataset
        from ..fixedpoint.config import quantise_inputs
        if "input_exp" not in art.preprocess:
            raise UserError(f"--model {model_path} has no preprocess.input_exp; re-create it "
                            f"with `rct-tflm train`")
        d = load_dataset(data_spec, seed)
        x = quantise_inputs(d.x_train.reshape(len(d.x_train), -1), art.preprocess["input_exp"])
        y = d.y_train
    with staged_out(out) as tmp:
        man = build(art, b, tmp / "firmware", cfg, t.trainable_layers, t.frozen_layers,
                    kernels, Path(model_path).stem)
        rec = profile_firmware(tmp / "firmware", art, b, x, y, steps, boundary, seed)
        rec["model"] = Path(model_path).name
        rec["kernels_impl"] = man["kernels"]
        rec["firmware"] = "firmware"
        report.write(rec, tmp)
    click.echo(report.table(rec))
    click.echo(f"wrote {out}/: profile.json profile.txt profile.png firmware/")


COMMANDS = [profile_cmd]
