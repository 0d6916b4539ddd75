"""A frozen int8 `.tflite` graph lowered to calls of the rct_tfl_ kernels, with every integer
the device needs computed here: per-channel Q31 multipliers and shifts (from the float scales,
exactly as tflite-micro's Prepare computes them), geometry, zero points, activation clamps, and
a placement of every intermediate tensor in one arena (a tensor lives from the call that writes
it to the last call that reads it; a skip connection stays alive until its ADD; RESHAPE is a view).

`lower_tflite(model)` is the one lowering: `run_plan` executes it with the numpy twins (the
golden, the only numpy executor of a .tflite graph), codegen/tflite_frozen.py prints it as C. Batches run sample by sample, so the arena is
sized for one sample.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UserError
from ..fixedpoint.kernels.pad import pad2d_forward
from ..fixedpoint.tflite import add as tadd
from ..fixedpoint.tflite import conv as tconv
from ..fixedpoint.tflite import fully_connected as tfc
from ..fixedpoint.tflite import mean as tmean
from ..fixedpoint.tflite import pooling as tpool
from ..fixedpoint.tflite.geometry import out_size, pad_before
from ..fixedpoint.tflite.multiplier import activation_range, mbqm, quantize_multiplier
from ..formats.tflite_model import TfliteModel
from .tflite_graph import body

ARENA_ALIGN = 4


@dataclass
class FrozenCall:
    kernel: str  # the C kernel without its rct_ prefix: tfl_conv2d, tfl_add, ... (tfl_reshape:
    #              a view, no call)
    op: int  # operator index in the .tflite
    inputs: list[int]  # tensor indices read
    output: int  # tensor index written
    ints: dict[str, Any] = field(default_factory=dict)  # geometry, zero points, clamps, qm/shift
    consts: dict[str, np.ndarray] = field(default_factory=dict)  # w (int8), bias/qm/shift (int32)


@dataclass
class FrozenPlan:
    calls: list[FrozenCall]
    input: int  # tensor index of the int8 input (the caller's buffer)
    output: int  # tensor index of the int8 result (the caller's buffer)
    shapes: dict[int, tuple[int, ...]]  # per sample
    offsets: dict[int, int]  # arena byte offset of every intermediate tensor
    arena_bytes: int
    out_scale: float
    out_zero_point: int
    in_scale: float
    in_zero_point: int

    @property
    def input_size(self) -> int:
        return int(np.prod(self.shapes[self.input]))

    @property
    def output_size(self) -> int:
        return int(np.prod(self.shapes[self.output]))

    @property
    def const_bytes(self) -> int:
        return sum(int(a.nbytes) for c in self.calls for a in c.consts.values())


def _per_channel(s_in: float, w_scales: np.ndarray, s_out: float) -> dict[str, np.ndarray]:
    pairs = [quantize_multiplier(float(np.float32(s_in)) * float(np.float32(sw))
                                 / float(np.float32(s_out))) for sw in w_scales]
    return {"qm": np.array([p[0] for p in pairs], np.int32),
            "shift": np.array([p[1] for p in pairs], np.int32)}


def _conv_ints(o: dict, h: int, w: int, c: int, kh: int, kw: int, oc: int) -> dict[str, int]:
    (sh, sw), (dh, dw) = o["stride"], o["dilation"]
    return {"in_h": h, "in_w": w, "in_c": c, "k_h": kh, "k_w": kw, "out_c": oc,
            "out_h": out_size(o["padding"], h, kh, sh, dh),
            "out_w": out_size(o["padding"], w, kw, sw, dw), "stride_h": sh, "stride_w": sw,
            "pad_top": pad_before(o["padding"], h, kh, sh, dh),
            "pad_left": pad_before(o["padding"], w, kw, sw, dw), "dil_h": dh, "dil_w": dw,
            "depth_multiplier": int(o.get("depth_multiplier", 1)),
            "same": int(o["padding"] == "same")}  # the numpy twins' padding name


def lower_tflite(model: TfliteModel) -> FrozenPlan:
    ops, start, end = body(model)
    T = model.tensors
    shapes = {start: T[start].shape[1:]}
    calls: list[FrozenCall] = []
    for op in ops:
        x_t, y_t = T[op.inputs[0]], T[op.outputs[0]]
        zp_in, zp_out = int(x_t.zero_point[0]), int(y_t.zero_point[0])
        o = op.options
        lo, hi = activation_range(o.get("activation", 0), float(y_t.scale[0]), zp_out)
        q = {"zp_in": zp_in, "zp_out": zp_out, "act_min": lo, "act_max": hi}
        xs = shapes[op.inputs[0]]
        ins = [op.inputs[0]]
        if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            w_t = T[op.inputs[1]]
            h, w, c = xs
            dw = op.name == "DEPTHWISE_CONV_2D"
            kh, kw = w_t.shape[1], w_t.shape[2]
            oc = w_t.shape[3] if dw else w_t.shape[0]
            ints = {**_conv_ints(o, h, w, c, kh, kw, oc), **q}
            consts = {"w": w_t.data, **_per_channel(float(x_t.scale[0]), w_t.scale,
                                                    float(y_t.scale[0]))}
            if len(op.inputs) > 2 and op.inputs[2] >= 0:
                consts["bias"] = T[op.inputs[2]].data.astype(np.int32)
            call = FrozenCall("tfl_depthwise_conv2d" if dw else "tfl_conv2d", op.index, ins,
                              op.outputs[0], ints, consts)
            shapes[op.outputs[0]] = (ints["out_h"], ints["out_w"], oc)
        elif op.name == "FULLY_CONNECTED":
            w_t = T[op.inputs[1]]
            consts = {"w": w_t.data, **_per_channel(float(x_t.scale[0]), w_t.scale,
                                                    float(y_t.scale[0]))}
            if len(op.inputs) > 2 and op.inputs[2] >= 0:
                consts["bias"] = T[op.inputs[2]].data.astype(np.int32)
            n_in, n_out = int(w_t.shape[1]), int(w_t.shape[0])
            if int(np.prod(xs)) % n_in:
                raise UserError(f"{model.path}: FULLY_CONNECTED op {op.index} takes {n_in} "
                                f"inputs, its input has {int(np.prod(xs))}")
            rows = int(np.prod(xs)) // n_in  # rows > 1: a [rows][in] input (keep_num_dims)
            call = FrozenCall("tfl_fully_connected", op.index, ins, op.outputs[0],
                              {**q, "rows": rows, "in": n_in, "out": n_out,
                               "per_channel": int(w_t.scale.size > 1)}, consts)
            shapes[op.outputs[0]] = tuple(y_t.shape[1:]) or (n_out,)
        elif op.name == "ADD":
            b_t = T[op.inputs[1]]
            if op.inputs[1] not in shapes or shapes[op.inputs[1]] != xs:
                raise UserError(f"{model.path}: ADD op {op.index} broadcasts or adds a constant; "
                                f"only the sum of two tensors of one shape (a residual) is "
                                f"supported")
            (q1, e1), (q2, e2), (qo, eo) = tadd.add_params(float(x_t.scale[0]),
                                                           float(b_t.scale[0]),
                                                           float(y_t.scale[0]))
            call = FrozenCall("tfl_add", op.index, [op.inputs[0], op.inputs[1]], op.outputs[0],
                              {"zp_a": zp_in, "qm_a": q1, "shift_a": e1,
                               "zp_b": int(b_t.zero_point[0]), "qm_b": q2, "shift_b": e2,
                               "qm_out": qo, "shift_out": eo, "zp_out": zp_out, "act_min": lo,
                               "act_max": hi, "count": int(np.prod(xs))})
            shapes[op.outputs[0]] = xs
        elif op.name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            h, w, c = xs
            (kh, kw), (sh, sw) = o["filter"], o["stride"]
            oh, ow = out_size(o["padding"], h, kh, sh), out_size(o["padding"], w, kw, sw)
            call = FrozenCall("tfl_avgpool2d" if op.name == "AVERAGE_POOL_2D"
                              else "tfl_maxpool2d", op.index, ins, op.outputs[0],
                              {"in_h": h, "in_w": w, "c": c, "out_h": oh, "out_w": ow, "k_h": kh,
                               "k_w": kw, "stride_h": sh, "stride_w": sw,
                               "pad_top": pad_before(o["padding"], h, kh, sh),
                               "pad_left": pad_before(o["padding"], w, kw, sw),
                               "act_min": lo, "act_max": hi,
                               "same": int(o["padding"] == "same")})
            shapes[op.outputs[0]] = (oh, ow, c)
        elif op.name == "MEAN":
            axes = sorted(int(a) % len(x_t.shape) for a in np.ravel(T[op.inputs[1]].data))
            if len(xs) != 3 or axes != [1, 2]:
                raise UserError(f"{model.path}: MEAN op {op.index} over axes {axes} of a "
                                f"{len(x_t.shape)}-D tensor; the device supports the global "
                                f"average pool (axes 1 and 2 of NHWC)")
            h, w, c = xs
            qm, sh = tmean.mean_multiplier(float(x_t.scale[0]), float(y_t.scale[0]), h * w)
            call = FrozenCall("tfl_mean_hw", op.index, ins, op.outputs[0],
                              {"h": h, "w": w, "c": c, "zp_in": zp_in, "qm": qm, "shift": sh,
                               "zp_out": zp_out})
            shapes[op.outputs[0]] = tuple(y_t.shape[1:]) if o["keep_dims"] else (c,)
        elif op.name == "PAD":
            pads = np.asarray(T[op.inputs[1]].data).reshape(-1, 2)
            if len(xs) != 3 or pads[0].any() or pads[3].any():
                raise UserError(f"{model.path}: PAD op {op.index} pads the batch or channel "
                                f"axis; the device pads height and width")
            h, w, c = xs
            (t, b), (l, r) = pads[1], pads[2]
            call = FrozenCall("tfl_pad", op.index, ins, op.outputs[0],
                              {"h": h, "w": w, "c": c, "top": int(t), "bottom": int(b),
                               "left": int(l), "right": int(r), "value": zp_out})
            shapes[op.outputs[0]] = (h + int(t) + int(b), w + int(l) + int(r), c)
        elif op.name == "RESHAPE":
            call = FrozenCall("tfl_reshape", op.index, ins, op.outputs[0])
            shapes[op.outputs[0]] = tuple(y_t.shape[1:])
            if int(np.prod(shapes[op.outputs[0]])) != int(np.prod(xs)):
                raise UserError(f"{model.path}: RESHAPE op {op.index} changes the size")
        elif op.name == "QUANTIZE":
            qm, sh = quantize_multiplier(float(np.float32(x_t.scale[0]))
                                         / float(np.float32(y_t.scale[0])))
            call = FrozenCall("tfl_requantize", op.index, ins, op.outputs[0],
                              {"zp_in": zp_in, "qm": qm, "shift": sh, "zp_out": zp_out,
                               "count": int(np.prod(xs))})
            shapes[op.outputs[0]] = xs
        else:
            raise UserError(f"{model.path}: operator {op.name} cannot be lowered")
        calls.append(call)
    offsets, arena = _place(calls, start, end, shapes)
    y_t, x_t = T[end], T[start]
    return FrozenPlan(calls, start, end, shapes, offsets, arena, float(y_t.scale[0]),
                      int(y_t.zero_point[0]), float(x_t.scale[0]), int(x_t.zero_point[0]))


def storage(calls: list[FrozenCall]) -> dict[int, int]:
    """Tensor -> the tensor whose bytes it uses (a RESHAPE's output is its input's view)."""
    root: dict[int, int] = {}
    for c in calls:
        if c.kernel == "tfl_reshape":
            root[c.output] = root.get(c.inputs[0], c.inputs[0])
    return root


def _place(calls: list[FrozenCall], start: int, end: int,
           shapes: dict[int, tuple[int, ...]]) -> tuple[dict[int, int], int]:
    """First-fit placement of the intermediates by lifetime (the caller owns input and output;
    a RESHAPE of either is the caller's buffer too)."""
    root = storage(calls)
    life: dict[int, list[int]] = {}
    for k, c in enumerate(calls):
        for t in [*c.inputs, c.output]:
            r = root.get(t, t)
            span = life.setdefault(r, [k, k])
            span[0], span[1] = min(span[0], k), max(span[1], k)
    outside = {start, end, root.get(end, end)}
    placed: list[tuple[int, int, int, int]] = []  # offset, bytes, first, last
    offsets: dict[int, int] = {}
    order = sorted((r for r in life if r not in outside),
                   key=lambda r: -int(np.prod(shapes[r])))
    for r in order:
        size = -(-int(np.prod(shapes[r])) // ARENA_ALIGN) * ARENA_ALIGN
        first, last = life[r]
        off = 0
        for o, b, f, l in sorted(placed):
            if f <= last and first <= l and off < o + b and o < off + size:
                off = o + b
        placed.append((off, size, first, last))
        offsets[r] = off
    for t, r in root.items():
        if r in offsets:
            offsets[t] = offsets[r]
    return offsets, max((o + b for o, b, _, _ in placed), default=0)


def run_call(c: FrozenCall, v: dict[int, np.ndarray], shapes) -> np.ndarray:
    """One call with the numpy twins on a batch (what the C call computes)."""
    i, k = c.ints, c.consts
    x = v[c.inputs[0]]
    n = len(x)
    act = (i.get("act_min", -128), i.get("act_max", 127))
    if c.kernel in ("tfl_conv2d", "tfl_depthwise_conv2d"):
        xs = x.reshape(n, i["in_h"], i["in_w"], i["in_c"])
        geo = ((i["stride_h"], i["stride_w"]), (i["dil_h"], i["dil_w"]))
        pad = "same" if i["same"] else "valid"
        if c.kernel == "tfl_conv2d":
            return tconv.conv2d(xs, i["zp_in"], k["w"], k.get("bias"), k["qm"], k["shift"],
                                i["zp_out"], act, *geo, pad)
        return tconv.depthwise_conv2d(xs, i["zp_in"], k["w"], k.get("bias"), k["qm"],
                                      k["shift"], i["zp_out"], act, i["depth_multiplier"],
                                      *geo, pad)
    if c.kernel == "tfl_fully_connected":
        y = tfc.fully_connected(x.reshape(n * i["rows"], i["in"]), i["zp_in"], k["w"],
                                k.get("bias"), k["qm"], k["shift"], i["zp_out"], act)
        return y.reshape((n,) + shapes[c.output])
    if c.kernel == "tfl_add":
        p = ((i["qm_a"], i["shift_a"]), (i["qm_b"], i["shift_b"]), (i["qm_out"], i["shift_out"]))
        return tadd.add(x, i["zp_a"], v[c.inputs[1]], i["zp_b"], p, i["zp_out"], act)
    if c.kernel in ("tfl_avgpool2d", "tfl_maxpool2d"):
        xs = x.reshape(n, i["in_h"], i["in_w"], i["c"])
        f = tpool.average_pool if c.kernel == "tfl_avgpool2d" else tpool.max_pool
        return f(xs, (i["k_h"], i["k_w"]), (i["stride_h"], i["stride_w"]), "same" if i["same"] else "valid", act)
    if c.kernel == "tfl_mean_hw":
        s = x.reshape(n, i["h"] * i["w"], i["c"]).astype(np.int64).sum(axis=1)
        y = mbqm(s - i["zp_in"] * i["h"] * i["w"], i["qm"], i["shift"]) + i["zp_out"]
        return np.clip(y, -128, 127).astype(np.int8).reshape((n,) + shapes[c.output])
    if c.kernel == "tfl_pad":
        return pad2d_forward(x.reshape(n, i["h"], i["w"], i["c"]), i["top"], i["bottom"],
                             i["left"], i["right"], i["value"])
    if c.kernel == "tfl_requantize":
        y = mbqm(x.astype(np.int64) - i["zp_in"], i["qm"], i["shift"]) + i["zp_out"]
        return np.clip(y, -128, 127).astype(np.int8)
    if c.kernel == "tfl_reshape":
        return x.reshape((n,) + shapes[c.output])
    raise ValueError(c.kernel)


def run_plan_tensors(plan: FrozenPlan, x: np.ndarray) -> dict[int, np.ndarray]:
    """Every tensor the plan computes on int8 samples x [n, *input shape] (a verification names
    the first layer that disagrees)."""
    shape = plan.shapes[plan.input]
    x = np.asarray(x)
    if x.dtype != np.int8 or x.shape[1:] != shape:
        raise UserError(f"the frozen part takes int8 samples of shape {shape}, got {x.dtype} "
                        f"{x.shape[1:]}; quantise them with quantize_input")
    v = {plan.input: x}
    for c in plan.calls:
        v[c.output] = run_call(c, v, plan.shapes)
    return v


def run_plan(plan: FrozenPlan, x: np.ndarray) -> np.ndarray:
    """The golden frozen part: `plan` on int8 samples x [n, *input shape] -> [n, *output]."""
    return run_plan_tensors(plan, x)[plan.output]
