"""`rct-tflm flash`: write a built firmware to a real board through its debug probe."""
from __future__ import annotations

import shlex

import click


@click.command("flash")
@click.argument("firmware", type=click.Path())
@click.option("--board", required=True, help="the real board (see `rct-tflm boards`)")
@click.option("--tool", type=click.Choice(["pyocd", "st-flash", "openocd"]), default=None,
              help="default: pyocd, else the first installed of st-flash, openocd")
@click.option("--dry-run", is_flag=True, default=False, help="print the command, do not run it")
def flash_cmd(firmware: str, board: str, tool: str | None, dry_run: bool) -> None:
    """Flash a built firmware (folder, .hex, .bin or .elf) onto a board through its probe."""
    from ..flash import flash
    cmd = flash(board, firmware, tool, dry_run)
    click.echo(shlex.join(cmd) if dry_run else f"flashed {board}: {shlex.join(cmd)}")


COMMANDS = [flash_cmd]
