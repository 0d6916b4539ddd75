"""flatten: H x W x C -> H*W*C. No kernel: the output is the input's buffer (NHWC row-major
is already flat)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import UserError
from ..model import Call, LayerFacts

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..lower import Lowering
    from ._tf import KerasLayer

KINDS = ("flatten",)
KERAS = ("Flatten",)
PASSES_EXPONENT = True
MLP = "skipped"  # the float SGD reference works on flat vectors
OUTPUT = "alias"


# -- host side: FP32 reference, numpy-built models, Keras -----------------------------------------
def float_forward(l: "Layer", a: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    return a.reshape(a.shape[0], -1)


def spec(c: dict, shape: tuple[int, ...]) -> tuple[dict, tuple[int, ...]]:
    return c, (int(np.prod(shape)),)


def from_keras(k: "KerasLayer") -> tuple[dict, tuple[int, ...], dict[str, np.ndarray]]:
    return {}, (int(np.prod(k.shape)),), {}


def tf_forward(tf: Any, l: "Layer", x: Any, p: dict, training: bool, seed: Any) -> Any:
    return tf.reshape(x, [tf.shape(x)[0], -1])


def to_keras(L: Any, l: "Layer", act: str) -> Any:
    return L.Flatten(name=l.name)


# -- the integer engine ---------------------------------------------------------------------------
def shape(l: "Layer", f: LayerFacts, low: "Lowering") -> None:
    if int(np.prod(l.input_shape)) != int(np.prod(l.output_shape)):
        raise UserError(f"layer {l.name}: flatten changes the size; corrupt artefact")


def forward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return []


def backward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return []
