"""conv2d: NHWC convolution with `filters` output channels; kernel [kh, kw, cin, cout]."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...fixedpoint.kernels import conv2d as C
from ..model import Call, LayerFacts
from . import _conv, _float, _param, _tf

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..lower import Lowering

KINDS = ("conv2d",)
CONFIG = ("filters", "kernel_size", "strides", "padding", "activation")
PARAMS = ("kernel", "bias")
KERAS = ("Conv2D", "Convolution2D")
PER_CHANNEL = True
C_ROLES = _conv.c_roles("conv2d")


def macs(l: "Layer") -> int:
    """Hout * Wout * Cout * kh * kw * Cin."""
    kh, kw = _float.pair(l.config["kernel_size"])
    return int(np.prod(l.output_shape)) * kh * kw * int(l.input_shape[-1])


# -- host side: FP32 reference, numpy-built models, Keras -----------------------------------------
def float_forward(l: "Layer", a: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    c, k = l.config, p["kernel"]
    kh, kw, _, f = k.shape
    cols = _float.im2col(a, kh, kw, *_float.pair(c["strides"]), c["padding"])
    return _float.act(cols @ k.reshape(-1, f) + p.get("bias", 0.0), c.get("activation", "linear"))


def spec(c: dict, shape: tuple[int, ...]) -> tuple[dict, tuple[int, ...]]:
    _conv.spec_defaults(c)
    return c, (*_float.window_out(c, shape), int(c.get("filters", 0)))


def kernel_shape(c: dict, shape: tuple[int, ...], out: tuple[int, ...]) -> tuple[int, ...]:
    return (*c["kernel_size"], shape[2], out[2])


def from_keras(k: _tf.KerasLayer) -> tuple[dict, tuple[int, ...], dict[str, np.ndarray]]:
    return _tf.filters_conv(k, 2)


def tf_forward(tf: Any, l: "Layer", x: Any, p: dict, training: bool, seed: Any) -> Any:
    return _tf.tf_conv2d(tf, tf.nn.conv2d, l, x, p)


def to_keras(L: Any, l: "Layer", act: str) -> Any:
    c = l.config
    return L.Conv2D(c["filters"], c["kernel_size"], c["strides"], c["padding"], activation=act,
                    name=l.name)


# -- the integer engine ---------------------------------------------------------------------------
def shape(l: "Layer", f: LayerFacts, low: "Lowering") -> None:
    _param.check(l, f, low)
    f.shape = _conv.geometry(l, 1, int(l.config["filters"]))
    f.fan_in = f.shape.k_h * f.shape.k_w * f.shape.in_c
    _param.finish(l, f, low)


def forward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return _conv.forward("conv2d", f, low, macs(low.art.layers[f.index]))


def backward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return _conv.backward("conv2d", f, low, macs(low.art.layers[f.index]))


KERNELS = _conv.kernels("conv2d", C)
