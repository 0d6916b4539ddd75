"""Boot a built firmware behind a serial URL (`rct-tflm emulate --target B FIRMWARE_DIR`).

QEMU boards run `firmware.elf` under qemu-system-arm with the UART on a local TCP socket
(`socket://127.0.0.1:PORT`; QEMU holds the guest until the first client connects, so nothing
is lost); the `host` board runs the host build `firmware` on a pseudo-terminal (its path is the
URL). `serve()` keeps it running until the caller's stop condition or Ctrl-C, then stops it.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from ..boards import HOST, QEMU_BOARDS
from ..errors import UserError

BOOT_BOARDS = (*QEMU_BOARDS, HOST)


def open_board(board: str, firmware_dir: str | os.PathLike):
    """An unstarted QemuBoard or HostFirmware for `board`, checked before anything starts."""
    if board not in BOOT_BOARDS:
        raise UserError(f"cannot emulate board '{board}'; emulated boards: {', '.join(BOOT_BOARDS)}")
    d = Path(firmware_dir)
    if not d.exists():
        raise UserError(f"firmware folder '{d}' does not exist; build it with "
                        f"`rct-tflm build --board {board} --model ART --out {d}`")
    if board == "host":
        from ..link import HostFirmware
        return HostFirmware(d)
    from .qemu import QemuBoard
    return QemuBoard(board, d)


def serve(board: str, firmware_dir: str | os.PathLike, on_url: Callable[[str], None],
          should_stop: Callable[[], bool] = lambda: False, poll_s: float = 0.2) -> int | None:
    """Start the firmware, report its URL, wait until `should_stop()` or Ctrl-C, stop it.

    Returns None when stopped by us, or the process's exit code when it ended on its own."""
    dev = open_board(board, firmware_dir)
    dev.start()
    try:
        on_url(dev.url)
        while not should_stop():
            code = dev.proc.poll() if dev.proc is not None else 0
            if code is not None:
                return code
            time.sleep(poll_s)
    except KeyboardInterrupt:
        pass
    finally:
        dev.stop()
    return None
