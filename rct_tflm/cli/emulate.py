"""`rct-tflm emulate`: run the firmware on the golden engine, the host build or QEMU."""
from __future__ import annotations

from typing import Any

import click

from ..boards import QEMU_BOARDS
from ..errors import UserError
from .options import engine_config, engine_options, out_callback


def parse_classes(spec: str | None) -> tuple[int, ...] | None:
    """'0-4' or '0,2,5' (or a mix) -> sorted class ids."""
    if spec is None:
        return None
    out: set[int] = set()
    try:
        for part in spec.split(","):
            a, sep, b = part.strip().partition("-")
            lo, hi = int(a), int(b) if sep else int(a)
            if lo < 0 or hi < lo:
                raise ValueError
            out.update(range(lo, hi + 1))
    except ValueError:
        raise UserError(f"--train-classes '{spec}': give class ids like 0-4 or 0,2,5") from None
    return tuple(sorted(out))


def _boot(board: str, firmware_dir: str) -> None:
    from ..emulator.boot import serve

    def show(url: str) -> None:
        click.echo(f"serial: {url}")
        click.echo("running; press Ctrl-C to stop", err=True)

    code = serve(board, firmware_dir, show)
    if code is not None:
        raise click.ClickException(f"the firmware exited on its own (code {code})")
    click.echo("stopped", err=True)


@click.command("emulate")
@click.argument("firmware_dir", required=False, type=click.Path())
@click.option("--board", default=None,
              help=f"boot FIRMWARE_DIR on {', '.join(QEMU_BOARDS)} or "
                   "host and print its serial URL (instead of a training run)")
@click.option("--target", type=click.Choice(["golden", "host"]), default=None,
              help="golden: numpy engine; host: the generated C as a shared library")
@click.option("--model", "model_path", type=click.Path(), default=None, help="model artefact (.rct)")
@click.option("--data", default="digits", show_default=True,
              help="digits, mnist-idx:DIR[@14x14], npz:PATH or csv:PATH")
@click.option("--epochs", type=int, default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(), callback=out_callback("dir"), default=None,
              help="output folder (replaced only when the run succeeds)")
@click.option("--batch", type=int, default=1, show_default=True,
              help="micro-batch size (1: streaming SGD)")
@click.option("--max-samples", type=int, default=None, help="stop after this many samples")
@click.option("--split-seed", type=int, default=None,
              help="data split seed (default: the artefact's training seed, its held-out split)")
@click.option("--eval-every", type=int, default=None,
              help="test accuracy every N samples (default: after every epoch)")
@click.option("--train-classes", default=None,
              help="train only on samples of these classes, e.g. 0-4 or 0,2,5 (test on all)")
@click.option("--sanitize", is_flag=True, default=False,
              help="host: build with -fsanitize=address,undefined (preload libasan, see docs)")
@click.option("--progress/--no-progress", default=True, show_default=True)
@engine_options
def emulate_cmd(firmware_dir: str | None, board: str | None, target: str | None,
                model_path: str | None, out: str | None, **kw: Any) -> None:
    """Train with the integer engine (--target), or boot a built firmware (--board DIR)."""
    if board is not None:
        if firmware_dir is None:
            raise UserError("--board needs the firmware folder: rct-tflm emulate --board "
                            f"{board} FIRMWARE_DIR")
        if target or model_path or out:
            raise UserError("--board boots a firmware; --target/--model/--out start a training "
                            "run; give one or the other")
        from ..firmware_build import check_built_for
        check_built_for(firmware_dir, board, "boot it with")
        _boot(board, firmware_dir)
        return
    if firmware_dir is not None:
        raise UserError(f"unexpected argument '{firmware_dir}': a firmware folder needs --board")
    missing = [o for o, v in (("--target", target), ("--model", model_path), ("--out", out)) if not v]
    if missing:
        raise UserError(f"missing {', '.join(missing)}: rct-tflm emulate --target golden|host "
                        f"--model ART --out DIR (or --board B FIRMWARE_DIR)")
    from .outdir import staged_out
    from ..emulator.run import EmulateConfig, emulate_run, prepare
    cfg = EmulateConfig(target=target, model=model_path, data=kw["data"], epochs=kw["epochs"],
                        seed=kw["seed"], batch=kw["batch"], max_samples=kw["max_samples"],
                        eval_every=kw["eval_every"], trainable_layers=kw["trainable_layers"],
                        frozen_layers=kw["frozen_layers"], engine=engine_config(kw, kw["batch"]),
                        sanitize=kw["sanitize"], train_classes=parse_classes(kw["train_classes"]),
                        split_seed=kw["split_seed"])
    prep = prepare(cfg)
    with staged_out(out) as tmp:
        rec = emulate_run(prep, tmp, progress=kw["progress"])
    sps = rec["samples_per_s"]
    click.echo(f"{target}: test accuracy {100 * rec['test_accuracy_before']:.2f}% -> "
               f"{100 * rec['test_accuracy_after']:.2f}% after {rec['samples']} samples "
               f"({sps:.0f} samples/s), {len(rec['bitwidth_history']['changes'])} bitwidth "
               f"changes, weights sha256 {rec['weights_sha256'][:16]}...")
    click.echo(f"wrote {out}/: emulate.json model.rct bitwidths.png curves.png")


COMMANDS = [emulate_cmd]
