"""Buffers of a lowered model and their lifetimes over the training-step schedule.

Schedule steps, for L ops: forward of op i is step i, softmax + CE is step L, backward of op i
is step 2L - i. Inference runs steps 0..L-1 of the same plan (same offsets).

* Activation buffers (int8, max_batch x size): one per op output, except ops that work in place
  or only reshape (flatten, dropout, standalone ReLU/ReLU6), which reuse their input's buffer.
  A buffer lives from the step that writes it to the last step that reads it: the next forward,
  or the backward of an op that needs it (its input for the weight update, its output for the
  activation mask).
* Max-pool argmax buffers, for pools the backward pass crosses: the window index of each
  output's first maximum (2, 4 or 8 bits, RCT_ARGMAX_BITS), from the forward to the backward.
* Error buffers (int16, max_batch x size): the softmax's, then one per op that produces an error
  w.r.t. its input; each lives until the last backward step that reads it. Those written by a
  conv/depthwise backward-input kernel carry ceil(size / 16) more int16 words (the one-pass
  exponent's sign bitmap, rct_err_stream in rct.h).
* Trainable tensors: persistent (the whole schedule), always int16 (rct_tensor_t).
The model input and the labels are the caller's buffers (not in the arena).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..fixedpoint.engine import LoweredModel, mask_folds
from .plan import Buffer, check_plan, plan_arena

INPLACE_KINDS = ("flatten", "dropout", "relu", "relu6")
PARAM_KINDS = ("dense", "conv2d", "depthwise_conv2d")
STREAM_KINDS = ("conv2d", "depthwise_conv2d")  # backward-input in one pass (rct_err_stream)


def argmax_bytes(count: int, taps: int) -> int:
    """Bytes of a packed max-pool argmax (RCT_ARGMAX_BYTES in rct.h): 2, 4 or 8 bits each."""
    bits = 2 if taps <= 4 else (4 if taps <= 16 else 8)
    return (count * bits + 7) // 8


def err_stream_extra(count: int) -> int:
    """int16 words after dx that rct_err_stream needs (RCT_ERR_STREAM_EXTRA in rct.h)."""
    return (count + 15) // 16


@dataclass
class Layout:
    buffers: list[Buffer]
    arena_size: int
    act_of_op: list[str | None]  # buffer holding op i's output (None: the model input)
    in_of_op: list[str | None]  # buffer holding op i's input (None: the model input)
    err_in: list[str | None]  # error buffer at op i's output when its backward runs
    err_out: list[str | None]  # error buffer op i writes (its input's error), if any
    arg_of: list[str | None]  # max-pool op i's window-argmax buffer (None: not trained through)
    weights: dict[str, str]  # trainable tensor -> buffer name
    folds: dict[int, int]  # op -> the max-pool after it that applies its activation mask

    def buffer(self, name: str) -> Buffer:
        return next(b for b in self.buffers if b.name == name)


def weight_bytes(m: LoweredModel, name: str) -> int:
    return m.tensors[name].size * 2


def build_layout(m: LoweredModel, max_batch: int) -> Layout:
    ops = m.ops
    L = len(ops)
    bwd = lambda i: 2 * L - i  # noqa: E731
    bufs: dict[str, Buffer] = {}
    act_of: list[str | None] = []
    in_of: list[str | None] = []
    cur: str | None = None  # buffer with the current activation (None = caller's input)

    def use(name: str | None, step: int) -> None:
        if name is not None:
            b = bufs[name]
            b.first, b.last = min(b.first, step), max(b.last, step)

    for op in ops:
        in_of.append(cur)
        use(cur, op.index)
        if op.kind in ("flatten", "dropout") or (op.kind in INPLACE_KINDS and cur is not None):
            out = cur  # a reshape (even of the caller's input) or an in-place activation
        else:
            out = f"act{op.index}"
            bufs[out] = Buffer(out, max_batch * op.out_size, op.index, op.index, 4, "activation")
        use(out, op.index)
        act_of.append(out)
        cur = out
    use(act_of[-1], L)  # the softmax reads the logits
    first = m.first_trainable
    folds = mask_folds(m)
    for op in ops[first:]:
        if op.kind in PARAM_KINDS:
            use(in_of[op.index], bwd(op.index))  # x for the weight update
            if op.index in folds:  # the pool's backward masks by the pool's output
                use(act_of[folds[op.index]], bwd(folds[op.index]))
            elif op.act:
                use(act_of[op.index], bwd(op.index))  # activation mask
        elif op.kind in ("relu", "relu6"):
            use(act_of[op.index], bwd(op.index))
    # max-pool window argmax (uint8 per output): written by the forward, read by the backward
    # (which no longer needs the pool's input)
    arg_of: list[str | None] = [None] * L
    for op in ops[first:]:
        if op.kind == "maxpool2d" and op.needs_dx:
            a = f"arg{op.index}"
            nbytes = argmax_bytes(max_batch * op.out_size, op.shape.k_h * op.shape.k_w)
            bufs[a] = Buffer(a, nbytes, op.index, bwd(op.index), 4, "mask")
            arg_of[op.index] = a
    # errors
    err_in: list[str | None] = [None] * L
    err_out: list[str | None] = [None] * L
    e = "err_logits"
    bufs[e] = Buffer(e, 2 * max_batch * m.num_classes, L, L, 4, "error")
    for op in reversed(ops[first:]):
        err_in[op.index] = e
        use(e, bwd(op.index))
        produces = op.needs_dx and (op.kind in PARAM_KINDS or op.kind in ("maxpool2d", "avgpool2d"))
        if produces:
            ne = f"err{op.index}"
            count = max_batch * op.in_size
            if op.kind in STREAM_KINDS:  # the kernel's sign bitmap follows dx (rct_err_stream)
                count += err_stream_extra(count)
            bufs[ne] = Buffer(ne, 2 * count, bwd(op.index), bwd(op.index), 4, "error")
            err_out[op.index] = ne
            e = ne
    weights = {}
    for t in m.trainable:
        name = "w_" + t.replace("/", "_")
        bufs[name] = Buffer(name, weight_bytes(m, t), 0, 2 * L, 4, "weights")
        weights[t] = name
    blist = list(bufs.values())
    size = plan_arena(blist)
    check_plan(blist, size)
    return Layout(blist, size, act_of, in_of, err_in, err_out, arg_of, weights, folds)
