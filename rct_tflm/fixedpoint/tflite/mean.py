"""MEAN int8 (tflite-micro reduce_common.cc + reference_ops::QuantizedMeanOrSum): the int32 sum
over the axes, less zp_in·count, times the input/output scale multiplier folded with 1/count
(multiplier·2^k / count, k = floor(log2 count) capped at 32 and at 31 + shift), + zp_out."""
from __future__ import annotations

import numpy as np

from .multiplier import mbqm, quantize_multiplier


def mean_multiplier(s_in: float, s_out: float, count: int) -> tuple[int, int]:
    """The (qm, shift) of a MEAN over `count` elements: s_in/s_out with 1/count folded in."""
    qm, shift = quantize_multiplier(float(np.float32(s_in)) / float(np.float32(s_out)))
    k = min(count.bit_length() - 1, 32, 31 + shift)
    return (qm << k) // count, shift - k


def mean(x: np.ndarray, axes: tuple[int, ...], keep_dims: bool, s_in: float, zp_in: int,
         s_out: float, zp_out: int) -> np.ndarray:
    count = int(np.prod([x.shape[a] for a in axes]))
    qm, shift = mean_multiplier(s_in, s_out, count)
    s = x.astype(np.int64).sum(axis=tuple(axes), keepdims=keep_dims) - zp_in * count
    return np.clip(mbqm(s, qm, shift) + zp_out, -128, 127).astype(np.int8)
