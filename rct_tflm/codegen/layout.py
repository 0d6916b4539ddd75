"""The arena layout of a program: its buffers placed by the static memory plan (plan.py).

The program (rct_tflm/program) names every buffer a training step uses and its lifetime over
the schedule steps (forward of layer i = step i, loss = step L, backward of layer i = step
2L - i); this module only places them. Inference runs steps 0..L-1 of the same plan (same
offsets). The model input and the labels are the caller's buffers (not in the arena).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..program import Program
from .plan import Buffer, check_plan, plan_arena


@dataclass
class Layout:
    buffers: list[Buffer]  # the program's buffers, in its order, with offsets
    arena_size: int

    def buffer(self, name: str) -> Buffer:
        return next(b for b in self.buffers if b.name == name)


def build_layout(p: Program) -> Layout:
    bufs = [Buffer(b.name, b.bytes, b.first, b.last, b.align, b.kind) for b in p.buffers]
    size = plan_arena(bufs)
    check_plan(bufs, size)
    return Layout(bufs, size)
