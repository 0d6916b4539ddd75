"""A Keras model as a fully int8 `.tflite` (TensorFlow's TFLiteConverter: per-channel weights,
int8 input and output, activation ranges from a representative set of training samples). The
one conversion of the toolchain: `partition --model m.keras` lands a Keras model on the same
frozen TFLite kernels as its `.tflite` would (partition/tflite_head.py), and `export` writes a
trained artefact back through it."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import load_dataset
from ..errors import UserError
from ..formats.atomic import atomic_path
from .quiet_tf import tf

REPRESENTATIVE = 2000  # training samples (at most) that calibrate the activation ranges


def int8_tflite(model, x_rep: np.ndarray) -> bytes:
    """The flatbuffer of `model` quantised on the samples `x_rep` (float, the model's input)."""
    t = tf
    conv = t.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [t.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[None].astype(np.float32)] for x in x_rep)
    conv.target_spec.supported_ops = [t.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = t.int8
    conv.inference_output_type = t.int8
    try:
        return conv.convert()
    except Exception as e:  # noqa: BLE001 - the converter raises several kinds, all terminal
        first = (str(e).strip().splitlines() or [""])[0][:160]
        raise UserError(f"TFLiteConverter cannot convert the model to full int8 "
                        f"({type(e).__name__}: {first}); keep to layers TFLite quantises "
                        f"(docs/tflite.md) or convert it yourself and give the .tflite") from None


def keras_file_to_tflite(path: str, data: str, out: str | Path, seed: int = 0) -> Path:
    """`path` (.keras/.h5) converted with up to REPRESENTATIVE training samples of `data` and
    written atomically to `out`."""
    from .models import load_keras_file
    model = load_keras_file(path)
    d = load_dataset(data, seed)
    want = tuple(int(v) for v in model.input_shape[1:])
    x = d.x_train[:REPRESENTATIVE]
    if tuple(x.shape[1:]) != want:
        if int(np.prod(x.shape[1:])) != int(np.prod(want)):
            raise UserError(f"data set '{data}' has samples of shape {tuple(x.shape[1:])}, the "
                            f"model '{Path(path).name}' takes {want}; give the data it was "
                            f"trained on")
        x = x.reshape((len(x),) + want)
    blob = int8_tflite(model, x)
    out = Path(out)
    with atomic_path(out) as tmp:
        Path(tmp).write_bytes(blob)
    return out
