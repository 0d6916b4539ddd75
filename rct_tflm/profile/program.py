"""Which layer each kernel call belongs to, and its MACs: the lowered program in call order.

The expected calls of a training step and of an inference are read off the golden engine's
lowered ops (rct_tflm.fixedpoint.engine.lower) in the order Engine.train_step runs them — the
order the generated C follows (docs/codegen.md "The schedule"). Observed calls are matched to
them greedily by function name, so a call the program does not predict (or a predicted call
the firmware fused away) costs only its own attribution, never the neighbours'.

MACs are nominal: for a conv, every output position times the whole kernel (padding included);
the weight gradient and the error w.r.t. the input have as many MACs as the forward.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..artefact import PARAM_KINDS
from ..fixedpoint.engine import LoweredModel, Op, mask_folds
from ..fixedpoint.kernels import ACT_LINEAR

# kind of a kernel call, by function name (docs/profile.md)
KIND_BY_NAME = {
    "rct_dense_forward": "forward", "rct_conv2d_forward": "forward",
    "rct_depthwise_conv2d_forward": "forward", "rct_maxpool2d_forward": "forward",
    "rct_avgpool2d_forward": "forward", "rct_requantize_i8": "forward",
    "rct_relu_forward": "activation", "rct_relu_backward": "activation",
    "rct_dense_backward_input": "backward-input", "rct_conv2d_backward_input": "backward-input",
    "rct_depthwise_conv2d_backward_input": "backward-input",
    "rct_maxpool2d_backward": "backward-input", "rct_avgpool2d_backward": "backward-input",
    "rct_dense_backward_update": "weight-update", "rct_conv2d_backward_update": "weight-update",
    "rct_depthwise_conv2d_backward_update": "weight-update",
    "rct_dense_backward_weight": "weight-update", "rct_conv2d_backward_weight": "weight-update",
    "rct_depthwise_conv2d_backward_weight": "weight-update",
    "rct_conv2d_weight_grad": "weight-update", "rct_depthwise_conv2d_weight_grad": "weight-update",
    "rct_update": "weight-update",
    "rct_bias_backward_update": "bias", "rct_bias_backward": "bias",
    "rct_softmax_ce": "softmax-ce",
    "rct_controller_observe": "controller", "rct_controller_advance": "controller",
    "rct_argmax_i8": "output",
}
KINDS = ("forward", "activation", "backward-input", "weight-update", "bias", "softmax-ce",
         "controller", "period-boundary", "output", "other")


def kind_of(name: str) -> str:
    return KIND_BY_NAME.get(name, "other")


@dataclass(frozen=True)
class Expected:
    name: str  # C function
    layer: str | None  # artefact layer (op) name; None for softmax / controller
    macs: int


def _fwd_macs(op: Op) -> int:
    if op.kind == "dense":
        return op.in_size * op.out_size
    if op.kind in ("conv2d", "depthwise_conv2d"):
        s = op.shape
        per_out = s.k_h * s.k_w * (s.in_c if op.kind == "conv2d" else 1)
        return s.out_h * s.out_w * s.out_c * per_out
    return 0


def infer_calls(m: LoweredModel) -> list[Expected]:
    """rct_model_infer: the forward of every op, then the argmax."""
    return _forward(m, 1) + [Expected("rct_argmax_i8", None, 0)]


def _forward(m: LoweredModel, n: int) -> list[Expected]:
    out = []
    for op in m.ops:
        if op.kind in PARAM_KINDS or op.kind in ("maxpool2d", "avgpool2d"):
            out.append(Expected(f"rct_{op.kind}_forward", op.name, n * _fwd_macs(op)))
        elif op.kind in ("relu", "relu6"):
            out.append(Expected("rct_relu_forward", op.name, 0))
    return out


def train_calls(m: LoweredModel, n: int = 1) -> list[Expected]:
    """rct_model_train on n samples, in Engine.train_step's order."""
    out = _forward(m, n) + [Expected("rct_softmax_ce", None, 0)]
    folds = mask_folds(m)  # masks applied by the max-pool after the op
    for op in reversed(m.ops[m.first_trainable:]):
        if op.kind in PARAM_KINDS:
            macs = n * _fwd_macs(op)
            if op.act != ACT_LINEAR and op.index not in folds:  # a fused ReLU/ReLU6: its mask
                out.append(Expected("rct_relu_backward", op.name, 0))
            if op.needs_dx:
                out.append(Expected(f"rct_{op.kind}_backward_input", op.name, macs))
            out.append(Expected(f"rct_{op.kind}_backward_update", op.name, macs))
            if op.bias:
                out.append(Expected("rct_bias_backward_update", op.name, 0))
        elif op.kind in ("relu", "relu6"):
            out.append(Expected("rct_relu_backward", op.name, 0))
        elif op.kind in ("maxpool2d", "avgpool2d") and op.needs_dx:
            out.append(Expected(f"rct_{op.kind}_backward", op.name, 0))
    out += [Expected("rct_controller_observe", t, 0) for t in m.trainable]
    out.append(Expected("rct_controller_advance", None, 0))
    return out


def match(names: list[str], expected: list[Expected]) -> list[Expected | None]:
    """For each observed call name, the next expected call of that name (None: unpredicted)."""
    out: list[Expected | None] = []
    j = 0
    for name in names:
        k = next((i for i in range(j, len(expected)) if expected[i].name == name), None)
        if k is None:
            out.append(None)
        else:
            out.append(expected[k])
            j = k + 1
    return out
