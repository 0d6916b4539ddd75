"""gap1d: the mean over the steps axis (steps x channels -> channels). Host only: the integer
engine has no kernel for it, so lower() refuses it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import _tf

if TYPE_CHECKING:
    from ...artefact import Layer

KINDS = ("gap1d",)
KERAS = ("GlobalAveragePooling1D", "GlobalAvgPool1D")


def float_forward(l: "Layer", a: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    return a.mean(axis=1)


def from_keras(k: _tf.KerasLayer) -> tuple[dict, tuple[int, ...], dict[str, np.ndarray]]:
    if len(k.shape) != 2 or k.cfg.get("keepdims"):
        raise _tf.Unsupported(f"input shape {k.shape} is not steps x channels, or keepdims")
    return {}, (k.shape[1],), {}


def tf_forward(tf: Any, l: "Layer", x: Any, p: dict, training: bool, seed: Any) -> Any:
    return tf.reduce_mean(x, axis=1)


def to_keras(L: Any, l: "Layer", act: str) -> Any:
    return L.GlobalAveragePooling1D(name=l.name)
