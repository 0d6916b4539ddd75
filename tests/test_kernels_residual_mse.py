"""Residual Add (forward, error sum) and the MSE loss head: C == golden integer by integer on
every target, and the golden rules against their real-valued meaning."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel_harness.cases import ints
from kernel_harness.targets import ck, compare, run_cases  # noqa: F401  (ck is a fixture)
from rct_tflm.fixedpoint.kernels import add_forward, align_exp, err_add, mse_loss

exps = st.integers(-20, 6)
add_case = st.fixed_dictionaries({"seed": st.integers(0, 2**32 - 1), "size": st.integers(1, 300),
                                  "ea": exps, "eb": exps, "dy": st.integers(-3, 3),
                                  "mode": st.integers(0, 2), "in_place": st.booleans()})
ADD_EDGES = [{"seed": 1, "size": 64, "ea": ea, "eb": eb, "dy": d, "mode": 1, "in_place": ip}
             for ea, eb, d, ip in [(-7, -7, 0, False), (-7, -7, 1, True), (-4, -30, 0, False),
                                   (0, -16, -2, False), (-20, 6, 3, True)]]
mse_case = st.fixed_dictionaries({"seed": st.integers(0, 2**32 - 1), "n": st.integers(1, 4),
                                  "m": st.integers(1, 700), "ye": exps, "te": exps,
                                  "mode": st.integers(0, 2), "scores": st.booleans()})
MSE_EDGES = [{"seed": 2, "n": n, "m": m, "ye": ye, "te": te, "mode": mode, "scores": True}
             for n, m, ye, te, mode in [(1, 1, -7, -7, 0), (4, 640, -5, -7, 1), (2, 10, 6, 6, 1),
                                        (3, 5, -20, 4, 1), (1, 3, -7, -7, 2), (4, 640, 6, -20, 1)]]


def test_add_forward(ck):
    @run_cases(ck, add_case, 60, examples=ADD_EDGES)
    def _(c):
        r = np.random.default_rng(c["seed"])
        a = ints(r, c["size"], 8, c["mode"]).astype(np.int8)
        b = ints(r, c["size"], 8, c["mode"]).astype(np.int8)
        y_exp = max(c["ea"], c["eb"]) + c["dy"]
        compare(ck, "add_forward").eq(ck.add_forward(a, c["ea"], b, c["eb"], y_exp, c["in_place"]),
                                      add_forward(a, c["ea"], b, c["eb"], y_exp))


def test_err_add(ck):
    @run_cases(ck, add_case, 60, examples=ADD_EDGES)
    def _(c):
        r = np.random.default_rng(c["seed"])
        da = ints(r, c["size"], 16, c["mode"]).astype(np.int16)
        db = ints(r, c["size"], 16, c["mode"]).astype(np.int16)
        dx_c, e_c = ck.err_add(da, c["ea"], db, c["eb"], c["in_place"])
        dx_g, e_g = err_add(da, c["ea"], db, c["eb"])
        cmp = compare(ck, "err_add")
        cmp.eq(dx_c, dx_g, "dx")
        cmp.eq([e_c], [e_g], "dx_exp")


def test_mse_loss(ck):
    @run_cases(ck, mse_case, 60, examples=MSE_EDGES)
    def _(c):
        r = np.random.default_rng(c["seed"])
        y = ints(r, (c["n"], c["m"]), 8, c["mode"]).astype(np.int8)
        t = ints(r, (c["n"], c["m"]), 8, c["mode"]).astype(np.int8)
        dy_c, e_c, loss_c, sc_c = ck.mse_loss(y, c["ye"], t, c["te"], c["scores"])
        dy_g, e_g, loss_g, sc_g = mse_loss(y, c["ye"], t, c["te"])
        cmp = compare(ck, "mse_loss")
        cmp.eq(dy_c, dy_g, "dy")
        cmp.eq([e_c, loss_c], [e_g, loss_g], "dy_exp, loss")
        if c["scores"]:
            cmp.eq(sc_c, sc_g, "scores")


# -- the golden rules mean what they say (no C involved) -------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), exps, exps)
def test_add_forward_is_the_rounded_real_sum(seed, ea, eb):
    r = np.random.default_rng(seed)
    a, b = (r.integers(-128, 128, 50).astype(np.int8) for _ in range(2))
    y_exp = max(ea, eb) + 1
    real = a * 2.0 ** ea + b * 2.0 ** eb
    y = add_forward(a, ea, b, eb, y_exp).astype(np.float64) * 2.0 ** y_exp
    in_range = np.abs(real) < 127 * 2.0 ** y_exp
    # within half an LSB of y, plus the finer operand's rounding when exponents are far apart
    tol = 0.5 * 2.0 ** y_exp + (0.5 * 2.0 ** align_exp(ea, eb) if abs(ea - eb) > 16 else 0)
    assert np.all(np.abs(y - real)[in_range] <= tol + 1e-12)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 64), st.integers(-10, 2), st.integers(-10, 2))
def test_mse_loss_is_the_mean_squared_error_and_its_gradient(seed, m, ye, te):
    r = np.random.default_rng(seed)
    y, t = (r.integers(-128, 128, (3, m)).astype(np.int8) for _ in range(2))
    dy, dy_exp, loss, scores = mse_loss(y, ye, t, te)
    d = y * 2.0 ** ye - t * 2.0 ** te
    mse = (d ** 2).mean(axis=1)
    # scores: Q16.16 of the per-sample MSE (two roundings of at most half an LSB each, and the
    # difference is exact at 2^e when |ye - te| <= 16)
    fits = mse < 32767  # Q16.16 in int32 saturates above 2^15
    assert np.all(np.abs(scores / 65536.0 - mse)[fits] <= 1.0 / 65536 + 1e-9 * mse[fits])
    assert np.all(scores[~fits] == 2**31 - 1)
    grad = 2 * d / m
    assert np.all(np.abs(dy * 2.0 ** dy_exp - grad) <= 2.0 ** dy_exp + 2.0 ** (align_exp(ye, te) - 16))
    assert np.abs(dy).max() >= 2 ** 14 or dy_exp == align_exp(ye, te) - 16  # normalised


def test_err_add_of_equal_errors_doubles_them():
    da = np.array([1000, -1000, 7, 0], np.int16)
    dx, e = err_add(da, -12, da, -12)
    assert (e, list(dx)) == (-12, [2000, -2000, 14, 0])
    big = np.array([30000, -30000, 3], np.int16)  # the doubled sum needs one more bit: exp + 1
    dx, e = err_add(big, -12, big, -12)
    assert (e, list(dx)) == (-11, [30000, -30000, 3])
