"""Random integer test data for the kernel comparisons (driven by hypothesis-chosen seeds)."""
from __future__ import annotations

import numpy as np


def ints(rng: np.random.Generator, shape, bits: int, mode: int = 0) -> np.ndarray:
    """Values of `bits` bits: mode 0 uniform, 1 extremes only (qmin/qmax/0/±1), 2 small."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if mode == 1:
        return rng.choice(np.array([lo, hi, 0, 1, -1]), size=shape).astype(np.int64)
    if mode == 2:
        return rng.integers(max(lo, -3), min(hi, 3) + 1, size=shape, dtype=np.int64)
    return rng.integers(lo, hi + 1, size=shape, dtype=np.int64)
