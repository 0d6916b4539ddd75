"""Property tests of the numeric contract (numpy only: must run without TensorFlow)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rct_tflm.fixedpoint import (QTensor, Rng, apply_update, exponent_for, gavg_q16, mix32, qmax,
                                 qmin, requantize, round_stochastic_float, saturate,
                                 shift_round_nearest, shift_round_stochastic)

bits_st = st.integers(min_value=2, max_value=16)
ints_st = st.lists(st.integers(min_value=-(1 << 30), max_value=(1 << 30)), min_size=1, max_size=64)


def test_importing_fixedpoint_does_not_import_tensorflow() -> None:
    code = ("import sys, rct_tflm.fixedpoint, rct_tflm.artefact; "
            "sys.exit(1 if any(m == 'tensorflow' or m.startswith('tensorflow.') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_mix32_known_values() -> None:
    # lowbias32 reference values, computed by hand-checked Python big-int arithmetic below.
    def ref(x: int) -> int:
        x ^= x >> 16
        x = (x * 0x7FEB352D) & 0xFFFFFFFF
        x ^= x >> 15
        x = (x * 0x846CA68B) & 0xFFFFFFFF
        x ^= x >> 16
        return x
    xs = np.array([0, 1, 2, 0xDEADBEEF, 0xFFFFFFFF], dtype=np.uint32)
    assert mix32(xs).tolist() == [ref(int(x)) for x in xs]


def test_rng_stream_is_split_invariant_and_seeded() -> None:
    a = Rng(42).next_u32(100)
    r = Rng(42)
    b = np.concatenate([r.next_u32(1), r.next_u32(37), r.next_u32(62)])
    assert np.array_equal(a, b)
    assert r.counter == 100
    assert not np.array_equal(a, Rng(43).next_u32(100))


def test_rng_counter_wraps_mod_2_32() -> None:
    r = Rng(7, counter=0xFFFFFFFE)
    w = r.next_u32(4)
    assert r.counter == 2
    assert np.array_equal(w[2:], Rng(7).next_u32(2))


def test_rng_rekey_adds_the_stride_and_restarts_the_counter() -> None:
    r = Rng(0xFFFFFFF0, counter=12345)
    r.rekey()
    assert r.state() == ((0xFFFFFFF0 + 0x9E3779B9) % 2**32, 0)
    r.rekey(3)  # three boundaries at once == three re-keys
    one = Rng(0xFFFFFFF0)
    for _ in range(4):
        one.rekey()
    assert r.state() == one.state() == ((0xFFFFFFF0 + 4 * 0x9E3779B9) % 2**32, 0)
    assert np.array_equal(r.next_u32(8), Rng(one.key).next_u32(8))


@given(ints_st, bits_st)
def test_saturation_bounds(vals: list[int], bits: int) -> None:
    out = saturate(np.array(vals), bits)
    assert out.min() >= qmin(bits) and out.max() <= qmax(bits)
    inside = (np.array(vals) >= qmin(bits)) & (np.array(vals) <= qmax(bits))
    assert np.array_equal(out[inside], np.array(vals)[inside])


@given(ints_st, st.integers(min_value=1, max_value=20))
def test_round_nearest_matches_float(vals: list[int], s: int) -> None:
    v = np.array(vals, dtype=np.int64)
    assert np.array_equal(shift_round_nearest(v, s), np.floor(v / 2.0**s + 0.5).astype(np.int64))


@given(ints_st, st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=2**32 - 1))
def test_stochastic_round_brackets_the_value(vals: list[int], s: int, seed: int) -> None:
    v = np.array(vals, dtype=np.int64)
    out = shift_round_stochastic(v, s, Rng(seed))
    lo = np.floor(v / 2.0**s).astype(np.int64)
    assert np.all((out == lo) | (out == lo + 1))


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=-1000, max_value=1000), st.integers(min_value=1, max_value=8),
       st.integers(min_value=0, max_value=2**32 - 1))
def test_stochastic_round_is_unbiased(v: int, s: int, seed: int) -> None:
    n = 40_000
    out = shift_round_stochastic(np.full(n, v), s, Rng(seed))
    exact = v / 2.0**s
    frac = exact - np.floor(exact)
    tol = 5 * np.sqrt(max(frac * (1 - frac), 1e-12) / n) + 1e-9  # 5 sigma of a Bernoulli mean
    assert abs(out.mean() - exact) <= tol


@settings(max_examples=20, deadline=None)
@given(st.floats(min_value=-50, max_value=50, allow_nan=False), st.integers(0, 2**32 - 1))
def test_float_stochastic_round_is_unbiased(x: float, seed: int) -> None:
    n = 40_000
    out = round_stochastic_float(np.full(n, x), Rng(seed))
    frac = x - np.floor(x)
    # Variance floor of one draw in n: a fraction within 2^-32 of 0 or 1 still rounds the other
    # way when the draw is exactly 0 (key 0 draws r = 0 first), a legitimate uniform outcome.
    assert abs(out.mean() - x) <= 5 * np.sqrt(max(frac * (1 - frac), 1.0 / n) / n) + 1e-9


def test_integer_and_float_stochastic_rounding_agree() -> None:
    """floor(v/2^s + u) with the same words: the integer and float forms are one definition."""
    v = np.arange(-5000, 5000, 7, dtype=np.int64)
    for s in (1, 5, 12):
        a = shift_round_stochastic(v, s, Rng(9))
        u16 = Rng(9).next_u16(v.size).astype(np.int64)
        b = np.floor(v / 2.0**s + ((u16 << 16) >> (32 - s)) / 2.0**s).astype(np.int64)
        assert np.array_equal(a, b)


@given(st.lists(st.floats(-4, 4, allow_nan=False), min_size=1, max_size=50), st.integers(4, 15))
def test_bit_increase_is_exact(ws: list[float], bits: int) -> None:
    t = QTensor.from_float(np.array(ws), bits)
    before = t.to_float().astype(np.float64)
    rng_before = t.copy()
    t.add_low_bit()
    assert t.bits == bits + 1 and t.exp == rng_before.exp - 1
    assert np.array_equal(t.to_float().astype(np.float64), before)
    # range is unchanged (to within the one new half-LSB at the top)
    assert qmax(t.bits) * 2.0**t.exp >= qmax(bits) * 2.0**rng_before.exp


@given(st.lists(st.floats(-4, 4, allow_nan=False), min_size=1, max_size=50), st.integers(5, 16),
       st.integers(0, 2**32 - 1))
def test_bit_decrease_rounds_to_neighbours_and_keeps_range(ws: list[float], bits: int, seed: int) -> None:
    t = QTensor.from_float(np.array(ws), bits)
    q0 = t.q.astype(np.int64).copy()
    t.drop_low_bit(Rng(seed))
    assert t.bits == bits - 1
    lo = np.floor(q0 / 2)
    assert np.all((t.q == lo) | (t.q == np.minimum(lo + 1, qmax(t.bits))))
    assert t.q.min() >= qmin(t.bits) and t.q.max() <= qmax(t.bits)


def test_high_bit_doubles_range() -> None:
    t = QTensor(np.array([127, -128], dtype=np.int32), -4, 8)
    t.add_high_bit()
    assert t.bits == 9 and t.saturated_count() == 0


def test_requantize_moves_exponent_and_saturates() -> None:
    v = np.array([1000, -1000, 3, 4, 5])
    assert requantize(v, -8, -6, 8).tolist() == [127, -128, 1, 1, 1]
    assert requantize(np.array([3]), -4, -6, 8).tolist() == [12]


def test_update_determinism_and_gavg() -> None:
    rng_w = np.random.default_rng(0)
    delta = rng_w.normal(0, 0.3, size=200)
    outs = []
    for _ in range(2):
        t = QTensor(np.zeros(200, dtype=np.int32), -8, 8)
        g = apply_update(t, delta, Rng(5))
        outs.append(t.q.copy())
    assert np.array_equal(outs[0], outs[1])
    assert g == gavg_q16(delta) == int(np.floor(np.mean(np.abs(delta)) * 65536))
    # nearest rounding loses sub-half-LSB updates entirely: the underflow RCT fixes
    t = QTensor(np.zeros(200, dtype=np.int32), -8, 8)
    apply_update(t, np.full(200, 0.3), Rng(5), rounding="nearest")
    assert not t.q.any()


def test_update_saturates() -> None:
    t = QTensor(np.array([126, -127], dtype=np.int32), 0, 8)
    apply_update(t, np.array([10.0, -10.0]), Rng(1))
    assert t.q.tolist() == [127, -128]


def test_unknown_rounding_rejected() -> None:
    with pytest.raises(ValueError):
        apply_update(QTensor(np.zeros(1, np.int32), 0, 8), np.zeros(1), Rng(0), rounding="even")


@pytest.mark.parametrize("amax, bits, want", [
    (5e-324, 5, -100),      # subnormal: the ratio underflows; clamped, quantises to 0
    (1e300, 16, 100),       # far above any weight: clamped
    (127.0, 8, 0), (127.5, 8, 1), (1.0, 8, -6), (0.0, 8, -6),
])
def test_exponent_for_edges(amax: float, bits: int, want: int) -> None:
    assert exponent_for(amax, bits) == want
    if amax < 1e-300:
        assert QTensor.from_float(np.array([amax, -amax]), bits).q.tolist() == [0, 0]
