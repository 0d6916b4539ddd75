"""Softmax + cross-entropy (gradient, loss, correct count) and argmax: C == golden integer by
integer on every target; the fixed-point tables against their formulas and the C source."""
import math
import re
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from kernel_harness.cases import ints
from kernel_harness.targets import ck, compare, run_cases  # noqa: F401  (ck is a fixture)
from rct_tflm.fixedpoint.kernels import argmax_i8, softmax_ce
from rct_tflm.fixedpoint.kernels import softmax_tables as T

C_SOURCE = Path(__file__).resolve().parents[1] / "firmware" / "kernels" / "rct_softmax_ce.c"

sm_case = st.fixed_dictionaries({
    "seed": st.integers(0, 2**32 - 1), "n": st.integers(1, 4), "classes": st.integers(1, 40),
    "z_exp": st.integers(-12, 4), "mode": st.integers(0, 2)})
SM_EDGES = [{"seed": 4, "n": 4, "classes": c, "z_exp": e, "mode": m}
            for c, e, m in [(10, -4, 1), (10, 4, 1), (10, -12, 2), (1, 0, 0), (2, -16, 1),
                            (255, -3, 0), (100, 0, 1)]]


def test_softmax_ce(ck):
    @run_cases(ck, sm_case, 60, examples=SM_EDGES)
    def _(c):
        r = np.random.default_rng(c["seed"])
        z = ints(r, (c["n"], c["classes"]), 8, c["mode"])
        labels = r.integers(0, c["classes"], size=c["n"])
        dz_c, loss_c, correct_c = ck.softmax_ce(z, c["z_exp"], labels)
        dz_g, loss_g, correct_g = softmax_ce(z, c["z_exp"], labels)
        cmp = compare(ck, "softmax_ce")
        cmp.eq(dz_c, dz_g, "dz")
        cmp.eq([loss_c, correct_c], [loss_g, correct_g], "loss, correct")


def test_softmax_ce_extreme_logits(ck):
    """All equal; one logit at +127 against -128 (the distance cap); every label position."""
    cmp = compare(ck, "softmax_ce")
    for z_exp in (-16, -3, 0, 6):
        z = np.full((6, 6), -128, np.int64)
        z[np.arange(6), np.arange(6)] = 127
        z[5] = 7  # all equal
        labels = np.array([0, 1, 2, 0, 5, 3])
        got, want = ck.softmax_ce(z, z_exp, labels), softmax_ce(z, z_exp, labels)
        cmp.eq(got[0], want[0], "dz")
        cmp.eq(got[1:], want[1:], "loss, correct")
    # 1100 samples, each at the distance cap on the wrong class: the loss sum saturates int32
    z = np.tile(np.array([[127, -128]], np.int64), (1100, 1))
    labels = np.ones(1100, np.int64)
    got, want = ck.softmax_ce(z, 0, labels), softmax_ce(z, 0, labels)
    assert want[1] == 2**31 - 1
    cmp.eq(got[0], want[0], "dz")
    cmp.eq(got[1:], want[1:], "saturated loss, correct")


def test_argmax(ck):
    case = st.tuples(st.integers(0, 2**32 - 1), st.integers(1, 80), st.integers(0, 2))

    @run_cases(ck, case, 60, examples=[(1, 1, 0), (2, 30, 1), (3, 255, 2)])
    def _(c):
        z = ints(np.random.default_rng(c[0]), (c[1],), 8, c[2])
        compare(ck, "argmax_i8").eq(ck.argmax_i8(z), argmax_i8(z))


def _c_table(name: str) -> list[int]:
    body = re.search(rf"{name}\[257\] = \{{(.*?)\}};", C_SOURCE.read_text(), re.S).group(1)
    return [int(v) for v in re.findall(r"-?\d+", body)]


def test_tables_match_formulas_and_c_source():
    assert list(T.EXP2_Q30) == [round(2**30 * 2 ** (-j / 256)) for j in range(257)]
    assert list(T.LOG2_Q16) == [round(2**16 * math.log2(1 + j / 256)) for j in range(257)]
    assert T.LOG2E_Q16 == round(math.log2(math.e) * 2**16)
    assert T.LN2_Q16 == round(math.log(2) * 2**16)
    assert _c_table("EXP2_Q30") == list(T.EXP2_Q30)
    assert _c_table("LOG2_Q16") == list(T.LOG2_Q16)
    src = C_SOURCE.read_text()
    assert f"#define LOG2E_Q16 {T.LOG2E_Q16}" in src and f"#define LN2_Q16 {T.LN2_Q16}" in src
