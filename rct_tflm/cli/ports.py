"""`rct-tflm ports`: the serial ports of this machine, debug probes marked."""
from __future__ import annotations

import json

import click


@click.command("ports")
@click.option("--json", "as_json", is_flag=True, help="print the ports as JSON")
def ports_cmd(as_json: bool) -> None:
    """List serial ports; the ones behind an ST-LINK, J-Link or CMSIS-DAP probe come first.
    Pass one to `rct-tflm stream --port`."""
    from ..link.ports import as_dict, list_ports
    ports = list_ports()
    if as_json:
        click.echo(json.dumps([as_dict(p) for p in ports], indent=1))
        return
    if not ports:
        click.echo("no serial ports found (is the board plugged in? on Linux, is your user in "
                   "the `dialout` group?); the QEMU boards need none: rct-tflm emulate --target ...")
        return
    cells = [["port", "USB VID:PID", "probe", "serial number", "description"]]
    cells += [[p.device, p.vid_pid or "-", p.probe or "-", p.serial_number or "-",
               p.description or "-"] for p in ports]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    for i, row in enumerate(cells):
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            click.echo("  ".join("-" * w for w in widths))


COMMANDS = [ports_cmd]
