"""C runtime == golden contract, integer by integer, on every target: PRNG stream, rounding
shifts, the inline helpers of rct.h, gavg_q16, the RCT update and the bit changes."""
import numpy as np
from hypothesis import strategies as st

from kernel_harness.cases import ints
from kernel_harness.targets import ck, compare, run_cases  # noqa: F401  (ck is a fixture)
from rct_tflm.fixedpoint import QTensor, Rng, shift_round_nearest, shift_round_stochastic
from rct_tflm.fixedpoint.kernels import (asr, div_round, gavg_q16_int, relu6_upper, round_nearest,
                                         sat, shl_sat, update)
from rct_tflm.fixedpoint.kernels.common import round_stochastic

U32 = 2**32 - 1
V62 = 1 << 62
u32 = st.integers(0, U32)


# -- PRNG --------------------------------------------------------------------------------------

def test_prng_stream(ck):
    """The same words and final counter as Rng.next_u32, across the 2^32 counter wrap."""
    case = st.tuples(u32, st.one_of(u32, st.integers(U32 - 40, U32)), st.integers(0, 120))

    @run_cases(ck, case, 60, examples=[(0, 0, 1), (0xFFFFFFFF, U32, 5), (12345, U32 - 2, 7),
                                       (1, 0, 0)])
    def _(c):
        key, counter, n = c
        cmp = compare(ck, "prng")
        words, ctr = ck.prng(key, counter, n)
        rng = Rng(key, counter)
        cmp.eq(words, rng.next_u32(n), "words")
        cmp.eq(ctr, rng.counter, "counter")


def test_prng_known_words():
    """Pins the stream itself (golden side), so a change of mix32 cannot pass unnoticed:
    word(c) = mix32(mix32(key) + c), and the 16-bit uniforms are each word's low then high half."""
    words = [2272198637, 393019658, 1492470133, 3529208806, 3405767568]
    assert [int(w) for w in Rng(1, 0xFFFFFFFE).next_u32(5)] == words
    halves = [h for w in words[:3] for h in (w & 0xFFFF, w >> 16)][:5]
    assert [int(u) for u in Rng(1, 0xFFFFFFFE).next_u16(5)] == halves


# -- rounding shifts ---------------------------------------------------------------------------

int62 = st.one_of(st.integers(-V62, V62), st.sampled_from([-V62, V62, -1, 0, 1, V62 - 1, 1 - V62]))
shifts = st.one_of(st.integers(-70, 100),
                   st.sampled_from([-63, -62, -1, 0, 1, 30, 31, 32, 62, 63, 64]))


def _values(seed: int, n: int, mag_bits: int) -> np.ndarray:
    r = np.random.default_rng(seed)
    lim = 1 << mag_bits
    return np.concatenate([r.integers(-lim, lim, size=n, dtype=np.int64, endpoint=True),
                           [-lim, lim, -1, 0, 1]]).astype(np.int64)


round_case = st.fixed_dictionaries({"seed": u32, "n": st.integers(0, 24),
                                    "bits": st.integers(0, 62), "s": shifts, "v": int62,
                                    "key": u32, "counter": u32})
ROUND_EDGES = [{"seed": 0, "n": 0, "bits": 62, "s": s, "v": v, "key": 7, "counter": U32}
               for s, v in [(-62, 1), (-70, -V62), (63, V62), (31, -1), (32, -V62), (94, V62),
                            (95, -V62), (1, -1), (0, -V62)]]


def test_round_nearest(ck):
    @run_cases(ck, round_case, 60, examples=ROUND_EDGES)
    def _(c):
        v = np.append(_values(c["seed"], c["n"], c["bits"]), c["v"])
        s = c["s"]
        cmp = compare(ck, "round_nearest64")
        got = ck.round_nearest(v, s)
        cmp.eq(got, round_nearest(v, s), "vs kernels.common.round_nearest")
        # the contract (docs/numerics.md) where it is defined without the C clamps
        ok = np.abs(v) < (1 << max(0, 62 + min(s, 0))) if s <= 0 else np.ones(v.shape, bool)
        if s <= 62:
            cmp.eq(got[ok], shift_round_nearest(v[ok], s), "vs contract shift_round_nearest")


def test_round_stochastic(ck):
    @run_cases(ck, round_case, 60, examples=ROUND_EDGES)
    def _(c):
        v = np.append(_values(c["seed"], c["n"], c["bits"]), c["v"])
        s = c["s"]
        cmp = compare(ck, "round_stochastic_block")
        rc, rg, rk = (Rng(c["key"], c["counter"]) for _ in range(3))
        got = ck.round_stochastic(v, s, rc)
        cmp.eq(got, round_stochastic(v, s, rg), "vs kernels.common.round_stochastic")
        cmp.eq(rc.counter, rg.counter, "PRNG counter")
        cmp.eq(rc.counter, (c["counter"] + ((v.size + 1) // 2 if s >= 1 else 0)) & U32,
               "one 16-bit uniform each, two per word")
        if 1 <= s <= 94:  # the contract's formula (numpy shifts of >= 64 bits are undefined)
            cmp.eq(got, shift_round_stochastic(v, s, rk), "vs contract shift_round_stochastic")


# -- inline helpers of rct.h -------------------------------------------------------------------

helper_case = st.fixed_dictionaries({"seed": u32, "n": st.integers(1, 24),
                                     "bits": st.integers(0, 62), "p": st.integers(0, 70)})


def test_inline_helpers(ck):
    @run_cases(ck, helper_case, 40, examples=[{"seed": 1, "n": 4, "bits": 62, "p": 0},
                                              {"seed": 2, "n": 4, "bits": 62, "p": 62},
                                              {"seed": 3, "n": 4, "bits": 62, "p": 70}])
    def _(c):
        v = _values(c["seed"], c["n"], c["bits"])
        p = c["p"]
        cmp = compare(ck, "inline_helpers")
        cmp.eq(ck.helper("shl_sat", v, p), shl_sat(v, p), "rct_shl_sat64")
        cmp.eq(ck.helper("asr", v, min(p, 63)), asr(v, min(p, 63)), "rct_asr64")
        bits = max(1, min(p, 63))
        cmp.eq(ck.helper("sat", v, bits), sat(v, bits), "rct_sat64")
        a = v >> 1  # |a| <= 2^61
        cdiv = np.random.default_rng(c["seed"]).integers(1, 1 << max(1, min(p, 40)), size=v.size,
                                                         dtype=np.int64)
        cmp.eq(ck.helper("div_round", a, c=cdiv), div_round(a, cdiv), "rct_div_round64")
        e = np.arange(-12, 8, dtype=np.int64)
        cmp.eq(ck.helper("relu6_upper", e), [relu6_upper(int(k)) for k in e], "rct_relu6_upper")


# -- gavg and the update -----------------------------------------------------------------------

def test_gavg_q16(ck):
    case = st.tuples(st.one_of(st.integers(0, (1 << 62) - 1), st.integers(0, 100)),
                     st.one_of(st.integers(-3, 2**31 - 1), st.integers(1, 50)),
                     st.integers(-100, 200))

    @run_cases(ck, case, 60, examples=[(0, 5, 0), (1, 1, -47), (1, 1, -48), (1, 2**31 - 1, 200),
                                       ((1 << 62) - 1, 1, 78), ((1 << 62) - 1, 1, 79),
                                       (5, 0, 3), (5, -1, 3), ((1 << 62) - 1, 2**31 - 1, -100)])
    def _(c):
        compare(ck, "gavg_q16").eq(ck.gavg_q16(*c), gavg_q16_int(*c))


update_case = st.fixed_dictionaries({
    "seed": u32, "size": st.integers(1, 40), "bits": st.integers(2, 16), "exp": st.integers(-16, 4),
    "g_exp": st.integers(-40, 0), "lr_shift": st.integers(-2, 40), "g_bits": st.integers(1, 32),
    "stochastic": st.booleans(), "key": u32, "counter": st.one_of(u32, st.integers(U32 - 50, U32)),
    "mode": st.integers(0, 2)})
UPDATE_EDGES = [  # sh <= 0 (exact left shift, no draw), sh = 31/32/63/64, int32 extremes, 2 bits
    dict(seed=1, size=9, bits=b, exp=e, g_exp=g, lr_shift=l, g_bits=32, stochastic=s, key=3,
         counter=U32 - 3, mode=1)
    for b, e, g, l, s in [(2, 0, 0, 0, True), (16, -16, -40, 0, True), (8, 4, -40, 40, True),
                          (9, 0, -31, 0, True), (8, 0, -32, 0, True), (16, 4, -40, 19, True),
                          (16, 4, -40, 20, False), (2, -16, 0, -2, False), (8, 0, 0, 1, False)]]


def test_update_edges(ck):
    """rct_update == update, q and Gavg and PRNG counter, at the shift and value extremes."""
    @run_cases(ck, update_case, 60, examples=UPDATE_EDGES)
    def _(c):
        r = np.random.default_rng(c["seed"])
        q = ints(r, (c["size"],), c["bits"], c["mode"]).astype(np.int32)
        g = ints(r, (c["size"],), c["g_bits"], c["mode"])
        tc, tg = QTensor(q.copy(), c["exp"], c["bits"]), QTensor(q.copy(), c["exp"], c["bits"])
        rc, rg = Rng(c["key"], c["counter"]), Rng(c["key"], c["counter"])
        cmp = compare(ck, "update")
        gav_c = ck.update(tc, g, c["g_exp"], c["lr_shift"], rc, c["stochastic"])
        gav_g = update(tg, g, c["g_exp"], c["lr_shift"], rg, c["stochastic"])
        cmp.eq(tc.q, tg.q, "q")
        cmp.eq([gav_c, rc.counter], [gav_g, rg.counter], "gavg, counter")


# -- bit changes -------------------------------------------------------------------------------

bit_case = st.fixed_dictionaries({
    "seed": u32, "size": st.integers(1, 40),
    "which": st.sampled_from(["add_low", "drop_low", "add_high"]),
    "bits": st.integers(2, 16), "exp": st.integers(-20, 10), "key": u32,
    "counter": st.one_of(u32, st.integers(U32 - 50, U32)), "mode": st.integers(0, 2)})
BIT_EDGES = [dict(seed=5, size=33, which=w, bits=b, exp=0, key=9, counter=U32 - 10, mode=m)
             for w, b in [("add_low", 8), ("add_high", 8), ("drop_low", 9), ("add_low", 15),
                          ("add_high", 15), ("drop_low", 3), ("drop_low", 16), ("add_low", 2)]
             for m in (0, 1)]


def test_bit_changes(ck):
    """add_low/drop_low/add_high (incl. the int8 <-> int16 repack at 8 <-> 9 bits) ==
    QTensor's, plus saturated_count after the change and the PRNG counter."""
    @run_cases(ck, bit_case, 60, examples=BIT_EDGES)
    def _(c):
        bits = min(c["bits"], 15) if c["which"] != "drop_low" else max(c["bits"], 3)
        q = ints(np.random.default_rng(c["seed"]), (c["size"],), bits, c["mode"]).astype(np.int32)
        tc, tg = QTensor(q.copy(), c["exp"], bits), QTensor(q.copy(), c["exp"], bits)
        rc, rg = Rng(c["key"], c["counter"]), Rng(c["key"], c["counter"])
        cmp = compare(ck, "bit_change")
        sat_c = ck.bit_change(c["which"], tc, rc)
        if c["which"] == "drop_low":
            tg.drop_low_bit(rg)
        else:
            getattr(tg, c["which"] + "_bit")()
        cmp.eq(tc.q, tg.q, "q")
        cmp.eq([tc.exp, tc.bits, rc.counter, sat_c],
               [tg.exp, tg.bits, rg.counter, tg.saturated_count()], "exp, bits, counter, saturated")
