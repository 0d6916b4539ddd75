"""relu / relu6: standalone activations, in place on their input's buffer (unless that is the
caller's input). Their kernels also carry the fused activation mask of dense/conv layers.
The Keras importer makes them from ReLU / Activation layers it cannot fuse into the layer
before (trainer/keras_import.py), so they name no Keras class of their own."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...fixedpoint.kernels import activation as A
from ...fixedpoint.kernels.common import ACT_RELU, ACT_RELU6, act_upper, relu6_upper
from ..kernel import Kernel
from ..model import Call, LayerFacts
from . import _float, _tf

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..golden import State
    from ..kernel import CContext
    from ..lower import Lowering

KINDS = ("relu", "relu6")
PASSES_EXPONENT = True
OUTPUT = "inplace"


# -- host side: FP32 reference, numpy-built models, Keras -----------------------------------------
def float_forward(l: "Layer", a: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    return _float.act(a, l.kind)


def spec(c: dict, shape: tuple[int, ...]) -> tuple[dict, tuple[int, ...]]:
    return c, shape


def tf_forward(tf: Any, l: "Layer", x: Any, p: dict, training: bool, seed: Any) -> Any:
    return _tf.tf_act(tf, x, l.kind)


def to_keras(L: Any, l: "Layer", act: str) -> Any:
    return L.ReLU(6.0 if l.kind == "relu6" else None, name=l.name)


# -- the integer engine ---------------------------------------------------------------------------
def shape(l: "Layer", f: LayerFacts, low: "Lowering") -> None:
    f.act = ACT_RELU if l.kind == "relu" else ACT_RELU6


def forward(f: LayerFacts, low: "Lowering") -> list[Call]:
    upper = 127 if f.act == ACT_RELU else relu6_upper(f.x_exp)
    return [Call("relu_forward", f.index, f.name, {"x": low.x(f), "y": low.y(f)},
                 args={"size": f.out_size, "upper": upper})]


def backward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return [Call("relu_backward", low.bwd(f), f.name, {"y": low.y(f), "dy": low.err_in},
                 args={"size": f.out_size, "upper": act_upper(f.act, f.x_exp)})]


def _run_forward(c: Call, st: "State") -> None:
    st.put(c.buffers["y"], A.relu_forward(st.buf(c.buffers["x"]), c.args["upper"]))


def _run_backward(c: Call, st: "State") -> None:
    y = st.buf(c.buffers["y"])
    st.put(c.buffers["dy"], A.relu_backward(y, st.buf(c.buffers["dy"]).reshape(y.shape),
                                            c.args["upper"]))


def _c_forward(c: Call, cx: "CContext") -> str:
    return (f"    rct_relu_forward({cx.buf(c.buffers['x'])}, {cx.buf(c.buffers['y'])}, "
            f"n * {c.args['size']}, {c.args['upper']});")


def _c_backward(c: Call, cx: "CContext") -> str:
    return (f"    rct_relu_backward({cx.buf(c.buffers['y'])}, {cx.buf(c.buffers['dy'])}, "
            f"n * {c.args['size']}, {c.args['upper']});")


KERNELS = {
    "relu_forward": Kernel(_run_forward, _c_forward, "rct_relu_forward", "activation"),
    # in place on the error: dy where 0 < y < upper
    "relu_backward": Kernel(_run_backward, _c_backward, "rct_relu_backward", "activation",
                            in_place=("dy",)),
}
