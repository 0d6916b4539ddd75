"""Opening the byte stream to a board: a real serial port, QEMU's `socket://`, or a pty.

Everything is a pyserial object (`serial.serial_for_url`), so one code path serves real
boards, QEMU (TCP socket) and the host build (a pty whose other end is the firmware process).
"""
from __future__ import annotations

import ctypes
import os
import pty
import signal
import subprocess
import sys
import tty
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import UserError

BAUD = 115200


def open_port(url: str, timeout: float = 0.05, baud: int = BAUD):
    """pyserial port for `url` (/dev/ttyACM0, COM3, socket://host:port, loop://) at `baud`, 8N1
    (sockets and ptys ignore the rate)."""
    import serial

    try:
        return serial.serial_for_url(url, baudrate=baud, timeout=timeout, write_timeout=10)
    except (serial.SerialException, ValueError, OSError) as e:
        raise UserError(f"cannot open serial port '{url}' ({e}); check the name (list ports with "
                        f"`python -m serial.tools.list_ports`) or use socket://HOST:PORT for QEMU") from None


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking the kernel to SIGKILL the child when this process dies, however it
    dies (SIGKILL included); None where prctl is unavailable (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork, not in the child
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    return preexec


def spawn_board(cmd: Sequence[str], **kw: Any) -> subprocess.Popen:
    """Popen for a board process (host firmware, QEMU) that ends with its owner: on Linux the
    kernel kills it when this process dies; elsewhere stop_process on the normal paths only.
    The death signal follows the spawning thread, so spawn from the thread that owns the board."""
    return subprocess.Popen(list(cmd), preexec_fn=_die_with_parent(), **kw)


def stop_process(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """Terminate a board process (host firmware, QEMU), killing it if it does not exit."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class HostFirmware:
    """The host build of the firmware running on a pty: `url` is the pty's device path.

    The process gets the pty master as stdin/stdout; we open the slave side like a real serial
    port, so the host build exercises the same pyserial code path as a board."""

    def __init__(self, executable: str | os.PathLike) -> None:
        exe = Path(executable)
        if exe.is_dir():
            exe = exe / "firmware"
        if not exe.is_file():
            raise UserError(f"host firmware '{exe}' does not exist; build it with "
                            f"`rct-tflm build --board host --model ART --out DIR`")
        self.exe = exe
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> str:
        master, slave = pty.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        self._master, self._slave = master, slave  # held open: the pty outlives a restart
        self._spawn()
        self.url = os.ttyname(slave)
        return self.url

    def _spawn(self) -> None:
        self.proc = spawn_board([str(self.exe)], stdin=self._master, stdout=self._master,
                                stderr=subprocess.DEVNULL, close_fds=True)

    def reset(self) -> None:
        """A power cycle: the process is killed and started again on the same pty."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        self._spawn()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None
            os.close(self._master)
            os.close(self._slave)

    def __enter__(self) -> "HostFirmware":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
