"""`rct-tflm export`: a (device-)trained artefact back to the formats users deploy with.

The artefact's graph is rebuilt as tf_keras (each kind's `to_keras`) holding its integer weights
dequantised exactly (q · 2^exp: the frozen int8 tables and the head the board trained), saved as
`.keras`, and converted by TensorFlow's TFLiteConverter to a fully int8 `.tflite` (per-channel
weights, int8 input and output) with a representative set from the training split. The export
then runs the test split through the `.tflite` in the tflite-micro interpreter and through the
golden engine (which predicts what the board predicts, bit for bit) and reports how often the
two agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import load_dataset
from ..errors import UserError
from ..formats import results
from ..formats.atomic import atomic_path
from ..program import Engine, load_artefact
from .baselines import keras_from_artefact
from .export_tflite_head import device_grids, export_head, is_tflite_head
from .keras_tflite import REPRESENTATIVE, int8_tflite

RESULT = "export.json"


@dataclass
class ExportConfig:
    model: str
    data: str
    tflite: str | None
    keras: str | None
    report_dir: str | None = None  # where export.json goes (default: beside the .tflite)
    seed: int | None = None


def _device_top_classes(engine: Engine, xq: np.ndarray, chunk: int = 256) -> np.ndarray:
    """[n, classes] bool: the classes holding the device's largest logit (several on a tie);
    the device predicts the first of them (argmax)."""
    lg = np.concatenate([engine.logits(xq[i:i + chunk]) for i in range(0, len(xq), chunk)])
    return lg == lg.max(axis=1, keepdims=True)


def _tflm_predict(path: Path, x: np.ndarray) -> np.ndarray:
    from ..formats.tflite_model import read_tflite
    from ..program.tflite_graph import quantize_input
    from ..verify.tflm_reference import tflm_tensors
    m = read_tflite(path)
    out = m.outputs[0]
    y = tflm_tensors(m, quantize_input(m, x), [out])[out]
    return np.argmax(y.reshape(len(x), -1), axis=1)


def export(cfg: ExportConfig) -> dict:
    if not cfg.tflite and not cfg.keras:
        raise UserError("give --tflite OUT.tflite and/or --keras OUT.keras")
    for p, ext in ((cfg.tflite, ".tflite"), (cfg.keras, ".keras")):
        if p and not str(p).endswith(ext):
            raise UserError(f"'{p}' must end in {ext}")
    art = load_artefact(cfg.model)
    seed = int(art.training.get("seed", 0)) if cfg.seed is None else cfg.seed
    d = load_dataset(cfg.data, seed)
    shape = tuple(art.input_shape)
    x_train = d.x_train.reshape(len(d.x_train), *shape)
    x_test = d.x_test.reshape(len(d.x_test), *shape)
    head = is_tflite_head(art)  # imported from a .tflite: its flatbuffer, the head replaced
    if head and cfg.keras:
        raise UserError(f"{cfg.model} was imported from a .tflite, which holds no Keras graph: "
                        f"export it with --tflite OUT.tflite only")
    model = None if head else keras_from_artefact(art)
    r: dict = {"model": str(cfg.model), "data": cfg.data, "test_samples": int(len(x_test))}
    if cfg.keras:
        with atomic_path(cfg.keras) as tmp:
            model.save(str(tmp.with_suffix(".keras")))
            tmp.with_suffix(".keras").replace(tmp)
        r["keras"] = str(cfg.keras)
    if cfg.tflite:
        rep = x_train[np.random.default_rng(seed).permutation(len(x_train))[:REPRESENTATIVE]]
        if head:
            blob, grids = export_head(art), "device"
        else:  # a dense model moves onto the device's grids; convolutions stay calibrated
            blob = int8_tflite(model, rep)
            moved = device_grids(blob, art)
            blob, grids = (moved, "device") if moved is not None else (blob, "calibrated")
        with atomic_path(cfg.tflite) as tmp:
            tmp.write_bytes(blob)
        engine = Engine.from_artefact(art)
        top = _device_top_classes(engine, engine.program.quantise_inputs(x_test))
        device = np.argmax(top, axis=1)  # what predict answers, from the same logits
        exported = _tflm_predict(Path(cfg.tflite), x_test)
        # where the device's top logits tie, its argmax (the first) is arbitrary: any tied
        # class is its answer
        tied = top.sum(axis=1) > 1
        r.update({"tflite": str(cfg.tflite), "tflite_bytes": len(blob), "grids": grids,
                  "agreement_with_device": float(np.mean(exported == device)),
                  "device_ties": int(np.sum(tied)),
                  "agreement_where_device_decides": float(np.mean(exported[~tied] ==
                                                                  device[~tied]))
                  if np.any(~tied) else None,
                  "agreement_ties_accepted": float(np.mean(top[np.arange(len(top)), exported])),
                  "device_test_accuracy": float(np.mean(device == d.y_test)),
                  "tflite_test_accuracy": float(np.mean(exported == d.y_test)),
                  "reference": "tflite-micro interpreter"})
    out_dir = Path(cfg.report_dir or Path(cfg.tflite or cfg.keras).parent)
    results.save(out_dir / RESULT, r)
    return results.stamp(RESULT, r)
