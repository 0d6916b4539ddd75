"""MaxPool2D / AveragePool2D forward and backward; twins of rct_maxpool2d_*.c, rct_avgpool2d_*.c.

Pools keep the exponent of their input. Padding taps are skipped (TF): max ignores them and
the average divides by the number of valid taps. The global average pools (gap2d, gap1d) are
the average pool on shapes.global_pool_shape: one window over the whole input.
"""
from __future__ import annotations

import numpy as np

from .common import div_round, i64, normalize_i16, sat
from .shapes import ConvShape, padded, window

AVG_BACK_FRAC = 8  # avgpool backward works at exponent dy_exp - 8


def _valid(sh: ConvShape) -> np.ndarray:
    """int64 [1, hp, wp, 1] mask of real (non-padding) taps."""
    return padded(np.ones((1, sh.in_h, sh.in_w, 1), np.int64), sh)


def _argmax_taps(x: np.ndarray, sh: ConvShape) -> np.ndarray:
    """Index kh * k_w + kw of the first maximum of every window -> [n, oh, ow, c]."""
    xp = padded(i64(x).reshape(-1, sh.in_h, sh.in_w, sh.in_c), sh, fill=-1000)
    best = np.full((xp.shape[0], sh.out_h, sh.out_w, sh.in_c), -1000, np.int64)
    arg = np.zeros(best.shape, np.int64)
    for kh in range(sh.k_h):
        for kw in range(sh.k_w):
            v = window(xp, sh, kh, kw)
            better = v > best
            best = np.where(better, v, best)
            arg = np.where(better, kh * sh.k_w + kw, arg)
    return arg


def maxpool2d_forward(x: np.ndarray, sh: ConvShape, with_arg: bool = False):
    """Window maximum over valid taps -> int8 [n, oh, ow, c]; with_arg: (y, arg), arg the uint8
    window index kh * k_w + kw of each window's first maximum (what rct_maxpool2d_forward
    writes for the backward pass; k_h * k_w <= 256)."""
    xp = padded(i64(x).reshape(-1, sh.in_h, sh.in_w, sh.in_c), sh, fill=-1000)
    best = np.full((xp.shape[0], sh.out_h, sh.out_w, sh.in_c), -1000, np.int64)
    for kh in range(sh.k_h):
        for kw in range(sh.k_w):
            best = np.maximum(best, window(xp, sh, kh, kw))
    y = best.astype(np.int8)
    if not with_arg:
        return y
    if sh.k_h * sh.k_w > 256:
        raise ValueError(f"max-pool window of {sh.k_h * sh.k_w} taps; the argmax is uint8 (<= 256)")
    return y, _argmax_taps(x, sh).astype(np.uint8)


def maxpool2d_backward(arg: np.ndarray, dy: np.ndarray, dy_exp: int, sh: ConvShape,
                       y: np.ndarray | None = None, upper: int = 128) -> tuple[np.ndarray, int]:
    """dy routed to each window's first maximum (arg from maxpool2d_forward), summed over
    windows, normalised to int16. With y (the pool's output) dy counts only where
    0 < y < upper: the preceding layer's activation mask folded in, which for non-overlapping
    windows equals relu_backward(that layer's output, dx, upper)."""
    arg = i64(arg).reshape(-1, sh.out_h, sh.out_w, sh.in_c)
    dy = i64(dy).reshape(arg.shape)
    if y is not None:
        yv = i64(y).reshape(arg.shape)
        dy = np.where((yv > 0) & (yv < upper), dy, 0)
    dxp = padded(np.zeros((arg.shape[0], sh.in_h, sh.in_w, sh.in_c), np.int64), sh)
    for kh in range(sh.k_h):
        for kw in range(sh.k_w):
            window(dxp, sh, kh, kw)[...] += np.where(arg == kh * sh.k_w + kw, dy, 0)
    dx = dxp[:, sh.pad_top:sh.pad_top + sh.in_h, sh.pad_left:sh.pad_left + sh.in_w, :]
    return normalize_i16(dx, dy_exp)


def _counts(sh: ConvShape) -> np.ndarray:
    valid = _valid(sh)
    cnt = np.zeros((1, sh.out_h, sh.out_w, 1), np.int64)
    for kh in range(sh.k_h):
        for kw in range(sh.k_w):
            cnt += window(valid, sh, kh, kw)
    return cnt


def avgpool2d_forward(x: np.ndarray, sh: ConvShape) -> np.ndarray:
    """y = sat8(div_round(sum of valid taps, count)) -> int8 [n, oh, ow, c]."""
    xp = padded(i64(x).reshape(-1, sh.in_h, sh.in_w, sh.in_c), sh)
    s = np.zeros((xp.shape[0], sh.out_h, sh.out_w, sh.in_c), np.int64)
    for kh in range(sh.k_h):
        for kw in range(sh.k_w):
            s += window(xp, sh, kh, kw)
    return sat(div_round(s, _counts(sh)), 8).astype(np.int8)


def avgpool2d_backward(dy: np.ndarray, dy_exp: int, sh: ConvShape) -> tuple[np.ndarray, int]:
    """dx_i = sum over windows containing i of div_round(dy * 2^8, count), at exponent
    dy_exp - 8, normalised to int16."""
    dy = i64(dy).reshape(-1, sh.out_h, sh.out_w, sh.in_c)
    c = div_round(dy << np.int64(AVG_BACK_FRAC), _counts(sh))
    valid = _valid(sh)
    dxp = padded(np.zeros((dy.shape[0], sh.in_h, sh.in_w, sh.in_c), np.int64), sh)
    for kh in range(sh.k_h):
        for kw in range(sh.k_w):
            window(dxp, sh, kh, kw)[...] += c * window(valid, sh, kh, kw)
    dx = dxp[:, sh.pad_top:sh.pad_top + sh.in_h, sh.pad_left:sh.pad_left + sh.in_w, :]
    return normalize_i16(dx, dy_exp - AVG_BACK_FRAC)
