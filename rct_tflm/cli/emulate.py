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
@click.option("--target", type=click.Choice(["golden", "host", *QEMU_BOARDS]), required=True,
              help="where it runs. A training run (--model, --out): golden (numpy engine) or "
                   "host (the generated C as a shared library). With FIRMWARE_DIR: boot that "
                   "build on host or a QEMU board and print its serial URL")
@click.option("--model", "model_path", type=click.Path(), default=None,
              help="model artefact (.rct, or the folder holding model.rct)")
@click.option("--data", default="digits", show_default=True,
              help="digits, mnist-idx:DIR[@14x14], npz:PATH or csv:PATH")
@click.option("--epochs", type=int, default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(), callback=out_callback("dir"), default=None,
              help="output folder (replaced only when the run succeeds)")
@click.option("--batch-size", "batch", type=int, default=1, show_default=True,
              help="samples per weight update (1: streaming SGD; at most the plan's)")
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
def emulate_cmd(firmware_dir: str | None, target: str, model_path: str | None,
                out: str | None, **kw: Any) -> None:
    """Train with the integer engine (--target golden|host --model M --out DIR), or boot a built
    firmware (--target BOARD FIRMWARE_DIR)."""
    if firmware_dir is not None:
        if target == "golden":
            raise UserError("the golden model runs no firmware: boot FIRMWARE_DIR with --target "
                            f"host or one of {', '.join(QEMU_BOARDS)}")
        if model_path or out:
            raise UserError("FIRMWARE_DIR boots a firmware; --model/--out start a training run; "
                            "give one or the other")
        from ..firmware_build import check_built_for
        check_built_for(firmware_dir, target, "boot it with")
        _boot(target, firmware_dir)
        return
    if target not in ("golden", "host"):
        raise UserError(f"--target {target} boots a built firmware: rct-tflm emulate --target "
                        f"{target} FIRMWARE_DIR (training runs: --target golden or host)")
    missing = [o for o, v in (("--model", model_path), ("--out", out)) if not v]
    if missing:
        raise UserError(f"missing {', '.join(missing)}: rct-tflm emulate --target {target} "
                        f"--model ART --out DIR (or --target BOARD FIRMWARE_DIR)")
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
    if rec.get("loss") == "mse":  # scores, and their AUC when the test data marks anomalies
        auc = rec["test_auc_after"]
        what = (f"mean test score {rec['test_score_mean_before']:.5f} -> "
                f"{rec['test_score_mean_after']:.5f}" + ("" if auc is None else
                                                          f", anomaly AUC {auc:.4f}"))
    else:
        what = (f"test accuracy {100 * rec['test_accuracy_before']:.2f}% -> "
                f"{100 * rec['test_accuracy_after']:.2f}%")
    click.echo(f"{target}: {what} after {rec['samples']} samples "
               f"({sps:.0f} samples/s), {len(rec['bitwidth_history']['changes'])} bitwidth "
               f"changes, weights sha256 {rec['weights_sha256'][:16]}...")
    click.echo(f"wrote {out}/: emulate.json model.rct bitwidths.png curves.png")


COMMANDS = [emulate_cmd]
