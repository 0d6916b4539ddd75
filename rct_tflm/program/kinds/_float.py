"""What the kinds' FP32 reference forwards (`float_forward`, numpy float64) share: Keras'
padding and window rules, im2col, pooling and the fused activation. The integer engine has no
float code; this is the reference it is compared with (rct_tflm/emulator/floatref.py)."""
from __future__ import annotations

from typing import Any

import numpy as np


def pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def conv_out(n: int, k: int, s: int, padding: str) -> int:
    return -(-n // s) if padding == "same" else (n - k) // s + 1


def pad_same(n: int, k: int, s: int) -> tuple[int, int]:
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def im2col(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, padding: str) -> np.ndarray:
    """x (N,H,W,C) -> (N,OH,OW,kh*kw*C) patches (order kh, kw, c), zero padded like Keras 'same'."""
    n, h, w, c = x.shape
    if padding == "same":
        pt, pb = pad_same(h, kh, sh)
        pl, pr = pad_same(w, kw, sw)
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    oh, ow = conv_out(h, kh, sh, padding), conv_out(w, kw, sw, padding)
    cols = np.empty((n, oh, ow, kh, kw, c), x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = x[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :]
    return cols.reshape(n, oh, ow, kh * kw * c)


def act(y: np.ndarray, a: str) -> np.ndarray:
    if a == "relu":
        return np.maximum(y, 0)
    if a == "relu6":
        return np.clip(y, 0, 6)
    return y


def windows(a: np.ndarray, c: dict) -> np.ndarray:
    """Pooling windows (taps, N, OH, OW, C), Keras rules: 'same' pads with NaN, which the
    reductions (nanmax, nanmean) skip, as TF ignores padded taps."""
    ph, pw = pair(c["pool_size"])
    sh, sw = pair(c.get("strides") or c["pool_size"])
    n, h, wd, ch = a.shape
    pad = c.get("padding", "valid")
    if pad == "same":
        pt, pb = pad_same(h, ph, sh)
        pl, pr = pad_same(wd, pw, sw)
        a = np.pad(a, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=np.nan)
    oh, ow = conv_out(h, ph, sh, pad), conv_out(wd, pw, sw, pad)
    return np.stack([a[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :]
                     for i in range(ph) for j in range(pw)])


def window_out(c: dict, shape: tuple[int, ...]) -> tuple[int, int]:
    """(OH, OW) of a conv or pool layer on an H x W x C input."""
    h, w, _ = shape
    ks = pair(c["kernel_size"] if "kernel_size" in c else c["pool_size"])
    st = pair(c.get("strides") or c["pool_size"])
    pad = c.get("padding", "valid")
    return conv_out(h, ks[0], st[0], pad), conv_out(w, ks[1], st[1], pad)
