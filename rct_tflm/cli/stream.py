"""`rct-tflm stream`: stream training data over the serial link; the board trains itself."""
from __future__ import annotations

import click

from ..errors import UserError
from .options import FINITE, out_callback


@click.command("stream")
@click.option("--port", default=None,
              help="serial URL of a running board: /dev/ttyACM0, COM3, socket://HOST:PORT")
@click.option("--board", default=None,
              help="start it here: qemu-* (QEMU), host (host build) or golden (numpy model)")
@click.option("--firmware", type=click.Path(), default=None,
              help="build folder (`rct-tflm build`): what --board runs; with --port, its "
                   "model/ manifest tells the trainable split and compiled settings")
@click.option("--model", "model_path", required=True, type=click.Path(),
              help="the model artefact (.rct) the firmware was built from")
@click.option("--data", default="digits", show_default=True,
              help="digits, mnist-idx:DIR[@14x14], npz:PATH or csv:PATH")
@click.option("--epochs", type=int, default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True,
              help="data order and PRNG seed")
@click.option("--out", required=True, type=click.Path(), callback=out_callback("dir"))
@click.option("--batch", type=int, default=1, show_default=True,
              help="micro-batch (the firmware's --max-batch bounds it)")
@click.option("--lr-shift", type=int, default=None,
              help="learning rate 2^-N (default: the firmware's)")
@click.option("--period-samples", type=int, default=None,
              help="controller decision period (default: the firmware's)")
@click.option("--checkpoint-every", type=int, default=2048, show_default=True,
              help="samples between checkpoints (rounded up to whole periods; 0: none)")
@click.option("--resume", type=click.Path(), default=None,
              help="continue from a checkpoint.json of an interrupted stream")
@click.option("--split-seed", type=int, default=None,
              help="data split seed (default: the artefact's training seed)")
@click.option("--timeout", type=FINITE, default=2.0, show_default=True,
              help="seconds to wait for each answer before retransmitting")
@click.option("--progress/--no-progress", default=True, show_default=True)
def stream_cmd(port: str | None, board: str | None, firmware: str | None, model_path: str,
               data: str, epochs: int, seed: int, out: str, batch: int, lr_shift: int | None,
               period_samples: int | None, checkpoint_every: int, resume: str | None,
               split_seed: int | None, timeout: float, progress: bool) -> None:
    """Train a board on-device over the serial link; checkpoint, evaluate and report."""
    from ..stream import StreamConfig, open_target, prepare, run_stream
    from ..stream.target import check_target

    if timeout <= 0:
        raise UserError(f"--timeout must be positive, got {timeout}")
    check_target(port, board, firmware)
    cfg = StreamConfig(model=model_path, data=data, out=out, epochs=epochs, seed=seed,
                       batch=batch, lr_shift=lr_shift, period_samples=period_samples,
                       checkpoint_every=checkpoint_every, resume=resume, split_seed=split_seed,
                       progress=progress)
    prep = prepare(cfg, firmware)
    with open_target(port, board, firmware, prep.dm, timeout=timeout) as link:
        r = run_stream(prep, link, board or port)
    click.echo(f"{r['target']}: test accuracy {100 * r['test_accuracy_before']:.2f}% -> "
               f"{100 * r['test_accuracy_after']:.2f}% (golden model with the board's weights: "
               f"{100 * r['golden_test_accuracy_after']:.2f}%), {r['samples']} samples at "
               f"{r['samples_per_s']:.0f} samples/s, final bits "
               + "/".join(str(b) for b in r["final_bitwidths"].values()))
    click.echo(f"weights_sha256 {r['weights_sha256']}; wire {r['wire_bytes']} B, protocol "
               f"overhead {100 * r['overhead_fraction']:.1f}% of training traffic, "
               f"{r['retransmits']} retransmits")
    click.echo(f"wrote {out}/: " + " ".join(r["files"]))


COMMANDS = [stream_cmd]
