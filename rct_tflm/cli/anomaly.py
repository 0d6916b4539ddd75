"""`rct-tflm anomaly`: the anomaly-detection scenario (an autoencoder's MSE head on the device)."""
from __future__ import annotations

from pathlib import Path

import click

from .options import out_callback


@click.command("anomaly")
@click.option("--out", default="out/anomaly", show_default=True,
              type=click.Path(path_type=Path), callback=out_callback("dir"),
              help="output folder (replaced only when the run succeeds)")
@click.option("--target", default="golden", show_default=True,
              help="where the device training runs: golden, host (the generated C), or a QEMU "
                   "board (qemu-mps2-an500: over its UART, checked against the golden model)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--epochs", type=int, default=40, show_default=True, help="host training epochs")
@click.option("--device-samples", type=int, default=None,
              help="samples the device trains on (default: one pass over the normal data)")
@click.option("--progress/--no-progress", default=True, show_default=True)
def anomaly_cmd(out: Path, target: str, seed: int, epochs: int, device_samples: int | None,
                progress: bool) -> None:
    """Anomaly detection: an FC autoencoder on synthetic spectra, its last layers trained on the
    device with the MSE loss head; the reconstruction error's AUC and histogram."""
    from ..anomaly import AnomalyConfig, run_anomaly
    from ..boards import QEMU_BOARDS
    from ..errors import UserError
    from .outdir import replace_on_success
    if target not in ("golden", "host", *QEMU_BOARDS):
        raise UserError(f"--target {target}: use golden, host or a QEMU board "
                        f"({', '.join(QEMU_BOARDS)})")
    cfg = AnomalyConfig(seed=seed, host_epochs=epochs, device_samples=device_samples,
                        target=target, progress=progress)
    with replace_on_success(out) as dest:
        run_anomaly(dest, cfg, say=click.echo)
    click.echo(f"wrote {out}/: " + " ".join(p.name + ("/" if p.is_dir() else "")
                                            for p in sorted(Path(out).iterdir())))


COMMANDS = [anomaly_cmd]
