"""How a call is carried out: its numpy twin (golden engine) and its C statement (generator).

A kind module declares `KERNELS = {name: Kernel(...)}`; the registry (program/kinds) merges
them. `run(call, state)` executes the call on the golden engine's state (program/golden.py);
`c(call, cx)` returns its C statement(s), with buffers, tensors and geometry resolved through
`cx` (codegen/render.py implements CContext); `c_function` is the C function the call invokes
(the profiler's name for it; None for a statement that calls nothing), `role` the profiler's
category of that function; `in_place` the buffer arguments it overwrites in place (the
lowering must not share such a buffer with an error that is still waiting).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    from .golden import State
    from .model import Call


class CContext(Protocol):
    def buf(self, name: str | None) -> str:
        """C expression of a buffer (typed pointer into the arena, `x`, or NULL)."""

    def tensor(self, name: str | None) -> dict[str, Any]:
        """data/bits/exp C expressions of a tensor and its trainable slot k (None: frozen)."""

    def shape(self, layer: int) -> str:
        """Name of the layer's static rct_conv_shape_t."""


@dataclass(frozen=True)
class Kernel:
    run: Callable[["Call", "State"], None]
    c: Callable[["Call", CContext], str]
    c_function: str | None
    role: str  # the profiler's category: forward, activation, backward-input, weight-update, bias, softmax-ce
    in_place: tuple[str, ...] = ()


def shaped(cx: CContext, layer: int, body: str) -> str:
    """A conv/pool statement on the layer's static shape with the batch size of this call."""
    return (f"    {{\n        rct_conv_shape_t sh = {cx.shape(layer)};\n        sh.n = n;\n"
            f"        {body}\n    }}")


def c_act(act: int) -> str:
    """The C constant of an activation code (K.ACT_*)."""
    return ("RCT_ACT_LINEAR", "RCT_ACT_RELU", "RCT_ACT_RELU6")[act]


def c_acc(acc: int) -> str:
    """The C constant of an accumulator width (K.ACC32 / K.ACC64)."""
    return ("RCT_ACC32", "RCT_ACC64")[acc]
