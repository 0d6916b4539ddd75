"""CONV_2D and DEPTHWISE_CONV_2D, int8 per-channel (reference_integer_ops::ConvPerChannel,
DepthwiseConvPerChannel): acc = bias + Σ (x − zp_in)·w over the window inside the image (the
padding contributes nothing), then per output channel MultiplyByQuantizedMultiplier, + zp_out,
clamped to the fused activation's range."""
from __future__ import annotations

import numpy as np

from .geometry import out_size, pad_before
from .multiplier import mbqm_per_channel


def _windows(x: np.ndarray, kh: int, kw: int, stride: tuple[int, int],
             dilation: tuple[int, int], padding: str):
    """(input rows for every window position, out H, out W): x − zp already, zero padded."""
    n, h, w, c = x.shape
    oh = out_size(padding, h, kh, stride[0], dilation[0])
    ow = out_size(padding, w, kw, stride[1], dilation[1])
    ph = pad_before(padding, h, kh, stride[0], dilation[0])
    pw = pad_before(padding, w, kw, stride[1], dilation[1])
    need_h = (oh - 1) * stride[0] + (kh - 1) * dilation[0] + 1
    need_w = (ow - 1) * stride[1] + (kw - 1) * dilation[1] + 1
    xp = np.zeros((n, max(need_h, ph + h), max(need_w, pw + w), c), np.int64)
    xp[:, ph:ph + h, pw:pw + w] = x
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dilation[0], kx * dilation[1]
            yield ky, kx, xp[:, y0:y0 + (oh - 1) * stride[0] + 1:stride[0],
                             x0:x0 + (ow - 1) * stride[1] + 1:stride[1]]


def conv2d(x: np.ndarray, zp_in: int, w: np.ndarray, bias: np.ndarray | None, qms, shifts,
           zp_out: int, act: tuple[int, int], stride=(1, 1), dilation=(1, 1),
           padding: str = "valid") -> np.ndarray:
    """x [N,H,W,C] int8, w [O,KH,KW,C] int8, bias [O] int32 → [N,OH,OW,O] int8."""
    o, kh, kw, _ = w.shape
    xs = x.astype(np.int64) - zp_in
    acc = None
    for ky, kx, win in _windows(xs, kh, kw, stride, dilation, padding):
        part = win @ w[:, ky, kx, :].astype(np.int64).T
        acc = part if acc is None else acc + part
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    return _requant(acc, qms, shifts, zp_out, act)


def depthwise_conv2d(x: np.ndarray, zp_in: int, w: np.ndarray, bias: np.ndarray | None, qms,
                     shifts, zp_out: int, act: tuple[int, int], depth_multiplier: int = 1,
                     stride=(1, 1), dilation=(1, 1), padding: str = "valid") -> np.ndarray:
    """x [N,H,W,C] int8, w [1,KH,KW,C·dm] int8 (output channel c·dm + m reads input c)."""
    _, kh, kw, o = w.shape
    xs = np.repeat(x.astype(np.int64) - zp_in, depth_multiplier, axis=3)
    acc = None
    for ky, kx, win in _windows(xs, kh, kw, stride, dilation, padding):
        part = win * w[0, ky, kx, :].astype(np.int64)
        acc = part if acc is None else acc + part
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    return _requant(acc, qms, shifts, zp_out, act)


def _requant(acc: np.ndarray, qms, shifts, zp_out: int, act: tuple[int, int]) -> np.ndarray:
    out = mbqm_per_channel(acc, np.asarray(qms), np.asarray(shifts)) + zp_out
    return np.clip(out, act[0], act[1]).astype(np.int8)
