"""The tflite-micro Python interpreter as the reference of a frozen `.tflite` part.

`tflm_tensors(path, x, indices)` runs every sample through tflite-micro (its reference kernels,
built without TFLITE_SINGLE_ROUNDING) keeping all tensors, and returns the requested ones;
`compare_graph(model, x)` runs the numpy golden (the lowered plan, program/tflite_lower.py) on the
same samples and
reports `compared`, `mismatches` (samples whose result differs), `max_abs_diff`, the first
mismatching samples, and the first operator whose output differs on any sample (every layer is
compared, not only the result).
"""
from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..formats.tflite_model import TfliteModel
from ..program.tflite_graph import body
from ..program.tflite_lower import lower_tflite, run_plan_tensors

FIRST_SAMPLES = 10  # mismatching sample indices listed in a report


def _interpreter(path: str):
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        raise UserError("verifying against TensorFlow Lite Micro needs its interpreter: pip "
                        "install 'rct_tflm[verify]' (tflite-micro; `make setup` installs it)"
                        ) from None
    return runtime, runtime.Interpreter.from_file(
        path, intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)


def tflm_tensors(model: TfliteModel, x: np.ndarray, indices: list[int]) -> dict[int, np.ndarray]:
    """Tensors `indices` after tflite-micro ran each int8 sample of `x` (batch of one each)."""
    _, it = _interpreter(model.path)
    ops, start, _ = body(model)
    if start != model.inputs[0]:
        raise UserError(f"{model.path} takes float input (a QUANTIZE first); verify feeds int8 "
                        f"samples: convert with inference_input_type=tf.int8")
    out: dict[int, list[np.ndarray]] = {i: [] for i in indices}
    for s in range(len(x)):
        it.set_input(x[s:s + 1], 0)
        it.invoke()
        for i in indices:
            out[i].append(np.asarray(it.GetTensor(i, 0)["tensor_data"]).reshape(
                (1,) + model.tensors[i].shape[1:]))
    return {i: np.concatenate(v) for i, v in out.items()}


def compare_outputs(ours: np.ndarray, ref: np.ndarray) -> dict:
    """verify.json's comparison of two [n, ...] int8 results, sample by sample."""
    n = len(ours)
    a, b = ours.astype(np.int64).reshape(n, -1), ref.astype(np.int64).reshape(n, -1)
    bad = np.flatnonzero((a != b).any(axis=1))
    return {"compared": int(n), "integers_compared": int(a.size), "mismatches": int(bad.size),
            "mismatching_integers": int(np.sum(a != b)),
            "max_abs_diff": int(np.max(np.abs(a - b))) if a.size else 0,
            "first_mismatching_samples": [int(i) for i in bad[:FIRST_SAMPLES]]}


def compare_graph(model: TfliteModel, x: np.ndarray, chunk: int = 50) -> dict:
    """The golden frozen part (the lowered plan on the numpy twins) vs tflite-micro on int8
    samples `x`: compare_outputs' fields and the first layer that differs on any sample. In
    chunks of samples (a MobileNet's every tensor for 500 samples would not fit in memory)."""
    plan = lower_tflite(model)
    ours_out, ref_out = [], []
    per_op: dict[int, list[int]] = {}  # op index -> [samples differing, first such sample]
    for c0 in range(0, len(x), chunk):
        xs = x[c0:c0 + chunk]
        ours = run_plan_tensors(plan, xs)
        ref = tflm_tensors(model, xs, [c.output for c in plan.calls])
        ours_out.append(ours[plan.output])
        ref_out.append(ref[plan.output])
        # every layer: a wrong integer a later layer happens to round away is still wrong
        for c in plan.calls:
            o = c.output
            diff = np.flatnonzero((ours[o].reshape(ref[o].shape) != ref[o])
                                  .reshape(len(xs), -1).any(axis=1))
            if diff.size:
                seen = per_op.setdefault(c.op, [0, c0 + int(diff[0])])
                seen[0] += int(diff.size)
    r = compare_outputs(np.concatenate(ours_out), np.concatenate(ref_out))
    r["first_mismatching_layer"] = None
    if per_op:
        k = min(per_op)
        op = model.ops[k]
        r["first_mismatching_layer"] = {"op": k, "name": op.name,
                                        "tensor": model.tensors[op.outputs[0]].name,
                                        "samples": per_op[k][0], "first_sample": per_op[k][1]}
    return r
