"""FULLY_CONNECTED int8 (reference_integer_ops::FullyConnected, per-tensor or per-channel):
acc = bias + Σ (x − zp_in)·w, MultiplyByQuantizedMultiplier, + zp_out, clamped."""
from __future__ import annotations

import numpy as np

from .multiplier import mbqm_per_channel


def fully_connected(x: np.ndarray, zp_in: int, w: np.ndarray, bias: np.ndarray | None, qms,
                    shifts, zp_out: int, act: tuple[int, int]) -> np.ndarray:
    """x [N, in] int8, w [out, in] int8 → [N, out] int8; qms/shifts: one, or one per output."""
    acc = (x.astype(np.int64) - zp_in) @ w.astype(np.int64).T
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    o = w.shape[0]
    qms, shifts = np.broadcast_to(qms, (o,)), np.broadcast_to(shifts, (o,))
    out = mbqm_per_channel(acc, qms, shifts) + zp_out
    return np.clip(out, act[0], act[1]).astype(np.int8)
