"""The regression / autoencoder loss: mean squared error of the int8 outputs against int8
targets (kernels/mse.py, firmware/kernels/rct_mse_loss.c). `training.loss` "mse"; the targets
are `training.targets`: "vector" (regression: num_classes int8 values per sample at
preprocess.target_exp, streamed with the sample) or "input" (autoencoder: the model input
itself, at the input exponent; the output size must equal the input size). The per-sample
score (Q16.16 mean squared error) is the anomaly score INFER reports."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...errors import UserError
from ...fixedpoint.kernels.mse import mse_loss
from ..kernel import Kernel
from ..model import INPUT, TARGETS, Call

if TYPE_CHECKING:
    from ...artefact import ModelArtefact
    from ..golden import State
    from ..kernel import CContext
    from ..lower import Lowering
    from ..model import Program

LOSS = "mse"
TARGET_KINDS = ("vector", "input")


def target_kind(art: "ModelArtefact") -> str:
    t = art.training.get("targets", "vector")
    if t not in TARGET_KINDS:
        raise UserError(f"the artefact's training.targets is {t!r}; an MSE model takes "
                        f"'vector' (regression) or 'input' (autoencoder)")
    return t


def check(art: "ModelArtefact", low: "Lowering") -> None:
    last = art.layers[-1]
    out = int(np.prod(last.output_shape))
    if target_kind(art) == "input":
        size = int(np.prod(art.input_shape))
        if out != size:
            raise UserError(f"autoencoder: the last layer {last.name} outputs {out} values, the "
                            f"input has {size}; the reconstruction must be as large as the input")
    elif "target_exp" not in art.preprocess:
        raise UserError("regression model without preprocess.target_exp (the int8 targets' "
                        "exponent); re-create it with `rct-tflm train --loss mse`")
    if out != art.num_classes:
        raise UserError(f"the last layer {last.name} outputs {out} values, the artefact says "
                        f"{art.num_classes} outputs; corrupt artefact")


def call(art: "ModelArtefact", low: "Lowering", err: str) -> Call:
    auto = target_kind(art) == "input"
    t_exp = low.input_exp if auto else int(art.preprocess["target_exp"])
    return Call("mse_loss", low.loss_step, None,
                {"y": low.act_of[-1], "t": INPUT if auto else TARGETS, "dy": err},
                args={"y_exp": low.layers[-1].y_exp, "t_exp": t_exp, "size": art.num_classes},
                ret="e_exp")


def _run(c: Call, st: "State") -> None:
    t = st.buf(INPUT) if c.buffers["t"] == INPUT else np.asarray(st.targets, np.int8)
    dy, dy_exp, st.loss, st.scores = mse_loss(st.buf(c.buffers["y"]), c.args["y_exp"],
                                              t.reshape(st.n, -1), c.args["t_exp"])
    st.put(c.buffers["dy"], dy)
    st.regs["e_exp"] = int(dy_exp)


def _c(c: Call, cx: "CContext") -> str:
    t = "x" if c.buffers["t"] == INPUT else "targets"
    return (f"    e_exp = rct_mse_loss({cx.buf(c.buffers['y'])}, {c.args['y_exp']}, {t}, "
            f"{c.args['t_exp']}, {cx.buf(c.buffers['dy'])}, n, {c.args['size']}, &loss, "
            f"scores);")


def c_api(m: "Program", logits: str) -> dict[str, str]:
    """The generated API's loss-dependent parts (see softmax_ce.c_api): int8 targets (none for
    an autoencoder), no check, and rct_model_infer returns the sample's score."""
    del logits
    need = "    if (target == NULL) return RCT_EARG;\n" if m.target_size else "    (void)target;\n"
    return {"target_ctype": "int8_t", "target_size": str(m.target_size), "target_check": "",
            "infer_result": need + "    {\n        int32_t score = 0;\n"
                                   "        (void)run_loss(x, target, 1, NULL, &score);\n"
                                   "        return score;\n    }"}


KERNELS = {"mse_loss": Kernel(_run, _c, "rct_mse_loss", "mse-loss")}
