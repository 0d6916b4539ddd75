"""avgpool2d: window mean over the valid taps (the count excludes padding)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...fixedpoint.kernels import pool as P
from ..kernel import Kernel, shaped
from ..model import Call, LayerFacts
from . import _conv, _float, _tf

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..golden import State
    from ..kernel import CContext
    from ..lower import Lowering

KINDS = ("avgpool2d",)
CONFIG = ("pool_size", "strides", "padding")
KERAS = ("AveragePooling2D", "AvgPool2D")


# -- host side: FP32 reference, numpy-built models, Keras -----------------------------------------
def float_forward(l: "Layer", a: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    return np.nanmean(_float.windows(a, l.config), 0)


spec = _conv.pool_spec
from_keras = _tf.pool


def tf_forward(tf: Any, l: "Layer", x: Any, p: dict, training: bool, seed: Any) -> Any:
    return _tf.tf_pool(tf.nn.avg_pool2d, l, x)


def to_keras(L: Any, l: "Layer", act: str) -> Any:
    return _tf.keras_pool(L.AveragePooling2D, l)


# -- the integer engine ---------------------------------------------------------------------------
def shape(l: "Layer", f: LayerFacts, low: "Lowering") -> None:
    f.shape = _conv.geometry(l)


def forward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return [Call("avgpool2d_forward", f.index, f.name, {"x": low.x(f), "y": low.y(f)},
                 args={"layer": f.index})]


def backward(f: LayerFacts, low: "Lowering") -> list[Call]:
    if not f.needs_dx:
        return []
    return [Call("avgpool2d_backward", low.bwd(f), f.name,
                 {"dy": low.err_in, "dx": low.new_error(f)}, args={"layer": f.index},
                 ret="e_exp")]


def _run_forward(c: Call, st: "State") -> None:
    f = st.layer(c.args["layer"])
    st.put(c.buffers["y"], P.avgpool2d_forward(st.buf(c.buffers["x"]).reshape(st.n, *f.in_shape),
                                               f.shape.with_n(st.n)))


def _run_backward(c: Call, st: "State") -> None:
    f = st.layer(c.args["layer"])
    dx, st.regs["e_exp"] = P.avgpool2d_backward(
        st.buf(c.buffers["dy"]).reshape(st.n, *f.out_shape), st.regs["e_exp"],
        f.shape.with_n(st.n))
    st.put(c.buffers["dx"], dx)


def _c_forward(c: Call, cx: "CContext") -> str:
    b = c.buffers
    return shaped(cx, c.args["layer"],
                  f"rct_avgpool2d_forward({cx.buf(b['x'])}, {cx.buf(b['y'])}, &sh);")


def _c_backward(c: Call, cx: "CContext") -> str:
    b = c.buffers
    return shaped(cx, c.args["layer"], f"e_exp = rct_avgpool2d_backward({cx.buf(b['dy'])}, e_exp, "
                                       f"{cx.buf(b['dx'])}, &sh);")


KERNELS = {
    "avgpool2d_forward": Kernel(_run_forward, _c_forward, "rct_avgpool2d_forward", "forward"),
    "avgpool2d_backward": Kernel(_run_backward, _c_backward, "rct_avgpool2d_backward",
                                 "backward-input"),
}
