"""One board of a fleet: the process behind it (host build, QEMU) or a serial URL, and its link.

A handle outlives its board: `kill()` ends the process the way a power loss would (the fault
drill), `alive()` tells whether it still runs, and `revive()` starts it again and opens a new
link, so the board can rejoin the next round from the global model. Boards are started and
revived from the thread that owns the fleet (the kernel's parent-death signal follows the
spawning thread, and Flower runs each round's clients in short-lived worker threads).
"""
from __future__ import annotations

from ..boards import HOST
from ..emulator.qemu import QemuBoard
from ..errors import UserError
from ..link import HostFirmware, Link, open_port
from ..stream.device_model import DeviceModel
from ..stream.target import GOLDEN, port_baud


class BoardHandle:
    def __init__(self, index: int, kind: str, firmware: str | None, dm: DeviceModel,
                 port: str | None = None, timeout: float = 2.0, retries: int = 4) -> None:
        self.index, self.kind, self.firmware, self.dm = index, kind, firmware, dm
        self.port_url, self.timeout, self.retries = port, timeout, retries
        self.runner: HostFirmware | QemuBoard | None = None
        self.link: Link | None = None
        self.killed = False

    @property
    def name(self) -> str:
        return f"board{self.index}"

    @property
    def where(self) -> str:
        return self.port_url or self.kind

    def start(self) -> None:
        if self.kind == GOLDEN and not self.port_url:
            from ..stream.golden import GoldenDevice
            raw, url = GoldenDevice(self.dm.art, self.dm.cfg), GOLDEN
        else:
            if self.port_url:  # a running board: nothing to start
                url = self.port_url
            else:
                self.runner = HostFirmware(self.firmware) if self.kind == HOST else \
                    QemuBoard(self.kind, self.firmware)
                url = self.runner.start()
            raw = open_port(url, baud=port_baud(None, self.firmware))
        self.link = Link(raw, url, timeout=self.timeout, retries=self.retries)
        self.killed = False

    def alive(self) -> bool:
        if self.killed or self.link is None:
            return False
        proc = getattr(self.runner, "proc", None)
        return self.runner is None or (proc is not None and proc.poll() is None)

    def kill(self) -> None:
        """A power loss: the board process dies at once (SIGKILL), its RAM state is gone."""
        if self.runner is None:
            raise UserError(f"{self.name} ({self.where}) is not a process rct-tflm started; "
                            f"--kill works on --board-kind host or qemu-* boards")
        proc = self.runner.proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        self.killed = True

    def abandon(self) -> None:
        """Give up on a board that did not answer in time: a process is killed, a golden
        device or --port link is closed (a late answer then fails on the closed link, and the
        next round opens a new one)."""
        if self.runner is not None:
            self.kill()
        elif self.link is not None:
            self.link.close()
        self.killed = True

    def revive(self) -> None:
        """A dead board started again, with a fresh link (a new session on its next HELLO)."""
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.link is not None:
            self.link.close()
            self.link = None
        if self.runner is not None:
            self.runner.stop()
            self.runner = None
