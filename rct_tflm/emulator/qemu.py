"""Boot a firmware ELF on a QEMU Cortex-M board with its UART on a local TCP socket.

`QemuBoard(board, elf)` starts `qemu-system-arm -M <machine> -kernel ELF` with serial0 on
`tcp:127.0.0.1:<free port>,server=on,wait=on,nodelay=on` — QEMU holds the guest until the host
connects, so no early output is lost; nodelay stops Nagle + delayed ACK from adding ~40 ms to
every small response — and exposes `url = socket://127.0.0.1:<port>` for pyserial.
No semihosting: the firmware never issues a semihosting call. The human monitor listens on a
unix socket in a private folder, so `reset()` can power-cycle the guest (`system_reset`: the
ELF's sections reload, the firmware boots again with its RAM state gone) as a test would.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from ..boards import QEMU_BOARDS, get_board
from ..errors import UserError
from ..link.transport import spawn_board, stop_process

QEMU = "qemu-system-arm"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qemu_available() -> bool:
    return shutil.which(QEMU) is not None


def qemu_command(machine: str, elf: Path, port: int, monitor: Path | None = None) -> list[str]:
    mon = f"unix:{monitor},server=on,wait=off" if monitor else "none"
    return [QEMU, "-M", machine, "-display", "none", "-monitor", mon, "-nodefaults",
            "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on", "-kernel", str(elf)]


class QemuBoard:
    def __init__(self, board: str, firmware: str | os.PathLike) -> None:
        self.board = get_board(board)
        if not self.board.is_qemu:
            raise UserError(f"board '{board}' has no QEMU machine; QEMU boards: "
                            f"{', '.join(QEMU_BOARDS)}")
        elf = Path(firmware)
        if elf.is_dir():
            elf = elf / "firmware.elf"
        if not elf.is_file():
            raise UserError(f"firmware '{elf}' does not exist; build it with "
                            f"`rct-tflm build --board {board} --model ART --out DIR`")
        if not qemu_available():
            raise UserError(f"{QEMU} not found; install qemu-system-arm (`make setup`)")
        self.elf = elf
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.cmd: list[str] = []
        self._mon_dir: tempfile.TemporaryDirectory | None = None

    def start(self, attempts: int = 3) -> str:
        """Start QEMU and wait until its socket listens; retries if the port was taken."""
        self._mon_dir = tempfile.TemporaryDirectory(prefix="rct-qemu-")
        for _ in range(attempts):
            port = free_port()
            self.cmd = qemu_command(self.board.qemu_machine, self.elf, port, self._monitor)
            self.proc = spawn_board(self.cmd, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if _listening(port):
                    self.url = f"socket://127.0.0.1:{port}"
                    return self.url
                time.sleep(0.02)
            err = self._reap()
        self._mon_dir.cleanup()
        self._mon_dir = None
        raise UserError(f"QEMU did not start for {self.board.name}: {err.strip()[-500:]}")

    def _reap(self) -> str:
        err = ""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            _, e = self.proc.communicate()
            err = (e or b"").decode(errors="replace")
            self.proc = None
        return err

    @property
    def _monitor(self) -> Path:
        assert self._mon_dir is not None
        return Path(self._mon_dir.name) / "monitor.sock"

    def reset(self) -> None:
        """Power-cycle the guest through the QEMU monitor (`system_reset`)."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(self._monitor))
            s.sendall(b"system_reset\n")
            buf = b""
            while b"system_reset" not in buf:  # the monitor echoes the command once it ran it
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            if self.proc.stderr:
                self.proc.stderr.close()
            self.proc = None
        if self._mon_dir is not None:
            self._mon_dir.cleanup()
            self._mon_dir = None

    def __enter__(self) -> "QemuBoard":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _listening(port: int) -> bool:
    """True once something accepts on the port. A probe connection would be taken by QEMU as
    its one client, so look the socket up in /proc instead (Linux)."""
    hexport = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                for line in fh.readlines()[1:]:
                    parts = line.split()
                    if parts[1].endswith(hexport) and parts[3] == "0A":  # 0A = LISTEN
                        return True
        except OSError:
            continue
    return False
