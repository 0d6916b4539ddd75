"""zeropad2d: ZeroPadding2D, zeros around the image (real 0 at the input's exponent, so the
output keeps it). Frozen it pads forward; trained through, its backward crops the error."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import UserError
from ...fixedpoint.kernels import pad as P
from ..kernel import Kernel
from ..model import Call, LayerFacts
from ._tf import Unsupported

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..golden import State
    from ..kernel import CContext
    from ..lower import Lowering
    from ._tf import KerasLayer

KINDS = ("zeropad2d",)
CONFIG = ("padding",)  # [[top, bottom], [left, right]]
KERAS = ("ZeroPadding2D",)
PASSES_EXPONENT = True


def _pads(l: "Layer") -> tuple[int, int, int, int]:
    (t, b), (left, right) = l.config["padding"]
    return int(t), int(b), int(left), int(right)


def _padding(v: Any) -> list[list[int]]:
    """Keras' padding forms (int, (h, w) or ((t, b), (l, r))) as [[t, b], [l, r]]."""
    if isinstance(v, int):
        return [[v, v], [v, v]]
    v = list(v)
    if all(isinstance(p, int) for p in v):
        return [[int(v[0])] * 2, [int(v[1])] * 2]
    return [[int(a) for a in v[0]], [int(a) for a in v[1]]]


# -- host side: FP32 reference, numpy-built models, Keras -----------------------------------------
def float_forward(l: "Layer", a: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    t, b, left, right = _pads(l)
    return np.pad(a, [(0, 0), (t, b), (left, right), (0, 0)])


def spec(c: dict, shape: tuple[int, ...]) -> tuple[dict, tuple[int, ...]]:
    pad = _padding(c.get("padding", 1))
    h, w, ch = shape
    return {"padding": pad}, (h + sum(pad[0]), w + sum(pad[1]), ch)


def from_keras(k: "KerasLayer") -> tuple[dict, tuple[int, ...], dict[str, np.ndarray]]:
    if k.cfg.get("data_format", "channels_last") != "channels_last" or len(k.shape) != 3:
        raise Unsupported("ZeroPadding2D is supported on channels_last H x W x C inputs")
    c, out = spec({"padding": k.cfg["padding"]}, k.shape)
    return c, out, {}


def tf_forward(tf: Any, l: "Layer", x: Any, p: dict, training: bool, seed: Any) -> Any:
    t, b, left, right = _pads(l)
    return tf.pad(x, [[0, 0], [t, b], [left, right], [0, 0]])


def to_keras(L: Any, l: "Layer", act: str) -> Any:
    t, b, left, right = _pads(l)
    return L.ZeroPadding2D(((t, b), (left, right)), name=l.name)


# -- the integer engine ---------------------------------------------------------------------------
def shape(l: "Layer", f: LayerFacts, low: "Lowering") -> None:
    h, w, c = l.input_shape
    t, b, left, right = _pads(l)
    if tuple(l.output_shape) != (h + t + b, w + left + right, c):
        raise UserError(f"layer {l.name}: padded shape {l.output_shape} does not follow from "
                        f"{l.input_shape} and {l.config['padding']}; corrupt artefact")


def forward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return [Call("pad2d_forward", f.index, f.name, {"x": low.x(f), "y": low.y(f)},
                 args=_geometry(f, low))]


def backward(f: LayerFacts, low: "Lowering") -> list[Call]:
    if not f.needs_dx:
        return []
    return [Call("pad2d_backward", low.bwd(f), f.name, {"dy": low.err_in, "dx": low.new_error(f)},
                 args=_geometry(f, low))]


def _geometry(f: LayerFacts, low: "Lowering") -> dict:
    (t, b), (left, right) = low.art.layers[f.index].config["padding"]
    h, w, c = f.in_shape
    return {"h": h, "w": w, "c": c, "top": int(t), "bottom": int(b), "left": int(left),
            "right": int(right)}


def _pads_of(a: dict) -> tuple[int, int, int, int]:
    return a["top"], a["bottom"], a["left"], a["right"]


def _run_forward(c: Call, st: "State") -> None:
    a = c.args
    x = st.buf(c.buffers["x"]).reshape(st.n, a["h"], a["w"], a["c"])
    st.put(c.buffers["y"], P.pad2d_forward(x, *_pads_of(a)))


def _run_backward(c: Call, st: "State") -> None:
    a = c.args
    t, b, left, right = _pads_of(a)
    dy = st.buf(c.buffers["dy"]).reshape(st.n, a["h"] + t + b, a["w"] + left + right, a["c"])
    st.put(c.buffers["dx"], P.pad2d_backward(dy, t, b, left, right))


def _c_call(name: str, src: str, dst: str, c: Call, cx: "CContext") -> str:
    a = c.args
    return (f"    {name}({cx.buf(c.buffers[src])}, {cx.buf(c.buffers[dst])}, n, {a['h']}, "
            f"{a['w']}, {a['c']}, {a['top']}, {a['bottom']}, {a['left']}, {a['right']}"
            + (", 0);" if name == "rct_pad2d_forward" else ");"))  # forward: the zero fill


KERNELS = {
    "pad2d_forward": Kernel(_run_forward, lambda c, cx: _c_call("rct_pad2d_forward", "x", "y",
                                                                 c, cx),
                            "rct_pad2d_forward", "forward"),
    "pad2d_backward": Kernel(_run_backward, lambda c, cx: _c_call("rct_pad2d_backward", "dy",
                                                                   "dx", c, cx),
                             "rct_pad2d_backward", "backward-input"),
}
