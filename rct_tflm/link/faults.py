"""A fault-injecting transport: wraps a pyserial-like port and damages the byte stream.

`stream --inject-faults "flip=P,drop=P,dup=P,stall=S,resets=N,seed=S"` puts it between the host
and the board, and the tests and tools/bench_link.py use it too: bit flips per byte, whole
frames dropped or duplicated (each direction), stalls of S seconds (on 1 % of frames), and N
board resets at seeded points of the training (before the TRAIN request that carries the
chosen sample; through the runner's `reset()`: QEMU's `system_reset`, a
restarted host-build process, a rebooted golden device). Faults are drawn from a seeded
generator, so a failing case replays exactly.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, fields
from typing import Callable

from ..errors import UserError
from . import messages as m
from .framing import decode_frame

STALL_P = 0.01  # share of frames that stall when stall=S is given


class LinkDown(OSError):
    """The wrapped port went away (a cable pulled): raised once `die_after_tx` bytes passed."""


@dataclass(frozen=True)
class FaultSpec:
    flip: float = 0.0  # probability per byte of one flipped bit
    drop: float = 0.0  # probability per frame of losing it
    dup: float = 0.0  # probability per frame of delivering it twice
    stall: float = 0.0  # seconds a stalled frame waits
    resets: int = 0  # board resets during the run
    seed: int = 0

    @classmethod
    def parse(cls, text: str) -> "FaultSpec":
        """'flip=0.01,drop=0.01,resets=3,seed=1' -> FaultSpec; a bad item is a UserError."""
        names = {f.name: f.type for f in fields(cls)}
        vals: dict[str, float | int] = {}
        for item in filter(None, (p.strip() for p in text.split(","))):
            key, sep, v = item.partition("=")
            try:
                if not sep or key not in names:
                    raise ValueError
                vals[key] = int(v) if key in ("resets", "seed") else float(v)
            except ValueError:
                raise UserError(f"--inject-faults: bad item '{item}'; give "
                                f"{','.join(k + '=V' for k in names)}") from None
        spec = cls(**vals)
        for k in ("flip", "drop", "dup"):
            if not 0 <= getattr(spec, k) < 1:
                raise UserError(f"--inject-faults: {k}={getattr(spec, k)} must be in [0, 1)")
        if spec.stall < 0 or spec.stall > 60 or spec.resets < 0:
            raise UserError("--inject-faults: stall must be in 0..60 s and resets >= 0")
        return spec


class FaultyPort:
    def __init__(self, port, seed: int = 0, drop: float = 0.0, corrupt: float = 0.0,
                 tx: bool = True, rx: bool = True, die_after_tx: int | None = None,
                 flip: float = 0.0, drop_frames: float = 0.0, dup_frames: float = 0.0,
                 stall: float = 0.0, reset_at: set[int] | None = None,
                 on_reset: Callable[[], None] | None = None, resets: int = 0) -> None:
        """`drop` / `corrupt`: probability per byte of losing / replacing it; `flip`: of one
        flipped bit; `drop_frames` / `dup_frames` / `stall`: per frame; `tx` / `rx`: which
        directions suffer. `reset_at`: counts of TRAIN samples sent (first transmissions)
        past which `on_reset()` reboots the board; or `resets` of them placed by plan_resets()."""
        self.port = port
        self.rng = random.Random(seed)
        self.drop, self.corrupt, self.flip = drop, corrupt, flip
        self.drop_frames, self.dup_frames, self.stall = drop_frames, dup_frames, stall
        self.tx, self.rx = tx, rx
        self.die_after_tx = die_after_tx
        self.reset_at, self.on_reset, self.resets_wanted = set(reset_at or ()), on_reset, resets
        self.tx_bytes = 0
        self.train_samples = 0
        self.dropped = self.corrupted = self.flipped = 0
        self.frames_dropped = self.frames_duplicated = self.stalls = self.resets = 0
        self._rx_frame = bytearray()

    @property
    def name(self) -> str:
        return f"faulty:{getattr(self.port, 'name', '?')}"

    def plan_resets(self, samples: int) -> None:
        """The `resets` asked for, at seeded points between 10 % and 90 % of a run of `samples`
        training samples (the stream calls this once it knows its schedule)."""
        lo, hi = max(1, samples // 10), max(2, samples * 9 // 10)
        self.reset_at = set(self.rng.sample(range(lo, hi), min(self.resets_wanted, hi - lo)))

    def counts(self) -> dict[str, int]:
        return {"bytes_dropped": self.dropped, "bytes_corrupted": self.corrupted,
                "bits_flipped": self.flipped, "frames_dropped": self.frames_dropped,
                "frames_duplicated": self.frames_duplicated, "stalls": self.stalls,
                "board_resets": self.resets}

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
            elif r < self.drop + self.corrupt + self.flip:
                self.flipped += 1
                b ^= 1 << self.rng.randrange(8)
            out.append(b)
        return bytes(out)

    def _copies(self) -> int:
        """How many times a frame goes through: 0 (dropped), 1, or 2 (duplicated)."""
        if self.stall and self.rng.random() < STALL_P:
            self.stalls += 1
            time.sleep(self.stall)
        r = self.rng.random()
        if r < self.drop_frames:
            self.frames_dropped += 1
            return 0
        if r < self.drop_frames + self.dup_frames:
            self.frames_duplicated += 1
            return 2
        return 1

    def write(self, data: bytes) -> int:
        """One call is one frame (Link.request writes each frame whole)."""
        if self.die_after_tx is not None and self.tx_bytes + len(data) > self.die_after_tx:
            raise LinkDown("link down (fault injection)")
        self.tx_bytes += len(data)
        first = bool(data) and data[0] != 0  # Link.request starts retransmissions with 0x00
        f = decode_frame(bytes(data).strip(b"\x00")) if self.reset_at and first else None
        if f is not None and f.type == m.TRAIN and len(f.payload) >= 2:
            after = self.train_samples + f.payload[1]
            due = [s for s in self.reset_at if self.train_samples < s <= after]
            if due and self.on_reset is not None:
                self.reset_at -= set(due)
                self.resets += 1
                self.on_reset()
            self.train_samples = after
        if not self.tx:
            self.port.write(data)
            return len(data)
        for _ in range(self._copies()):
            self.port.write(self._damage(data))
        return len(data)

    def read(self, n: int = 1) -> bytes:
        data = self.port.read(n)
        if not self.rx or not data:
            return data
        if not (self.drop_frames or self.dup_frames or self.stall):
            return self._damage(data)
        out = bytearray()  # frame faults need whole frames: hold bytes up to each delimiter
        for b in data:
            self._rx_frame.append(b)
            if b == 0:
                frame, self._rx_frame = bytes(self._rx_frame), bytearray()
                for _ in range(self._copies()):
                    out += self._damage(frame)
        return bytes(out)

    @property
    def in_waiting(self) -> int:
        return getattr(self.port, "in_waiting", 0)

    def close(self) -> None:
        self.port.close()
