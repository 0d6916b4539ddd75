"""Softmax + cross-entropy gradient without floats; twin of firmware/kernels/rct_softmax_ce.c.

Per sample, logits z (int8 at exponent z_exp):
  d_j  = min(round_nearest(zmax - z_j, -16 - z_exp), 32 * 2^16)      distance to the max, Q16.16
  u_j  = round_nearest(d_j * LOG2E_Q16, 16)                          d_j * log2(e), Q16.16
  e_j  = interp(EXP2_Q30, u_j & 0xffff) >> (u_j >> 16)  (0 if the shift >= 31)   2^30 exp(-d_j)
         interp(T, f) = T[f >> 8] - (((T[f >> 8] - T[(f >> 8) + 1]) * (f & 255)) >> 8)
  S    = sum_j e_j                       (>= 2^30: the maximum has e = 2^30)
  p_j  = div_round(e_j * 2^15, S)        probability, Q15 (exponent -15)
  dz_j = sat16(p_j - 2^15 [j == label])  gradient of the CE loss w.r.t. z, exponent -15
  loss = d_label + round_nearest((log2_q16(S) - 30 * 2^16) * LN2_Q16, 16)      Q16.16, stats only
  log2_q16(S): b = bitlen(S) - 1, m = S >> (b - 30) in [2^30, 2^31),
               b * 2^16 + interp'(LOG2_Q16, (m >> 14) & 0xffff) with interp' rising linearly.
The table interpolation error is below 2^-16 relative (exp) and 2^-17 (log2).
"""
from __future__ import annotations

import numpy as np

from .common import div_round, i64, round_nearest, sat
from .softmax_tables import EXP2_Q30, LN2_Q16, LOG2_Q16, LOG2E_Q16

CE_GRAD_EXP = -15
D_CAP_Q16 = 32 << 16
_T = np.array(EXP2_Q30, dtype=np.int64)
_L = np.array(LOG2_Q16, dtype=np.int64)


def exp_neg_q30(d_q16: np.ndarray) -> np.ndarray:
    """2^30 * exp(-d) for d >= 0 in Q16.16 (int64 array)."""
    u = round_nearest(i64(d_q16) * LOG2E_Q16, 16)
    k = u >> 16
    f = u & 0xFFFF
    j = f >> 8
    t = f & 255
    frac = _T[j] - (((_T[j] - _T[j + 1]) * t) >> 8)
    return np.where(k >= 31, 0, frac >> np.minimum(k, 62))


def log2_q16(s: int) -> int:
    """log2(s) in Q16.16 for s >= 2^30 (Python int)."""
    b = int(s).bit_length() - 1
    m = int(s) >> (b - 30)
    f = (m >> 14) & 0xFFFF
    j, t = f >> 8, f & 255
    return (b << 16) + LOG2_Q16[j] + (((LOG2_Q16[j + 1] - LOG2_Q16[j]) * t) >> 8)


def argmax_i8(z: np.ndarray) -> int:
    """First index of the maximum."""
    return int(np.argmax(np.asarray(z)))


def softmax_ce(z: np.ndarray, z_exp: int, labels: np.ndarray) -> tuple[np.ndarray, int, int]:
    """z [n, classes] int8 -> (dz int16 [n, classes] at CE_GRAD_EXP, loss_q16_sum (int32-
    saturated sum over samples), number of samples whose first argmax equals the label)."""
    z = i64(z).reshape(len(labels), -1)
    labels = np.asarray(labels, dtype=np.int64)
    zmax = z.max(axis=1, keepdims=True)
    d = np.minimum(round_nearest(zmax - z, -16 - int(z_exp)), D_CAP_Q16)
    e = exp_neg_q30(d)
    s = e.sum(axis=1, keepdims=True)
    p = div_round(e << np.int64(15), s)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(labels)), labels] = 1 << 15
    dz = sat(p - onehot, 16).astype(np.int16)
    loss = 0
    for i, lab in enumerate(labels):
        ln_s = int(round_nearest(np.int64((log2_q16(int(s[i, 0])) - (30 << 16)) * LN2_Q16), 16))
        loss += int(d[i, lab]) + ln_s
    loss = int(min(max(loss, -(1 << 31)), (1 << 31) - 1))
    correct = int(np.sum(np.argmax(z, axis=1) == labels))
    return dz, loss, correct
