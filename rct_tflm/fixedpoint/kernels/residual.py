"""Residual Add: forward sum of two int8 branches, and the sum of two errors at one tensor;
twins of firmware/kernels/rct_add_forward.c and rct_err_add.c.

Both align their operands to a common exponent e = max(min(ea, eb), max(ea, eb) - ALIGN_MAX):
the finer operand is shifted left (exact) unless the exponents are more than ALIGN_MAX apart,
when the finer one is rounded to nearest onto 2^e first (its part is then below 2^-16 of the
other's range, and the sum stays within int64).

Backward of an Add is the identity on each branch (the error of y flows unchanged to a and b;
saturation of y is straight-through, like the rest of the engine), so it needs no kernel; a
tensor read by two consumers (the skip) receives two errors, summed by `err_add`.
"""
from __future__ import annotations

import numpy as np

from .common import i64, normalize_i16, round_nearest, sat

ALIGN_MAX = 16


def align_exp(ea: int, eb: int) -> int:
    """The common exponent of two operands (see the module docstring)."""
    return max(min(int(ea), int(eb)), max(int(ea), int(eb)) - ALIGN_MAX)


def add_forward(a: np.ndarray, a_exp: int, b: np.ndarray, b_exp: int, y_exp: int) -> np.ndarray:
    """y = sat8(round_nearest(a' + b', y_exp - e)), a' = round_nearest(a, e - a_exp) (a left
    shift when e < a_exp), b' likewise -> int8 with the shape of a."""
    e = align_exp(a_exp, b_exp)
    s = round_nearest(i64(a), e - a_exp) + round_nearest(i64(b), e - b_exp)
    return sat(round_nearest(s, int(y_exp) - e), 8).astype(np.int8).reshape(np.shape(a))


def err_add(da: np.ndarray, da_exp: int, db: np.ndarray, db_exp: int) -> tuple[np.ndarray, int]:
    """(da' + db') normalised to int16 with the dynamic exponent rule, based at e."""
    e = align_exp(da_exp, db_exp)
    s = round_nearest(i64(da), e - da_exp) + round_nearest(i64(db), e - db_exp)
    dx, exp = normalize_i16(s, e)
    return dx.reshape(np.shape(da)), exp
