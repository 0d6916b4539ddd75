"""ZeroPadding2D's kernels (rct_pad2d_forward/backward): C == golden integer for integer on
every target, and the backward is the forward's adjoint (the crop of the padded error)."""
import numpy as np
from hypothesis import strategies as st

from kernel_harness.cases import ints
from kernel_harness.targets import ck, compare, run_cases  # noqa: F401  (ck is a fixture)
from rct_tflm.fixedpoint.kernels.pad import pad2d_backward, pad2d_forward

case = st.fixed_dictionaries({"seed": st.integers(0, 2**32 - 1), "n": st.integers(1, 3),
                              "h": st.integers(1, 7), "w": st.integers(1, 7),
                              "c": st.integers(1, 5),
                              "pads": st.lists(st.integers(0, 3), min_size=4, max_size=4)})


def test_pad2d_forward_and_backward(ck):
    @run_cases(ck, case, 40)
    def _(c):
        r = np.random.default_rng(c["seed"])
        t, b, left, right = c["pads"]
        x = ints(r, (c["n"], c["h"], c["w"], c["c"]), 8).astype(np.int8)
        y = pad2d_forward(x, t, b, left, right)
        compare(ck, "pad2d_forward").eq(ck.pad2d_forward(x, t, b, left, right), y)
        dy = ints(r, y.shape, 16).astype(np.int16)
        dx = pad2d_backward(dy, t, b, left, right)
        compare(ck, "pad2d_backward").eq(ck.pad2d_backward(dy, t, b, left, right), dx)
        # adjoint: <pad(x), dy> == <x, crop(dy)>
        assert int(np.sum(y.astype(np.int64) * dy)) == int(np.sum(x.astype(np.int64) * dx))
