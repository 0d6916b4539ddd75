"""Federated averaging in the integer domain: one global Q-format tensor from the boards' own,
whatever bitwidths and exponents each board's controller left them at (docs/numerics.md,
"Integer FedAvg"). No float is involved, and the result is bit-exact for a seed.

For one tensor held by K clients as (q_k, exp_k, bits_k) after n_k samples each:
  B   = min(max_k bits_k, bits_cap)                     the widest bitwidth, within the cap
  E   = max_k(exp_k + bits_k) - B                       keeps the widest range with B bits
  e*  = min_k exp_k                                     every q_k is exact at 2^e*
  S   = sum_k n_k (q_k << (exp_k - e*))                 int64 (Python int when it would not fit)
  v   = floor(S * 2^F / N),  N = sum_k n_k, F = 16      the weighted mean, 16 fraction bits
  q   = sat_B(SR(v, E - e* + F))                        the contract's stochastic shift
With every client at the same (exp, bits) this is the sample-weighted mean rounded
stochastically at that exponent. Stochastic rounding keeps the mean unbiased, so repeated rounds
do not drift towards zero the way nearest rounding of small updates would.

PRNG: one contract stream per round, Rng(seed) re-keyed `round_no` times, drawn tensor after
tensor in the order given, each in its row-major (blob) order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from .prng import Rng
from .qtensor import QTensor
from .rounding import saturate, shift_round_stochastic

FRAC_BITS = 16


@dataclass(frozen=True)
class ClientTensor:
    tensor: QTensor
    samples: int  # the weight of this client in the mean (samples it trained on this round)


def fedavg_tensor(parts: list[ClientTensor], rng: Rng, bits_cap: int = 16) -> QTensor:
    """The integer FedAvg of one tensor (module docstring); draws from `rng`."""
    if not parts:
        raise UserError("federated averaging needs at least one client's tensor")
    shape = parts[0].tensor.q.shape
    for p in parts:
        if p.tensor.q.shape != shape:
            raise UserError(f"clients disagree on a tensor's shape ({p.tensor.q.shape} vs "
                            f"{shape}); they must run the same model")
        if p.samples < 0:
            raise UserError(f"a client reported {p.samples} samples; the weight must be >= 0")
    total = sum(int(p.samples) for p in parts)
    live = [p for p in parts if p.samples > 0] if total > 0 else parts
    weights = [int(p.samples) for p in live] if total > 0 else [1] * len(live)
    n = sum(weights)
    bits = min(max(p.tensor.bits for p in live), int(bits_cap))
    exp = max(p.tensor.exp + p.tensor.bits for p in live) - bits
    e_min = min(p.tensor.exp for p in live)
    acc = np.zeros(shape, dtype=object)  # Python ints: no overflow for any K or shift
    for p, w in zip(live, weights):
        acc = acc + np.asarray(p.tensor.q, dtype=object) * (w << (p.tensor.exp - e_min))
    v = np.vectorize(lambda s: (s << FRAC_BITS) // n, otypes=[object])(acc)
    shift = exp - e_min + FRAC_BITS
    return QTensor(saturate(_stochastic(v, shift, rng), bits).astype(np.int32), exp, bits,
                   parts[0].tensor.out_major)  # the device layout travels with the values


def _stochastic(v: np.ndarray, shift: int, rng: Rng) -> np.ndarray:
    """shift_round_stochastic on Python-int values: exact floor shift down to 31 bits first
    (the contract rounds only the lowest 31 of a shift; higher bits are floored anyway)."""
    pre = max(0, shift - 31)
    lo = np.vectorize(lambda s: s >> pre, otypes=[object])(v) if pre else v
    return shift_round_stochastic(np.asarray(lo, dtype=np.int64), shift - pre, rng)


def fedavg(models: list[dict[str, QTensor]], samples: list[int], seed: int, round_no: int,
           bits_cap: dict[str, int] | None = None, order: list[str] | None = None
           ) -> dict[str, QTensor]:
    """Every tensor of the clients' models averaged (names in `order`, default the first
    model's); bits_cap per tensor (default 16)."""
    if len(models) != len(samples) or not models:
        raise UserError(f"{len(models)} client models but {len(samples)} sample counts")
    names = list(order or models[0])
    for i, m in enumerate(models):
        if set(m) != set(names):
            raise UserError(f"client {i} holds tensors {sorted(m)}, expected {sorted(names)}; "
                            f"every board must run the same model")
    rng = Rng(seed)
    rng.rekey(round_no)
    return {n: fedavg_tensor([ClientTensor(m[n], s) for m, s in zip(models, samples)], rng,
                             (bits_cap or {}).get(n, 16)) for n in names}
