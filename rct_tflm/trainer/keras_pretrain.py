"""A built-in model pretrained in float with Keras and saved as `.keras`: the model a user
brings from their own training pipeline, before TFLiteConverter (the demo's TFLite scenario)."""
from __future__ import annotations

from pathlib import Path

from ..data import load_dataset
from ..formats.atomic import atomic_path
from .models import build_builtin
from .quiet_tf import tf_keras


def pretrain_keras(name: str, data: str, out: str | Path, epochs: int = 20, seed: int = 0,
                   lr: float = 0.01) -> dict:
    """Train built-in `name` on `data` (Adam, batch 32, float32) and save it to `out`."""
    k = tf_keras()
    d = load_dataset(data, seed)
    model = build_builtin(name, d, seed)
    model.compile(k.optimizers.Adam(lr), k.losses.SparseCategoricalCrossentropy(from_logits=True),
                  ["accuracy"])
    model.fit(d.x_train, d.y_train, batch_size=32, epochs=epochs, verbose=0, shuffle=True)
    _, acc = model.evaluate(d.x_test, d.y_test, verbose=0)
    out = Path(out)
    with atomic_path(out) as tmp:
        model.save(str(tmp.with_suffix(".keras")))
        tmp.with_suffix(".keras").replace(tmp)
    return {"model": name, "data": data, "epochs": epochs, "test_accuracy": float(acc)}
