"""Static memory plan: one arena, offsets fixed at generation time, no malloc.

Every buffer the generated code needs has a size, an alignment and a lifetime [first, last]
(inclusive indices into the schedule; persistent buffers span the whole schedule). Buffers
whose lifetimes overlap must not share bytes; buffers whose lifetimes are disjoint may.
Allocation is the greedy "largest first, lowest fitting offset" heuristic used by TFLite
Micro's GreedyMemoryPlanner: deterministic, optimal for chains of ping-pong buffers, and
checkable by `check_plan`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Buffer:
    name: str
    size: int  # bytes
    first: int  # first schedule step that writes or reads it
    last: int  # last schedule step that reads it (inclusive)
    align: int = 4
    kind: str = "scratch"  # "weights" (trainable, persistent), "activation", "error", "mask", "scratch", "state"
    offset: int = -1  # filled by plan_arena

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last

    def overlaps_in_space(self, other: "Buffer") -> bool:
        return self.offset < other.offset + other.size and other.offset < self.offset + self.size

    def to_json(self) -> dict:
        return asdict(self)


def _align_up(v: int, a: int) -> int:
    return (v + a - 1) // a * a


def plan_arena(buffers: list[Buffer], align: int = 8) -> int:
    """Assign `offset` to every buffer in place; returns the arena size (a multiple of `align`).

    Buffers are placed largest first (ties: earlier first, then name, so the plan is
    deterministic); each goes to the lowest aligned offset that does not collide with an
    already placed buffer whose lifetime overlaps its own.
    """
    for b in buffers:
        if b.size < 0 or b.first > b.last:
            raise ValueError(f"buffer {b.name}: bad size {b.size} or lifetime [{b.first}, {b.last}]")
    order = sorted(buffers, key=lambda b: (-b.size, b.first, b.name))
    placed: list[Buffer] = []
    for b in order:
        live = sorted((p for p in placed if p.overlaps_in_time(b) and p.size > 0),
                      key=lambda p: p.offset)
        off = 0
        for p in live:
            if off + b.size <= p.offset:
                break
            off = max(off, _align_up(p.offset + p.size, b.align))
        b.offset = _align_up(off, b.align)
        placed.append(b)
    end = max((b.offset + b.size for b in buffers), default=0)
    return _align_up(end, align)


def check_plan(buffers: list[Buffer], arena_size: int) -> None:
    """Raise AssertionError when two live buffers share bytes or one leaves the arena."""
    for b in buffers:
        assert b.offset >= 0 and b.offset % b.align == 0, f"{b.name} misaligned at {b.offset}"
        assert b.offset + b.size <= arena_size, f"{b.name} ends past the arena ({arena_size} B)"
    for i, a in enumerate(buffers):
        for b in buffers[i + 1:]:
            if a.size and b.size and a.overlaps_in_time(b):
                assert not a.overlaps_in_space(b), f"live buffers {a.name} and {b.name} overlap"
