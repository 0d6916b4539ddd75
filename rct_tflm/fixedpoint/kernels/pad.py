"""Zero padding of an NHWC tensor (ZeroPadding2D) and its backward, the crop of the error.
Zero is real 0 at every exponent, so the padded tensor keeps its input's exponent."""
from __future__ import annotations

import numpy as np


def pad2d_forward(x: np.ndarray, top: int, bottom: int, left: int, right: int,
                  value: int = 0) -> np.ndarray:
    """x [n,h,w,c] int8 -> [n,h+top+bottom,w+left+right,c] int8, `value` around (ZeroPadding2D:
    0; a TFLite PAD: the output zero point)."""
    return np.pad(np.asarray(x, np.int8), [(0, 0), (top, bottom), (left, right), (0, 0)],
                  constant_values=value)


def pad2d_backward(dy: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """dy [n,H,W,c] int16 -> dx [n,H-top-bottom,W-left-right,c]: the error of the kept cells."""
    n, h, w, c = dy.shape
    return np.asarray(dy, np.int16)[:, top:h - bottom, left:w - right].copy()
