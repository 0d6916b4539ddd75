"""The RCT weight update from an integer gradient, shared by every parametric tensor.

g holds int32 gradient values at exponent g_exp (real gradient = g * 2^g_exp). With learning
rate 2^-lr_shift the update in LSB units is delta = -g * 2^(g_exp - lr_shift - exp) = -g / 2^sh,
sh = exp + lr_shift - g_exp. It is rounded onto the grid with the contract's stochastic shift
(one 16-bit uniform per element in the tensor's device order, iff sh >= 1) or to nearest, then
added with saturation.
Gavg = mean|delta| in Q16.16, exactly: floor(sum|g| * 2^(16 - sh) / size), saturated to
2^31 - 1 (rct_update in firmware/kernels/rct_update.c).
"""
from __future__ import annotations

import numpy as np

from ..prng import Rng
from ..qtensor import QTensor
from .common import INT32_MAX, i64, round_nearest, round_stochastic, sat, sat32_add


def gavg_q16_int(abs_sum: int, size: int, sh: int) -> int:
    """floor(abs_sum * 2^(16 - sh) / size), saturated to INT32_MAX; 0 for an empty tensor."""
    if size <= 0 or abs_sum == 0:
        return 0
    k = 16 - int(sh)
    if k >= 64:  # abs_sum >= 1 and size < 2^31: the mean is >= 2^33 LSB, saturated
        return INT32_MAX
    v = (abs_sum << k) // size if k >= 0 else (abs_sum >> -k) // size
    return int(min(v, INT32_MAX))


def update(t: QTensor, g: np.ndarray, g_exp: int, lr_shift: int, rng: Rng,
           stochastic: bool = True) -> int:
    """q <- sat_bits(q + round(-g / 2^sh)) in place; returns Gavg (Q16.16). g: int32 values."""
    g = i64(g).reshape(t.q.shape)
    sh = int(t.exp) + int(lr_shift) - int(g_exp)
    step = round_stochastic(-g, sh, rng, t.out_major) if stochastic else round_nearest(-g, sh)
    t.q = sat(t.q.astype(np.int64) + step, t.bits).astype(np.int32)
    return gavg_q16_int(int(np.abs(g).sum()), g.size, sh)


def bias_backward(dz: np.ndarray, g: np.ndarray) -> None:
    """g[c] <- sat32(g[c] + sum over all other axes of dz[..., c]), in place (int32)."""
    dz = i64(dz)
    sat32_add(g, dz.reshape(-1, dz.shape[-1]).sum(axis=0))


def bias_backward_update(t: QTensor, dz: np.ndarray, dz_exp: int, lr_shift: int, rng: Rng,
                         stochastic: bool = True) -> int:
    """Fused bias gradient + update (rct_bias_backward_update): g = sat32(sum dz), g_exp = dz_exp."""
    g = np.zeros(t.q.shape, dtype=np.int32)
    bias_backward(dz, g)
    return update(t, g, dz_exp, lr_shift, rng, stochastic)
