"""TFLite's fixed-point rescaling: QuantizeMultiplier (a real scale as a Q31 significand and a
power-of-two shift) and MultiplyByQuantizedMultiplier in its default double-rounding form
(gemmlowp's SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT; tflite-micro is built
without TFLITE_SINGLE_ROUNDING). Vectorised over int64 numpy arrays, exact."""
from __future__ import annotations

import math

import numpy as np

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def quantize_multiplier(real: float) -> tuple[int, int]:
    """(quantized_multiplier, shift) with real ≈ qm · 2^(shift − 31), as TFLite's
    QuantizeMultiplier (frexp, std::round half away from zero, 2^31 carried into the shift)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = int(math.floor(abs(q) * (1 << 31) + 0.5)) * (1 if q >= 0 else -1)
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return q_fixed, shift


def srdhm(a: np.ndarray, b: int) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul(a, b) on int32 values held as int64."""
    a = np.asarray(a, dtype=np.int64)
    ab = a * np.int64(b)
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    v = ab + nudge
    high = np.where(v >= 0, v >> 31, -((-v) >> 31))  # C division: truncates towards zero
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, high)


def rounding_divide_by_pot(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp's RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from 0."""
    x = np.asarray(x, dtype=np.int64)
    if exponent == 0:
        return x
    mask = np.int64((1 << exponent) - 1)
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def mbqm(x: np.ndarray, qm: int, shift: int) -> np.ndarray:
    """MultiplyByQuantizedMultiplier(x, qm, shift), elementwise."""
    left = shift if shift > 0 else 0
    right = 0 if shift > 0 else -shift
    return rounding_divide_by_pot(srdhm(np.asarray(x, np.int64) * (1 << left), qm), right)


def mbqm_per_channel(x: np.ndarray, qms: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """mbqm along the last axis, one (qm, shift) per channel."""
    out = np.empty(np.shape(x), dtype=np.int64)
    for c in range(np.shape(x)[-1]):
        out[..., c] = mbqm(x[..., c], int(qms[c]), int(shifts[c]))
    return out


def activation_range(activation: int, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8: fused ReLU / ReLU6 / ReLU_N1_TO_1 clamps
    (quantize(f) = zp + round(f / scale) in float32, as TFLite computes it)."""
    s = np.float32(scale)

    def q(f: float) -> int:
        return int(zero_point) + _round_away(float(np.float32(np.float32(f) / s)))
    lo, hi = -128, 127
    if activation == 1:
        return max(lo, q(0.0)), hi
    if activation == 3:
        return max(lo, q(0.0)), min(hi, q(6.0))
    if activation == 2:
        return max(lo, q(-1.0)), min(hi, q(1.0))
    return lo, hi


def _round_away(v: float) -> int:
    return int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1)
