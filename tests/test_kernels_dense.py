"""Dense kernels, the shared update and the accumulator policy: C == golden, integer by integer,
on every target (host and the QEMU Cortex-M boards, see kernel_harness/targets.py)."""
import numpy as np
import pytest
from hypothesis import strategies as st

from kernel_harness.cases import ints
from kernel_harness.targets import ck, compare, run_cases  # noqa: F401  (ck is a fixture)
from rct_tflm.fixedpoint import QTensor, Rng
from rct_tflm.fixedpoint.kernels import (ACC32, ACC64, bias_backward, bias_backward_update,
                                         dense_backward_input, dense_backward_update,
                                         dense_backward_weight, dense_forward, max_safe_bits,
                                         needs_int64, update)

HOST_EXAMPLES = 60

dense_case = st.fixed_dictionaries({
    "seed": st.integers(0, 2**32 - 1), "n": st.integers(1, 3), "fin": st.integers(1, 24),
    "fout": st.integers(1, 12), "w_bits": st.integers(2, 16), "b_bits": st.integers(2, 16),
    "x_exp": st.integers(-9, 2), "w_exp": st.integers(-16, 2), "b_exp": st.integers(-24, 4),
    "y_off": st.integers(-4, 22), "act": st.integers(0, 2), "bias": st.booleans(),
    "mode": st.integers(0, 2), "acc64": st.booleans()})


DENSE_EDGES = [dict(seed=1, n=3, fin=24, fout=5, w_bits=b, b_bits=b, x_exp=-7, w_exp=-15,
                   b_exp=e, y_off=y, act=a, bias=True, mode=1, acc64=acc)
               for b, e, y, a, acc in [(16, -20, 12, 2, False), (8, 4, -4, 1, True),
                                       (9, -24, 22, 0, False), (2, 0, 0, 2, True)]]
# the digits MLP's first layer (SIMD forward, batch-1 update path) and a fan-in past the SIMD
# path's stack copy (RCT_DENSE_XS_MAX = 256), on which the portable loops take over
DENSE_EDGES += [dict(seed=2, n=1, fin=fin, fout=fout, w_bits=b, b_bits=16, x_exp=-7, w_exp=-12,
                     b_exp=-14, y_off=12, act=1, bias=True, mode=0, acc64=False)
                for fin, fout, b in [(64, 32, 16), (258, 3, 12), (64, 10, 9), (64, 7, 8),
                                     (30, 5, 6)]]


def _rows16(fin, fout, act, y_off, b_exp=-14, bias=True, b_bits=16, w_bits=16, n=1, mode=0):
    """A case at e = -19: rs = y_off, bias shift e - b_exp (-5 by default)."""
    return dict(seed=3, n=n, fin=fin, fout=fout, w_bits=w_bits, b_bits=b_bits, x_exp=-7,
                w_exp=-12, b_exp=b_exp, y_off=y_off, act=act, bias=bias, mode=mode, acc64=False)


# the Cortex-M4 rows16 routine (int16 rows, in % 16 == 0; rct_dense_forward.c): in 16..256
# entering its 64-input loop at each of the 4 blocks, one to four passes, odd out (the last row
# in C), no bias, linear / ReLU / ReLU6 under 127 (bounds 96 and 2) and at 128, the bias shifts
# 0, 14 and 15 (the last two with extreme values), its int32 bound at in 256, shift 15: rs 15
# inside, rs 16 just outside (simd_sample); and the other calls outside its gate (simd_sample or
# the portable loops): shift 16, a bias right shift, an 8-bit bias, in % 16 == 8, in > 256.
# rs (y_off) puts most outputs inside int8, so that a wrong sum shows.
DENSE_EDGES += [_rows16(16, 2, 1, 20, bias=False, n=2, mode=1), _rows16(48, 7, 0, 18, n=2),
                _rows16(64, 32, 2, 15, w_bits=12), _rows16(96, 4, 2, 21),
                _rows16(80, 5, 2, 14, w_bits=9), _rows16(256, 3, 0, 24, b_exp=-5, mode=1),
                _rows16(208, 3, 1, 20, n=3), _rows16(32, 10, 0, 18, b_exp=-19),
                _rows16(240, 3, 0, 24, b_exp=-4, mode=1), _rows16(256, 3, 0, 15, b_exp=-4, mode=2),
                _rows16(256, 3, 0, 16, b_exp=-4, mode=2), _rows16(64, 4, 0, 18, b_exp=-3, mode=2),
                _rows16(32, 10, 0, 18, b_exp=-20), _rows16(64, 6, 1, 19, b_bits=8),
                _rows16(40, 4, 1, 18), _rows16(272, 2, 0, 20)]


def test_dense_forward(ck):
    @run_cases(ck, dense_case, HOST_EXAMPLES, examples=DENSE_EDGES)
    def _(c):
        r = np.random.default_rng(c["seed"])
        x = ints(r, (c["n"], c["fin"]), 8, c["mode"])
        w = ints(r, (c["fin"], c["fout"]), c["w_bits"], c["mode"])
        b = ints(r, (c["fout"],), c["b_bits"]) if c["bias"] else None
        acc = ACC64 if c["acc64"] or needs_int64(c["fin"], c["w_bits"]) else ACC32
        y_exp = c["x_exp"] + c["w_exp"] + c["y_off"]
        args = (x, c["x_exp"], w, c["w_bits"], c["w_exp"], b, c["b_bits"], c["b_exp"], y_exp,
                c["act"], acc)
        compare(ck, "dense_forward").eq(ck.dense_forward(*args), dense_forward(*args))


def test_dense_backward(ck):
    @run_cases(ck, dense_case, HOST_EXAMPLES, examples=DENSE_EDGES)
    def _(c):
        r = np.random.default_rng(c["seed"])
        x = ints(r, (c["n"], c["fin"]), 8, c["mode"])
        w = ints(r, (c["fin"], c["fout"]), c["w_bits"], c["mode"])
        dz = ints(r, (c["n"], c["fout"]), 16, c["mode"])
        cmp = compare(ck, "dense_backward_input")
        dx_c, e_c = ck.dense_backward_input(dz, -12, w, c["w_bits"], c["w_exp"])
        dx_g, e_g = dense_backward_input(dz, -12, w, c["w_bits"], c["w_exp"])
        cmp.eq(dx_c, dx_g, "dx")
        cmp.eq(e_c, e_g, "dx_exp")
        g0 = ints(r, (c["fin"], c["fout"]), 32, c["mode"]).astype(np.int32)  # accumulate onto
        g_c, g_g = g0.copy(), g0.copy()
        ck.dense_backward_weight(x, dz, g_c)
        dense_backward_weight(x, dz, g_g)
        compare(ck, "dense_backward_weight").eq(g_c, g_g)
        gb_c = g0[0].copy()
        gb_g = g0[0].copy()
        ck.bias_backward(dz, gb_c)
        bias_backward(dz, gb_g)
        compare(ck, "bias_backward").eq(gb_c, gb_g)


fused_case = st.tuples(dense_case, st.integers(-2, 10), st.booleans(), st.integers(0, 2**32 - 1))


def test_dense_fused_update(ck):
    """Fused backward+update == golden fused == golden backward_weight + update."""
    @run_cases(ck, fused_case, HOST_EXAMPLES, examples=[(e, 3, True, 9) for e in DENSE_EDGES])
    def _(case):
        c, lr_shift, stochastic, key = case
        r = np.random.default_rng(c["seed"])
        x = ints(r, (c["n"], c["fin"]), 8, c["mode"])
        dz = ints(r, (c["n"], c["fout"]), 16, c["mode"])
        w = ints(r, (c["fin"], c["fout"]), c["w_bits"], c["mode"]).astype(np.int32)
        ts = [QTensor(w.copy(), c["w_exp"], c["w_bits"], out_major=True) for _ in range(3)]
        rs = [Rng(key, 5) for _ in range(3)]
        gav = [ck.dense_backward_update(ts[0], x, c["x_exp"], dz, -14, lr_shift, rs[0], stochastic),
               dense_backward_update(ts[1], x, c["x_exp"], dz, -14, lr_shift, rs[1], stochastic)]
        g = np.zeros(w.shape, np.int32)
        dense_backward_weight(x, dz, g)
        gav.append(update(ts[2], g, c["x_exp"] - 14, lr_shift, rs[2], stochastic))
        cmp = compare(ck, "dense_backward_update")
        for t, rr, gv in zip(ts[1:], rs[1:], gav[1:]):
            cmp.eq(ts[0].q, t.q, "q")
            cmp.eq([gav[0], rs[0].counter], [gv, rr.counter], "gavg, counter")
        b = ints(r, (c["fout"],), c["b_bits"]).astype(np.int32)
        bc, bg = (QTensor(b.copy(), c["b_exp"], c["b_bits"]) for _ in range(2))
        cmp = compare(ck, "bias_backward_update")
        gav_c = ck.bias_backward_update(bc, dz, -14, lr_shift, rs[0], stochastic)
        gav_g = bias_backward_update(bg, dz, -14, lr_shift, rs[1], stochastic)
        cmp.eq(bc.q, bg.q, "q")
        cmp.eq([gav_c, rs[0].counter], [gav_g, rs[1].counter], "gavg, counter")


def test_gavg_matches_mean_abs_delta():
    """gavg_q16 = floor(mean|delta| * 2^16) with delta = -g / 2^sh (exact rational check)."""
    from fractions import Fraction
    from rct_tflm.fixedpoint.kernels import gavg_q16_int
    r = np.random.default_rng(1)
    for sh in (-3, 0, 5, 17, 30):
        g = r.integers(-2**20, 2**20, size=37)
        exact = Fraction(int(np.abs(g).sum()), 37) * Fraction(2) ** (16 - sh)
        want = min(exact.numerator // exact.denominator, 2**31 - 1)
        assert gavg_q16_int(int(np.abs(g).sum()), 37, sh) == want


# -- accumulator policy ---------------------------------------------------------------------------

def test_accumulator_limits():
    assert max_safe_bits(511) == 16 and max_safe_bits(512) == 15
    assert max_safe_bits(1023) == 15 and max_safe_bits(1024) == 14
    assert max_safe_bits(784) == 15 and max_safe_bits(64) == 16
    assert needs_int64(784, 16) and not needs_int64(784, 15) and not needs_int64(511, 16)
    # the bound is tight: 512 terms of (-2^15) * (-128) sum to exactly 2^31
    assert 512 * (-(1 << 15)) * (-128) == 1 << 31


def test_int64_accumulator_worst_case(ck):
    """fan-in 784, 16-bit weights at -2^15 and inputs at -128: the true sum 784 * 2^22 exceeds
    int32; the int64 path gives the exact requantised answer in C and golden."""
    fin = 784
    x = np.full((1, fin), -128, np.int64)
    w = np.full((fin, 2), -(1 << 15), np.int64)
    w[:, 1] = (1 << 15) - 1  # second output: the most negative sum
    y_exp = 0 + 0 + 25  # sum / 2^25: 784 * 2^22 / 2^25 = 98
    with pytest.raises(OverflowError):
        dense_forward(x, 0, w, 16, 0, None, 8, 0, y_exp, 0, ACC32)
    y_g = dense_forward(x, 0, w, 16, 0, None, 8, 0, y_exp, 0, ACC64)
    y_c = ck.dense_forward(x, 0, w, 16, 0, None, 8, 0, y_exp, 0, ACC64)
    true = [784 * (1 << 22), 784 * (-128) * ((1 << 15) - 1)]
    expect = [int(np.floor(t / 2**25 + 0.5)) for t in true]
    assert [int(v) for v in y_g[0]] == expect
    compare(ck, "dense_forward").eq(y_c, y_g, "int64 accumulator worst case")
    assert expect[0] == 98 and 784 * (1 << 22) > 2**31 - 1


def test_rows16_at_its_bound(ck):
    """The Cortex-M4 rows16 routine adds the products modulo 2^32 onto bias * 2^15 + half: at
    fan-in 256 its bound admits rs 15 (|init + sum| reaches 2^31 - 2^14) and sends rs 16 to the
    saturating path; both give the int64 answer, where a wrapped sum would flip the sign."""
    fin = 256
    x = np.full((1, fin), -128, np.int64)
    w = np.full((fin, 2), -(1 << 15), np.int64)
    w[:, 1] = (1 << 15) - 1
    b = np.array([(1 << 15) - 1, -(1 << 15)], np.int64)
    for y_exp in (15, 16):
        args = (x, 0, w, 16, 0, b, 16, 15, y_exp, 0, ACC32)
        y = dense_forward(*args)
        assert y.tolist() == [[127, -128]]
        compare(ck, "dense_forward").eq(ck.dense_forward(*args), y, f"rows16 bound, rs {y_exp}")


def test_int32_accumulator_at_its_bound(ck):
    """fan-in 511 at 16 bits is the largest ACC32 dense layer: 511 * 2^22 = 2^31 - 2^22 fits."""
    fin = 511
    assert not needs_int64(fin, 16) and needs_int64(fin + 1, 16)
    x = np.full((2, fin), -128, np.int64)
    x[1] = 127
    w = np.full((fin, 2), -(1 << 15), np.int64)
    w[:, 1] = (1 << 15) - 1
    for y_exp in (0, 24, 31):
        args = (x, 0, w, 16, 0, None, 8, 0, y_exp, 0, ACC32)
        compare(ck, "dense_forward").eq(ck.dense_forward(*args), dense_forward(*args),
                                        f"ACC32 bound, y_exp {y_exp}")
