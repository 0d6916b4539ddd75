"""The frozen part's TFLite arithmetic (firmware/kernels/rct_tfl_*.c, rct_tfl.h): C == the numpy
twins (rct_tflm/fixedpoint/tflite) integer for integer on the host (ASan/UBSan) and on QEMU
Cortex-M; the numpy twins == the tflite-micro interpreter is tests/test_tflite_import.py."""
import numpy as np
from hypothesis import strategies as st

from kernel_harness.cases import ints
from kernel_harness.targets import ck, compare, run_cases  # noqa: F401  (ck is a fixture)
from rct_tflm.fixedpoint.tflite.add import add, add_params
from rct_tflm.fixedpoint.tflite.conv import conv2d, depthwise_conv2d
from rct_tflm.fixedpoint.tflite.fully_connected import fully_connected
from rct_tflm.fixedpoint.tflite.mean import mean, mean_multiplier
from rct_tflm.fixedpoint.tflite.multiplier import (INT32_MAX, INT32_MIN, mbqm,
                                                   quantize_multiplier)
from rct_tflm.fixedpoint.tflite.pooling import average_pool, max_pool

seeds = st.integers(0, 2**32 - 1)
acts = st.sampled_from([(-128, 127), (-5, 127), (-128, 40), (-20, 60)])


def multipliers(r: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k (qm, shift) pairs of effective scales 2^-14 .. 2^1 (conv-like, some above one)."""
    pairs = [quantize_multiplier(float(2.0 ** r.uniform(-14, 1))) for _ in range(k)]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def test_mbqm(ck):
    case = st.fixed_dictionaries({"seed": seeds, "size": st.integers(1, 200),
                                  "shift": st.integers(-31, 8)})

    @run_cases(ck, case, 60, examples=[{"seed": 1, "size": 8, "shift": s} for s in (-31, 0, 8)])
    def _(c):
        r = np.random.default_rng(c["seed"])
        x = r.integers(-(1 << 23), 1 << 23, c["size"]) >> max(0, c["shift"])
        x[:2] = [0, -1][:len(x[:2])]
        qm = int(r.integers(1 << 30, (1 << 31) - 1))
        compare(ck, "tfl_mbqm").eq(ck.tfl_mbqm(x, qm, c["shift"]), mbqm(x, qm, c["shift"]))


def test_mbqm_saturating_corner(ck):
    x = np.array([INT32_MIN, INT32_MAX, -1, 1], np.int64)
    compare(ck, "tfl_mbqm").eq(ck.tfl_mbqm(x, INT32_MAX, 0), mbqm(x, INT32_MAX, 0))


conv_case = st.fixed_dictionaries({
    "seed": seeds, "n": st.integers(1, 2), "h": st.integers(1, 9), "w": st.integers(1, 9),
    "c": st.integers(1, 5), "o": st.integers(1, 6), "k": st.integers(1, 3),
    "stride": st.integers(1, 3), "dil": st.integers(1, 2), "same": st.booleans(),
    "bias": st.booleans(), "act": acts, "dm": st.integers(1, 3), "mode": st.integers(0, 2)})
CONV_EDGES = [{"seed": 3, "n": 1, "h": 8, "w": 8, "c": 3, "o": 4, "k": 3, "stride": s, "dil": 1,
               "same": same, "bias": True, "act": (-128, 127), "dm": 2, "mode": m}
              for s, same, m in [(1, True, 0), (2, True, 1), (2, False, 0), (3, True, 2)]]


def _conv_args(c):
    r = np.random.default_rng(c["seed"])
    k = c["k"]
    if not c["same"]:  # VALID needs the dilated window inside the image
        k = max(1, min(k, (min(c["h"], c["w"]) - 1) // c["dil"] + 1))
    x = ints(r, (c["n"], c["h"], c["w"], c["c"]), 8, c["mode"]).astype(np.int8)
    zp_in, zp_out = int(r.integers(-128, 128)), int(r.integers(-128, 128))
    return r, k, x, zp_in, zp_out, "same" if c["same"] else "valid"


def test_conv2d(ck):
    @run_cases(ck, conv_case, 40, examples=CONV_EDGES)
    def _(c):
        r, k, x, zp_in, zp_out, pad = _conv_args(c)
        w = ints(r, (c["o"], k, k, c["c"]), 8, c["mode"]).astype(np.int8)
        b = r.integers(-5000, 5000, c["o"]).astype(np.int32) if c["bias"] else None
        qm, sh = multipliers(r, c["o"])
        args = (x, zp_in, w, b, qm, sh, zp_out, c["act"], (c["stride"],) * 2, (c["dil"],) * 2,
                pad)
        compare(ck, "tfl_conv2d").eq(ck.tfl_conv2d(*args), conv2d(*args))


def test_depthwise_conv2d(ck):
    @run_cases(ck, conv_case, 40, examples=CONV_EDGES)
    def _(c):
        r, k, x, zp_in, zp_out, pad = _conv_args(c)
        o = c["c"] * c["dm"]
        w = ints(r, (1, k, k, o), 8, c["mode"]).astype(np.int8)
        b = r.integers(-5000, 5000, o).astype(np.int32) if c["bias"] else None
        qm, sh = multipliers(r, o)
        args = (x, zp_in, w, b, qm, sh, zp_out, c["act"], c["dm"], (c["stride"],) * 2,
                (c["dil"],) * 2, pad)
        compare(ck, "tfl_depthwise_conv2d").eq(ck.tfl_depthwise_conv2d(*args),
                                               depthwise_conv2d(*args))


def test_fully_connected(ck):
    case = st.fixed_dictionaries({"seed": seeds, "n": st.integers(1, 4), "i": st.integers(1, 300),
                                  "o": st.integers(1, 20), "bias": st.booleans(),
                                  "per_channel": st.booleans(), "act": acts,
                                  "mode": st.integers(0, 2)})

    @run_cases(ck, case, 40, examples=[{"seed": 4, "n": 2, "i": 256, "o": 10, "bias": True,
                                        "per_channel": pc, "act": (-128, 127), "mode": 1}
                                       for pc in (False, True)])
    def _(c):
        r = np.random.default_rng(c["seed"])
        x = ints(r, (c["n"], c["i"]), 8, c["mode"]).astype(np.int8)
        w = ints(r, (c["o"], c["i"]), 8, c["mode"]).astype(np.int8)
        b = r.integers(-20000, 20000, c["o"]).astype(np.int32) if c["bias"] else None
        qm, sh = multipliers(r, c["o"] if c["per_channel"] else 1)
        args = (x, int(r.integers(-128, 128)), w, b, qm, sh, int(r.integers(-128, 128)),
                c["act"])
        compare(ck, "tfl_fully_connected").eq(ck.tfl_fully_connected(*args),
                                              fully_connected(*args))


def test_add(ck):
    case = st.fixed_dictionaries({"seed": seeds, "size": st.integers(1, 300), "act": acts,
                                  "in_place": st.booleans(), "mode": st.integers(0, 2)})

    @run_cases(ck, case, 60)
    def _(c):
        r = np.random.default_rng(c["seed"])
        a = ints(r, c["size"], 8, c["mode"]).astype(np.int8)
        b = ints(r, c["size"], 8, c["mode"]).astype(np.int8)
        s = [float(np.float32(2.0 ** r.uniform(-8, 0))) for _ in range(3)]
        p = add_params(*s)
        zps = [int(v) for v in r.integers(-128, 128, 3)]
        compare(ck, "tfl_add").eq(
            ck.tfl_add(a, zps[0], b, zps[1], p, zps[2], c["act"], c["in_place"]),
            add(a, zps[0], b, zps[1], p, zps[2], c["act"]))


pool_case = st.fixed_dictionaries({"seed": seeds, "n": st.integers(1, 2), "h": st.integers(1, 9),
                                   "w": st.integers(1, 9), "c": st.integers(1, 5),
                                   "k": st.integers(1, 4), "stride": st.integers(1, 3),
                                   "same": st.booleans(), "act": acts,
                                   "mode": st.integers(0, 2)})


def _pool_args(c):
    r = np.random.default_rng(c["seed"])
    k = c["k"] if c["same"] else min(c["k"], c["h"], c["w"])
    x = ints(r, (c["n"], c["h"], c["w"], c["c"]), 8, c["mode"]).astype(np.int8)
    return x, (k, k), (c["stride"],) * 2, "same" if c["same"] else "valid", c["act"]


def test_average_pool(ck):
    @run_cases(ck, pool_case, 40)
    def _(c):
        args = _pool_args(c)
        compare(ck, "tfl_avgpool2d").eq(ck.tfl_average_pool(*args), average_pool(*args))


def test_max_pool(ck):
    @run_cases(ck, pool_case, 40)
    def _(c):
        args = _pool_args(c)
        compare(ck, "tfl_maxpool2d").eq(ck.tfl_max_pool(*args), max_pool(*args))


def test_mean_hw(ck):
    case = st.fixed_dictionaries({"seed": seeds, "n": st.integers(1, 3), "h": st.integers(1, 12),
                                  "w": st.integers(1, 12), "c": st.integers(1, 8),
                                  "mode": st.integers(0, 2)})

    @run_cases(ck, case, 40)
    def _(c):
        r = np.random.default_rng(c["seed"])
        x = ints(r, (c["n"], c["h"], c["w"], c["c"]), 8, c["mode"]).astype(np.int8)
        s_in, s_out = (float(np.float32(2.0 ** r.uniform(-8, 0))) for _ in range(2))
        zp_in, zp_out = (int(v) for v in r.integers(-128, 128, 2))
        qm, shift = mean_multiplier(s_in, s_out, c["h"] * c["w"])
        compare(ck, "tfl_mean_hw").eq(ck.tfl_mean_hw(x, zp_in, qm, shift, zp_out),
                                      mean(x, (1, 2), False, s_in, zp_in, s_out, zp_out))


def test_pad_and_requantize(ck):
    case = st.fixed_dictionaries({"seed": seeds, "pads": st.lists(st.integers(0, 3), min_size=4,
                                                                  max_size=4)})

    @run_cases(ck, case, 30)
    def _(c):
        r = np.random.default_rng(c["seed"])
        x = ints(r, (2, 4, 5, 3), 8).astype(np.int8)
        t, b, left, right = c["pads"]
        v = int(r.integers(-128, 128))
        compare(ck, "tfl_pad").eq(
            ck.tfl_pad(x, t, b, left, right, v),
            np.pad(x, [(0, 0), (t, b), (left, right), (0, 0)], constant_values=v))
        qm, sh = quantize_multiplier(float(2.0 ** r.uniform(-3, 3)))
        zi, zo = (int(z) for z in r.integers(-128, 128, 2))
        want = np.clip(mbqm(x.astype(np.int64) - zi, qm, sh) + zo, -128, 127)
        compare(ck, "tfl_requantize").eq(ck.tfl_requantize(x, zi, qm, sh, zo), want)
