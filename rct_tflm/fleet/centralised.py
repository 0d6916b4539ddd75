"""The baseline a fleet is measured against: one board trained on the union of the shards.

The golden engine stands in for the board (it computes what every board computes, bit for bit:
tests/test_stream_equals_emulate.py), fed the whole training set in the documented sample order
for as many epochs as the fleet ran local epochs in total, so it has seen the same number of
samples as the fleet after every round.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..data import run_order
from ..fixedpoint.config import EngineConfig
from ..program import Engine
from ..stream.device_model import DeviceModel


def centralised_curve(dm: DeviceModel, cfg: EngineConfig, x: np.ndarray, y: np.ndarray,
                      x_test: np.ndarray, y_test: np.ndarray, epochs: int, seed: int,
                      batch: int, at: list[int]) -> tuple[list[float], dict[str, int]]:
    """Test accuracy after each sample count in `at` (ascending) of one centralised run, and
    its final bitwidths."""
    eng = Engine(dm.model, replace(cfg, seed=seed & 0xFFFFFFFF))
    order = run_order(len(y), epochs, seed, batch)
    out, pos = [], 0
    for n in at:
        n = min(n - n % batch, len(order))
        for s in range(pos, n, batch):
            idx = order[s:s + batch]
            eng.train_step(x[idx], y[idx])
        pos = max(pos, n)
        out.append(float(np.mean(eng.predict(x_test) == y_test)))
    return out, {n: b for n, (b, _) in eng.bitwidths().items()}
