"""Integer FedAvg (fixedpoint/fedavg.py): within one LSB of the exact sample-weighted mean,
unbiased over seeds, deterministic for a seed, the widest bitwidth and range kept."""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rct_tflm.errors import UserError
from rct_tflm.fixedpoint import QTensor
from rct_tflm.fixedpoint.fedavg import ClientTensor, fedavg, fedavg_tensor
from rct_tflm.fixedpoint.prng import Rng

client = st.tuples(st.integers(4, 16), st.integers(-14, -2), st.integers(0, 500))


def _tensor(r, bits, exp, size=12):
    lim = (1 << (bits - 1)) - 1
    return QTensor(r.integers(-lim - 1, lim + 1, size).astype(np.int32), exp, bits)


@settings(max_examples=150, deadline=None)
@given(st.lists(client, min_size=1, max_size=8), st.integers(0, 2**31), st.integers(0, 50))
def test_within_one_lsb_of_the_exact_weighted_mean(clients, seed, round_no):
    r = np.random.default_rng(seed)
    parts = [ClientTensor(_tensor(r, b, e), n) for b, e, n in clients]
    out = fedavg_tensor(parts, Rng(seed), bits_cap=16)
    live = [p for p in parts if p.samples] or parts
    w = [p.samples or 1 for p in live] if any(p.samples for p in parts) else [1] * len(live)
    assert out.bits == max(p.tensor.bits for p in live)
    assert out.exp == max(p.tensor.exp + p.tensor.bits for p in live) - out.bits
    for i in range(out.q.size):
        exact = sum(Fraction(int(p.tensor.q[i])) * Fraction(2) ** p.tensor.exp * wi
                    for p, wi in zip(live, w)) / sum(w)
        got = Fraction(int(out.q[i])) * Fraction(2) ** out.exp
        assert abs(got - exact) < Fraction(2) ** out.exp, (i, got, exact)


def test_unbiased_over_seeds_and_deterministic_for_one():
    a = QTensor(np.array([3, -3, 1, 0], np.int32), -8, 8)
    b = QTensor(np.array([4, -4, 0, 1], np.int32), -8, 8)
    exact = (3 * a.q.astype(float) + b.q) / 4  # weights 300 : 100 -> 3.25, -3.25, 0.75, 0.25
    outs = np.array([fedavg([{"w": a}, {"w": b}], [300, 100], seed=s, round_no=0)["w"].q
                     for s in range(2000)], dtype=float)
    assert np.all(np.abs(outs.mean(axis=0) - exact) < 0.05)
    one = fedavg([{"w": a}, {"w": b}], [300, 100], seed=7, round_no=3)["w"]
    again = fedavg([{"w": a}, {"w": b}], [300, 100], seed=7, round_no=3)["w"]
    assert np.array_equal(one.q, again.q) and (one.exp, one.bits) == (again.exp, again.bits)
    assert not all(np.array_equal(fedavg([{"w": a}, {"w": b}], [300, 100], seed=7,
                                         round_no=k)["w"].q, one.q) for k in range(4, 12))


def test_same_grid_and_equal_values_is_the_identity():
    t = QTensor(np.arange(-8, 8, dtype=np.int32), -6, 5)
    out = fedavg([{"w": t}, {"w": t.copy()}, {"w": t.copy()}], [10, 20, 30], seed=0,
                 round_no=0)["w"]
    assert np.array_equal(out.q, t.q) and (out.exp, out.bits) == (-6, 5)


def test_bits_cap_and_bad_input():
    wide = QTensor(np.array([30000, -30000], np.int32), -14, 16)
    narrow = QTensor(np.array([10, -10], np.int32), -6, 6)
    out = fedavg_tensor([ClientTensor(wide, 1), ClientTensor(narrow, 1)], Rng(0), bits_cap=12)
    assert out.bits == 12 and out.exp == max(-14 + 16, -6 + 6) - 12
    with pytest.raises(UserError, match="same model"):
        fedavg([{"w": wide}, {"v": wide}], [1, 1], 0, 0)
    with pytest.raises(UserError, match="shape"):
        fedavg_tensor([ClientTensor(wide, 1), ClientTensor(QTensor(np.zeros(3, np.int32), 0, 8),
                                                           1)], Rng(0))
    with pytest.raises(UserError, match="sample counts"):
        fedavg([{"w": wide}], [1, 2], 0, 0)


def test_clients_without_samples_do_not_count():
    a = QTensor(np.array([100], np.int32), -8, 8)
    b = QTensor(np.array([-100], np.int32), -8, 8)
    assert fedavg([{"w": a}, {"w": b}], [5, 0], seed=0, round_no=0)["w"].q[0] == 100
