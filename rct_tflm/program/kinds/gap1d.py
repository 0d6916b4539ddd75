"""gap1d: the mean over the steps axis (steps x channels -> channels). On the integer engine it
is avgpool2d on a 1 x steps image with one window over all steps (count = steps), so it lowers
to the avgpool2d calls and kernels on that geometry, like gap2d; there is no C of its own."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import _conv, _tf, avgpool2d

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..lower import Lowering
    from ..model import LayerFacts

KINDS = ("gap1d",)
KERAS = ("GlobalAveragePooling1D", "GlobalAvgPool1D")


# -- host side: FP32 reference, numpy-built models, Keras -----------------------------------------
def float_forward(l: "Layer", a: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    return a.mean(axis=1)


def spec(c: dict, shape: tuple[int, ...]) -> tuple[dict, tuple[int, ...]]:
    return c, (shape[1],)


def from_keras(k: _tf.KerasLayer) -> tuple[dict, tuple[int, ...], dict[str, np.ndarray]]:
    if len(k.shape) != 2 or k.cfg.get("keepdims"):
        raise _tf.Unsupported(f"input shape {k.shape} is not steps x channels, or keepdims")
    _tf.padding(k.cfg)  # refuses channels_first
    return {}, (k.shape[1],), {}


def tf_forward(tf: Any, l: "Layer", x: Any, p: dict, training: bool, seed: Any) -> Any:
    return tf.reduce_mean(x, axis=1)


def to_keras(L: Any, l: "Layer", act: str) -> Any:
    return L.GlobalAveragePooling1D(name=l.name)


# -- the integer engine: avgpool2d's calls on a 1 x steps window ----------------------------------
def shape(l: "Layer", f: "LayerFacts", low: "Lowering") -> None:
    f.shape = _conv.global_geometry(l, 1)


forward = avgpool2d.forward
backward = avgpool2d.backward
