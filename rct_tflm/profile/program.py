"""Which layer each kernel call belongs to, and its MACs: the lowered program's calls in order.

The expected calls of a training step and of an inference are the program's own calls
(rct_tflm.program: forward, loss, backward — what the generated C prints, in that order), plus
the controller's calls after them. Observed calls are matched to them greedily by function name,
so a call the program does not predict (or a predicted call the firmware fused away) costs only
its own attribution, never the neighbours'.

MACs are nominal: for a conv, every output position times the whole kernel (padding included);
the weight gradient and the error w.r.t. the input have as many MACs as the forward.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..program import Call, Program, kinds

# category of the C functions the program does not call itself and no kind owns (docs/profile.md);
# the program's own functions take theirs from their kernels (program/kernel.py `role`), a
# kind's other functions from its C_ROLES (program/kinds/)
OTHER_FUNCTIONS = {
    "rct_requantize_i8": "forward",
    "rct_update": "weight-update", "rct_bias_backward": "bias",
    "rct_controller_observe": "controller", "rct_controller_advance": "controller",
    "rct_argmax_i8": "output",
}
KINDS = ("forward", "activation", "backward-input", "weight-update", "bias", "softmax-ce",
         "controller", "period-boundary", "output", "other")


def kind_of(name: str) -> str:
    return kinds.role_of(name) or OTHER_FUNCTIONS.get(name, "other")


@dataclass(frozen=True)
class Expected:
    name: str  # C function
    layer: str | None  # artefact layer (op) name; None for softmax / controller
    macs: int


def _expected(calls: list[Call], n: int) -> list[Expected]:
    """The calls that invoke a C function, with their MACs on n samples."""
    out = []
    for c in calls:
        fn = kinds.kernel(c.kernel).c_function
        if fn is not None:
            out.append(Expected(fn, c.layer, n * c.macs))
    return out


def infer_calls(m: Program) -> list[Expected]:
    """rct_model_infer: the program's forward calls, then the argmax."""
    return _expected(m.forward, 1) + [Expected("rct_argmax_i8", None, 0)]


def train_calls(m: Program, n: int = 1) -> list[Expected]:
    """rct_model_train on n samples: the program's calls, then the controller."""
    out = _expected(m.calls(), n)
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
