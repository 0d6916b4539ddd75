"""Conv2D and DepthwiseConv2D kernels, C == golden integer by integer on every target: forward,
backward-input, backward-weight and the fused backward+update; stride 1 and 2, 'same' and
'valid', odd sizes, depth_multiplier > 1, batch n > 1, int8 and int16 weight containers,
ACC32 and ACC64."""
import numpy as np
import pytest
from hypothesis import strategies as st

from kernel_harness.cases import ints
from kernel_harness.targets import ck, compare, run_cases  # noqa: F401  (ck is a fixture)
from rct_tflm.fixedpoint import QTensor, Rng
from rct_tflm.fixedpoint.kernels import (ACC32, ACC64, conv2d_backward_input,
                                         conv2d_backward_update, conv2d_backward_weight,
                                         conv2d_forward, conv_shape,
                                         depthwise_conv2d_backward_input,
                                         depthwise_conv2d_backward_update,
                                         depthwise_conv2d_backward_weight,
                                         depthwise_conv2d_forward, needs_int64, update)
from rct_tflm.fixedpoint.kernels.common import normalize_i16

KINDS = {
    "conv2d": (conv2d_forward, conv2d_backward_input, conv2d_backward_weight,
               conv2d_backward_update),
    "depthwise": (depthwise_conv2d_forward, depthwise_conv2d_backward_input,
                  depthwise_conv2d_backward_weight, depthwise_conv2d_backward_update),
}


@st.composite
def conv_case(draw, kind: str):
    pad = draw(st.sampled_from(["same", "valid"]))
    k_h, k_w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    lo_h, lo_w = (k_h, k_w) if pad == "valid" else (1, 1)
    c = dict(kind=kind, n=draw(st.integers(1, 3)), in_h=draw(st.integers(lo_h, 7)),
             in_w=draw(st.integers(lo_w, 7)), in_c=draw(st.integers(1, 3)), k_h=k_h, k_w=k_w,
             s_h=draw(st.integers(1, 2)), s_w=draw(st.integers(1, 2)), pad=pad,
             out_c=draw(st.integers(1, 9)),  # > 4: the kernels' 4-channel blocks + remainder
             dm=draw(st.integers(1, 5)) if kind == "depthwise" else 1,  # 1 and 4: 4-channel blocks
             w_bits=draw(st.integers(2, 16)), b_bits=draw(st.integers(2, 16)),
             x_exp=draw(st.integers(-9, 2)), w_exp=draw(st.integers(-16, 2)),
             b_exp=draw(st.integers(-24, 4)),
             y_off=draw(st.one_of(st.integers(-4, 24), st.integers(-40, 70))),
             act=draw(st.integers(0, 2)), bias=draw(st.booleans()), acc64=draw(st.booleans()),
             mode=draw(st.integers(0, 2)), lr_shift=draw(st.integers(-2, 12)),
             stochastic=draw(st.booleans()), key=draw(st.integers(0, 2**32 - 1)),
             seed=draw(st.integers(0, 2**32 - 1)))
    return c


def _edge(kind, **kw):
    c = dict(kind=kind, n=2, in_h=5, in_w=7, in_c=3, k_h=3, k_w=3, s_h=2, s_w=2, pad="same",
             out_c=2, dm=2, w_bits=16, b_bits=16, x_exp=-7, w_exp=-15, b_exp=-20, y_off=12,
             act=2, bias=True, acc64=False, mode=1, lr_shift=3, stochastic=True, key=7, seed=1)
    c.update(kw)
    return c


EDGE_KW = [dict(),                                              # extremes, int16 weights, ReLU6
           dict(w_bits=8, b_bits=8, mode=0, act=1),              # int8 containers
           dict(w_bits=9, pad="valid", s_h=1, s_w=1, act=0),     # int16 just past int8
           dict(in_h=1, in_w=1, k_h=3, k_w=3, n=3),              # 'same' on a 1x1 image
           dict(in_h=3, in_w=3, k_h=3, k_w=3, pad="valid", acc64=True, w_bits=2, mode=1),
           dict(in_h=6, in_w=4, k_h=1, k_w=2, s_h=2, s_w=1, dm=3, y_off=-4, b_exp=4),
           # the zoo CNN's layers: 4-channel blocks, DSP pairs, int8 and int16 containers
           dict(n=1, in_h=8, in_w=8, in_c=1, out_c=8, s_h=1, s_w=1, dm=4),
           dict(n=1, in_h=4, in_w=4, in_c=8, out_c=16, s_h=1, s_w=1, dm=1, w_bits=8, b_bits=8),
           dict(n=2, in_h=4, in_w=5, in_c=5, out_c=7, s_h=1, s_w=2, dm=5, w_bits=12, mode=0),
           # requantisation shifts at the edge of the precomputed fast path (62) and past it
           dict(out_c=5, act=0, y_off=62, x_exp=0, w_exp=0, b_exp=-1),
           dict(out_c=5, act=0, y_off=63, x_exp=0, w_exp=0, mode=0),
           dict(out_c=5, act=0, y_off=1, mode=0, bias=False)]


def _shape(c):
    return conv_shape(c["in_h"], c["in_w"], c["in_c"], c["k_h"], c["k_w"], c["s_h"], c["s_w"],
                      c["pad"], out_c=c["out_c"] if c["kind"] == "conv2d" else None, n=c["n"],
                      depth_multiplier=c["dm"] if c["kind"] == "depthwise" else 1)


def _data(c):
    sh = _shape(c)
    r = np.random.default_rng(c["seed"])
    wshape = (sh.k_h, sh.k_w, sh.in_c, sh.out_c if c["kind"] == "conv2d" else sh.depth_multiplier)
    x = ints(r, (sh.n, sh.in_h, sh.in_w, sh.in_c), 8, c["mode"])
    w = ints(r, wshape, c["w_bits"], c["mode"])
    b = ints(r, (sh.out_c,), c["b_bits"], c["mode"]) if c["bias"] else None
    dz = ints(r, (sh.n, sh.out_h, sh.out_w, sh.out_c), 16, c["mode"])
    g0 = ints(r, wshape, 32, c["mode"]).astype(np.int32)
    return sh, x, w, b, dz, g0


def _forward(ck, kind):
    fwd = KINDS[kind][0]

    @run_cases(ck, conv_case(kind), 60, examples=[_edge(kind, **kw) for kw in EDGE_KW])
    def _(c):
        sh, x, w, b, _, _ = _data(c)
        fan_in = sh.k_h * sh.k_w * (sh.in_c if kind == "conv2d" else 1)
        acc = ACC64 if c["acc64"] or needs_int64(fan_in, c["w_bits"]) else ACC32
        y_exp = c["x_exp"] + c["w_exp"] + c["y_off"]
        args = (x, c["x_exp"], w, c["w_bits"], c["w_exp"], b, c["b_bits"], c["b_exp"], y_exp, sh)
        y_c = getattr(ck, fwd.__name__)(*args, act=c["act"], acc=acc)
        compare(ck, f"{kind}_forward").eq(y_c, fwd(*args, act=c["act"], acc=acc))


def _backward(ck, kind):
    _, bin_, bw, _ = KINDS[kind]

    @run_cases(ck, conv_case(kind), 60, examples=[_edge(kind, **kw) for kw in EDGE_KW])
    def _(c):
        sh, x, w, _, dz, g0 = _data(c)
        cmp = compare(ck, f"{kind}_backward_input")
        dx_c, e_c = getattr(ck, bin_.__name__)(dz, -11, w, c["w_bits"], c["w_exp"], sh)
        dx_g, e_g = bin_(dz, -11, w, c["w_bits"], c["w_exp"], sh)
        cmp.eq(dx_c, dx_g, "dx")
        cmp.eq(e_c, e_g, "dx_exp")
        g_c, g_g = g0.copy(), g0.copy()  # accumulates onto g (saturating int32)
        getattr(ck, bw.__name__)(x, dz, sh, g_c)
        bw(x, dz, sh, g_g)
        compare(ck, f"{kind}_backward_weight").eq(g_c, g_g, "g")


def _fused(ck, kind):
    _, _, bw, bu = KINDS[kind]

    @run_cases(ck, conv_case(kind), 60, examples=[_edge(kind, **kw) for kw in EDGE_KW])
    def _(c):
        """C fused == golden fused == golden backward_weight + update (q, Gavg, PRNG counter)."""
        sh, x, w, _, dz, _ = _data(c)
        ts = [QTensor(w.astype(np.int32), c["w_exp"], c["w_bits"]) for _ in range(3)]
        rs = [Rng(c["key"], 2**32 - 3) for _ in range(3)]
        sto = c["stochastic"]
        lr = c["lr_shift"]
        gav = [getattr(ck, bu.__name__)(ts[0], x, c["x_exp"], dz, -14, sh, lr, rs[0], sto),
               bu(ts[1], x, c["x_exp"], dz, -14, sh, lr, rs[1], sto)]
        g = np.zeros(w.shape, np.int32)
        bw(x, dz, sh, g)
        gav.append(update(ts[2], g, c["x_exp"] - 14, c["lr_shift"], rs[2], sto))
        cmp = compare(ck, f"{kind}_backward_update")
        for t, r, gv in zip(ts[1:], rs[1:], gav[1:]):
            cmp.eq(ts[0].q, t.q, "q")
            cmp.eq([gav[0], rs[0].counter], [gv, r.counter], "gavg, counter")


def test_conv2d_forward(ck):
    _forward(ck, "conv2d")


def test_conv2d_backward(ck):
    _backward(ck, "conv2d")


def test_conv2d_backward_update(ck):
    _fused(ck, "conv2d")


def test_depthwise_forward(ck):
    _forward(ck, "depthwise")


def test_depthwise_backward(ck):
    _backward(ck, "depthwise")


def test_depthwise_backward_update(ck):
    _fused(ck, "depthwise")


@pytest.mark.parametrize("out_c", [2, 5])  # 5: one 4-channel block (DSP path) + one more
def test_conv2d_int32_accumulator_at_its_bound(ck, out_c):
    """fan-in 3*3*56 = 504 at 16 bits in ACC32 (504 * 2^22 < 2^31): the extreme sums, no wrap."""
    sh = conv_shape(3, 3, 56, 3, 3, 1, 1, "valid", out_c=out_c, n=2)
    assert not needs_int64(sh.k_h * sh.k_w * sh.in_c, 16)
    x = np.full((2, 3, 3, 56), -128, np.int64)
    x[1] = 127
    w = np.full((3, 3, 56, out_c), -(1 << 15), np.int64)
    w[..., 1::2] = (1 << 15) - 1
    for y_exp in (0, 24, 31):
        args = (x, 0, w, 16, 0, None, 8, 0, y_exp, sh)
        compare(ck, "conv2d_forward").eq(ck.conv2d_forward(*args, act=0, acc=ACC32),
                                         conv2d_forward(*args, act=0, acc=ACC32),
                                         f"ACC32 bound, y_exp {y_exp}")


@pytest.mark.parametrize("kind,ch", [("conv2d", 5), ("depthwise", 5), ("depthwise", 4)])
@pytest.mark.parametrize("terms", [511, 544])
def test_backward_update_int32_gradient_bound(ck, kind, ch, terms):
    """The fused update sums in int32 up to RCT_GRAD32_MAX_TERMS = 511 x*dz terms per weight and
    in int64 above (saturated to int32 like the contract): worst-case extremes at both sides
    (depthwise dm 4: the 4-channel blocks; dm 5: the per-weight path)."""
    h, w_ = {511: (7, 73), 544: (16, 17)}[terms]
    sh = conv_shape(h, w_, 2, 3, 3, 1, 1, "same", out_c=ch if kind == "conv2d" else None, n=1,
                    depth_multiplier=1 if kind == "conv2d" else ch)
    sh = sh.with_n(2 if terms == 544 else 1)
    assert sh.n * sh.out_h * sh.out_w == terms
    x = np.full((sh.n, h, w_, 2), -128, np.int64)
    dz = np.full((sh.n, sh.out_h, sh.out_w, sh.out_c), -(1 << 15), np.int64)
    dz[..., 1::2] = (1 << 15) - 1
    wshape = (3, 3, 2, ch)
    bu = KINDS[kind][3]
    for lr in (0, 20):
        ts = [QTensor(np.zeros(wshape, np.int32), -10, 16) for _ in range(2)]
        rs = [Rng(5, 0) for _ in range(2)]
        gc = getattr(ck, bu.__name__)(ts[0], x, 0, dz, 0, sh, lr, rs[0], True)
        gg = bu(ts[1], x, 0, dz, 0, sh, lr, rs[1], True)
        cmp = compare(ck, f"{kind}_backward_update")
        cmp.eq(ts[0].q, ts[1].q, f"q, {terms} terms, lr {lr}")
        cmp.eq([gc, rs[0].counter], [gg, rs[1].counter], "gavg, counter")


@st.composite
def stream_case(draw):
    n = draw(st.integers(0, 70))
    bits = draw(st.lists(st.integers(1, 63), min_size=n, max_size=n))
    r = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    order = draw(st.sampled_from(["as drawn", "growing", "shrinking"]))
    v = np.array([int(r.integers(-(1 << (b - 1)), 1 << (b - 1))) for b in bits], np.int64)
    if order != "as drawn":  # growing magnitudes: every element re-floors the stored prefix
        v = v[np.argsort(np.abs(v), kind="stable")]
        v = v[::-1] if order == "shrinking" else v
    return np.clip(v, -(1 << 62), 1 << 62)


def _stream_edges():
    b = [1 << k for k in range(63)]
    return [np.zeros(3, np.int64), np.array([], np.int64),
            np.array(b[:63], np.int64), -np.array(b[:63], np.int64),  # bitlen grows by one each
            np.array([65535, -65536, 65536, -65537, 32767, -32768, 32768, -32769], np.int64),
            np.array([3, -(1 << 62), 1 << 62, -1, 0, 1, (1 << 16) - 1, -(1 << 16)], np.int64),
            np.array([-1, -2, 1, 2, -(1 << 40) - 1, (1 << 40) + 1, 7, -7] * 5, np.int64)]


def test_err_stream_equals_two_pass_rule(ck):
    """rct_err_stream (the backward-input kernels' one-pass exponent, 17-bit floors + a sign
    bitmap after dx) == normalize_i16: values and shift, whatever order the magnitudes come in."""
    @run_cases(ck, stream_case(), 80, examples=_stream_edges())
    def _(v):
        dx_c, sh_c = ck.err_stream(v)
        dx_g, sh_g = normalize_i16(v, 0)
        cmp = compare(ck, "err_stream")
        cmp.eq(dx_c, dx_g, "dx")
        cmp.eq(sh_c, sh_g, "shift")
