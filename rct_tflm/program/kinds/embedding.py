"""embedding: word id -> a row of the table [vocab, dim]; the first layer of the text model.
Host only: the integer engine has no lookup kernel, so lower() refuses it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import _tf

if TYPE_CHECKING:
    from ...artefact import Layer

KINDS = ("embedding",)
CONFIG = ("input_dim", "output_dim")
PARAMS = ("embeddings",)
KERAS = ("Embedding",)
IDS = "input_dim"


def float_forward(l: "Layer", a: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    return p["embeddings"][a.astype(np.int64)]


def from_keras(k: _tf.KerasLayer) -> tuple[dict, tuple[int, ...], dict[str, np.ndarray]]:
    if not k.first or len(k.shape) != 1:
        raise _tf.Unsupported("Embedding must be the first layer, on a 1-D id sequence")
    if k.cfg.get("mask_zero"):
        raise _tf.Unsupported("mask_zero=True; padding id 0 must be an ordinary row")
    vocab, dim = int(k.cfg["input_dim"]), int(k.cfg["output_dim"])
    return {"input_dim": vocab, "output_dim": dim}, (k.shape[0], dim), {"embeddings": k.weights[0]}


def tf_forward(tf: Any, l: "Layer", x: Any, p: dict, training: bool, seed: Any) -> Any:
    return tf.gather(p["embeddings"], tf.cast(x, tf.int32))


def to_keras(L: Any, l: "Layer", act: str) -> Any:
    return L.Embedding(l.config["input_dim"], l.config["output_dim"], name=l.name)
