"""`rct-tflm stream`: stream training data over the serial link; the board trains itself."""
from __future__ import annotations

import click

from ..errors import UserError
from ..boards import QEMU_BOARDS
from .options import FINITE, lr_kwargs, out_callback


@click.command("stream")
@click.option("--port", default=None,
              help="serial URL of a running board: /dev/ttyACM0, COM3, socket://HOST:PORT")
@click.option("--target", "board", type=click.Choice(["golden", "host", *QEMU_BOARDS]),
              default=None,
              help="start the board here (instead of --port): a QEMU board or host (runs "
                   "--firmware), or golden (the numpy model)")
@click.option("--firmware", type=click.Path(), default=None,
              help="build folder (`rct-tflm build`): what --target runs; with --port, its "
                   "model/ manifest tells the trainable split and compiled settings")
@click.option("--model", "model_path", required=True, type=click.Path(),
              help="the model artefact (.rct, or its folder) the firmware was built from")
@click.option("--data", default="digits", show_default=True,
              help="digits, mnist-idx:DIR[@14x14], npz:PATH or csv:PATH")
@click.option("--epochs", type=int, default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True,
              help="data order and PRNG seed")
@click.option("--out", required=True, type=click.Path(), callback=out_callback("dir"))
@click.option("--batch-size", "batch", type=int, default=1, show_default=True,
              help="samples per weight update (at most the firmware's --batch-size)")
@click.option("--lr", "lr_shift", **lr_kwargs(None, "learning rate, rounded to the nearest power "
                                                   "of two (printed; default: the firmware's)"))
@click.option("--period-samples", type=int, default=None,
              help="controller decision period (default: the firmware's)")
@click.option("--eval-every", type=int, default=None,
              help="test accuracy on the board every N samples, at the first TRAIN frame that "
                   "reaches it (default: after every epoch)")
@click.option("--checkpoint-every", type=int, default=2048, show_default=True,
              help="samples between checkpoints (rounded up to whole periods; 0: none)")
@click.option("--resume", type=click.Path(), default=None,
              help="continue from a checkpoint.json of an interrupted stream")
@click.option("--split-seed", type=int, default=None,
              help="data split seed (default: the artefact's training seed)")
@click.option("--timeout", type=FINITE, default=2.0, show_default=True,
              help="longest wait for an answer before retransmitting (the wait adapts to the "
                   "measured answer times, from 0.1 s up to this)")
@click.option("--baud", type=int, default=None,
              help="the serial port's bit rate (default: the firmware's build.json, else 115200)")
@click.option("--retries", type=int, default=4, show_default=True,
              help="retransmissions of one request before the stream stops")
@click.option("--max-resets", type=int, default=3, show_default=True,
              help="board restarts recovered inside the run (restore the last verified "
                   "checkpoint, continue after it)")
@click.option("--inject-faults", "inject_faults", default=None, metavar="SPEC",
              help="test your set-up through a seeded faulty wire: "
                   "flip=P,drop=P,dup=P,stall=S,resets=N,seed=S (bit flips per byte; frames "
                   "dropped/duplicated; stalls; board resets)")
@click.option("--progress/--no-progress", default=True, show_default=True)
def stream_cmd(port: str | None, board: str | None, firmware: str | None, model_path: str,
               data: str, epochs: int, seed: int, out: str, batch: int, lr_shift: int | None,
               period_samples: int | None, eval_every: int | None, checkpoint_every: int,
               resume: str | None, split_seed: int | None, timeout: float, baud: int | None, retries: int,
               max_resets: int,
               inject_faults: str | None, progress: bool) -> None:
    """Train a board on-device over the serial link; checkpoint, evaluate and report."""
    from ..stream import StreamConfig, open_target, prepare, run_stream
    from ..stream.target import check_target

    from ..link.faults import FaultSpec

    if eval_every is not None and eval_every < 1:
        raise UserError(f"--eval-every must be >= 1 sample, got {eval_every}")
    if timeout <= 0:
        raise UserError(f"--timeout must be positive, got {timeout}")
    for name, v in (("--retries", retries), ("--max-resets", max_resets)):
        if not 0 <= v <= 1000:
            raise UserError(f"{name} must be in 0..1000, got {v}")
    faults = FaultSpec.parse(inject_faults) if inject_faults is not None else None
    check_target(port, board, firmware)
    cfg = StreamConfig(model=model_path, data=data, out=out, epochs=epochs, seed=seed,
                       batch=batch, lr_shift=lr_shift, period_samples=period_samples,
                       eval_every=eval_every, checkpoint_every=checkpoint_every, resume=resume,
                       split_seed=split_seed, progress=progress, max_resets=max_resets)
    prep = prepare(cfg, firmware)
    with open_target(port, board, firmware, prep.dm, timeout=timeout, retries=retries,
                     faults=faults, baud=baud) as link:
        r = run_stream(prep, link, board or port)
    click.echo(f"{r['target']}: test accuracy {100 * r['test_accuracy_before']:.2f}% -> "
               f"{100 * r['test_accuracy_after']:.2f}% (golden model with the board's weights: "
               f"{100 * r['golden_test_accuracy_after']:.2f}%), {r['samples']} samples at "
               f"{r['samples_per_s']:.0f} samples/s, final bits "
               + "/".join(str(b) for b in r["final_bitwidths"].values()))
    click.echo(f"weights_sha256 {r['weights_sha256']}; wire {r['wire_bytes']} B, protocol "
               f"overhead {100 * r['overhead_fraction']:.1f}% of training traffic, "
               f"{r['retransmits']} retransmits, {r['board_resets']} board resets recovered")
    if "faults_injected" in r:
        click.echo("faults injected: " + ", ".join(f"{k} {v}" for k, v in
                                                   r["faults_injected"].items()))
    click.echo(f"wrote {out}/: " + " ".join(r["files"]))


COMMANDS = [stream_cmd]
