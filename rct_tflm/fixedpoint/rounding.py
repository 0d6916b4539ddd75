"""Rounding, saturation and shift requantisation of the numeric contract (see docs/numerics.md).

All integer functions work on int64 numpy arrays internally, so intermediate sums cannot wrap;
callers store results in the container of the tensor's bitwidth.
"""
from __future__ import annotations

import numpy as np

from .prng import Rng, draws_u16


def qmin(bits: int) -> int:
    return -(1 << (bits - 1))


def qmax(bits: int) -> int:
    return (1 << (bits - 1)) - 1


def saturate(v: np.ndarray, bits: int) -> np.ndarray:
    """Clip to the signed range of `bits` bits: [-2**(bits-1), 2**(bits-1) - 1]."""
    return np.clip(np.asarray(v, dtype=np.int64), qmin(bits), qmax(bits))


def shift_round_nearest(v: np.ndarray, s: int) -> np.ndarray:
    """v / 2**s rounded to nearest, ties towards +inf: (v + 2**(s-1)) >> s. s <= 0 shifts left."""
    v = np.asarray(v, dtype=np.int64)
    if s <= 0:
        return v << -s
    return (v + (1 << (s - 1))) >> s


def shift_round_stochastic(v: np.ndarray, s: int, rng: Rng, out_major: bool = False
                           ) -> np.ndarray:
    """v / 2**s with stochastic rounding: (v + (r >> (32 - s))) >> s, r = u16 << 16 with one
    16-bit uniform u16 per element (Rng.next_u16, in device order: see draws_u16).

    Equals floor(v / 2**s + u) with u = (r >> (32 - s)) / 2**s uniform on the min(s, 16)-bit grid
    in [0, 1). s <= 0 shifts left exactly, drawing nothing. s > 31 is evaluated as s = 31 plus an
    exact floor shift.
    """
    v = np.asarray(v, dtype=np.int64)
    if s <= 0:
        return v << -s
    s1 = min(s, 31)
    r = draws_u16(rng, v.shape, out_major) << 16
    out = (v + (r >> (32 - s1))) >> s1
    return out >> (s - s1)


def round_nearest_float(x: np.ndarray) -> np.ndarray:
    """floor(x + 0.5): the float twin of shift_round_nearest (ties towards +inf)."""
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def round_stochastic_float(x: np.ndarray, rng: Rng) -> np.ndarray:
    """floor(x + u), u = u16 / 2**16 from the contract PRNG (Rng.uniform), C order."""
    x = np.asarray(x, dtype=np.float64)
    u = rng.uniform(x.size).reshape(x.shape)
    return np.floor(x + u).astype(np.int64)


def requantize(v: np.ndarray, exp_from: int, exp_to: int, bits: int) -> np.ndarray:
    """Move integers from exponent `exp_from` to `exp_to` (round to nearest), saturate to `bits`."""
    return saturate(shift_round_nearest(v, exp_to - exp_from), bits)
