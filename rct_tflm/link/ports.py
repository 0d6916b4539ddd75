"""Serial ports of this machine, with the debug probes behind them recognised by USB VID:PID.

A Nucleo/Discovery board's ST-LINK exposes a virtual COM port (the board's UART); J-Link OB and
CMSIS-DAP probes do the same. Knowing which port is a probe is what users need to pick `--port`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

# (VID, PID) -> probe; PID None = every product of that vendor.
PROBES: dict[tuple[int, int | None], str] = {
    (0x0483, 0x3748): "ST-LINK/V2",
    (0x0483, 0x374B): "ST-LINK/V2-1",
    (0x0483, 0x374E): "STLINK-V3",
    (0x0483, 0x374F): "STLINK-V3",
    (0x0483, 0x3752): "ST-LINK/V2-1",
    (0x0483, 0x3753): "STLINK-V3",
    (0x0483, 0x3754): "STLINK-V3",
    (0x1366, None): "SEGGER J-Link",
    (0x0D28, 0x0204): "CMSIS-DAP (DAPLink)",
    (0x2E8A, 0x000C): "CMSIS-DAP (Raspberry Pi Debug Probe)",
    (0x1FC9, 0x0143): "CMSIS-DAP (NXP MCU-Link)",
}


@dataclass(frozen=True)
class Port:
    device: str  # what --port takes (a path; pyserial also takes socket:// URLs)
    vid_pid: str  # "0483:374b", "" for a port without USB
    probe: str  # recognised debug probe, "" when none
    serial_number: str
    description: str


def probe_name(vid: int | None, pid: int | None, text: str = "") -> str:
    if vid is None:
        return ""
    name = PROBES.get((vid, pid)) or PROBES.get((vid, None))
    if name:
        return name
    return "CMSIS-DAP" if "CMSIS-DAP" in text.upper() else ""


def list_ports() -> list[Port]:
    """Every serial port pyserial sees, probes first."""
    from serial.tools import list_ports as lp

    out = []
    for p in lp.comports():
        text = " ".join(x for x in (p.description, p.manufacturer, p.product) if x)
        out.append(Port(
            device=p.device, vid_pid="" if p.vid is None else f"{p.vid:04x}:{p.pid or 0:04x}",
            probe=probe_name(p.vid, p.pid, text), serial_number=p.serial_number or "",
            description=text if text and text != "n/a" else ""))
    return sorted(out, key=lambda q: (q.probe == "", q.device))


def as_dict(p: Port) -> dict[str, str]:
    return asdict(p)
