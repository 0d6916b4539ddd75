"""tflite_frozen: the frozen part of an imported int8 `.tflite`, run in TFLite Micro's
arithmetic, as the first layer of a model whose head trains with RCT (`rct-tflm partition
--model x.tflite`, trainer/tflite_head.py).

The layer reads the model input: int8 samples quantised with the `.tflite` input's scale and zero
point (Program.input_affine). Its config names the flatbuffer (an artefact file) and the tensor
where the graph is cut (`output`). Forward, one call: the graph's operators up to that tensor on
the rct_tfl_ kernels (program/tflite_lower.py; C: the generated rct_frozen.c), then the boundary
requantisation of their affine int8 result (scale s, zero point z) to the head's Q-format input
at 2^act_exp: y = clamp(MultiplyByQuantizedMultiplier(q - z, M, shift)) with M·2^shift ≈
s / 2^act_exp, TFLite's REQUANTIZE with output zero point 0 (rct_tfl_requantize.c). The
operators' intermediate tensors sit in one arena buffer that lives for this call only. Frozen
by construction: there is no backward.
"""
from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from ...artefact import MODEL_INPUT
from ...errors import UserError
from ...fixedpoint.tflite.multiplier import mbqm, quantize_multiplier
from ..kernel import Kernel
from ..model import INPUT, Call, LayerFacts

if TYPE_CHECKING:
    from ...artefact import Layer, ModelArtefact
    from ..golden import State
    from ..kernel import CContext
    from ..lower import Lowering
    from ..tflite_lower import FrozenPlan

KINDS = ("tflite_frozen",)
DEVICE_ONLY = True  # integer TFLite arithmetic only: no float reference, nothing for Keras
CONFIG = ("file", "output")
C_HEADERS = ("rct_frozen.h", "rct_tfl.h")  # rct_model.c calls rct_frozen_forward, rct_tfl_requantize
C_FUNCTION = "rct_frozen_forward"


@lru_cache(maxsize=8)
def _plan_of(sha: str, buf: bytes, output: int, name: str) -> "FrozenPlan":
    from ...formats.tflite_model import parse_tflite
    from ..tflite_lower import lower_tflite
    model = parse_tflite(buf, name)
    writer = next((k for k, op in enumerate(model.ops) if output in op.outputs), None)
    if writer is None:
        raise UserError(f"{name}: no operator writes tensor {output}, where the frozen part "
                        f"ends; corrupt artefact, partition the .tflite again")
    return lower_tflite(replace(model, ops=model.ops[:writer + 1]))


def frozen_plan(art: "ModelArtefact", l: "Layer") -> "FrozenPlan":
    """The lowered frozen graph of layer l (cached per flatbuffer and cut); shape() keeps it in
    Program.plans, which the golden engine runs and codegen prints as rct_frozen.h/.c."""
    name = str(l.config["file"])
    if name not in art.files:
        raise UserError(f"layer {l.name} runs '{name}', which the artefact does not hold; "
                        f"partition the .tflite again")
    buf = art.files[name]
    return _plan_of(hashlib.sha256(buf).hexdigest(), buf, int(l.config["output"]), name)


def boundary(p: "FrozenPlan", y_exp: int) -> dict[str, int]:
    """The requantisation of the frozen part's affine int8 output to int8 at 2^y_exp."""
    qm, shift = quantize_multiplier(float(np.float32(p.out_scale)) / 2.0 ** y_exp)
    return {"zp": int(p.out_zero_point), "qm": int(qm), "shift": int(shift)}


# -- the integer engine ---------------------------------------------------------------------------
def shape(l: "Layer", f: LayerFacts, low: "Lowering") -> None:
    if f.index != 0 or l.inputs not in (None, [MODEL_INPUT]):
        raise UserError(f"layer {l.name}: a frozen .tflite part must be the model's first layer, "
                        f"reading its input; corrupt artefact")
    if sum(x.kind in KINDS for x in low.art.layers) != 1:
        raise UserError("a model holds at most one frozen .tflite part; corrupt artefact")
    if l.act_exp is None:
        raise UserError(f"layer {l.name} has no act_exp (the head's input exponent); partition "
                        f"the .tflite again")
    p = frozen_plan(low.art, l)
    got = (tuple(p.shapes[p.input]), tuple(p.shapes[p.output]))
    if got != (tuple(l.input_shape), tuple(l.output_shape)):
        raise UserError(f"layer {l.name}: the .tflite part maps {got[0]} -> {got[1]}, the "
                        f"artefact says {tuple(l.input_shape)} -> {tuple(l.output_shape)}; "
                        f"corrupt artefact")
    low.plans[f.name] = p  # forward's call, the golden engine and codegen read it there
    f.y_exp = int(l.act_exp)


def forward(f: LayerFacts, low: "Lowering") -> list[Call]:
    l, p = low.art.layers[f.index], low.plans[f.name]
    arena = low.new_buffer(f"frozen_arena{f.index}", "activation", "int8", 0,
                           max(4, p.arena_bytes))
    return [Call("tflite_frozen_forward", f.index, f.name,
                 {"x": INPUT, "y": low.y(f), "arena": arena},
                 args={"file": str(l.config["file"]), "output": int(l.config["output"]),
                       "in_size": p.input_size, "out_size": p.output_size,
                       **boundary(p, f.y_exp)}, macs=0)]


def backward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return []  # frozen: lower() never trains below the first trainable layer


def _run(c: Call, st: "State") -> None:
    from ..tflite_lower import run_plan
    p = st.plans[c.layer]
    x = st.buf(c.buffers["x"]).astype(np.int8).reshape((st.n,) + tuple(p.shapes[p.input]))
    q = run_plan(p, x).reshape(st.n, -1).astype(np.int64)
    a = c.args
    y = np.clip(mbqm(q - a["zp"], a["qm"], a["shift"]), -128, 127).astype(np.int8)
    st.put(c.buffers["y"], y)


def _c(c: Call, cx: "CContext") -> str:
    a, b = c.args, c.buffers
    return (f"    rct_frozen_forward({cx.buf(b['x'])}, {cx.buf(b['y'])}, n, "
            f"{cx.buf(b['arena'])});\n"
            f"    rct_tfl_requantize({cx.buf(b['y'])}, {cx.buf(b['y'])}, n * {a['out_size']}, "
            f"{a['zp']}, {a['qm']}, {a['shift']}, 0);")


KERNELS = {"tflite_frozen_forward": Kernel(_run, _c, C_FUNCTION, "forward")}

