"""The classification loss: softmax + cross-entropy on the int8 logits -> int16 error at exponent
CE_GRAD_EXP (-15), against uint16 labels. Not a layer kind; lower() appends its one call after
the forward (`training.loss` "softmax_ce", the default)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...errors import UserError
from ...fixedpoint.kernels.softmax_ce import CE_GRAD_EXP, softmax_ce
from ..kernel import Kernel
from ..model import Call

if TYPE_CHECKING:
    from ...artefact import ModelArtefact
    from ..golden import State
    from ..kernel import CContext
    from ..lower import Lowering
    from ..model import Program

LOSS = "softmax_ce"
ALIASES = ("softmax cross-entropy",)  # what `rct-tflm train` has always written in training.loss
MAX_CLASSES = 65535  # labels are uint16 (host, golden, C runtime, link)


def check(art: "ModelArtefact", low: "Lowering") -> None:
    last = art.layers[-1]
    if int(np.prod(last.output_shape)) != art.num_classes:
        raise UserError(f"the last layer {last.name} outputs {last.output_shape}, expected the "
                        f"{art.num_classes} class logits (softmax is applied by the engine)")
    if art.num_classes > MAX_CLASSES:
        raise UserError(f"{art.num_classes} classes: labels are uint16, at most {MAX_CLASSES} "
                        f"are supported")


def call(art: "ModelArtefact", low: "Lowering", err: str) -> Call:
    return Call("softmax_ce", low.loss_step, None, {"logits": low.act_of[-1], "dz": err},
                args={"z_exp": low.layers[-1].y_exp, "classes": art.num_classes}, ret="e_exp")


def _run(c: Call, st: "State") -> None:
    dz, st.loss, st.correct = softmax_ce(st.buf(c.buffers["logits"]), c.args["z_exp"],
                                         st.targets)
    st.put(c.buffers["dz"], dz)
    st.regs["e_exp"] = int(CE_GRAD_EXP)


def _c(c: Call, cx: "CContext") -> str:
    return (f"    (void)rct_softmax_ce({cx.buf(c.buffers['logits'])}, {c.args['z_exp']}, targets, "
            f"{cx.buf(c.buffers['dz'])}, n, RCT_MODEL_NUM_CLASSES, &loss);\n"
            f"    (void)scores;\n"
            f"    e_exp = RCT_CE_GRAD_EXP;")


def c_api(m: "Program", logits: str) -> dict[str, str]:
    """The generated API's loss-dependent parts (codegen/render.py prints them): the C type of a
    target, the check of a training batch's targets, and what rct_model_infer returns."""
    del m
    return {"target_ctype": "uint16_t", "target_size": "1",
            "target_check": "        if (targets[s] >= RCT_MODEL_NUM_CLASSES) return RCT_ELABEL;",
            "infer_result": f"    (void)target;\n"
                            f"    return rct_argmax_i8({logits}, RCT_MODEL_NUM_CLASSES);"}


KERNELS = {"softmax_ce": Kernel(_run, _c, "rct_softmax_ce", "softmax-ce")}
