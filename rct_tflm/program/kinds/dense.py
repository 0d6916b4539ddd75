"""dense: y = act(x W + b) on a 1-D input; kernel [in, out] (stored [out][in] on the device)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import UserError
from ...fixedpoint.kernels import dense as D
from ..kernel import Kernel, c_acc, c_act
from ..model import Call, LayerFacts
from . import _float, _param, _tf

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..golden import State
    from ..kernel import CContext
    from ..lower import Lowering

KINDS = ("dense",)
CONFIG = ("units", "activation")
PARAMS = ("kernel", "bias")
KERAS = ("Dense",)
MLP = "trained"
C_ROLES = {"rct_dense_backward_weight": "weight-update"}


def macs(l: "Layer") -> int:
    """in * out per position (Keras applies a dense layer along the last axis)."""
    return int(np.prod(l.output_shape)) * int(l.input_shape[-1])


# -- host side: FP32 reference, numpy-built models, Keras -----------------------------------------
def float_forward(l: "Layer", a: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    return _float.act(a @ p["kernel"] + p.get("bias", 0.0), l.config.get("activation", "linear"))


def spec(c: dict, shape: tuple[int, ...]) -> tuple[dict, tuple[int, ...]]:
    c.setdefault("activation", "linear")
    if len(shape) != 1:
        raise ValueError(f"dense needs a flat input, got {shape}; add a flatten layer")
    return c, (int(c["units"]),)


def kernel_shape(c: dict, shape: tuple[int, ...], out: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[0], out[0])


def from_keras(k: _tf.KerasLayer) -> tuple[dict, tuple[int, ...], dict[str, np.ndarray]]:
    if len(k.shape) != 1:
        raise _tf.Unsupported(f"Dense on a {len(k.shape)}-D input {k.shape}; put Flatten or a "
                              "global pooling before it")
    act = _tf.activation(k.cfg.get("activation"), k.last)
    units = int(k.cfg["units"])
    return {"units": units, "activation": act}, (units,), _tf.kernel_bias(k, units)


def tf_forward(tf: Any, l: "Layer", x: Any, p: dict, training: bool, seed: Any) -> Any:
    return _tf.tf_act(tf, tf.matmul(x, p["kernel"]) + p["bias"], l.config["activation"])


def to_keras(L: Any, l: "Layer", act: str) -> Any:
    return L.Dense(l.config["units"], activation=act, name=l.name)


# -- the integer engine ---------------------------------------------------------------------------
def shape(l: "Layer", f: LayerFacts, low: "Lowering") -> None:
    kshape = _param.check(l, f, low)
    if len(l.input_shape) != 1:
        raise UserError(f"layer {l.name}: dense on a {len(l.input_shape)}-D input is not "
                        f"supported; add a flatten layer before it")
    f.fan_in = int(l.input_shape[0])
    if tuple(kshape) != (f.fan_in, int(l.output_shape[0])):
        raise UserError(f"layer {l.name}: kernel shape {kshape} does not match "
                        f"{f.fan_in}->{l.output_shape[0]}; corrupt artefact")
    _param.finish(l, f, low, out_major=True)


def forward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return [Call("dense_forward", f.index, f.name, {"x": low.x(f), "y": low.y(f)},
                 {"w": f.kernel, "b": f.bias},
                 {**_param.weight_args(f), "in_size": f.in_size, "out_size": f.out_size},
                 macs=macs(low.art.layers[f.index]))]


def backward(f: LayerFacts, low: "Lowering") -> list[Call]:
    step, n_macs = low.bwd(f), macs(low.art.layers[f.index])
    sizes = {"in_size": f.in_size, "out_size": f.out_size}
    bi = None
    if f.needs_dx:
        bi = Call("dense_backward_input", step, f.name, {"dy": low.err_in, "dx": low.new_error(f)},
                  {"w": f.kernel}, sizes, ret="dx_exp", macs=n_macs)
    up = Call("dense_backward_update", step, f.name, {"x": low.x(f), "dy": low.err_in},
              {"w": f.kernel}, {"x_exp": f.x_exp, **sizes}, ret="gavg", macs=n_macs)
    return _param.backward(f, low, bi, up, 1, f.out_size)


def _run_forward(c: Call, st: "State") -> None:
    w, b = st.t[c.tensors["w"]], st.t.get(c.tensors["b"] or "")
    bq, bb, be = (b.q, b.bits, b.exp) if b is not None else (None, 8, 0)
    a = c.args
    st.put(c.buffers["y"], D.dense_forward(st.buf(c.buffers["x"]), a["x_exp"], w.q, w.bits,
                                           w.exp, bq, bb, be, a["y_exp"], a["act"], a["acc"]))


def _c_forward(c: Call, cx: "CContext") -> str:
    w, b, a = cx.tensor(c.tensors["w"]), cx.tensor(c.tensors["b"]), c.args
    return (f"    rct_dense_forward({cx.buf(c.buffers['x'])}, {a['x_exp']}, {w['data']}, {w['bits']}, "
            f"{w['exp']},\n        {b['data']}, {b['bits']}, {b['exp']}, {cx.buf(c.buffers['y'])}, "
            f"{a['y_exp']}, n, {a['in_size']}, {a['out_size']}, {c_act(a['act'])}, "
            f"{c_acc(a['acc'])});")


def _run_backward_input(c: Call, st: "State") -> None:
    w = st.t[c.tensors["w"]]
    dx, st.regs["dx_exp"] = D.dense_backward_input(st.buf(c.buffers["dy"]), st.regs["e_exp"],
                                                   w.q, w.bits, w.exp)
    st.put(c.buffers["dx"], dx)


def _c_backward_input(c: Call, cx: "CContext") -> str:
    w = cx.tensor(c.tensors["w"])
    return (f"    dx_exp = rct_dense_backward_input({cx.buf(c.buffers['dy'])}, e_exp, {w['data']}, "
            f"{w['bits']}, {w['exp']},\n        {cx.buf(c.buffers['dx'])}, n, {c.args['in_size']}, "
            f"{c.args['out_size']});")


def _run_update(c: Call, st: "State") -> None:
    st.gavg[c.tensors["w"]] = D.dense_backward_update(
        st.t[c.tensors["w"]], st.buf(c.buffers["x"]), c.args["x_exp"], st.buf(c.buffers["dy"]),
        st.regs["e_exp"], st.lr_shift, st.rng, st.stochastic)


def _c_update(c: Call, cx: "CContext") -> str:
    k = cx.tensor(c.tensors["w"])["k"]
    return (f"    s_gavg[{k}] = rct_dense_backward_update(&s_t[{k}], {cx.buf(c.buffers['x'])}, "
            f"{c.args['x_exp']}, {cx.buf(c.buffers['dy'])}, e_exp,\n        n, {c.args['in_size']}, "
            f"{c.args['out_size']}, s_hp.lr_shift, RCT_STOCHASTIC, &s_rng);")


KERNELS = {
    "dense_forward": Kernel(_run_forward, _c_forward, "rct_dense_forward", "forward"),
    "dense_backward_input": Kernel(_run_backward_input, _c_backward_input,
                                   "rct_dense_backward_input", "backward-input"),
    "dense_backward_update": Kernel(_run_update, _c_update, "rct_dense_backward_update",
                                    "weight-update"),
}
