"""The RCT weight update onto the integer grid, and the Gavg metric.

An update expressed in units of the tensor's LSB, delta = -lr * g / 2**exp, is rounded onto the
grid and added with saturation: q <- sat(q + round(delta)). Gavg (Huang et al.) is
mean(|lr * g|) / 2**exp = mean(|delta|); it is carried as a Q16.16 integer so the controller
decides identically in numpy and in C.
"""
from __future__ import annotations

import numpy as np

from .prng import Rng
from .qtensor import QTensor
from .rounding import round_nearest_float, round_stochastic_float, saturate

GAVG_FRAC_BITS = 16
ROUNDING_MODES = ("stochastic", "nearest")


def gavg_q16(delta: np.ndarray) -> int:
    """floor(mean(|delta|) * 2**16) for an update `delta` in LSB units."""
    if delta.size == 0:
        return 0
    return int(np.floor(float(np.mean(np.abs(delta), dtype=np.float64)) * (1 << GAVG_FRAC_BITS)))


def apply_update(t: QTensor, delta: np.ndarray, rng: Rng, rounding: str = "stochastic") -> int:
    """q <- sat(q + round(delta)) in place; returns Gavg (Q16.16) of this update."""
    if rounding == "stochastic":
        step = round_stochastic_float(delta, rng)
    elif rounding == "nearest":
        step = round_nearest_float(delta)
    else:
        raise ValueError(f"rounding must be one of {ROUNDING_MODES}, got {rounding!r}")
    t.q = saturate(t.q.astype(np.int64) + step, t.bits).astype(np.int32)
    return gavg_q16(delta)
