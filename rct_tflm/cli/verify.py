"""`rct-tflm verify`: the frozen part, on a target, against TensorFlow Lite Micro itself."""
from __future__ import annotations

import click

from .options import out_callback


@click.command("verify")
@click.option("--model", "model_path", required=True, type=click.Path(),
              help="the frozen part as a fully int8 .tflite")
@click.option("--data", default="random:500", show_default=True,
              help="random:N (uniform int8 samples) or a data set shaped like the model's input "
                   "(npz:PATH, csv:PATH, ...), quantised with the input's scale")
@click.option("--target", type=click.Choice(["golden", "host", "qemu-stm32f405",
                                            "qemu-mps2-an386", "qemu-mps2-an500"]),
              default="golden", show_default=True,
              help="golden: the numpy twins, every layer compared; host: the generated C with "
                   "ASan/UBSan; qemu-*: the generated C on the emulated board")
@click.option("--samples", type=int, default=500, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(), callback=out_callback("dir"))
def verify_cmd(model_path: str, data: str, target: str, samples: int, seed: int,
               out: str) -> None:
    """Run the frozen part on the target and in the tflite-micro interpreter: integer for
    integer, or the first sample and layer that differ."""
    from ..verify.run import VerifyConfig, run_verify
    r = run_verify(VerifyConfig(model_path, data, target, out, samples, seed))
    where = ""
    if r.get("first_mismatching_layer"):
        lay = r["first_mismatching_layer"]
        where = f"; first layer that differs: op {lay['op']} {lay['name']} ({lay['tensor']})"
    click.echo(f"{target}: {r['compared']} samples, {r['mismatches']} mismatches with "
               f"tflite-micro (max |diff| {r['max_abs_diff']}){where}; {r['calls']} calls, "
               f"{r['const_bytes']} B constants, {r['arena_bytes']} B arena")
    click.echo(f"wrote {out}/verify.json")
    if r["mismatches"] or r.get("first_mismatching_layer"):
        raise SystemExit(1)


COMMANDS = [verify_cmd]
