"""Mean-squared-error loss head (regression, autoencoders); twin of firmware/kernels/rct_mse_loss.c.

Per sample, outputs y (int8 at y_exp) against targets t (int8 at t_exp; for an autoencoder the
input itself), m values each:
  e     = align_exp(y_exp, t_exp)                        (residual.align_exp: shift <= 16)
  d_j   = round_nearest(y_j, e - y_exp) - round_nearest(t_j, e - t_exp)     y - t at 2^e
  g_j   = div_round(d_j * 2^17, m)     dL/dy_j = 2 d_j / m, at exponent e - 16
  dy    = normalize_i16(g over the batch, e - 16)         the error, one exponent per batch
  score = sat32(div_round(round_nearest(sum_j d_j^2, -(2e + 16)), m))
          the sample's mean squared error in Q16.16 (the anomaly score of an autoencoder)
  loss  = sat32(sum of the scores over the batch)        Q16.16, like softmax_ce's loss
The gradient is the per-sample one (no 1/n), as softmax_ce's.
"""
from __future__ import annotations

import numpy as np

from .common import div_round, i64, normalize_i16, round_nearest, sat
from .residual import align_exp

GRAD_FRAC = 16  # g carries 16 fraction bits below 2^e


def mse_loss(y: np.ndarray, y_exp: int, t: np.ndarray, t_exp: int
             ) -> tuple[np.ndarray, int, int, np.ndarray]:
    """y, t [n, m] -> (dy int16 [n, m], dy_exp, loss_q16_sum, scores_q16 int32 [n])."""
    y = i64(y).reshape(np.shape(y)[0], -1)
    t = i64(t).reshape(y.shape)
    m = y.shape[1]
    e = align_exp(y_exp, t_exp)
    d = round_nearest(y, e - int(y_exp)) - round_nearest(t, e - int(t_exp))
    g = div_round(d << np.int64(GRAD_FRAC + 1), m)
    dy, dy_exp = normalize_i16(g, e - GRAD_FRAC)
    sq = (d * d).sum(axis=1)
    scores = sat(div_round(round_nearest(sq, -(2 * e + 16)), m), 32)
    loss = int(sat(np.int64(0), 32))
    for s in scores:  # saturating running sum, as the C loop adds sample by sample
        loss = int(sat(np.int64(loss) + np.int64(s), 32))
    return dy, dy_exp, loss, scores.astype(np.int32)
