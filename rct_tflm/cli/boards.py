"""`rct-tflm boards`: the supported boards and their facts."""
from __future__ import annotations

import json

import click


@click.command("boards")
@click.option("--json", "as_json", is_flag=True, help="print the database as JSON")
def boards_cmd(as_json: bool) -> None:
    """List the boards rct_tflm builds for, emulates and flashes."""
    from ..boards import board_table
    rows = board_table()
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    cols = [("name", "board"), ("mcu", "MCU"), ("core", "core"), ("fpu", "FPU"),
            ("flash_kb", "flash KB"), ("ram_kb", "RAM KB"), ("uart", "UART"),
            ("qemu", "QEMU machine")]
    cells = [[h for _, h in cols]] + [[str(r[k]) + (" *" if k == "name" and r["default"] else "")
                                       for k, _ in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    for i, row in enumerate(cells):
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            click.echo("  ".join("-" * w for w in widths))
    click.echo("* default board. Flashing: pyOCD (default), st-flash or OpenOCD; "
               "see docs/boards.md.")


COMMANDS = [boards_cmd]
