"""`rct-tflm demo`: the whole story end to end on the default virtual board."""
from __future__ import annotations

from pathlib import Path

import click

from ..boards import DEFAULT_BOARD

from .options import out_callback


@click.command("demo")
@click.option("--out", default="out/demo", show_default=True,
              type=click.Path(path_type=Path), callback=out_callback("dir"),
              help="output folder (replaced only when the demo succeeds)")
@click.option("--board", default=DEFAULT_BOARD, show_default=True,
              help="a QEMU board (`rct-tflm boards`)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--quick", is_flag=True, default=False,
              help="fewer epochs (a smoke run of every stage in about a minute)")
@click.option("--progress/--no-progress", default=True, show_default=True)
def demo_cmd(out: Path, board: str, seed: int, quick: bool, progress: bool) -> None:
    """The whole story: host training, partition, firmware, QEMU board trained over its UART."""
    from ..boards import QEMU_BOARDS, get_board
    from ..demo import DemoConfig, run_demo
    from ..errors import UserError
    from .outdir import replace_on_success
    if not get_board(board).is_qemu:
        raise UserError(f"the demo boots its board in QEMU; '{board}' is a real board: use "
                        f"one of {', '.join(QEMU_BOARDS)}")
    cfg = DemoConfig(board=board, seed=seed, host_epochs=5 if quick else 20,
                     device_epochs=1 if quick else 2, progress=progress)
    with replace_on_success(out) as dest:
        run_demo(dest, cfg, say=click.echo)
    click.echo(f"\nwrote {out}/ (start with {out}/7-report/report.md)")


COMMANDS = [demo_cmd]
