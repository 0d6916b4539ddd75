"""Export of a model imported from a `.tflite` (partition --model x.tflite): the original
flatbuffer with its FULLY_CONNECTED head replaced by the weights the board trained.

The frozen graph stays what it was. The export computes what the board computes wherever int8
can hold it:
* the boundary becomes a QUANTIZE (int8 -> int8, TFLite's requantisation, the very arithmetic
  of the device's boundary) into a tensor at the head's input grid 2^x_exp, zero point 0;
* a head layer's weights trained at <= 8 bits are stored exactly: per-tensor scale 2^exp;
  wider ones (the controller's 9-16 bits) are re-quantised to int8 with one scale per output
  channel, s_c = max|w_c| / 127 (the one lossy step); biases int32 at s_in · s_w;
* each head output gets the device's grid, scale 2^act_exp and zero point 0, so the exported
  activations saturate where the board's do.
Edited with TensorFlow's `tensorflow.lite.tools.flatbuffer_utils` (object API).
"""
from __future__ import annotations

import numpy as np

from ..artefact import ModelArtefact
from ..errors import UserError
from ..formats.tflite_model import parse_tflite
from ..partition.tflite_head import head_ops
from ..program import kinds
from ..program.tflite_graph import body


def is_tflite_head(art: ModelArtefact) -> bool:
    """Whether the model's first layer is a frozen .tflite part (its kind has a frozen plan)."""
    return bool(art.layers) and hasattr(kinds.kind(art.layers[0].kind), "frozen_plan")


def _weights(t: "object", n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """(int8 weights [out, in], float scale per output channel) of a trained QTensor."""
    w = t.to_float().astype(np.float64).T
    if t.bits <= 8:  # exact: q at 2^exp
        return t.q.T.astype(np.int8), np.full(n_out, 2.0 ** t.exp)
    amax = np.max(np.abs(w), axis=1)
    s = np.where(amax > 0, amax / 127.0, 2.0 ** t.exp).astype(np.float32).astype(np.float64)
    return np.clip(np.round(w / s[:, None]), -127, 127).astype(np.int8), s


def _boundary(m: "object", g: "object", cut: int, exp: int) -> int:
    """A QUANTIZE from the cut tensor to a new int8 tensor at 2^exp (zero point 0)."""
    from tensorflow.lite.python import schema_py_generated as fb
    t = fb.TensorT()
    t.shape, t.type, t.buffer, t.name = list(g.tensors[cut].shape), fb.TensorType.INT8, 0, \
        b"rct_boundary"
    t.quantization = fb.QuantizationParametersT()
    t.quantization.scale, t.quantization.zeroPoint = [2.0 ** exp], [0]
    g.tensors.append(t)
    codes = [k for k, c in enumerate(m.operatorCodes)
             if max(c.builtinCode, c.deprecatedBuiltinCode) == fb.BuiltinOperator.QUANTIZE]
    if not codes:
        c = fb.OperatorCodeT()
        c.builtinCode = c.deprecatedBuiltinCode = fb.BuiltinOperator.QUANTIZE
        c.version = 1
        m.operatorCodes.append(c)
        codes = [len(m.operatorCodes) - 1]
    op = fb.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = codes[0], [cut], [len(g.tensors) - 1]
    first = next(k for k, o in enumerate(g.operators) if cut in list(o.inputs))  # the head's
    g.operators.insert(first, op)
    g.operators[first + 1].inputs[0] = len(g.tensors) - 1
    return len(g.tensors) - 1


def _set_grid(t: "object", scale: float) -> None:
    t.quantization.scale, t.quantization.zeroPoint = [float(scale)], [0]


def _set_dense(m: "object", g: "object", art: ModelArtefact, l: "object", op: "object",
               s_in: float) -> float:
    """Layer l's trained weights into the dense operator op (input grid s_in); its output on
    the device's grid 2^act_exp, which it returns."""
    w_t, out_t = g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    qw, s = _weights(art.tensors[l.params["kernel"]], int(l.config["units"]))
    per_channel = bool(np.any(s != s[0]))
    m.buffers[w_t.buffer].data = np.frombuffer(qw.tobytes(), np.uint8)
    w_t.quantization.scale = [float(v) for v in s] if per_channel else [float(s[0])]
    w_t.quantization.zeroPoint = [0] * len(w_t.quantization.scale)
    w_t.quantization.quantizedDimension = 0
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        b_t = g.tensors[op.inputs[2]]
        b = art.float_weights(l.params["bias"]).astype(np.float64)
        sb = s_in * s
        qb = np.clip(np.round(b / sb), -2 ** 31, 2 ** 31 - 1).astype(np.int32)
        m.buffers[b_t.buffer].data = np.frombuffer(qb.tobytes(), np.uint8)
        b_t.quantization.scale = [float(v) for v in sb] if per_channel else [float(sb[0])]
        b_t.quantization.zeroPoint = [0] * len(b_t.quantization.scale)
    s_out = 2.0 ** int(l.act_exp)
    _set_grid(out_t, s_out)
    return s_out


MLP_OPS = ("FULLY_CONNECTED", "RESHAPE")  # the graphs device_grids rewrites


def device_grids(blob: bytes, art: ModelArtefact) -> bytes | None:
    """A converted dense model (FULLY_CONNECTED and RESHAPE only, e.g. the demo's MLP) moved
    onto the device's grids: input at 2^input_exp, every layer's weights as export_head stores
    them, outputs at 2^act_exp, so TFLite computes what the board computes up to TFLite's
    rounding and the int8 storage of a widened head. None for other graphs (convolutions keep
    the converter's calibrated scales)."""
    from tensorflow.lite.tools import flatbuffer_utils as fu
    parsed = parse_tflite(blob, "export")
    ops, start, _ = body(parsed)
    dense = [l for l in art.layers if l.params]
    fc = [op for op in ops if op.name == "FULLY_CONNECTED"]
    if any(op.name not in MLP_OPS for op in ops) or len(fc) != len(dense) \
            or "input_scale" in art.preprocess:
        return None
    m = fu.convert_bytearray_to_object(bytearray(blob))
    g = m.subgraphs[0]
    grid = {start: 2.0 ** int(art.preprocess["input_exp"])}
    _set_grid(g.tensors[start], grid[start])
    layers = iter(dense)
    for op in ops:
        if op.name == "FULLY_CONNECTED":
            grid[op.outputs[0]] = _set_dense(m, g, art, next(layers), op, grid[op.inputs[0]])
        else:  # RESHAPE: a view
            grid[op.outputs[0]] = grid[op.inputs[0]]
            _set_grid(g.tensors[op.outputs[0]], grid[op.outputs[0]])
    return bytes(fu.convert_object_to_bytearray(m))


def export_head(art: ModelArtefact) -> bytes:
    """The trained model as an int8 flatbuffer (module doc)."""
    from tensorflow.lite.tools import flatbuffer_utils as fu
    frozen = art.layers[0]
    name = str(frozen.config["file"])
    src = art.files[name]
    parsed = parse_tflite(src, name)
    dense = [l for l in art.layers if l.params]  # the head
    ops = head_ops(parsed)[-len(dense):]
    if len(ops) != len(dense) or ops[0].inputs[0] != int(frozen.config["output"]):
        raise UserError(f"the head of the artefact does not match the FULLY_CONNECTED layers of "
                        f"its {name}; corrupt artefact, partition the .tflite again")
    m = fu.convert_bytearray_to_object(bytearray(src))
    g = m.subgraphs[0]
    _boundary(m, g, ops[0].inputs[0], int(frozen.act_exp))
    s_in = 2.0 ** int(frozen.act_exp)
    for l, op in zip(dense, ops):
        s_in = _set_dense(m, g, art, l, op, s_in)
        for r in parsed.ops:  # a RESHAPE between head layers is a view: the same grid
            if r.name == "RESHAPE" and r.inputs[0] == op.outputs[0]:
                _set_grid(g.tensors[r.outputs[0]], s_in)
    return bytes(fu.convert_object_to_bytearray(m))
