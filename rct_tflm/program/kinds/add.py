"""add: the element-wise sum of two tensors of one shape (Keras' Add: the residual join).

Forward (rct_add_forward.c): both int8 inputs aligned to a common exponent, summed, requantised
to the layer's calibrated act_exp. Backward: the identity on each branch, so the Add has no
kernel of its own; the lowering hands its error to both producers, and a tensor read by two
consumers (the skip) gets its two errors summed by `err_add` (program/kinds/_graph.py)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import UserError
from ...fixedpoint.kernels import residual as R
from ..kernel import Kernel
from ..model import Call, LayerFacts
from . import _tf

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..golden import State
    from ..kernel import CContext
    from ..lower import Lowering

KINDS = ("add",)
KERAS = ("Add",)
INPUTS = 2  # how many tensors it reads (every other kind: one)


# -- host side: FP32 reference, Keras -------------------------------------------------------------
def float_forward(l: "Layer", a: list[np.ndarray], p: dict[str, np.ndarray]) -> np.ndarray:
    return a[0] + a[1]


def spec(c: dict, shape: tuple[int, ...]) -> tuple[dict, tuple[int, ...]]:
    return c, shape


def from_keras(k: _tf.KerasLayer) -> tuple[dict, tuple[int, ...], dict[str, np.ndarray]]:
    return {}, k.shape, {}


def tf_forward(tf: Any, l: "Layer", x: list, p: dict, training: bool, seed: Any) -> Any:
    return x[0] + x[1]


def to_keras(L: Any, l: "Layer", act: str) -> Any:
    return L.Add(name=l.name)


# -- the integer engine ---------------------------------------------------------------------------
def shape(l: "Layer", f: LayerFacts, low: "Lowering") -> None:
    if l.act_exp is None:
        raise UserError(f"layer {l.name} has no calibrated act_exp (output exponent); "
                        f"re-create the artefact with `rct-tflm train`")
    srcs = low.art.sources(f.index)
    if len(srcs) != INPUTS:
        raise UserError(f"layer {l.name}: an add of {len(srcs)} tensors; the engine adds two "
                        f"(chain several Add layers)")
    shapes = {tuple(low.art.input_shape) if s < 0 else tuple(low.art.layers[s].output_shape)
              for s in srcs}
    if len(shapes) != 1 or tuple(l.output_shape) not in shapes:
        raise UserError(f"layer {l.name}: adds tensors of shapes {sorted(shapes)}; both inputs "
                        f"must have the output's shape {tuple(l.output_shape)} (no broadcasting)")
    f.y_exp = int(l.act_exp)


def forward(f: LayerFacts, low: "Lowering") -> list[Call]:
    (a, b), (ea, eb) = low.inputs(f), low.input_exps(f)
    return [Call("add_forward", f.index, f.name, {"a": a, "b": b, "y": low.y(f)},
                 args={"a_exp": ea, "b_exp": eb, "y_exp": f.y_exp, "size": f.out_size})]


def backward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return []  # the identity on both branches: the lowering hands err_in to each producer


def _run(c: Call, st: "State") -> None:
    a = c.args
    st.put(c.buffers["y"], R.add_forward(st.buf(c.buffers["a"]), a["a_exp"],
                                         st.buf(c.buffers["b"]), a["b_exp"], a["y_exp"]))


def _c(c: Call, cx: "CContext") -> str:
    a, b = c.args, c.buffers
    return (f"    rct_add_forward({cx.buf(b['a'])}, {a['a_exp']}, {cx.buf(b['b'])}, {a['b_exp']}, "
            f"{cx.buf(b['y'])}, {a['y_exp']}, n * {a['size']});")


KERNELS = {"add_forward": Kernel(_run, _c, "rct_add_forward", "forward")}
