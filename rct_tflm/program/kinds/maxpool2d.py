"""maxpool2d: window maximum. A trained-through pool keeps each window's argmax (packed 2, 4 or
8 bits) from its forward for its backward, and may apply the previous layer's activation mask
(absorbs_mask), so that layer's output need not live until its own backward."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...fixedpoint.kernels import pool as P
from ...fixedpoint.kernels.common import RELU_NO_UPPER, act_upper
from ..kernel import Kernel, shaped
from ..model import Call, LayerFacts
from . import _conv, _float, _tf, output_mode

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..golden import State
    from ..kernel import CContext
    from ..lower import Lowering

KINDS = ("maxpool2d",)
CONFIG = ("pool_size", "strides", "padding")
KERAS = ("MaxPooling2D", "MaxPool2D")
PASSES_EXPONENT = True


# -- host side: FP32 reference, numpy-built models, Keras -----------------------------------------
def float_forward(l: "Layer", a: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    return np.nanmax(_float.windows(a, l.config), 0)


spec = _conv.pool_spec
from_keras = _tf.pool


def tf_forward(tf: Any, l: "Layer", x: Any, p: dict, training: bool, seed: Any) -> Any:
    return _tf.tf_pool(tf.nn.max_pool2d, l, x)


def to_keras(L: Any, l: "Layer", act: str) -> Any:
    return _tf.keras_pool(L.MaxPooling2D, l)


# -- the integer engine ---------------------------------------------------------------------------
def argmax_bytes(count: int, taps: int) -> int:
    """Bytes of a packed max-pool argmax (RCT_ARGMAX_BYTES in rct.h): 2, 4 or 8 bits each."""
    bits = 2 if taps <= 4 else (4 if taps <= 16 else 8)
    return (count * bits + 7) // 8


def shape(l: "Layer", f: LayerFacts, low: "Lowering") -> None:
    f.shape = _conv.geometry(l)


def absorbs_mask(prev: LayerFacts, f: LayerFacts, nxt: LayerFacts | None) -> bool:
    """A dense/conv with a fused activation right before a trained-through pool with
    non-overlapping windows (and no in-place op on the pool's output): masking dy by the pool's
    output equals relu_backward on dx with the previous layer's output."""
    s = f.shape
    return (prev.kernel is not None and prev.act != 0 and f.needs_dx
            and s.stride_h >= s.k_h and s.stride_w >= s.k_w
            and (nxt is None or output_mode(nxt.kind) != "inplace"))


def forward(f: LayerFacts, low: "Lowering") -> list[Call]:
    arg = None
    if f.index >= low.first and f.needs_dx:  # the backward crosses it: keep the argmax
        arg = low.new_buffer(f"arg{f.index}", "mask", "uint8", f.out_size,
                             argmax_bytes(low.cfg.max_batch * f.out_size,
                                          f.shape.k_h * f.shape.k_w))
    return [Call("maxpool2d_forward", f.index, f.name,
                 {"x": low.x(f), "y": low.y(f), "arg": arg}, args={"layer": f.index})]


def backward(f: LayerFacts, low: "Lowering") -> list[Call]:
    if not f.needs_dx:
        return []
    prev = low.folded_into(f)
    return [Call("maxpool2d_backward", low.bwd(f), f.name,
                 {"arg": f"arg{f.index}", "mask_y": low.y(f) if prev else None,
                  "dy": low.err_in, "dx": low.new_error(f)},
                 args={"layer": f.index,
                       "mask_upper": act_upper(prev.act, prev.y_exp) if prev else RELU_NO_UPPER},
                 ret="e_exp")]


def _run_forward(c: Call, st: "State") -> None:
    f = st.layer(c.args["layer"])
    x, sh = st.buf(c.buffers["x"]).reshape(st.n, *f.in_shape), f.shape.with_n(st.n)
    if c.buffers["arg"] is None:
        st.put(c.buffers["y"], P.maxpool2d_forward(x, sh))
    else:
        y, arg = P.maxpool2d_forward(x, sh, with_arg=True)
        st.put(c.buffers["y"], y)
        st.put(c.buffers["arg"], arg)


def _run_backward(c: Call, st: "State") -> None:
    f = st.layer(c.args["layer"])
    y = st.buf(c.buffers["mask_y"]) if c.buffers["mask_y"] else None
    dx, st.regs["e_exp"] = P.maxpool2d_backward(
        st.buf(c.buffers["arg"]), st.buf(c.buffers["dy"]).reshape(st.n, *f.out_shape),
        st.regs["e_exp"], f.shape.with_n(st.n), y, c.args["mask_upper"])
    st.put(c.buffers["dx"], dx)


def _c_forward(c: Call, cx: "CContext") -> str:
    b = c.buffers
    return shaped(cx, c.args["layer"], f"rct_maxpool2d_forward({cx.buf(b['x'])}, {cx.buf(b['y'])}, "
                                       f"{cx.buf(b['arg'])}, &sh);")


def _c_backward(c: Call, cx: "CContext") -> str:
    b = c.buffers
    return shaped(cx, c.args["layer"],
                  f"e_exp = rct_maxpool2d_backward({cx.buf(b['arg'])}, {cx.buf(b['mask_y'])}, "
                  f"{c.args['mask_upper']}, {cx.buf(b['dy'])},\n            e_exp, "
                  f"{cx.buf(b['dx'])}, &sh);")


KERNELS = {
    "maxpool2d_forward": Kernel(_run_forward, _c_forward, "rct_maxpool2d_forward", "forward"),
    "maxpool2d_backward": Kernel(_run_backward, _c_backward, "rct_maxpool2d_backward",
                                 "backward-input"),
}
