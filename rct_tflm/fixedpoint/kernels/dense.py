"""Dense layer kernels (kernel [in, out], Keras layout); twins of firmware/kernels/rct_dense_*.c."""
from __future__ import annotations

import numpy as np

from ..prng import Rng
from ..qtensor import QTensor
from .accum import ACC32, needs_int64
from .common import ACT_LINEAR, bias_term, i64, normalize_i16, requant_out, sat32_add
from .grad_update import update


def check_acc(acc: int, fan_in: int, w_bits: int) -> None:
    """RCT_ACC32 is only valid where int32 cannot overflow (the C code would be undefined)."""
    if acc == ACC32 and needs_int64(fan_in, w_bits):
        raise OverflowError(f"int32 accumulator can overflow for fan-in {fan_in} at {w_bits} "
                            f"bits; use ACC64 (needs_int64)")


def dense_forward(x: np.ndarray, x_exp: int, w: np.ndarray, w_bits: int, w_exp: int,
                  b: np.ndarray | None, b_bits: int, b_exp: int, y_exp: int,
                  act: int = ACT_LINEAR, acc: int = ACC32) -> np.ndarray:
    """y[s, o] = act(sat8(round_nearest(sum_i x[s,i] w[i,o] + align(b[o]), y_exp - e))),
    e = x_exp + w_exp, align(b) = round_nearest(b, e - b_exp). x [n, in] -> y [n, out] int8."""
    x = i64(x).reshape(x.shape[0], -1)
    w = i64(w)
    check_acc(acc, w.shape[0], w_bits)
    e = x_exp + w_exp
    v = x @ w + bias_term(b, b_bits, b_exp, e)
    return requant_out(v, e, y_exp, act)


def dense_backward_input(dz: np.ndarray, dz_exp: int, w: np.ndarray, w_bits: int,
                         w_exp: int) -> tuple[np.ndarray, int]:
    """dx = normalize_i16(dz @ w.T) at base exponent w_exp + dz_exp -> (dx [n, in], dx_exp)."""
    return normalize_i16(i64(dz) @ i64(w).T, w_exp + dz_exp)


def dense_backward_weight(x: np.ndarray, dz: np.ndarray, g: np.ndarray) -> None:
    """g[i, o] <- sat32(g[i, o] + sum_s x[s, i] dz[s, o]) in place (g exponent x_exp + dz_exp)."""
    x = i64(x).reshape(x.shape[0], -1)
    sat32_add(g, x.T @ i64(dz))


def dense_backward_update(t: QTensor, x: np.ndarray, x_exp: int, dz: np.ndarray, dz_exp: int,
                          lr_shift: int, rng: Rng, stochastic: bool = True) -> int:
    """Fused: g = 0; dense_backward_weight; update(g_exp = x_exp + dz_exp). Returns Gavg Q16."""
    g = np.zeros(t.q.shape, dtype=np.int32)
    dense_backward_weight(x, dz, g)
    return update(t, g, x_exp + dz_exp, lr_shift, rng, stochastic)
