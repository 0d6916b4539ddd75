"""Where a stream goes: a serial URL, a QEMU board, the host build, or the golden model.

`open_target(...)` is a context manager yielding a `Link` whose far end is running; it starts
and stops QEMU (`--target qemu-*`) or the host build (`--target host`) itself, and for
`--target golden` puts the numpy `GoldenDevice` behind the link (no process, no wire).
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..boards import HOST, get_board
from ..errors import UserError
from ..firmware_build import built_baud, check_built_for
from ..link import HostFirmware, Link, open_port
from ..link.transport import BAUD
from ..link.faults import FaultSpec, FaultyPort
from .device_model import DeviceModel

GOLDEN = "golden"


def check_target(port: str | None, board: str | None, firmware: str | None) -> None:
    """Exactly one of --port and --target; --target needs --firmware (except golden)."""
    if bool(port) == bool(board):
        raise UserError("give either --port URL (a running board) or --target B --firmware DIR "
                        "(rct-tflm starts it)")
    if board and board not in (HOST, GOLDEN):
        b = get_board(board)
        if not b.is_qemu:
            raise UserError(f"'{board}' is real hardware: flash it (`rct-tflm flash`) and stream "
                            f"with --port /dev/ttyACM0 (its ST-LINK serial port)")
    if board and board != GOLDEN and not firmware:
        raise UserError(f"--target {board} needs --firmware DIR (from `rct-tflm build --board "
                        f"{board}`)")
    if firmware and not Path(firmware).exists():
        raise UserError(f"--firmware {firmware} does not exist; build it with `rct-tflm build "
                        f"--board {board or 'B'} --model ART --out DIR`")
    if firmware and board and board != GOLDEN:
        check_built_for(firmware, board, "stream with")


def port_baud(baud: int | None, firmware: str | None) -> int:
    """--baud, else the rate the firmware was built with (build.json), else 115200; a --baud
    that contradicts build.json is an error naming both."""
    built = built_baud(firmware) if firmware else None
    if baud is not None and built is not None and baud != built:
        raise UserError(f"--baud {baud} contradicts {firmware}, built for {built} bit/s; drop "
                        f"--baud or rebuild with `rct-tflm build --baud {baud}`")
    return baud or built or BAUD


@contextmanager
def open_target(port: str | None = None, board: str | None = None,
                firmware: str | None = None, dm: DeviceModel | None = None,
                timeout: float = 2.0, retries: int = 4,
                faults: FaultSpec | None = None, baud: int | None = None) -> Iterator[Link]:
    """`faults`: put a seeded fault-injecting proxy between host and board (resets need a
    board rct-tflm started: QEMU, the host build or golden)."""
    check_target(port, board, firmware)
    if faults is not None and faults.resets and port:
        raise UserError("--inject-faults resets=N needs a board rct-tflm starts (--target qemu-*, "
                        "host or golden); a board on --port cannot be reset from here")
    runner = None
    try:
        if board == GOLDEN:
            from .golden import GoldenDevice
            if dm is None:
                raise UserError("--target golden needs the model (--model)")
            dev = GoldenDevice(dm.art, dm.cfg)
            raw, url, reboot = dev, GOLDEN, dev.reboot
        else:
            if board == HOST:
                runner = HostFirmware(firmware)
            elif board:
                from ..emulator.qemu import QemuBoard
                runner = QemuBoard(board, firmware)
            url = runner.start() if runner else port
            raw = open_port(url, baud=port_baud(baud, firmware))
            reboot = runner.reset if runner else None
        if faults is not None:
            raw = FaultyPort(raw, seed=faults.seed, flip=faults.flip, drop_frames=faults.drop,
                             dup_frames=faults.dup, stall=faults.stall, on_reset=reboot,
                             resets=faults.resets)
        link = Link(raw, url, timeout=timeout, retries=retries)
        try:
            yield link
        finally:
            link.close()
    finally:
        if runner is not None:
            runner.stop()
