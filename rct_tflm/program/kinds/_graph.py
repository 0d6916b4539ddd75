"""The backward's error flow in a graph (residual Add): the calls lower() inserts where a
tensor has two consumers. Not a layer kind.

The error exponent of the layer being lowered backward lives in the runtime value `e_exp`. An
error that must wait (the skip's, until the branch's backward reaches the same tensor) keeps
its exponent in a named register (`save_error` / `load_error`); `copy_error` gives it its own
buffer when a call in between would mask the shared one in place; `err_add` sums the two
errors reaching one tensor (rct_err_add.c) and leaves the sum's exponent in `e_exp`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...fixedpoint.kernels import residual as R
from ..kernel import Kernel
from ..model import Call

if TYPE_CHECKING:
    from ..golden import State
    from ..kernel import CContext


def _save(c: Call, st: "State") -> None:
    st.regs[c.args["reg"]] = st.regs["e_exp"]


def _load(c: Call, st: "State") -> None:
    st.regs["e_exp"] = st.regs[c.args["reg"]]


def _copy(c: Call, st: "State") -> None:
    st.put(c.buffers["dst"], np.array(st.buf(c.buffers["src"]), copy=True))


def _err_add(c: Call, st: "State") -> None:
    dx, st.regs["e_exp"] = R.err_add(st.buf(c.buffers["da"]), st.regs["e_exp"],
                                     st.buf(c.buffers["db"]), st.regs[c.args["reg"]])
    st.put(c.buffers["dx"], dx)


def _c_copy(c: Call, cx: "CContext") -> str:
    return (f"    memcpy({cx.buf(c.buffers['dst'])}, {cx.buf(c.buffers['src'])}, "
            f"sizeof(int16_t) * (size_t)(n * {c.args['size']}));")


def _c_err_add(c: Call, cx: "CContext") -> str:
    b = c.buffers
    return (f"    e_exp = rct_err_add({cx.buf(b['da'])}, e_exp, {cx.buf(b['db'])}, "
            f"{c.args['reg']}, {cx.buf(b['dx'])}, n * {c.args['size']});")


KERNELS = {
    "save_error": Kernel(_save, lambda c, cx: f"    {c.args['reg']} = e_exp;", None, "other"),
    "load_error": Kernel(_load, lambda c, cx: f"    e_exp = {c.args['reg']};", None, "other"),
    "copy_error": Kernel(_copy, _c_copy, None, "other"),
    "err_add": Kernel(_err_add, _c_err_add, "rct_err_add", "backward-input"),
}
