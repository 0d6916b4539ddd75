"""conv2d: NHWC convolution with `filters` output channels; kernel [kh, kw, cin, cout]."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...fixedpoint.kernels import conv2d as C
from ..model import Call, LayerFacts
from . import _conv, _param

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..lower import Lowering

KINDS = ("conv2d",)


def shape(l: "Layer", f: LayerFacts, low: "Lowering") -> None:
    _param.check(l, f, low)
    f.shape = _conv.geometry(l, 1, int(l.config["filters"]))
    f.fan_in = f.shape.k_h * f.shape.k_w * f.shape.in_c
    _param.finish(l, f, low)


def _macs(f: LayerFacts) -> int:
    s = f.shape
    return s.out_h * s.out_w * s.out_c * s.k_h * s.k_w * s.in_c


def forward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return _conv.forward("conv2d", f, low, _macs(f))


def backward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return _conv.backward("conv2d", f, low, _macs(f))


KERNELS = _conv.kernels("conv2d", C)
