"""Q-format tensors: integers with one power-of-two exponent and a bitwidth.

Real value = q * 2**exp; q lies in the signed range of `bits` bits. Changing the number of low
bits moves `exp` with it, so the representable range never changes (docs/numerics.md):

* add_low_bit:  q <- 2q, exp <- exp - 1, bits + 1           exact
* drop_low_bit: q <- SR(q / 2), exp <- exp + 1, bits - 1    stochastic rounding, saturated
* add_high_bit: bits + 1, q and exp unchanged               range doubles (saturation guard)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .prng import Rng
from .rounding import qmax, qmin, round_nearest_float, saturate, shift_round_stochastic


def container_bits(bits: int) -> int:
    """Smallest C integer container (int8/int16/int32) holding a `bits`-bit value."""
    for c in (8, 16, 32):
        if bits <= c:
            return c
    raise ValueError(f"bitwidth {bits} exceeds 32")


# Exponents of quantised tensors stay in [EXP_MIN, EXP_MAX]: with at most 12 low bits added by
# the controller (4..16 bits) every exponent still fits the int8 of the weights blob and STATS.
EXP_MIN, EXP_MAX = -100, 100


def exponent_for(amax: float, bits: int, headroom_bits: int = 0) -> int:
    """Smallest exponent whose `bits`-bit grid covers +-amax, plus `headroom_bits` extra range,
    clamped to [EXP_MIN, EXP_MAX] (values below 2^EXP_MIN quantise to 0)."""
    if not np.isfinite(amax) or amax <= 0.0:
        amax = 1.0
    ratio = amax / qmax(bits)
    # a subnormal amax makes the ratio underflow to 0: take the logarithms apart instead
    raw = math.log2(ratio) if ratio > 0.0 else math.log2(amax) - math.log2(qmax(bits))
    return min(max(int(math.ceil(raw)) + headroom_bits, EXP_MIN), EXP_MAX)


@dataclass
class QTensor:
    q: np.ndarray  # int32 values, always inside [qmin(bits), qmax(bits)]
    exp: int
    bits: int
    # device storage with the last axis first (dense kernels: [out][in]); per-element PRNG
    # draws follow the device order (prng.draws_u16)
    out_major: bool = False

    @classmethod
    def from_float(cls, w: np.ndarray, bits: int, headroom_bits: int = 1) -> "QTensor":
        """Quantise float weights (round to nearest) with a grid sized to max|w| plus headroom."""
        w = np.asarray(w, dtype=np.float64)
        exp = exponent_for(float(np.max(np.abs(w))) if w.size else 1.0, bits, headroom_bits)
        q = saturate(round_nearest_float(np.ldexp(w, -exp)), bits).astype(np.int32)
        return cls(q, exp, bits)

    def to_float(self) -> np.ndarray:
        return np.ldexp(self.q.astype(np.float64), self.exp).astype(np.float32)

    @property
    def size(self) -> int:
        return int(self.q.size)

    @property
    def step(self) -> float:
        """Quantisation step (one LSB) as a float."""
        return math.ldexp(1.0, self.exp)

    def add_low_bit(self) -> None:
        self.q = (self.q.astype(np.int64) << 1).astype(np.int32)
        self.exp -= 1
        self.bits += 1

    def drop_low_bit(self, rng: Rng) -> None:
        self.q = saturate(shift_round_stochastic(self.q, 1, rng, self.out_major),
                          self.bits - 1).astype(np.int32)
        self.exp += 1
        self.bits -= 1

    def add_high_bit(self) -> None:
        self.bits += 1

    def saturated_count(self) -> int:
        """Elements sitting at either end of the range (weights that outgrew it stick there)."""
        return int(np.count_nonzero((self.q <= qmin(self.bits)) | (self.q >= qmax(self.bits))))

    def copy(self) -> "QTensor":
        return QTensor(self.q.copy(), self.exp, self.bits, self.out_major)
