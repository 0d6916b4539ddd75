"""`rct-tflm report`: accuracy, bitwidths, energy and memory of finished runs."""
from __future__ import annotations

from pathlib import Path

import click

from .options import out_callback


@click.command("report")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), callback=out_callback("dir"))
def report_cmd(runs: tuple[Path, ...], out: Path) -> None:
    """Summarise result folders (train, compare, partition, build, emulate, stream) as report.md."""
    from ..report.summary import build_report
    from .outdir import staged_out
    with staged_out(str(out)) as tmp:
        build_report(list(runs), tmp)
    click.echo(f"wrote {out}/report.md and report.json")


COMMANDS = [report_cmd]
