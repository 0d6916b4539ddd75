"""What the parametric kinds (dense, conv2d, depthwise_conv2d) share: the parameter checks,
bitwidth caps and accumulator choice of their shape rule, the integer form of their tensors,
and the backward calls around their own kernels (activation mask, bias update, error hand-over).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import UserError
from ...fixedpoint import kernels as K
from ...fixedpoint.controller import ControllerConfig
from ...fixedpoint.kernels.common import act_upper
from ...fixedpoint.qtensor import QTensor
from ...fixedpoint.rounding import saturate, shift_round_nearest
from ..kernel import Kernel
from ..model import Call, LayerFacts

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..golden import State
    from ..kernel import CContext
    from ..lower import Lowering

ACT_CODES = {"linear": K.ACT_LINEAR, "relu": K.ACT_RELU, "relu6": K.ACT_RELU6}


def check(l: "Layer", f: LayerFacts, low: "Lowering") -> tuple[int, ...]:
    """The checks every parametric layer passes; sets exponents, activation, tensors and the
    trainable flag, and returns the kernel's shape."""
    if l.act_exp is None:
        raise UserError(f"layer {l.name} has no calibrated act_exp (output exponent); "
                        f"re-create the artefact with `rct-tflm train`")
    act = l.config.get("activation", "linear")
    if act not in ACT_CODES:
        raise UserError(f"layer {l.name}: activation '{act}' is not supported; "
                        f"supported: {', '.join(ACT_CODES)}")
    if "kernel" not in l.params:
        raise UserError(f"layer {l.name} has no kernel tensor; corrupt artefact")
    unknown = set(l.params) - {"kernel", "bias"}
    if unknown:
        raise UserError(f"layer {l.name}: parameters {sorted(unknown)} are not supported; "
                        f"supported: kernel, bias")
    f.y_exp, f.act = int(l.act_exp), ACT_CODES[act]
    f.kernel, f.bias = l.params["kernel"], l.params.get("bias")
    flags = {t in low.names for t in l.params.values()}
    if len(flags) > 1:
        raise UserError(f"layer {l.name}: kernel and bias must be both trainable or both frozen")
    f.trainable = flags.pop()
    if low.seen_trainable and not f.trainable:
        raise UserError(f"layer {l.name} is frozen but follows a trainable layer; the engine "
                        f"supports a frozen prefix and a trainable suffix only")
    low.seen_trainable |= f.trainable
    k = low.art.tensors[f.kernel]
    return tuple(np.shape(k.q if isinstance(k, QTensor) else k))


def finish(l: "Layer", f: LayerFacts, low: "Lowering", out_major: bool = False) -> None:
    """Bitwidth caps and accumulator (from f.fan_in), then the integer tensors."""
    cc = low.cfg.controller
    cap = cc.bits_max if f.trainable else 8
    if low.cfg.acc_policy == "cap" and K.needs_int64(f.fan_in, cap):
        cap = K.max_safe_bits(f.fan_in)
        if cap < cc.bits_min:
            raise UserError(f"layer {l.name}: fan-in {f.fan_in} leaves no safe int32 "
                            f"bitwidth >= {cc.bits_min}; use the int64 accumulator policy")
    f.acc = K.ACC64 if K.needs_int64(f.fan_in, cap) else K.ACC32
    for role, tn in l.params.items():
        dev_major = out_major and role == "kernel"  # how the device stores it
        if f.trainable:
            # only the kernel multiplies activations; the bias is added in int64
            c = cap if role == "kernel" else cc.bits_max
            q = _to_trainable(tn, low.art.tensors[tn], cc, c)
            q.out_major = dev_major
            low.add_tensor(f, role, tn, q, c, dev_major)
        else:
            low.add_tensor(f, role, tn, _to_int8(low.art.tensors[tn]), 8, dev_major)


def _to_int8(t: Any) -> QTensor:
    """A frozen tensor as int8: float -> from_float(8); wider ints -> round to 8 bits."""
    if not isinstance(t, QTensor):
        return QTensor.from_float(np.asarray(t, np.float32), 8)
    if t.bits <= 8:
        return t.copy()
    s = t.bits - 8
    return QTensor(saturate(shift_round_nearest(t.q, s), 8).astype(np.int32), t.exp + s, 8)


def _to_trainable(name: str, t: Any, cfg: ControllerConfig, cap: int) -> QTensor:
    if not isinstance(t, QTensor):
        return QTensor.from_float(np.asarray(t, np.float32), min(cfg.bits_init, cap))
    q = t.copy()
    while q.bits > cap:  # an RCT artefact wider than this engine allows: round the low bits off
        q = QTensor(saturate(shift_round_nearest(q.q, 1), q.bits - 1).astype(np.int32), q.exp + 1,
                    q.bits - 1)
    if q.bits < cfg.bits_min:
        raise UserError(f"tensor {name} has {q.bits} bits, below the controller's minimum "
                        f"{cfg.bits_min}; lower --bits-min or retrain")
    return q


# -- the backward around a parametric layer's own kernels -----------------------------------------
def backward(f: LayerFacts, low: "Lowering", backward_input: Call | None, update: Call,
             rows: int, cols: int) -> list[Call]:
    """Activation mask (unless a following max-pool applies it), error w.r.t. the input with
    the old weights, kernel update, bias update, then the new error's exponent takes over."""
    step = low.bwd(f)
    calls = []
    if f.act != K.ACT_LINEAR and f.index not in low.folds:
        calls.append(Call("relu_backward", step, f.name, {"y": low.y(f), "dy": low.err_in},
                          args={"size": f.out_size, "upper": act_upper(f.act, f.y_exp)}))
    if backward_input is not None:
        calls.append(backward_input)
    calls.append(update)
    if f.bias:
        calls.append(Call("bias_backward_update", step, f.name, {"dz": low.err_in},
                          {"w": f.bias}, {"rows": rows, "cols": cols}, ret="gavg"))
    if backward_input is not None:
        calls.append(Call("take_error", step, f.name))
    return calls


def weight_args(f: LayerFacts) -> dict[str, Any]:
    return {"x_exp": f.x_exp, "y_exp": f.y_exp, "act": f.act, "acc": f.acc}


def _run_bias(c: Call, st: "State") -> None:
    e = st.buf(c.buffers["dz"]).reshape(st.n * c.args["rows"], -1)
    st.gavg[c.tensors["w"]] = K.bias_backward_update(st.t[c.tensors["w"]], e, st.regs["e_exp"],
                                                     st.lr_shift, st.rng, st.stochastic)


def _c_bias(c: Call, cx: "CContext") -> str:
    k = cx.tensor(c.tensors["w"])["k"]
    rows = "n" if c.args["rows"] == 1 else f"n * {c.args['rows']}"
    return (f"    s_gavg[{k}] = rct_bias_backward_update(&s_t[{k}], {cx.buf(c.buffers['dz'])}, e_exp, "
            f"{rows}, {c.args['cols']},\n        s_hp.lr_shift, RCT_STOCHASTIC, &s_rng);")


def _run_take(c: Call, st: "State") -> None:
    st.regs["e_exp"] = st.regs["dx_exp"]


KERNELS = {
    "bias_backward_update": Kernel(_run_bias, _c_bias, "rct_bias_backward_update",
                                   "bias"),
    # the error w.r.t. the input becomes the error the next backward reads
    "take_error": Kernel(_run_take, lambda c, cx: "    e_exp = dx_exp;", None, "other"),
}
