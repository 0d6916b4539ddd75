"""reshape: Keras Reshape to a fixed per-sample shape of the same size. No kernel: the output
is the input's buffer (NHWC row-major is the same bytes in any shape)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import UserError
from ..model import Call, LayerFacts
from ._tf import Unsupported

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..lower import Lowering
    from ._tf import KerasLayer

KINDS = ("reshape",)
CONFIG = ("target_shape",)
KERAS = ("Reshape",)
PASSES_EXPONENT = True
MLP = "skipped"  # the float SGD reference works on flat vectors
OUTPUT = "alias"


def _target(c: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
    t = [int(v) for v in c["target_shape"]]
    size = int(np.prod(shape))
    if t.count(-1) == 1:  # Keras infers one axis
        rest = int(np.prod([v for v in t if v != -1]))
        t[t.index(-1)] = size // rest if rest and size % rest == 0 else -1
    if -1 in t or int(np.prod(t)) != size:
        raise Unsupported(f"target shape {tuple(c['target_shape'])} does not hold the "
                          f"{size} values of {tuple(shape)}")
    return tuple(t)


# -- host side: FP32 reference, numpy-built models, Keras -----------------------------------------
def float_forward(l: "Layer", a: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    return a.reshape((a.shape[0],) + tuple(l.output_shape))


def spec(c: dict, shape: tuple[int, ...]) -> tuple[dict, tuple[int, ...]]:
    t = _target(c, shape)
    return {"target_shape": list(t)}, t


def from_keras(k: "KerasLayer") -> tuple[dict, tuple[int, ...], dict[str, np.ndarray]]:
    c, t = spec({"target_shape": k.cfg["target_shape"]}, k.shape)
    return c, t, {}


def tf_forward(tf: Any, l: "Layer", x: Any, p: dict, training: bool, seed: Any) -> Any:
    return tf.reshape(x, [tf.shape(x)[0], *l.output_shape])


def to_keras(L: Any, l: "Layer", act: str) -> Any:
    return L.Reshape(tuple(l.output_shape), name=l.name)


# -- the integer engine ---------------------------------------------------------------------------
def shape(l: "Layer", f: LayerFacts, low: "Lowering") -> None:
    if int(np.prod(l.input_shape)) != int(np.prod(l.output_shape)):
        raise UserError(f"layer {l.name}: reshape changes the size; corrupt artefact")


def forward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return []


def backward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return []
