"""AVERAGE_POOL_2D and MAX_POOL_2D int8 (reference_integer_ops::AveragePool / MaxPool): the
window clipped to the image (padding is not counted), the average rounded half away from zero
by C integer division, clamped to the fused activation; input and output share scale and zp."""
from __future__ import annotations

import numpy as np

from .geometry import out_size, pad_before


def _pool(x: np.ndarray, filt, stride, padding: str, reduce):
    n, h, w, c = x.shape
    oh = out_size(padding, h, filt[0], stride[0])
    ow = out_size(padding, w, filt[1], stride[1])
    ph, pw = pad_before(padding, h, filt[0], stride[0]), pad_before(padding, w, filt[1], stride[1])
    out = np.empty((n, oh, ow, c), np.int64)
    for oy in range(oh):
        y0 = oy * stride[0] - ph
        ys = slice(max(0, y0), min(h, y0 + filt[0]))
        for ox in range(ow):
            x0 = ox * stride[1] - pw
            xs = slice(max(0, x0), min(w, x0 + filt[1]))
            out[:, oy, ox] = reduce(x[:, ys, xs].astype(np.int64).reshape(n, -1, c))
    return out


def average_pool(x: np.ndarray, filt, stride, padding: str, act: tuple[int, int]) -> np.ndarray:
    def avg(win: np.ndarray) -> np.ndarray:
        count = win.shape[1]
        s = win.sum(axis=1)
        q = np.where(s > 0, s + count // 2, s - count // 2)
        return np.sign(q) * (np.abs(q) // count)  # C division truncates towards zero
    return np.clip(_pool(x, filt, stride, padding, avg), act[0], act[1]).astype(np.int8)


def max_pool(x: np.ndarray, filt, stride, padding: str, act: tuple[int, int]) -> np.ndarray:
    out = _pool(x, filt, stride, padding, lambda win: win.max(axis=1))
    return np.clip(out, act[0], act[1]).astype(np.int8)
