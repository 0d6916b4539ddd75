"""Run an int8 `.tflite` graph with the numpy twins of TFLite Micro's reference kernels
(fixedpoint/tflite): the golden model of a frozen part imported from TFLite.

`run_graph(model, x)` executes the operators in file order (the converter's topological order)
on a batch and returns every tensor it computed, so a verification can name the first layer that
disagrees. The float ends are cut: a leading QUANTIZE is the caller's input quantisation
(`quantize_input`), a trailing DEQUANTIZE and SOFTMAX belong to the loss head (the trainable part
computes logits), so the graph's result is the int8 tensor before them.
"""
from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..fixedpoint.tflite.add import add, add_params
from ..fixedpoint.tflite.conv import conv2d, depthwise_conv2d
from ..fixedpoint.tflite.fully_connected import fully_connected
from ..fixedpoint.tflite.mean import mean
from ..fixedpoint.tflite.multiplier import activation_range, mbqm, quantize_multiplier
from ..fixedpoint.tflite.pooling import average_pool, max_pool
from ..formats.tflite_model import TfliteModel, TfOp

HEAD_OPS = ("SOFTMAX", "DEQUANTIZE")


def body(model: TfliteModel) -> tuple[list[TfOp], int, int]:
    """(the int8 operators, the graph's int8 input tensor, its int8 result tensor)."""
    ops = list(model.ops)
    start = model.inputs[0]
    if ops and ops[0].name == "QUANTIZE" and model.tensors[ops[0].inputs[0]].dtype is np.float32:
        start = ops[0].outputs[0]
        ops = ops[1:]
    while ops and ops[-1].name in HEAD_OPS:
        ops = ops[:-1]
    inner = [op.name for op in ops if op.name in HEAD_OPS]
    if inner:
        raise UserError(f"{model.path}: {inner[0]} inside the graph (not at its end) is not "
                        f"supported; only the loss head may be a {inner[0]}")
    end = ops[-1].outputs[0] if ops else start
    return ops, start, end


def quantize_input(model: TfliteModel, x: np.ndarray) -> np.ndarray:
    """Float samples as the graph's int8 input (TFLite's AffineQuantize: round(x / s) + zp)."""
    _, start, _ = body(model)
    t = model.tensors[start]
    s = np.float32(t.scale[0])
    q = np.round(np.asarray(x, np.float32) / s).astype(np.int64) + int(t.zero_point[0])
    return np.clip(q, -128, 127).astype(np.int8).reshape((len(x),) + t.shape[1:])


def _multipliers(s_in: float, w_scales: np.ndarray, s_out: float) -> tuple[np.ndarray, np.ndarray]:
    """PopulateConvolutionQuantizationParams: per channel QuantizeMultiplier of
    double(s_in)·double(s_w)/double(s_out)."""
    pairs = [quantize_multiplier(float(np.float32(s_in)) * float(np.float32(sw))
                                 / float(np.float32(s_out))) for sw in w_scales]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def run_op(model: TfliteModel, op: TfOp, v: dict[int, np.ndarray]) -> np.ndarray:
    T = model.tensors
    x_t, out_t = T[op.inputs[0]], T[op.outputs[0]]
    x = v[op.inputs[0]]
    zp_in, zp_out = int(x_t.zero_point[0]), int(out_t.zero_point[0])
    o = op.options
    act = activation_range(o.get("activation", 0), float(out_t.scale[0]), zp_out)
    n = len(x)
    if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        w_t = T[op.inputs[1]]
        bias = T[op.inputs[2]].data if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        qms, shifts = _multipliers(float(x_t.scale[0]), w_t.scale, float(out_t.scale[0]))
        if op.name == "CONV_2D":
            return conv2d(x, zp_in, w_t.data, bias, qms, shifts, zp_out, act, o["stride"],
                          o["dilation"], o["padding"])
        if op.name == "DEPTHWISE_CONV_2D":
            return depthwise_conv2d(x, zp_in, w_t.data, bias, qms, shifts, zp_out, act,
                                    o["depth_multiplier"], o["stride"], o["dilation"],
                                    o["padding"])
        y = fully_connected(x.reshape(-1, w_t.shape[1]), zp_in, w_t.data, bias, qms, shifts,
                            zp_out, act)
        return y.reshape((n,) + out_t.shape[1:]) if len(out_t.shape) > 1 else y
    if op.name == "ADD":
        b_t = T[op.inputs[1]]
        b = v[op.inputs[1]] if op.inputs[1] in v else b_t.data
        p = add_params(float(x_t.scale[0]), float(b_t.scale[0]), float(out_t.scale[0]))
        return add(x, zp_in, b, int(b_t.zero_point[0]), p, zp_out, act)
    if op.name == "AVERAGE_POOL_2D":
        return average_pool(x, o["filter"], o["stride"], o["padding"], act)
    if op.name == "MAX_POOL_2D":
        return max_pool(x, o["filter"], o["stride"], o["padding"], act)
    if op.name == "MEAN":
        axes = tuple(int(a) % len(x_t.shape) for a in np.ravel(T[op.inputs[1]].data))
        return mean(x, axes, o["keep_dims"], float(x_t.scale[0]), zp_in,
                    float(out_t.scale[0]), zp_out)
    if op.name == "RESHAPE":
        return x.reshape((n,) + out_t.shape[1:])
    if op.name == "PAD":
        pads = np.asarray(T[op.inputs[1]].data).reshape(-1, 2)
        if pads[0].any():
            raise UserError(f"{model.path}: PAD on the batch axis is not supported")
        return np.pad(x, [tuple(p) for p in pads], constant_values=zp_out)
    if op.name == "QUANTIZE":  # int8 -> int8 requantisation
        qm, shift = quantize_multiplier(float(np.float32(x_t.scale[0]))
                                        / float(np.float32(out_t.scale[0])))
        return np.clip(mbqm(x.astype(np.int64) - zp_in, qm, shift) + zp_out, -128,
                       127).astype(np.int8)
    raise UserError(f"{model.path}: operator {op.name} cannot run here")


def run_graph(model: TfliteModel, x: np.ndarray) -> dict[int, np.ndarray]:
    """Every tensor of the int8 body for the int8 batch `x` (the graph input's shape with N
    samples); the result is at body(model)[2]."""
    ops, start, _ = body(model)
    shape = model.tensors[start].shape[1:]
    x = np.asarray(x)
    if x.dtype != np.int8 or x.shape[1:] != shape:
        raise UserError(f"the graph takes int8 samples of shape {shape}, got {x.dtype} "
                        f"{x.shape[1:]}; quantise them with quantize_input")
    v = {start: x}
    for op in ops:
        v[op.outputs[0]] = run_op(model, op, v)
    return v
