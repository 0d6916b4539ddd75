"""ADD int8 (tflite-micro add_common.cc + reference_integer_ops::AddFunc): both inputs shifted
left by 20 bits, rescaled to twice the larger input scale, summed, rescaled to the output."""
from __future__ import annotations

import numpy as np

from .multiplier import mbqm, quantize_multiplier

LEFT_SHIFT = 20  # int8 (int16 uses 15)


def add_params(s1: float, s2: float, s_out: float) -> tuple[tuple[int, int], ...]:
    """((qm1, shift1), (qm2, shift2), (qm_out, shift_out)) from the float32 scales, in double."""
    twice = 2 * float(max(np.float32(s1), np.float32(s2)))
    return (quantize_multiplier(float(np.float32(s1)) / twice),
            quantize_multiplier(float(np.float32(s2)) / twice),
            quantize_multiplier(twice / ((1 << LEFT_SHIFT) * float(np.float32(s_out)))))


def add(a: np.ndarray, zp_a: int, b: np.ndarray, zp_b: int, params, zp_out: int,
        act: tuple[int, int]) -> np.ndarray:
    (q1, e1), (q2, e2), (qo, eo) = params
    va = mbqm((a.astype(np.int64) - zp_a) * (1 << LEFT_SHIFT), q1, e1)
    vb = mbqm((b.astype(np.int64) - zp_b) * (1 << LEFT_SHIFT), q2, e2)
    out = mbqm(va + vb, qo, eo) + zp_out
    return np.clip(out, act[0], act[1]).astype(np.int8)
