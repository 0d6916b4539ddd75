"""A fully int8 `.tflite` as a model artefact to partition: its graph up to the input of the
trainable head stays frozen in TFLite's arithmetic (one `tflite_frozen` layer holding the
flatbuffer, program/kinds/tflite_frozen.py); the trailing FULLY_CONNECTED layers become the
RCT head (dense layers), their float weights the file's dequantised ones (w = s_c·q, bias =
s_in·s_c·q) quantised by RCT at 8 bits.

Exponents come from the file's calibration, no data needed: the boundary (the frozen part's
output) gets the power-of-two grid covering that tensor's int8 range; each head layer its
output's range plus headroom for the growth training brings (HIDDEN_HEADROOM, LOGITS_HEADROOM
bits). The model's input is the file's: int8 with its scale and zero point
(preprocess.input_scale, input_zero_point).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..artefact import Layer, ModelArtefact
from ..errors import UserError
from ..fixedpoint.config import EngineConfig
from ..fixedpoint.qtensor import QTensor, exponent_for
from ..formats.tflite_model import ACTIVATIONS, TfliteModel, TfOp, TfTensor, parse_tflite
from ..program.tflite_graph import body

HIDDEN_HEADROOM = 1
LOGITS_HEADROOM = 2
ACT = {"none": "linear", "relu": "relu", "relu6": "relu6"}


def is_dense(model: TfliteModel, op: TfOp) -> bool:
    """A FULLY_CONNECTED, or a 1x1 CONV_2D on a 1x1 map (Keras MobileNet's classifier): a dense
    layer either way, weights [out][in]."""
    if op.name == "FULLY_CONNECTED":
        return True
    if op.name != "CONV_2D":
        return False
    w, x = model.tensors[op.inputs[1]], model.tensors[op.inputs[0]]
    return tuple(w.shape[1:3]) == (1, 1) and tuple(x.shape[1:3]) == (1, 1)


def head_ops(model: TfliteModel) -> list[TfOp]:
    """The trailing dense operators, in order (RESHAPEs between and after them are views)."""
    ops, _, _ = body(model)
    head: list[TfOp] = []
    for op in reversed(ops):
        if is_dense(model, op):
            head.insert(0, op)
        elif op.name != "RESHAPE":
            break
    if not head:
        last = ops[-1].name if ops else "nothing"
        raise UserError(f"{Path(model.path).name} ends in {last}: rct_tflm trains the "
                        f"FULLY_CONNECTED layers (or 1x1 convolutions of a 1x1 map) at the end "
                        f"of a .tflite (then SOFTMAX); add a Dense head before converting")
    return head


def _range(t: TfTensor) -> float:
    """Largest |real value| the int8 tensor t can hold."""
    s, zp = float(t.scale[0]), int(t.zero_point[0])
    return s * max(abs(-128 - zp), abs(127 - zp))


def _dense(model: TfliteModel, op: TfOp, name: str, last: bool) -> tuple[Layer, dict]:
    T = model.tensors
    x, w, y = T[op.inputs[0]], T[op.inputs[1]], T[op.outputs[0]]
    n_out, n_in = int(w.shape[0]), int(np.prod(w.shape[1:]))
    if int(np.prod(x.shape[1:])) != n_in:
        raise UserError(f"{Path(model.path).name}: FULLY_CONNECTED op {op.index} reads "
                        f"{int(np.prod(x.shape[1:]))} values per sample in rows of {n_in}; the "
                        f"trainable head takes one row per sample")
    act = ACTIVATIONS.get(int(op.options.get("activation", 0)))
    if act is None:
        raise UserError(f"{Path(model.path).name}: FULLY_CONNECTED op {op.index} has fused "
                        f"activation {op.options.get('activation')}; the head supports none, "
                        f"RELU, RELU6")
    sw = np.broadcast_to(w.scale.astype(np.float64), (n_out,))
    kernel = (w.data.reshape(n_out, n_in).astype(np.float64) * sw[:, None]).T.astype(np.float32)
    has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
    bias = (T[op.inputs[2]].data.astype(np.float64) * float(x.scale[0]) * sw
            if has_bias else np.zeros(n_out)).astype(np.float32)
    l = Layer(name, "dense", {"units": n_out, "activation": ACT[act]}, (n_in,), (n_out,),
              {"kernel": f"{name}/kernel", "bias": f"{name}/bias"},
              exponent_for(_range(y), 8, LOGITS_HEADROOM if last else HIDDEN_HEADROOM))
    return l, {f"{name}/kernel": kernel, f"{name}/bias": bias}


def _name(weights: str, k: int, taken: list[Layer]) -> str:
    """The Keras layer name in the converter's name of its weights ("model/fc1/MatMul" -> fc1),
    else head{k}."""
    parts = weights.split(";")[0].split("/")
    name = parts[-2] if len(parts) >= 2 else ""
    return name if name.isidentifier() and name not in {l.name for l in taken} else f"head{k}"


def import_tflite(path: str | Path, head_layers: int | None = None) -> ModelArtefact:
    """The artefact of `path` with its last `head_layers` FULLY_CONNECTED layers (default: all
    trailing ones) as the RCT head and the rest frozen in TFLite's arithmetic."""
    return _Source(path).artefact(head_layers)


class _Source:
    """A .tflite read and parsed once, for every head length partition_tflite tries."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.buf = self.path.read_bytes()
        except OSError as e:
            raise UserError(f"cannot read '{self.path}' ({e.strerror or e})") from None
        self.model = parse_tflite(self.buf, str(self.path))
        self.head = head_ops(self.model)

    def artefact(self, head_layers: int | None = None) -> ModelArtefact:
        """The artefact with the last `head_layers` dense layers (None: all) as the head."""
        p, buf, model, head = self.path, self.buf, self.model, self.head
        if head_layers is not None:
            if not 1 <= head_layers <= len(head):
                raise UserError(f"--trainable-layers {head_layers}: {p.name} ends in "
                                f"{len(head)} FULLY_CONNECTED layer(s), the trainable head is "
                                f"1..{len(head)} of them")
            head = head[len(head) - head_layers:]
        _, start, _ = body(model)
        T = model.tensors
        cut = T[head[0].inputs[0]]
        x_in = T[start]
        file = p.name if p.suffix == ".tflite" else p.name + ".tflite"
        frozen = Layer("frozen", "tflite_frozen", {"file": file, "output": cut.index},
                       tuple(int(v) for v in x_in.shape[1:]), tuple(int(v) for v in cut.shape[1:]),
                       act_exp=exponent_for(_range(cut), 8, 0))
        layers, floats = [frozen], {}
        if len(cut.shape) > 2:
            layers.append(Layer("frozen_flatten", "flatten", {}, frozen.output_shape,
                                (int(np.prod(cut.shape[1:])),)))
        for k, op in enumerate(head):
            l, ws = _dense(model, op, _name(T[op.inputs[1]].name, k, layers), k == len(head) - 1)
            layers.append(l)
            floats.update(ws)
        tensors = {n: QTensor.from_float(v, 8) for n, v in floats.items()}
        s, zp = float(x_in.scale[0]), int(x_in.zero_point[0])
        pre = {"kind": "image" if len(x_in.shape) == 4 else "tabular", "input_scale": s,
               "input_zero_point": zp, "input_exp": exponent_for(_range(x_in), 8, 0),
               "input_bits": 8}
        return ModelArtefact(layers, tensors, frozen.input_shape, layers[-1].output_shape[0],
                             set(tensors), pre, {"method": "tflite", "source": p.name,
                                                 "head_layers": len(head), "seed": 0},
                             None, {file: buf})


def partition_tflite(path: str | Path, board: str, trainable_layers: int | None = None,
                     frozen_layers: int | None = None, cfg: EngineConfig | None = None,
                     ram_limit: int | None = None,
                     trainable_from: str | None = None) -> ModelArtefact:
    """`partition --model x.tflite`: the head is the last K FULLY_CONNECTED layers (K given,
    from --trainable-from, or the most that fit the board), the rest frozen in TFLite's
    arithmetic. Every RCT layer of the result trains."""
    from .split import partition
    if frozen_layers is not None:
        raise UserError("--frozen-layers counts the layers of a trained artefact; for a .tflite "
                        "give --trainable-layers K (its last K FULLY_CONNECTED layers) or "
                        "--trainable-from LAYER")
    src = _Source(path)
    names = [l.name for l in src.artefact().layers if l.params]  # the head
    if trainable_from is not None:
        if trainable_layers is not None:
            raise UserError("give one of --trainable-layers, --trainable-from")
        if trainable_from not in names:
            raise UserError(f"--trainable-from {trainable_from}: the trainable head of "
                            f"{Path(path).name} is one of its last FULLY_CONNECTED layers: "
                            f"{', '.join(names)}")
        trainable_layers = len(names) - names.index(trainable_from)
    if trainable_layers is not None:
        return partition(src.artefact(trainable_layers), board, trainable_layers, cfg=cfg,
                         ram_limit=ram_limit)
    refusal: UserError | None = None
    for k in range(len(names), 0, -1):  # the deepest head that fits
        try:
            art = partition(src.artefact(k), board, k, cfg=cfg, ram_limit=ram_limit)
        except UserError as e:
            refusal = e
            continue
        art.partition["split"] = "deepest that fits"
        return art
    assert refusal is not None
    raise refusal
