"""gap2d: the mean over height and width (H x W x C -> C; with config keepdims, Keras'
keepdims=True, -> 1 x 1 x C, the same bytes: keras.applications' MobileNet has it). On the integer
engine it is exactly avgpool2d with one window covering the whole input (count H * W, no
padding), so it lowers to the avgpool2d calls and kernels (rct_avgpool2d_forward.c /
rct_avgpool2d_backward.c) on that geometry; there is no C of its own."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import _conv, _tf, avgpool2d

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..lower import Lowering
    from ..model import LayerFacts

KINDS = ("gap2d",)
KERAS = ("GlobalAveragePooling2D", "GlobalAvgPool2D")


# -- host side: FP32 reference, numpy-built models, Keras -----------------------------------------
def _keep(c: dict) -> bool:
    return bool(c.get("keepdims", False))  # optional: artefacts from before it have none


def float_forward(l: "Layer", a: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    return a.mean(axis=(1, 2), keepdims=_keep(l.config))


def spec(c: dict, shape: tuple[int, ...]) -> tuple[dict, tuple[int, ...]]:
    return c, ((1, 1, shape[2]) if _keep(c) else (shape[2],))


def from_keras(k: _tf.KerasLayer) -> tuple[dict, tuple[int, ...], dict[str, np.ndarray]]:
    if len(k.shape) != 3:
        raise _tf.Unsupported(f"input shape {k.shape} is not H x W x C")
    _tf.padding(k.cfg)  # refuses channels_first
    return spec({"keepdims": True} if k.cfg.get("keepdims") else {}, k.shape) + ({},)


def tf_forward(tf: Any, l: "Layer", x: Any, p: dict, training: bool, seed: Any) -> Any:
    return tf.reduce_mean(x, axis=[1, 2], keepdims=_keep(l.config))


def to_keras(L: Any, l: "Layer", act: str) -> Any:
    return L.GlobalAveragePooling2D(keepdims=_keep(l.config), name=l.name)


# -- the integer engine: avgpool2d's calls on the full-window geometry ----------------------------
def shape(l: "Layer", f: "LayerFacts", low: "Lowering") -> None:
    f.shape = _conv.global_geometry(l, 2)


forward = avgpool2d.forward
backward = avgpool2d.backward
