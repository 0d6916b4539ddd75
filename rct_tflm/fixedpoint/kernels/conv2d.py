"""Conv2D kernels (NHWC, kernel [kh, kw, cin, cout]); twins of firmware/kernels/rct_conv2d_*.c.

Padding taps read 0. All sums are exact in int64, so the order of summation (gather in C,
per-tap slices here) does not matter.
"""
from __future__ import annotations

import numpy as np

from ..prng import Rng
from ..qtensor import QTensor
from .accum import ACC32
from .common import ACT_LINEAR, bias_term, i64, normalize_i16, requant_out, sat32_add
from .dense import check_acc
from .shapes import ConvShape, padded, window
from .grad_update import update


def conv2d_forward(x: np.ndarray, x_exp: int, w: np.ndarray, w_bits: int, w_exp: int,
                   b: np.ndarray | None, b_bits: int, b_exp: int, y_exp: int, sh: ConvShape,
                   act: int = ACT_LINEAR, acc: int = ACC32) -> np.ndarray:
    """Same quantisation as dense_forward with fan_in = k_h * k_w * in_c. -> y [n, oh, ow, cout]."""
    w = i64(w)
    check_acc(acc, sh.k_h * sh.k_w * sh.in_c, w_bits)
    xp = padded(i64(x).reshape(-1, sh.in_h, sh.in_w, sh.in_c), sh)
    v = np.zeros((xp.shape[0], sh.out_h, sh.out_w, sh.out_c), dtype=np.int64)
    for kh in range(sh.k_h):
        for kw in range(sh.k_w):
            v += window(xp, sh, kh, kw) @ w[kh, kw]
    e = x_exp + w_exp
    return requant_out(v + bias_term(b, b_bits, b_exp, e), e, y_exp, act)


def conv2d_backward_input(dz: np.ndarray, dz_exp: int, w: np.ndarray, w_bits: int, w_exp: int,
                          sh: ConvShape) -> tuple[np.ndarray, int]:
    """dx[s, h, w, ci] = sum over taps/cout of w * dz, normalised to int16 -> (dx, dx_exp)."""
    w = i64(w)
    dz = i64(dz).reshape(-1, sh.out_h, sh.out_w, sh.out_c)
    dxp = padded(np.zeros((dz.shape[0], sh.in_h, sh.in_w, sh.in_c), np.int64), sh)
    for kh in range(sh.k_h):
        for kw in range(sh.k_w):
            window(dxp, sh, kh, kw)[...] += dz @ w[kh, kw].T
    dx = dxp[:, sh.pad_top:sh.pad_top + sh.in_h, sh.pad_left:sh.pad_left + sh.in_w, :]
    return normalize_i16(dx, w_exp + dz_exp)


def conv2d_backward_weight(x: np.ndarray, dz: np.ndarray, sh: ConvShape, g: np.ndarray) -> None:
    """g[kh, kw, ci, co] <- sat32(g + sum_{s, oh, ow} x_tap * dz) in place."""
    xp = padded(i64(x).reshape(-1, sh.in_h, sh.in_w, sh.in_c), sh)
    dz = i64(dz).reshape(-1, sh.out_h, sh.out_w, sh.out_c)
    dz2 = dz.reshape(-1, sh.out_c)
    acc = np.zeros(g.shape, dtype=np.int64)
    for kh in range(sh.k_h):
        for kw in range(sh.k_w):
            acc[kh, kw] = window(xp, sh, kh, kw).reshape(-1, sh.in_c).T @ dz2
    sat32_add(g, acc)


def conv2d_backward_update(t: QTensor, x: np.ndarray, x_exp: int, dz: np.ndarray, dz_exp: int,
                           sh: ConvShape, lr_shift: int, rng: Rng,
                           stochastic: bool = True) -> int:
    """Fused: g = 0; conv2d_backward_weight; update(g_exp = x_exp + dz_exp). Returns Gavg Q16."""
    g = np.zeros(t.q.shape, dtype=np.int32)
    conv2d_backward_weight(x, dz, sh, g)
    return update(t, g, x_exp + dz_exp, lr_shift, rng, stochastic)
