"""TFLite's padding arithmetic (ComputePaddingHeightWidth): SAME pads the total the window
needs, the smaller half before; VALID pads nothing."""
from __future__ import annotations


def out_size(padding: str, size: int, filt: int, stride: int, dilation: int = 1) -> int:
    eff = (filt - 1) * dilation + 1
    return (size + stride - 1) // stride if padding == "same" else (size - eff + stride) // stride


def pad_before(padding: str, size: int, filt: int, stride: int, dilation: int = 1) -> int:
    if padding != "same":
        return 0
    eff = (filt - 1) * dilation + 1
    out = out_size(padding, size, filt, stride, dilation)
    return max((out - 1) * stride + eff - size, 0) // 2
