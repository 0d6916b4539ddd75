"""Built-in Keras-2 models (tf_keras, which tfmot's QAT needs) and loading user models.

`--model builtin` picks by data: 8x8 images -> mlp, 14x14 -> mlp196, 28x28 -> cnn, text -> text,
tabular -> a 32-unit MLP; `builtin:NAME` picks one by name; a `.keras` / `.h5` path loads a
saved model (tf_keras first, then Keras 3). TensorFlow is imported inside the functions.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..data import Dataset
from ..errors import UserError

BUILTIN = ("mlp", "mlp784", "mlp196", "cnn", "resnet8", "text", "tabular", "autoencoder")
MODEL_HELP = "builtin, builtin:NAME (NAME one of " + ", ".join(BUILTIN) + "), or a .keras/.h5 file"


def _mlp(k: Any, shape: tuple, n_cls: int, hidden: int, name: str) -> Any:
    return k.Sequential([k.layers.Input(shape), k.layers.Flatten(name="flatten"),
                         k.layers.Dense(hidden, activation="relu", name="dense1"),
                         k.layers.Dense(n_cls, name="logits")], name=name)


def _cnn(k: Any, shape: tuple, n_cls: int) -> Any:
    L = k.layers
    return k.Sequential([L.Input(shape),
                         L.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
                         L.MaxPooling2D(2, name="pool1"),
                         L.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
                         L.MaxPooling2D(2, name="pool2"),
                         L.Flatten(name="flatten"), L.Dense(n_cls, name="logits")], name="cnn")


def _resnet8(k: Any, shape: tuple, n_cls: int) -> Any:
    """MLPerf Tiny's image-classification ResNet-8 (CIFAR-10, 32x32x3): a 16-filter stem and
    three stacks of one residual block (16, 32 and 64 filters; the strided ones with a 1x1
    projection on the skip), conv + BatchNorm + ReLU, then the average pool and the logits.
    The final 8x8 average pool is written as global average pooling, the same on 32x32 inputs
    and defined on any size."""
    L = k.layers
    i = L.Input(shape)
    x = L.ReLU(name="stem_relu")(L.BatchNormalization(name="stem_bn")(
        L.Conv2D(16, 3, padding="same", name="stem_conv")(i)))
    for s, (filters, stride) in enumerate(((16, 1), (32, 2), (64, 2)), 1):
        y = L.Conv2D(filters, 3, strides=stride, padding="same", name=f"s{s}_conv1")(x)
        y = L.ReLU(name=f"s{s}_relu1")(L.BatchNormalization(name=f"s{s}_bn1")(y))
        y = L.BatchNormalization(name=f"s{s}_bn2")(
            L.Conv2D(filters, 3, padding="same", name=f"s{s}_conv2")(y))
        if stride > 1:
            x = L.Conv2D(filters, 1, strides=stride, padding="same", name=f"s{s}_proj")(x)
        x = L.ReLU(name=f"s{s}_relu")(L.Add(name=f"s{s}_add")([x, y]))
    x = L.GlobalAveragePooling2D(name="pool")(x)
    return k.Model(i, L.Dense(n_cls, name="logits")(x), name="resnet8")


AE_HIDDEN, AE_CODE = 128, 8


def autoencoder_layers(size: int) -> list[tuple[str, int, str]]:
    """MLPerf Tiny's anomaly-detection autoencoder (FC-AE, 640 inputs there): dense ReLU layers
    size -> 128 x 3 -> 8 -> 128 x 3 -> size, linear output; (name, units, activation)."""
    enc = [(f"enc{i}", AE_HIDDEN, "relu") for i in range(1, 4)] + [("code", AE_CODE, "relu")]
    dec = [(f"dec{i}", AE_HIDDEN, "relu") for i in range(1, 4)]
    return enc + dec + [("recon", size, "linear")]


def _autoencoder(k: Any, shape: tuple) -> Any:
    L = k.layers
    size = int(np.prod(shape))
    return k.Sequential([L.Input(shape), L.Flatten(name="flatten"),
                         *[L.Dense(u, activation=a, name=n) for n, u, a in
                           autoencoder_layers(size)]], name="autoencoder")


def _text(k: Any, shape: tuple, n_cls: int, vocab: int) -> Any:
    """Word embeddings -> 3-word ReLU filters -> mean over the message -> logits.

    The Conv1D + ReLU before the mean pool matters: a filter that fires on a spam phrase keeps
    its signal through the average, whereas pooling raw embeddings straight into a Dense layer
    averages it with the padding rows and, with plain SGD, never leaves "all ham" in 20 epochs
    (F1 0 on SMS spam; docs/training.md)."""
    L = k.layers
    return k.Sequential([L.Input(shape, dtype="int32"), L.Embedding(vocab, 16, name="embedding"),
                         L.Conv1D(16, 3, activation="relu", name="conv1"),
                         L.GlobalAveragePooling1D(name="gap"),
                         L.Dense(n_cls, name="logits")], name="text")


_EXPECT = {"mlp": "8x8x1 images", "mlp784": "28x28x1 images", "mlp196": "14x14x1 images",
           "cnn": "HxWxC images", "resnet8": "HxWxC images of at least 8x8 (CIFAR: 32x32x3)",
           "text": "token-id sequences (sms:)", "tabular": "any non-text data",
           "autoencoder": "non-text data whose targets are the inputs (--autoencoder, anomaly)"}


def builtin_name_for(data: Dataset) -> str:
    """The default built-in model for a data set."""
    if data.kind == "text":
        return "text"
    if data.targets == "input":
        return "autoencoder"
    shape = data.input_shape
    if data.kind == "image" and len(shape) == 3:
        return {(8, 8): "mlp", (14, 14): "mlp196", (28, 28): "cnn"}.get(shape[:2], "cnn")
    return "tabular"


def check_builtin(name: str, data: Dataset) -> None:
    """UserError when a built-in model cannot take this data."""
    fix = f"use --model builtin to pick one for this data ({data.name}: {data.input_shape})"
    shape = data.input_shape
    ok = {"mlp": shape == (8, 8, 1), "mlp784": shape == (28, 28, 1), "mlp196": shape == (14, 14, 1),
          "cnn": data.kind == "image" and len(shape) == 3 and min(shape[:2]) >= 4,
          "resnet8": data.kind == "image" and len(shape) == 3 and min(shape[:2]) >= 8,
          "text": data.kind == "text", "tabular": data.kind != "text",
          "autoencoder": data.kind != "text" and data.targets == "input"}
    if not ok[name]:
        raise UserError(f"built-in model '{name}' needs {_EXPECT[name]}; {fix}")


def build_builtin(name: str, data: Dataset, seed: int) -> Any:
    """A fresh tf_keras model, weights initialised deterministically from `seed`."""
    if name not in BUILTIN:
        raise UserError(f"unknown built-in model '{name}'; use {MODEL_HELP}")
    check_builtin(name, data)
    from .quiet_tf import tf_keras
    k = tf_keras()
    k.utils.set_random_seed(seed)
    shape, c = data.input_shape, data.num_classes
    makers: dict[str, Callable[[], Any]] = {
        "mlp": lambda: _mlp(k, shape, c, 32, "mlp"),
        "mlp784": lambda: _mlp(k, shape, c, 64, "mlp784"),
        "mlp196": lambda: _mlp(k, shape, c, 64, "mlp196"),
        "cnn": lambda: _cnn(k, shape, c),
        "resnet8": lambda: _resnet8(k, shape, c),
        "text": lambda: _text(k, shape, c, int(data.preprocess.get("vocab_size", 2002))),
        "tabular": lambda: _mlp(k, shape, c, 32, "tabular"),
        "autoencoder": lambda: _autoencoder(k, shape),
    }
    return makers[name]()


def parse_model_spec(spec: str) -> tuple[str, str]:
    """('builtin', NAME or '') or ('file', path); UserError for anything else."""
    spec = (spec or "").strip()
    if spec == "builtin":
        return "builtin", ""
    if spec.startswith("builtin:"):
        name = spec.split(":", 1)[1]
        if name not in BUILTIN:
            raise UserError(f"unknown built-in model '{name}'; use {MODEL_HELP}")
        return "builtin", name
    if spec.endswith((".keras", ".h5")):
        if not Path(spec).is_file():
            raise UserError(f"model file '{spec}' does not exist; give an existing .keras/.h5 "
                            "file or --model builtin")
        return "file", spec
    if spec.endswith(".tflite"):
        raise UserError(f"'{spec}' is a .tflite model, already trained: train its head on the "
                        f"board with `rct-tflm partition --model {spec} --board BOARD --out DIR`, "
                        f"or train on the host from its Keras model (.keras/.h5)")
    raise UserError(f"unknown model '{spec}'; use {MODEL_HELP}")


def saved_layers(path: str) -> list[tuple[str, str]] | None:
    """(layer name, Keras class) of a saved model's top-level layers, read from its stored
    config without deserialising anything (None when the file has no readable config).

    `.keras` is a zip holding config.json; `.h5` keeps the JSON in the `model_config` attribute."""
    import json
    try:
        if path.endswith(".keras"):
            import zipfile
            with zipfile.ZipFile(path) as z:
                cfg = json.loads(z.read("config.json"))
        else:
            import h5py
            with h5py.File(path, "r") as f:
                raw = f.attrs.get("model_config")
            if raw is None:
                return None
            cfg = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        return [(str(l.get("config", {}).get("name", "?")), str(l["class_name"]))
                for l in cfg["config"]["layers"]]
    except Exception:  # noqa: BLE001 - an unreadable config: let the loaders report it
        return None


def load_keras_file(path: str) -> Any:
    """Load a saved Keras model: tf_keras (Keras 2) first, then Keras 3.

    Layers the trainer cannot import are refused from the stored config first: the message
    names them, and an unsupported layer (e.g. a Lambda's pickled code) is never deserialised."""
    from .keras_import import SUPPORTED_CLASSES, unsupported_error
    for name, cls in saved_layers(path) or []:
        if cls not in SUPPORTED_CLASSES:
            raise unsupported_error(name, cls)
    from .quiet_tf import tf_keras
    errors = []
    k2 = tf_keras()  # outside the try: a missing TensorFlow is said as such
    try:
        return k2.models.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001 - fall through to Keras 3
        errors.append(f"tf_keras: {type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}")
    try:
        import keras
        return keras.models.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001
        errors.append(f"keras: {type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}")
    raise UserError(f"cannot load Keras model '{path}' ({'; '.join(errors)}); save it with "
                    "model.save('m.keras') or model.save('m.h5')")


def resolve_model(spec: str, data: Dataset, seed: int) -> tuple[Any, str]:
    """(Keras model, model name) for a --model spec and the data it will train on."""
    kind, val = parse_model_spec(spec)
    if kind == "builtin":
        name = val or builtin_name_for(data)
        return build_builtin(name, data, seed), f"builtin:{name}"
    return load_keras_file(val), val
