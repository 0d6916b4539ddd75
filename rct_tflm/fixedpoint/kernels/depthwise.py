"""DepthwiseConv2D kernels (kernel [kh, kw, cin, dm], output channel ci * dm + m, TF order);
twins of firmware/kernels/rct_depthwise_conv2d_*.c. Fan-in of one output is k_h * k_w."""
from __future__ import annotations

import numpy as np

from ..prng import Rng
from ..qtensor import QTensor
from .accum import ACC32
from .common import ACT_LINEAR, bias_term, i64, normalize_i16, requant_out, sat32_add
from .dense import check_acc
from .shapes import ConvShape, padded, window
from .grad_update import update


def depthwise_conv2d_forward(x: np.ndarray, x_exp: int, w: np.ndarray, w_bits: int,
                             w_exp: int, b: np.ndarray | None, b_bits: int, b_exp: int,
                             y_exp: int, sh: ConvShape, act: int = ACT_LINEAR,
                             acc: int = ACC32) -> np.ndarray:
    """y[s, oh, ow, ci*dm+m] = requant(sum_taps x[.., ci] w[kh, kw, ci, m] + align(b))."""
    w = i64(w)
    dm = sh.depth_multiplier
    check_acc(acc, sh.k_h * sh.k_w, w_bits)
    xp = padded(i64(x).reshape(-1, sh.in_h, sh.in_w, sh.in_c), sh)
    v = np.zeros((xp.shape[0], sh.out_h, sh.out_w, sh.in_c, dm), dtype=np.int64)
    for kh in range(sh.k_h):
        for kw in range(sh.k_w):
            v += window(xp, sh, kh, kw)[..., None] * w[kh, kw]
    v = v.reshape(xp.shape[0], sh.out_h, sh.out_w, sh.in_c * dm)
    e = x_exp + w_exp
    return requant_out(v + bias_term(b, b_bits, b_exp, e), e, y_exp, act)


def depthwise_conv2d_backward_input(dz: np.ndarray, dz_exp: int, w: np.ndarray, w_bits: int,
                                    w_exp: int, sh: ConvShape) -> tuple[np.ndarray, int]:
    """dx[s, h, w, ci] = sum_{taps, m} w[kh, kw, ci, m] dz[.., ci*dm+m], normalised to int16."""
    w = i64(w)
    dm = sh.depth_multiplier
    dz = i64(dz).reshape(-1, sh.out_h, sh.out_w, sh.in_c, dm)
    dxp = padded(np.zeros((dz.shape[0], sh.in_h, sh.in_w, sh.in_c), np.int64), sh)
    for kh in range(sh.k_h):
        for kw in range(sh.k_w):
            window(dxp, sh, kh, kw)[...] += (dz * w[kh, kw]).sum(axis=-1)
    dx = dxp[:, sh.pad_top:sh.pad_top + sh.in_h, sh.pad_left:sh.pad_left + sh.in_w, :]
    return normalize_i16(dx, w_exp + dz_exp)


def depthwise_conv2d_backward_weight(x: np.ndarray, dz: np.ndarray, sh: ConvShape,
                                     g: np.ndarray) -> None:
    """g[kh, kw, ci, m] <- sat32(g + sum_{s, oh, ow} x_tap[.., ci] dz[.., ci*dm+m]) in place."""
    dm = sh.depth_multiplier
    xp = padded(i64(x).reshape(-1, sh.in_h, sh.in_w, sh.in_c), sh)
    dz = i64(dz).reshape(-1, sh.in_c, dm)
    acc = np.zeros(g.shape, dtype=np.int64)
    for kh in range(sh.k_h):
        for kw in range(sh.k_w):
            xt = window(xp, sh, kh, kw).reshape(-1, sh.in_c)
            acc[kh, kw] = (xt[..., None] * dz).sum(axis=0)
    sat32_add(g, acc)


def depthwise_conv2d_backward_update(t: QTensor, x: np.ndarray, x_exp: int, dz: np.ndarray,
                                     dz_exp: int, sh: ConvShape, lr_shift: int, rng: Rng,
                                     stochastic: bool = True) -> int:
    """Fused: g = 0; depthwise_conv2d_backward_weight; update(g_exp = x_exp + dz_exp)."""
    g = np.zeros(t.q.shape, dtype=np.int32)
    depthwise_conv2d_backward_weight(x, dz, sh, g)
    return update(t, g, x_exp + dz_exp, lr_shift, rng, stochastic)
