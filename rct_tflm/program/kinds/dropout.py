"""dropout: the identity on the device (its output is its input's buffer); while the trainer
trains, it zeroes a `rate` fraction of the values and scales the rest by 1 / (1 - rate)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..model import Call, LayerFacts

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..lower import Lowering
    from ._tf import KerasLayer

KINDS = ("dropout",)
CONFIG = ("rate",)
KERAS = ("Dropout",)
PASSES_EXPONENT = True
MLP = "skipped"  # the float SGD reference trains without dropout
OUTPUT = "alias"


# -- host side: FP32 reference, numpy-built models, Keras -----------------------------------------
def float_forward(l: "Layer", a: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    return a


def spec(c: dict, shape: tuple[int, ...]) -> tuple[dict, tuple[int, ...]]:
    return c, shape


def from_keras(k: "KerasLayer") -> tuple[dict, tuple[int, ...], dict[str, np.ndarray]]:
    return {"rate": float(k.cfg["rate"])}, k.shape, {}


def tf_forward(tf: Any, l: "Layer", x: Any, p: dict, training: bool, seed: Any) -> Any:
    rate = l.config["rate"]
    if training and rate > 0:
        keep = tf.random.stateless_uniform(tf.shape(x), seed=seed) >= rate
        x = tf.where(keep, x / (1.0 - rate), tf.zeros_like(x))
    return x


def to_keras(L: Any, l: "Layer", act: str) -> Any:
    return L.Dropout(l.config["rate"], name=l.name)


# -- the integer engine ---------------------------------------------------------------------------
def shape(l: "Layer", f: LayerFacts, low: "Lowering") -> None:
    pass


def forward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return []


def backward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return []
