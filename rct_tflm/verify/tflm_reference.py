"""The tflite-micro Python interpreter as the reference of a frozen `.tflite` part.

`tflm_tensors(path, x, indices)` runs every sample through tflite-micro (its reference kernels,
built without TFLITE_SINGLE_ROUNDING) keeping all tensors, and returns the requested ones;
`compare_graph(model, x)` runs the numpy golden (program/tflite_graph.py) on the same samples and
reports `compared`, `mismatches` (samples whose result differs), `max_abs_diff`, the first
mismatching samples, and the first operator whose output differs on any sample (every layer is
compared, not only the result).
"""
from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..formats.tflite_model import TfliteModel
from ..program.tflite_graph import body, run_graph

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


def compare_graph(model: TfliteModel, x: np.ndarray, chunk: int = 50) -> dict:
    """The golden frozen graph vs tflite-micro on int8 samples `x` (verify.json's fields), in
    chunks of samples (a MobileNet's every tensor for 500 samples would not fit in memory)."""
    ops, _, end = body(model)
    bad: list[int] = []
    n_int = n_bad_int = max_diff = 0
    per_op: dict[int, list[int]] = {}  # op index -> [samples differing, first such sample]
    for c0 in range(0, len(x), chunk):
        xs = x[c0:c0 + chunk]
        ours = run_graph(model, xs)
        ref = tflm_tensors(model, xs, [op.outputs[0] for op in ops])
        a, b = ours[end].astype(np.int64), ref[end].astype(np.int64)
        bad += [c0 + int(i) for i in np.flatnonzero((a != b).reshape(len(xs), -1).any(axis=1))]
        n_int += int(a.size)
        n_bad_int += int(np.sum(a != b))
        max_diff = max(max_diff, int(np.max(np.abs(a - b))) if a.size else 0)
        # every layer: a wrong integer a later layer happens to round away is still wrong
        for op in ops:
            o = op.outputs[0]
            diff = np.flatnonzero((ours[o] != ref[o]).reshape(len(xs), -1).any(axis=1))
            if diff.size:
                seen = per_op.setdefault(op.index, [0, c0 + int(diff[0])])
                seen[0] += int(diff.size)
    first_layer = None
    if per_op:
        k = min(per_op)
        op = next(o for o in ops if o.index == k)
        first_layer = {"op": k, "name": op.name, "tensor": model.tensors[op.outputs[0]].name,
                       "samples": per_op[k][0], "first_sample": per_op[k][1]}
    return {"compared": int(len(x)), "integers_compared": n_int, "mismatches": len(bad),
            "mismatching_integers": n_bad_int, "max_abs_diff": max_diff,
            "first_mismatching_samples": bad[:FIRST_SAMPLES],
            "first_mismatching_layer": first_layer}
