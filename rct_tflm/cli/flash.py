"""`rct-tflm flash`: write a built firmware to a real board through its debug probe."""
from __future__ import annotations

import shlex

import click


@click.command("flash")
@click.argument("firmware", type=click.Path())
@click.option("--board", default=None,
              help="the real board (default: the one in the build folder's build.json; a "
                   "different one is refused)")
@click.option("--probe", default=None, metavar="UID",
              help="the debug probe's unique id when several are attached (`pyocd list`, "
                   "`st-info --probe`)")
@click.option("--tool", type=click.Choice(["pyocd", "st-flash", "openocd"]), default=None,
              help="default: pyocd, else the first installed of st-flash, openocd")
@click.option("--dry-run", is_flag=True, default=False, help="print the command, do not run it")
def flash_cmd(firmware: str, board: str | None, probe: str | None, tool: str | None,
              dry_run: bool) -> None:
    """Flash a built firmware (folder, .hex, .bin or .elf) onto a board through its probe."""
    from ..flash import flash, resolve_board
    name = resolve_board(board, firmware).name
    cmd = flash(name, firmware, tool, dry_run, probe)
    click.echo(shlex.join(cmd) if dry_run else f"flashed {name}: {shlex.join(cmd)}")


COMMANDS = [flash_cmd]
