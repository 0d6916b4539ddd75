"""The loss: softmax + cross-entropy on the int8 logits -> int16 error at exponent
CE_GRAD_EXP (-15). Not a layer kind; lower() appends its one call after the forward."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...fixedpoint.kernels.softmax_ce import CE_GRAD_EXP, softmax_ce
from ..kernel import Kernel
from ..model import Call

if TYPE_CHECKING:
    from ..golden import State
    from ..kernel import CContext


def _run(c: Call, st: "State") -> None:
    dz, st.loss, st.correct = softmax_ce(st.buf(c.buffers["logits"]), c.args["z_exp"],
                                           st.labels)
    st.put(c.buffers["dz"], dz)
    st.regs["e_exp"] = int(CE_GRAD_EXP)


def _c(c: Call, cx: "CContext") -> str:
    return (f"    (void)rct_softmax_ce({cx.buf(c.buffers['logits'])}, {c.args['z_exp']}, labels, "
            f"{cx.buf(c.buffers['dz'])}, n, RCT_MODEL_NUM_CLASSES, &loss);\n"
            f"    s_loss_q16 = loss;")


KERNELS = {"softmax_ce": Kernel(_run, _c, "rct_softmax_ce", "softmax-ce")}
