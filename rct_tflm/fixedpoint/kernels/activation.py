"""ReLU/ReLU6 forward and backward and int8 requantisation; twins of rct_relu_*.c and
rct_requantize_i8.c. Flatten has no kernel: an NHWC row-major tensor is already flat."""
from __future__ import annotations

import numpy as np

from .common import i64, round_nearest, sat


def relu_forward(x: np.ndarray, upper: int = 127) -> np.ndarray:
    """y = min(max(x, 0), upper) as int8 (upper = 127 ReLU, relu6_upper(exp) ReLU6)."""
    return np.minimum(np.maximum(i64(x), 0), upper).astype(np.int8)


def relu_backward(y: np.ndarray, dy: np.ndarray, upper: int = 128) -> np.ndarray:
    """dy where 0 < y < upper else 0 (y is the activation's int8 output) -> int16."""
    y = i64(y)
    return np.where((y > 0) & (y < upper), i64(dy), 0).astype(np.int16)


def requantize_i8(x: np.ndarray, from_exp: int, to_exp: int) -> np.ndarray:
    """sat8(round_nearest(x, to_exp - from_exp)) as int8."""
    return sat(round_nearest(i64(x), to_exp - from_exp), 8).astype(np.int8)
