"""depthwise_conv2d: one k_h x k_w filter per input channel and depth multiplier;
kernel [kh, kw, cin, dm]."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...fixedpoint.kernels import depthwise as DW
from ..model import Call, LayerFacts
from . import _conv, _param

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..lower import Lowering

KINDS = ("depthwise_conv2d",)


def shape(l: "Layer", f: LayerFacts, low: "Lowering") -> None:
    _param.check(l, f, low)
    f.shape = _conv.geometry(l, int(l.config.get("depth_multiplier", 1)))
    f.fan_in = f.shape.k_h * f.shape.k_w
    _param.finish(l, f, low)


def _macs(f: LayerFacts) -> int:
    s = f.shape
    return s.out_h * s.out_w * s.out_c * s.k_h * s.k_w


def forward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return _conv.forward("depthwise_conv2d", f, low, _macs(f))


def backward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return _conv.backward("depthwise_conv2d", f, low, _macs(f))


KERNELS = _conv.kernels("depthwise_conv2d", DW)
