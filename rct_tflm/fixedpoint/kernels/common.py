"""Integer helpers shared by the golden kernels; each mirrors an inline helper in rct.h.

Every array op works on int64 numpy arrays. The C side bounds its int64 values by 2^62 (see
docs/numerics.md), and these twins reproduce its clamps exactly, not the unbounded maths.
"""
from __future__ import annotations

import numpy as np

from ..prng import Rng, draws_u16

ACT_LINEAR, ACT_RELU, ACT_RELU6 = 0, 1, 2
ACTIVATIONS = {"linear": ACT_LINEAR, "relu": ACT_RELU, "relu6": ACT_RELU6}
INT32_MAX = (1 << 31) - 1
RELU_NO_UPPER = 128  # rct_relu_backward's `upper` for plain ReLU (never reached by int8)


def i64(v) -> np.ndarray:
    return np.asarray(v, dtype=np.int64)


def asr(v, s: int) -> np.ndarray:
    """floor(v / 2**s), 0 <= s <= 63 (rct_asr64)."""
    return i64(v) >> np.int64(s)


def shl_sat(v, k: int) -> np.ndarray:
    """v * 2**k after clipping |v| to 2**(62-k), k capped at 62 (rct_shl_sat64)."""
    k = min(int(k), 62)
    lim = 1 << (62 - k)
    return np.clip(i64(v), -lim, lim) << np.int64(k)


def round_nearest(v, s: int) -> np.ndarray:
    """Contract round-to-nearest shift with the C clamps (rct_round_nearest64)."""
    s = int(s)
    if s <= 0:
        return shl_sat(v, -s)
    if s >= 63:
        return np.zeros(np.shape(v), dtype=np.int64)
    return (i64(v) + np.int64(1 << (s - 1))) >> np.int64(s)


def round_stochastic(v, s: int, rng: Rng, out_major: bool = False) -> np.ndarray:
    """Contract stochastic shift (rct_round_stochastic64): iff s >= 1 one 16-bit uniform per
    element in device order (draws_u16), r = u16 << 16."""
    s = int(s)
    v = i64(v)
    if s <= 0:
        return shl_sat(v, -s)
    s1 = min(s, 31)
    r = draws_u16(rng, v.shape, out_major) << np.int64(16)
    out = (v + (r >> np.int64(32 - s1))) >> np.int64(s1)
    rest = s - s1
    if rest >= 63:
        return np.where(out < 0, -1, 0).astype(np.int64)
    return out >> np.int64(rest)


def sat(v, bits: int) -> np.ndarray:
    """Clip to the signed range of `bits` bits."""
    return np.clip(i64(v), -(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def div_round(a, c) -> np.ndarray:
    """Round-to-nearest a / c for c > 0, ties to +inf: floor((2a + c) / (2c))."""
    a, c = i64(a), i64(c)
    return np.floor_divide(2 * a + c, 2 * c)


def bitlen(m: int) -> int:
    return int(m).bit_length()


def normalize_i16(v, base_exp: int) -> tuple[np.ndarray, int]:
    """int64 error tensor -> (int16 values, exponent), the dynamic per-tensor exponent rule.

    m = max over elements of (v if v >= 0 else -v - 1); shift = max(0, bitlen(m) - 15);
    out = sat16(round_nearest(v, shift)); exponent = base_exp + shift. (Only the top corner,
    v just below 2^(15+shift), can round to 2^15 and saturate: one LSB.)
    """
    v = i64(v)
    m = 0
    if v.size:
        m = max(int(v.max()), -int(v.min()) - 1, 0)
    shift = max(0, bitlen(m) - 15)
    return sat(round_nearest(v, shift), 16).astype(np.int16), int(base_exp) + shift


def relu6_upper(e: int) -> int:
    """6 * 2**-e rounded to nearest, capped at 128 (rct_relu6_upper)."""
    return int(min(int(round_nearest(np.int64(6), int(e))), 128))


def act_upper(act: int, y_exp: int) -> int:
    """The `upper` argument of relu_forward/relu_backward for a fused activation."""
    if act == ACT_RELU6:
        return relu6_upper(y_exp)
    return RELU_NO_UPPER


def act_apply(y, act: int, y_exp: int) -> np.ndarray:
    """Fused activation on saturated int8 values (int64 in, int64 out)."""
    y = i64(y)
    if act == ACT_LINEAR:
        return y
    if act == ACT_RELU:
        return np.maximum(y, 0)
    if act == ACT_RELU6:
        return np.clip(y, 0, relu6_upper(y_exp))
    raise ValueError(f"unknown activation code {act}")


def sat32_add(g: np.ndarray, contrib) -> None:
    """g <- sat32(g + contrib) in place (int32 gradient buffer)."""
    g[...] = sat(g.astype(np.int64) + i64(contrib), 32).astype(g.dtype)


def requant_out(v, e_acc: int, y_exp: int, act: int) -> np.ndarray:
    """Forward output rule: act(sat8(round_nearest(v, y_exp - e_acc))) as int8."""
    y = sat(round_nearest(v, y_exp - e_acc), 8)
    return act_apply(y, act, y_exp).astype(np.int8)


def bias_term(b, b_bits: int, b_exp: int, e_acc: int) -> np.ndarray:
    """Bias moved into the accumulator's exponent: round_nearest(b, e_acc - b_exp)."""
    if b is None:
        return np.int64(0)
    return round_nearest(i64(b), e_acc - b_exp)
