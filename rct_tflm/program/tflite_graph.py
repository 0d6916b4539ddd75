"""The int8 body of a `.tflite` graph and its input quantisation.

The float ends are cut: a leading QUANTIZE is the caller's input quantisation
(`quantize_input`), a trailing DEQUANTIZE and SOFTMAX belong to the loss head (the trainable part
computes logits), so the frozen part is the int8 operators in between, in file order (the
converter's topological order). program/tflite_lower.py lowers and runs them.
"""
from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..fixedpoint.config import quantise_affine
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
    q = quantise_affine(x, float(t.scale[0]), int(t.zero_point[0]))
    return q.reshape((len(x),) + t.shape[1:])
