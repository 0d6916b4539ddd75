"""Geometry of conv/pool layers: the twin of rct_conv_shape_t (Keras/TF padding rules)."""
from __future__ import annotations

from dataclasses import astuple, dataclass, replace

FIELDS = ("n", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w", "stride_h",
          "stride_w", "pad_top", "pad_left", "depth_multiplier")


@dataclass(frozen=True)
class ConvShape:
    n: int
    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    k_h: int
    k_w: int
    stride_h: int
    stride_w: int
    pad_top: int
    pad_left: int
    depth_multiplier: int = 1

    def as_tuple(self) -> tuple[int, ...]:
        """Fields in the C struct's order."""
        return astuple(self)

    def with_n(self, n: int) -> "ConvShape":
        return replace(self, n=int(n))

    @property
    def positions(self) -> int:
        return self.out_h * self.out_w


def _out_and_pad(size: int, k: int, stride: int, padding: str) -> tuple[int, int]:
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + k - size, 0)
        return out, total // 2
    if padding == "valid":
        if size < k:
            raise ValueError(f"'valid' window {k} larger than input {size}")
        return (size - k) // stride + 1, 0
    raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")


def conv_shape(in_h: int, in_w: int, in_c: int, k_h: int, k_w: int, stride_h: int,
               stride_w: int, padding: str, out_c: int | None = None, n: int = 1,
               depth_multiplier: int = 1) -> ConvShape:
    """Geometry of a conv2d (out_c = filters), depthwise (out_c None -> in_c * depth_multiplier)
    or pool (out_c None, depth_multiplier 1 -> in_c) layer, TF 'same'/'valid' rules."""
    oh, pt = _out_and_pad(in_h, k_h, stride_h, padding)
    ow, pl = _out_and_pad(in_w, k_w, stride_w, padding)
    oc = in_c * depth_multiplier if out_c is None else out_c
    return ConvShape(int(n), in_h, in_w, in_c, oh, ow, oc, k_h, k_w, stride_h, stride_w, pt, pl,
                     depth_multiplier)


def global_pool_shape(in_h: int, in_w: int, in_c: int, n: int = 1) -> ConvShape:
    """A global average pool (H x W x C -> C) as the average pool whose one window is the whole
    input: the avgpool2d kernels run it unchanged (count = H * W, no padding)."""
    return conv_shape(in_h, in_w, in_c, in_h, in_w, 1, 1, "valid", n=n)


def padded(x, sh: ConvShape, fill: int = 0):
    """x [n, h, w, c] zero-padded (or `fill`) so that every window of the output grid fits."""
    import numpy as np
    hp = max((sh.out_h - 1) * sh.stride_h + sh.k_h, sh.in_h + sh.pad_top)
    wp = max((sh.out_w - 1) * sh.stride_w + sh.k_w, sh.in_w + sh.pad_left)
    out = np.full((x.shape[0], hp, wp, x.shape[3]), fill, dtype=np.int64)
    out[:, sh.pad_top:sh.pad_top + sh.in_h, sh.pad_left:sh.pad_left + sh.in_w, :] = x
    return out


def window(xp, sh: ConvShape, kh: int, kw: int):
    """The [n, out_h, out_w, c] view of padded input tap (kh, kw) for every output position."""
    return xp[:, kh:kh + sh.stride_h * (sh.out_h - 1) + 1:sh.stride_h,
              kw:kw + sh.stride_w * (sh.out_w - 1) + 1:sh.stride_w, :]
