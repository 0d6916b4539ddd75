"""ReLU/ReLU6 forward and backward, int8 requantisation, max/average pooling (and the global
average pools, which are average pools with one full window) forward and backward: C == golden
integer by integer on every target."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel_harness.cases import ints
from kernel_harness.targets import ck, compare, run_cases  # noqa: F401  (ck is a fixture)
from rct_tflm.fixedpoint.kernels import (avgpool2d_backward, avgpool2d_forward, conv_shape,
                                         global_pool_shape, maxpool2d_backward,
                                         maxpool2d_forward, normalize_i16, relu6_upper,
                                         relu_backward, relu_forward, requantize_i8)

u32 = st.integers(0, 2**32 - 1)
# 127: ReLU forward; 128: ReLU backward (no upper cut); relu6_upper(e) spans 0..128
uppers = st.one_of(st.sampled_from([127, 128]), st.integers(-12, 6).map(relu6_upper))
act_case = st.fixed_dictionaries({"seed": u32, "size": st.integers(1, 64), "upper": uppers,
                                  "mode": st.integers(0, 2)})
ACT_EDGES = [{"seed": 1, "size": 50, "upper": u, "mode": m}
             for u in (0, 1, 6, 96, 127, 128) for m in (0, 1)]


def test_relu(ck):
    @run_cases(ck, act_case, 60, examples=ACT_EDGES)
    def _(c):
        r = np.random.default_rng(c["seed"])
        x = ints(r, (c["size"],), 8, c["mode"])
        dy = ints(r, (c["size"],), 16, c["mode"])
        cmp = compare(ck, "relu")
        cmp.eq(ck.relu_forward(x, c["upper"]), relu_forward(x, c["upper"]), "forward")
        y = relu_forward(x, min(c["upper"], 127))
        for y_in in (x, y):  # the mask from raw values (negatives, both clip ends) and outputs
            cmp.eq(ck.relu_backward(y_in, dy, c["upper"]), relu_backward(y_in, dy, c["upper"]),
                   "backward")


req_case = st.fixed_dictionaries({"seed": u32, "size": st.integers(1, 64),
                                  "from_exp": st.integers(-20, 10), "to_exp": st.integers(-20, 10),
                                  "mode": st.integers(0, 2)})


def test_requantize_i8(ck):
    @run_cases(ck, req_case, 60, examples=[
            {"seed": 2, "size": 30, "from_exp": f, "to_exp": t, "mode": 1}
            for f, t in [(0, 0), (-8, 0), (0, -8), (-20, 10), (10, -20), (-7, -6), (-6, -7)]])
    def _(c):
        x = ints(np.random.default_rng(c["seed"]), (c["size"],), 8, c["mode"])
        compare(ck, "requantize_i8").eq(ck.requantize_i8(x, c["from_exp"], c["to_exp"]),
                                        requantize_i8(x, c["from_exp"], c["to_exp"]))


@st.composite
def pool_case(draw):
    pad = draw(st.sampled_from(["same", "valid"]))
    k_h, k_w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    lo_h, lo_w = (k_h, k_w) if pad == "valid" else (1, 1)
    return dict(n=draw(st.integers(1, 3)), in_h=draw(st.integers(lo_h, 8)),
                in_w=draw(st.integers(lo_w, 8)), in_c=draw(st.integers(1, 3)), k_h=k_h, k_w=k_w,
                s_h=draw(st.integers(1, 3)), s_w=draw(st.integers(1, 3)), pad=pad,
                dy_exp=draw(st.integers(-20, 4)), mode=draw(st.integers(0, 2)), seed=draw(u32))


def _pool_edge(**kw):
    c = dict(n=2, in_h=7, in_w=5, in_c=2, k_h=3, k_w=3, s_h=2, s_w=2, pad="same", dy_exp=-9,
             mode=1, seed=3)
    c.update(kw)
    return c


POOL_EDGES = [_pool_edge(),                                       # overlapping windows, ties
              _pool_edge(k_h=2, k_w=2, in_h=4, in_w=4, pad="valid"),  # MaxPool2D(2) default
              _pool_edge(in_h=1, in_w=1, n=3),                      # 'same' on 1x1
              _pool_edge(s_h=1, s_w=1, mode=0),                     # every input in 9 windows
              _pool_edge(k_h=1, k_w=3, s_h=3, s_w=1, in_h=8, in_w=3, mode=2),
              # non-overlapping windows (the backward's scatter path): padded, strided past
              # the window, and the zoo CNN's pool1 with ties
              _pool_edge(k_h=2, k_w=2, s_h=2, s_w=2),
              _pool_edge(k_h=2, k_w=1, s_h=3, s_w=2, in_h=8, in_w=7),
              _pool_edge(k_h=2, k_w=2, s_h=2, s_w=2, in_h=8, in_w=8, in_c=8, n=1, mode=2),
              # argmax packing: 2 bits (<= 4 taps, odd count), 4 bits (16 taps), 8 bits (20)
              _pool_edge(k_h=1, k_w=3, s_h=1, s_w=3, in_h=3, in_w=7, in_c=1, n=1, mode=0),
              _pool_edge(k_h=4, k_w=4, s_h=4, s_w=4, in_h=8, in_w=9, mode=0),
              _pool_edge(k_h=5, k_w=4, s_h=2, s_w=3, in_h=9, in_w=8, mode=0)]


def _pool_data(c):
    sh = conv_shape(c["in_h"], c["in_w"], c["in_c"], c["k_h"], c["k_w"], c["s_h"], c["s_w"],
                    c["pad"], n=c["n"])
    r = np.random.default_rng(c["seed"])
    x = ints(r, (sh.n, sh.in_h, sh.in_w, sh.in_c), 8, c["mode"])
    dy = ints(r, (sh.n, sh.out_h, sh.out_w, sh.out_c), 16, c["mode"])
    return sh, x, dy


def test_maxpool(ck):
    @run_cases(ck, pool_case(), 60, examples=POOL_EDGES)
    def _(c):
        sh, x, dy = _pool_data(c)
        cmp = compare(ck, "maxpool2d")
        y_c, arg_c = ck.maxpool2d_forward(x, sh, with_arg=True)
        y_g, arg_g = maxpool2d_forward(x, sh, with_arg=True)
        cmp.eq(y_c, y_g, "forward")
        cmp.eq(arg_c, arg_g, "forward argmax")
        cmp.eq(ck.maxpool2d_forward(x, sh, null_arg=True), y_g, "forward, arg NULL")
        dx_c, e_c = ck.maxpool2d_backward(arg_c, dy, c["dy_exp"], sh)
        dx_g, e_g = maxpool2d_backward(arg_g, dy, c["dy_exp"], sh)
        cmp.eq(dx_c, dx_g, "backward dx")
        cmp.eq(e_c, e_g, "backward dx_exp")
        for upper in (128, 3):  # the folded activation mask (ReLU, ReLU6 with a low clamp)
            dx_c, e_c = ck.maxpool2d_backward(arg_c, dy, c["dy_exp"], sh, y=y_g, upper=upper)
            dx_g, e_g = maxpool2d_backward(arg_g, dy, c["dy_exp"], sh, y=y_g, upper=upper)
            cmp.eq(dx_c, dx_g, f"backward dx, mask upper {upper}")
            cmp.eq(e_c, e_g, "backward dx_exp, mask")


@settings(max_examples=60)
@given(pool_case(), st.sampled_from([128, 1, 3, 64]))
def test_maxpool_folded_mask_equals_relu_backward(c, upper):
    """Golden: for non-overlapping windows the pool backward with the pool's output as mask ==
    the unmasked pool backward followed by relu_backward on the layer output (the fold the
    generator makes so that output need not live until its backward)."""
    sh, x, dy = _pool_data(c)
    x = np.maximum(x, 0) if upper == 128 else np.clip(x, 0, upper)  # a ReLU/ReLU6 output
    y, arg = maxpool2d_forward(x, sh, with_arg=True)
    dx_f, e_f = maxpool2d_backward(arg, dy, c["dy_exp"], sh, y=y, upper=upper)
    dx_u, e_u = maxpool2d_backward(arg, dy, c["dy_exp"], sh)
    if sh.stride_h >= sh.k_h and sh.stride_w >= sh.k_w:
        np.testing.assert_array_equal(dx_f, relu_backward(x, dx_u, upper))
        assert e_f == e_u == c["dy_exp"]


def test_avgpool(ck):
    @run_cases(ck, pool_case(), 60, examples=POOL_EDGES)
    def _(c):
        sh, x, dy = _pool_data(c)
        cmp = compare(ck, "avgpool2d")
        cmp.eq(ck.avgpool2d_forward(x, sh), avgpool2d_forward(x, sh), "forward")
        dx_c, e_c = ck.avgpool2d_backward(dy, c["dy_exp"], sh)
        dx_g, e_g = avgpool2d_backward(dy, c["dy_exp"], sh)
        cmp.eq(dx_c, dx_g, "backward dx")
        cmp.eq(e_c, e_g, "backward dx_exp")


# -- global average pooling (gap2d, gap1d): avgpool2d with one window over the whole input ------
gap_case = st.fixed_dictionaries({"n": st.integers(1, 3), "h": st.integers(1, 12),
                                  "w": st.integers(1, 12), "c": st.integers(1, 4),
                                  "dy_exp": st.integers(-20, 4), "mode": st.integers(0, 2),
                                  "seed": u32})


def _gap_edge(**kw):
    c = dict(n=2, h=8, w=8, c=8, dy_exp=-15, mode=0, seed=5)
    c.update(kw)
    return c


GAP_EDGES = [_gap_edge(),                                  # conv on digits 8x8 -> GAP (count 64)
             _gap_edge(h=16, w=16, c=2, n=1, mode=1),      # count 256: dy * 2^8 / count = dy
             _gap_edge(h=20, w=20, c=2, n=1),              # count 400 > 2^8: dy/count rounds
             _gap_edge(h=1, w=1, c=3, mode=1),             # 1 x 1: the identity
             _gap_edge(h=3, w=5, c=3, mode=2),             # odd count, small values: ties
             _gap_edge(h=1, w=32, c=16, n=1),              # gap1d: 32 steps x 16 channels
             _gap_edge(h=1, w=7, c=3, n=3, mode=1)]        # gap1d, odd steps, extremes


def _gap_data(c):
    sh = global_pool_shape(c["h"], c["w"], c["c"], n=c["n"])
    r = np.random.default_rng(c["seed"])
    x = ints(r, (sh.n, sh.in_h, sh.in_w, sh.in_c), 8, c["mode"])
    dy = ints(r, (sh.n, sh.in_c), 16, c["mode"])
    return sh, x, dy


def test_global_avgpool(ck):
    """The global pools run the avgpool2d kernels on a full window: C == golden integer by
    integer, and golden == the rounding docs/numerics.md specifies (mean, ties towards +inf;
    backward: every input gets round(dy * 2^8 / (H * W)) before the normalisation)."""
    @run_cases(ck, gap_case, 40, examples=GAP_EDGES)
    def _(c):
        sh, x, dy = _gap_data(c)
        assert (sh.out_h, sh.out_w, sh.out_c) == (1, 1, c["c"])
        count = c["h"] * c["w"]
        y_g = avgpool2d_forward(x, sh)
        want = np.floor(x.sum(axis=(1, 2)) / count + 0.5)  # exact in float64 at these sizes
        np.testing.assert_array_equal(y_g.reshape(sh.n, sh.in_c), want)
        cmp = compare(ck, "avgpool2d (global)")
        cmp.eq(ck.avgpool2d_forward(x, sh), y_g, "forward")
        dx_g, e_g = avgpool2d_backward(dy, c["dy_exp"], sh)
        v = np.broadcast_to(np.floor(dy * 256 / count + 0.5)[:, None, None, :].astype(np.int64),
                            x.shape)
        dx_w, e_w = normalize_i16(v, c["dy_exp"] - 8)
        np.testing.assert_array_equal(dx_g, dx_w)
        assert e_g == e_w
        dx_c, e_c = ck.avgpool2d_backward(dy, c["dy_exp"], sh)
        cmp.eq(dx_c, dx_g, "backward dx")
        cmp.eq(e_c, e_g, "backward dx_exp")
