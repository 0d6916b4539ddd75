"""A fault-injecting transport: wraps a pyserial-like port and damages the byte stream.

Used by the tests and tools/bench_link.py to show that retransmission recovers from lost and
corrupted bytes in both directions and that no request is applied twice. Faults are drawn from
a seeded generator, so a failing case replays exactly.
"""
from __future__ import annotations

import random


class LinkDown(OSError):
    """The wrapped port went away (a cable pulled): raised once `die_after_tx` bytes passed."""


class FaultyPort:
    def __init__(self, port, seed: int = 0, drop: float = 0.0, corrupt: float = 0.0,
                 tx: bool = True, rx: bool = True, die_after_tx: int | None = None) -> None:
        """`drop` / `corrupt`: probability per byte; `tx` / `rx`: which directions suffer."""
        self.port = port
        self.rng = random.Random(seed)
        self.drop, self.corrupt = drop, corrupt
        self.tx, self.rx = tx, rx
        self.die_after_tx = die_after_tx
        self.tx_bytes = 0
        self.dropped = 0
        self.corrupted = 0

    @property
    def name(self) -> str:
        return f"faulty:{getattr(self.port, 'name', '?')}"

    def _damage(self, data: bytes) -> bytes:
        out = bytearray()
        for b in data:
            r = self.rng.random()
            if r < self.drop:
                self.dropped += 1
                continue
            if r < self.drop + self.corrupt:
                self.corrupted += 1
                b ^= self.rng.randrange(1, 256)  # any other value, 0x00 included
            out.append(b)
        return bytes(out)

    def write(self, data: bytes) -> int:
        if self.die_after_tx is not None and self.tx_bytes + len(data) > self.die_after_tx:
            raise LinkDown("link down (fault injection)")
        self.tx_bytes += len(data)
        self.port.write(self._damage(data) if self.tx else data)
        return len(data)

    def read(self, n: int = 1) -> bytes:
        data = self.port.read(n)
        return self._damage(data) if self.rx and data else data

    @property
    def in_waiting(self) -> int:
        return getattr(self.port, "in_waiting", 0)

    def close(self) -> None:
        self.port.close()
