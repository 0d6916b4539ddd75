"""A fully int8-quantised `.tflite` file read into plain Python: tensors and operators.

Parsed with the `tflite` package (the flatbuffer schema's generated Python, no TensorFlow).
Only what the frozen part needs is kept: per tensor its shape, type, scales and zero points
(per-channel for weights) and constant data; per operator its builtin name, inputs, outputs and
the options the TFLite Micro reference kernels read. `read_tflite` refuses, in one line, a file
that is not a TFLite flatbuffer, a float or dynamic-range (hybrid) model, and an operator outside
SUPPORTED (naming it and the supported list).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError

SUPPORTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "AVERAGE_POOL_2D",
             "MAX_POOL_2D", "MEAN", "RESHAPE", "PAD", "SOFTMAX", "QUANTIZE", "DEQUANTIZE")
CONVERT_HINT = ("convert it with TFLiteConverter: optimizations=[tf.lite.Optimize."
                "DEFAULT], a representative_dataset, target_spec.supported_ops=[tf.lite.OpsSet."
                "TFLITE_BUILTINS_INT8] and inference_input_type/inference_output_type=tf.int8")
ACTIVATIONS = {0: "none", 1: "relu", 3: "relu6"}  # tflite.ActivationFunctionType
_DTYPES = {9: np.int8, 2: np.int32, 0: np.float32, 7: np.int16, 3: np.uint8, 4: np.int64}


@dataclass
class TfTensor:
    index: int
    name: str
    dtype: type
    shape: tuple[int, ...]
    scale: np.ndarray  # float32, one per channel (or one)
    zero_point: np.ndarray  # int64, same length
    quantized_dim: int
    data: np.ndarray | None  # constant tensors (weights, biases, shapes, paddings)

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1


@dataclass
class TfOp:
    index: int
    name: str  # builtin operator name, e.g. CONV_2D
    inputs: list[int]  # tensor indices, -1 for an omitted optional input
    outputs: list[int]
    options: dict = field(default_factory=dict)


@dataclass
class TfliteModel:
    path: str
    tensors: list[TfTensor]
    ops: list[TfOp]
    inputs: list[int]
    outputs: list[int]

    def tensor(self, i: int) -> TfTensor:
        return self.tensors[i]


def _builtin_names() -> dict[int, str]:
    import tflite
    return {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}


def _options(op, name: str) -> dict:
    """The builtin options the reference kernels read, as a dict."""
    import tflite
    table = op.BuiltinOptions()
    if table is None:
        return {}

    def load(cls):
        o = cls()
        o.Init(table.Bytes, table.Pos)
        return o
    def window(o) -> dict:  # what conv, depthwise and pool options share
        return {"padding": "same" if o.Padding() == tflite.Padding.SAME else "valid",
                "stride": (o.StrideH(), o.StrideW()), "activation": o.FusedActivationFunction()}
    if name == "CONV_2D":
        o = load(tflite.Conv2DOptions)
        return {**window(o), "dilation": (o.DilationHFactor(), o.DilationWFactor())}
    if name == "DEPTHWISE_CONV_2D":
        o = load(tflite.DepthwiseConv2DOptions)
        return {**window(o), "dilation": (o.DilationHFactor(), o.DilationWFactor()),
                "depth_multiplier": o.DepthMultiplier()}
    if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        o = load(tflite.Pool2DOptions)
        return {**window(o), "filter": (o.FilterHeight(), o.FilterWidth())}
    if name == "FULLY_CONNECTED":
        o = load(tflite.FullyConnectedOptions)
        return {"activation": o.FusedActivationFunction(), "keep_num_dims": o.KeepNumDims()}
    if name == "ADD":
        return {"activation": load(tflite.AddOptions).FusedActivationFunction()}
    if name == "MEAN":
        return {"keep_dims": bool(load(tflite.ReducerOptions).KeepDims())}
    if name == "SOFTMAX":
        return {"beta": float(load(tflite.SoftmaxOptions).Beta())}
    return {}


def _tensor(model, g, buf: bytes, i: int) -> TfTensor:
    t = g.Tensors(i)
    q = t.Quantization()
    scale = np.zeros(0, np.float32)
    zp = np.zeros(0, np.int64)
    qdim = 0
    if q is not None and not q.ScaleIsNone():
        scale = q.ScaleAsNumpy().astype(np.float32)
        zp = q.ZeroPointAsNumpy().astype(np.int64) if not q.ZeroPointIsNone() \
            else np.zeros(scale.size, np.int64)
        qdim = q.QuantizedDimension()
    dtype = _DTYPES.get(t.Type())
    shape = tuple(int(s) for s in t.ShapeAsNumpy()) if not t.ShapeIsNone() else ()
    data = None
    b = model.Buffers(t.Buffer())
    raw = None
    if b is not None and b.Offset() > 1:  # large models keep buffers after the flatbuffer
        raw = buf[b.Offset():b.Offset() + b.Size()]
    elif b is not None and not b.DataIsNone() and b.DataLength():
        raw = b.DataAsNumpy().tobytes()
    if raw is not None and dtype is not None:
        data = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    name = (t.Name() or b"").decode("utf-8", "replace")
    return TfTensor(i, name, dtype or object, shape, scale, zp, qdim, data)


def is_tflite(path: str | os.PathLike) -> bool:
    """Whether `path` is a TensorFlow Lite flatbuffer (its file identifier), not an artefact."""
    p = Path(path)
    if not p.is_file():
        return False
    with open(p, "rb") as fh:
        return fh.read(8)[4:8] == b"TFL3"


def read_tflite(path: str | os.PathLike) -> TfliteModel:
    """The model in `path`, checked (module doc); a one-line UserError otherwise."""
    p = Path(path)
    try:
        buf = p.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read '{p}' ({e.strerror or e})") from None
    return parse_tflite(buf, str(p))


def parse_tflite(buf: bytes, p: str) -> TfliteModel:
    """The model in the flatbuffer `buf` (named `p` in messages), checked as read_tflite does."""
    import tflite

    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise UserError(f"'{p}' is not a TensorFlow Lite flatbuffer (no TFL3 identifier); "
                        f"export it with tf.lite.TFLiteConverter")
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        if model.SubgraphsLength() != 1:
            raise UserError(f"'{p}' has {model.SubgraphsLength()} subgraphs; rct_tflm imports "
                            f"single-subgraph models (no control flow)")
        g = model.Subgraphs(0)
        names = _builtin_names()
        tensors = [_tensor(model, g, buf, i) for i in range(g.TensorsLength())]
        ops = []
        for k in range(g.OperatorsLength()):
            op = g.Operators(k)
            oc = model.OperatorCodes(op.OpcodeIndex())
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            name = names.get(code, f"builtin {code}")
            if code == tflite.BuiltinOperator.CUSTOM:
                name = f"CUSTOM ({(oc.CustomCode() or b'?').decode()})"
            ops.append(TfOp(k, name, [int(i) for i in op.InputsAsNumpy()],
                            [int(i) for i in op.OutputsAsNumpy()],
                            _options(op, name) if name in SUPPORTED else {}))
        m = TfliteModel(str(p), tensors, ops, [int(i) for i in g.InputsAsNumpy()],
                        [int(i) for i in g.OutputsAsNumpy()])
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - a damaged flatbuffer fails anywhere inside
        raise UserError(f"corrupt .tflite '{p}' ({type(e).__name__}: {e}); export it again "
                        f"with tf.lite.TFLiteConverter") from None
    check_int8(m)
    return m


def check_int8(m: TfliteModel) -> None:
    """Refuse float, hybrid (dynamic-range) and unsupported models in one line each."""
    name = Path(m.path).name
    bad = [op.name for op in m.ops if op.name not in SUPPORTED]
    if bad:
        hint = (" (a dynamic batch size: convert with a fixed one, Input(..., batch_size=1), so "
                "the converter folds the shape arithmetic)"
                if bad[0] in ("SHAPE", "STRIDED_SLICE", "PACK") else "")
        raise UserError(f"{name}: operator {bad[0]} is not supported{hint} (supported: "
                        f"{', '.join(SUPPORTED)})")
    # dynamic-range models keep int8 weights (dequantised at run time) beside float activations
    hybrid = any(t.dtype is np.int8 and t.data is not None for t in m.tensors)
    for op in m.ops:
        if op.name in ("QUANTIZE", "DEQUANTIZE"):
            continue
        for i in op.inputs[:1] + op.outputs:
            t = m.tensors[i]
            if t.dtype is not np.int8:
                kind = "dynamic-range (hybrid)" if t.dtype is np.float32 and hybrid else "float"
                raise UserError(f"{name} is a {kind} model ({op.name} computes in "
                                f"{np.dtype(t.dtype).name}); it must be fully int8: "
                                f"{CONVERT_HINT}")
            if t.scale.size == 0:
                raise UserError(f"{name}: tensor '{t.name}' of {op.name} has no quantisation "
                                f"parameters; {CONVERT_HINT}")
        for j in op.inputs[1:]:
            if j >= 0 and m.tensors[j].dtype is np.float32:
                raise UserError(f"{name} is a float model ({op.name} has float weights "
                                f"'{m.tensors[j].name}'); it must be fully int8: {CONVERT_HINT}")
