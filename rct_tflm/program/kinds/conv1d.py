"""conv1d: convolution over the steps of a steps x channels input (the text model's word
filters); kernel [k, cin, cout]. Host only: the integer engine has no 1-D kernels, so
lower() refuses it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import _float, _tf

if TYPE_CHECKING:
    from ...artefact import Layer

KINDS = ("conv1d",)
CONFIG = ("filters", "kernel_size", "strides", "padding", "activation")
PARAMS = ("kernel", "bias")
KERAS = ("Conv1D", "Convolution1D")


def _k(v: Any) -> int:
    return int(v) if isinstance(v, (int, np.integer)) else int(v[0])


def macs(l: "Layer") -> int:
    """Wout * Cout * k * Cin."""
    return int(np.prod(l.output_shape)) * _k(l.config["kernel_size"]) * int(l.input_shape[-1])


def float_forward(l: "Layer", a: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    c, k = l.config, p["kernel"]
    cols = _float.im2col(a[:, None], 1, k.shape[0], 1, _k(c["strides"]), c["padding"])[:, 0]
    return _float.act(cols @ k.reshape(-1, k.shape[-1]) + p.get("bias", 0.0),
                      c.get("activation", "linear"))


def from_keras(k: _tf.KerasLayer) -> tuple[dict, tuple[int, ...], dict[str, np.ndarray]]:
    return _tf.filters_conv(k, 1)


def tf_forward(tf: Any, l: "Layer", x: Any, p: dict, training: bool, seed: Any) -> Any:
    c = l.config
    x = tf.nn.conv1d(x, p["kernel"], c["strides"][0], c["padding"].upper())
    return _tf.tf_act(tf, x + p["bias"], c["activation"])


def to_keras(L: Any, l: "Layer", act: str) -> Any:
    c = l.config
    return L.Conv1D(c["filters"], c["kernel_size"], c["strides"], c["padding"], activation=act,
                    name=l.name)
