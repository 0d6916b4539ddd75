"""depthwise_conv2d: one k_h x k_w filter per input channel and depth multiplier;
kernel [kh, kw, cin, dm], output channel ci * dm + m."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...fixedpoint.kernels import depthwise as DW
from ..model import Call, LayerFacts
from . import _conv, _float, _param, _tf

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..lower import Lowering

KINDS = ("depthwise_conv2d",)
CONFIG = ("kernel_size", "strides", "padding", "depth_multiplier", "activation")
PARAMS = ("kernel", "bias")
KERAS = ("DepthwiseConv2D",)
KERNEL_OUT_AXES = 2  # (cin, dm)
PER_CHANNEL = True
C_ROLES = _conv.c_roles("depthwise_conv2d")


def macs(l: "Layer") -> int:
    """Hout * Wout * C * dm * kh * kw."""
    kh, kw = _float.pair(l.config["kernel_size"])
    return int(np.prod(l.output_shape)) * kh * kw


# -- host side: FP32 reference, numpy-built models, Keras -----------------------------------------
def float_forward(l: "Layer", a: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    c, k = l.config, p["kernel"]
    kh, kw, cin, dm = k.shape
    cols = _float.im2col(a, kh, kw, *_float.pair(c["strides"]), c["padding"])
    cols = cols.reshape(*cols.shape[:3], kh * kw, cin)
    y = np.einsum("nhwtc,tcm->nhwcm", cols, k.reshape(kh * kw, cin, dm))
    return _float.act(y.reshape(*y.shape[:3], cin * dm) + p.get("bias", 0.0),
                      c.get("activation", "linear"))


def spec(c: dict, shape: tuple[int, ...]) -> tuple[dict, tuple[int, ...]]:
    _conv.spec_defaults(c)
    c.setdefault("depth_multiplier", 1)
    return c, (*_float.window_out(c, shape), shape[2] * int(c.get("depth_multiplier", 1)))


def kernel_shape(c: dict, shape: tuple[int, ...], out: tuple[int, ...]) -> tuple[int, ...]:
    return (*c["kernel_size"], shape[2], int(c["depth_multiplier"]))


def from_keras(k: _tf.KerasLayer) -> tuple[dict, tuple[int, ...], dict[str, np.ndarray]]:
    pad, act, ks, st, sp = _tf.conv(k, 2)
    mult = int(k.cfg.get("depth_multiplier", 1))
    c_out = k.shape[-1] * mult
    return ({"kernel_size": ks, "strides": st, "padding": pad, "depth_multiplier": mult,
             "activation": act}, (*sp, c_out), _tf.kernel_bias(k, c_out))


def tf_forward(tf: Any, l: "Layer", x: Any, p: dict, training: bool, seed: Any) -> Any:
    return _tf.tf_conv2d(tf, tf.nn.depthwise_conv2d, l, x, p)


def to_keras(L: Any, l: "Layer", act: str) -> Any:
    c = l.config
    return L.DepthwiseConv2D(c["kernel_size"], c["strides"], c["padding"],
                             depth_multiplier=c["depth_multiplier"], activation=act, name=l.name)


# -- the integer engine ---------------------------------------------------------------------------
def shape(l: "Layer", f: LayerFacts, low: "Lowering") -> None:
    _param.check(l, f, low)
    f.shape = _conv.geometry(l, int(l.config.get("depth_multiplier", 1)))
    f.fan_in = f.shape.k_h * f.shape.k_w
    _param.finish(l, f, low)


def forward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return _conv.forward("depthwise_conv2d", f, low, macs(low.art.layers[f.index]))


def backward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return _conv.backward("depthwise_conv2d", f, low, macs(low.art.layers[f.index]))


KERNELS = _conv.kernels("depthwise_conv2d", DW)
