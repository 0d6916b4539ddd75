"""The backward half of lower(): layers from the last down to the first trainable one, each
kind's backward calls, and the errors between them.

In a chain the error a layer writes (w.r.t. its input) is the next one's to read, and its
exponent stays in the runtime value `e_exp`. In a graph a tensor read by two consumers (a
residual skip) receives two errors: the first waits in `pending`, its exponent saved in a
register, until the other branch's backward reaches the same tensor; `err_add` then sums them
(program/kinds/_graph.py). An Add hands its error to both producers without a copy, unless a
call would mask that shared buffer in place while the other still waits (then `copy_error`).
Errors for frozen tensors (and the model input) are dropped: the backward stops there.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import kinds
from .model import Call, LayerFacts

if TYPE_CHECKING:
    from .lower import Lowering


class _Err:
    """An error waiting for its tensor's backward: its buffer, and the register holding its
    exponent (None: it is in e_exp, nothing has run since it was written)."""

    def __init__(self, buf: str, reg: str | None = None) -> None:
        self.buf, self.reg = buf, reg


class ErrorFlow:
    def __init__(self, low: "Lowering", err_logits: str) -> None:
        self.low = low
        self.pending: dict[int, _Err] = {len(low.layers) - 1: _Err(err_logits)}
        self.calls: list[Call] = []

    def run(self) -> list[Call]:
        low = self.low
        for f in reversed(low.layers[low.first:]):
            err = self.pending.pop(f.index)
            step = low.bwd(f)
            pre = self._park_others(f, step)
            if err.reg is not None:
                pre.append(Call("load_error", step, f.name, args={"reg": err.reg}))
            low.err_in, low.err_out = err.buf, None
            own = kinds.kind(f.kind).backward(f, low)
            pre += self._unshare(own, f, step)
            self.calls += pre + own
            out = low.err_out or err.buf  # a kind without backward-input passes its error on
            for s in low.srcs[f.index]:
                self._contribute(s, out, f, step)
        return self.calls

    def _park_others(self, f: LayerFacts, step: int) -> list[Call]:
        """Save e_exp for every other waiting error that still lives in it."""
        calls = []
        for k, e in self.pending.items():
            if e.reg is None:
                e.reg = f"r_err{k}"
                calls.append(Call("save_error", step, f.name, args={"reg": e.reg}))
        return calls

    def _unshare(self, own: list[Call], f: LayerFacts, step: int) -> list[Call]:
        """Copies for waiting errors whose buffer one of f's calls overwrites in place."""
        calls = []
        written = {c.buffers[a] for c in own for a in kinds.kernel(c.kernel).in_place}
        for k, e in self.pending.items():
            if e.buf in written:
                size = self.low.layers[k].out_size
                dst = self.low.new_buffer(f"err_copy{k}", "error", "int16", size,
                                          2 * self.low.cfg.max_batch * size)
                calls.append(Call("copy_error", step, f.name, {"src": e.buf, "dst": dst},
                                  args={"size": size}))
                e.buf = dst
        return calls

    def _contribute(self, k: int, buf: str, f: LayerFacts, step: int) -> None:
        """The error `buf` (exponent in e_exp) reaches producer k's output."""
        if k < self.low.first:
            return  # a frozen tensor or the model input: no error needed
        other = self.pending.get(k)
        if other is None:
            self.pending[k] = _Err(buf)
            return
        if other.reg is None:  # both in e_exp (an Add of one tensor with itself)
            other.reg = f"r_err{k}"
            self.calls.append(Call("save_error", step, f.name, args={"reg": other.reg}))
        dst = buf
        if any(e.buf == buf for j, e in self.pending.items() if j != k):
            size = self.low.layers[k].out_size
            dst = self.low.new_buffer(f"err_sum{k}", "error", "int16", size,
                                      2 * self.low.cfg.max_batch * size)
        self.calls.append(Call("err_add", step, f.name, {"da": buf, "db": other.buf, "dx": dst},
                               args={"reg": other.reg, "size": self.low.layers[k].out_size},
                               ret="e_exp", macs=0))
        self.pending[k] = _Err(dst)
