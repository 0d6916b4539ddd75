"""What the window kinds share: a numpy-built layer's defaults and the geometry from the layer
config (conv2d, depthwise_conv2d, maxpool2d, avgpool2d; the global pools gap1d, gap2d); the calls of conv2d and
depthwise_conv2d (a forward, a one-pass backward-input whose error carries a sign bitmap, an
update), which differ only in the kernels they name."""
from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from ...errors import UserError
from ...fixedpoint.kernels.shapes import ConvShape, conv_shape, global_pool_shape
from ..kernel import Kernel, c_acc, c_act, shaped
from ..model import Call, LayerFacts
from . import _float, _param

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..golden import State
    from ..kernel import CContext
    from ..lower import Lowering


def spec_defaults(c: dict) -> None:
    """Keras' defaults for a numpy-built conv layer, kernel size and strides as [h, w]."""
    c.setdefault("strides", [1, 1])
    c.setdefault("padding", "valid")
    c.setdefault("activation", "linear")
    c["kernel_size"] = list(_float.pair(c["kernel_size"]))
    c["strides"] = list(_float.pair(c["strides"]))


def pool_spec(c: dict, shape: tuple[int, ...]) -> tuple[dict, tuple[int, ...]]:
    """A numpy-built pool layer with Keras' defaults (strides = pool size, valid padding)."""
    c["pool_size"] = list(_float.pair(c["pool_size"]))
    c["strides"] = list(_float.pair(c.get("strides") or c["pool_size"]))
    c.setdefault("padding", "valid")
    return c, (*_float.window_out(c, shape), shape[2])


def c_roles(kind: str) -> dict[str, str]:
    """The unfused weight-gradient C functions of a conv kind (no call invokes them)."""
    return {f"rct_{kind}_{fn}": "weight-update" for fn in ("backward_weight", "weight_grad")}


def geometry(l: "Layer", dm: int = 1, out_c: int | None = None) -> ConvShape:
    """The layer's conv/pool geometry at n = 1, checked against its output shape."""
    h, w, c = l.input_shape
    ks = l.config.get("kernel_size") or l.config.get("pool_size")
    st = l.config.get("strides") or l.config.get("pool_size")
    kh, kw = (ks, ks) if isinstance(ks, int) else ks
    sh, sw = (st, st) if isinstance(st, int) else st
    try:
        g = conv_shape(h, w, c, kh, kw, sh, sw, l.config.get("padding", "valid"), out_c, 1, dm)
    except ValueError as e:
        raise UserError(f"layer {l.name} ({l.kind}): {e}") from None
    if (g.out_h, g.out_w, g.out_c) != tuple(l.output_shape):
        raise UserError(f"layer {l.name} ({l.kind}): output shape {tuple(l.output_shape)} does not "
                        f"match its geometry {(g.out_h, g.out_w, g.out_c)}; corrupt artefact")
    return g


def global_geometry(l: "Layer", dims: int) -> ConvShape:
    """A global pool's geometry at n = 1 over its `dims` (1 or 2) spatial axes: one window
    covering them (steps as a 1 x steps image), checked against the output shape (C,), or
    1 x 1 x C when it keeps the spatial axes (the same bytes)."""
    shp, out = tuple(l.input_shape), tuple(l.output_shape)
    kept = (1,) * dims + shp[-1:]
    if len(shp) != dims + 1 or out not in (shp[-1:], kept):
        raise UserError(f"layer {l.name} ({l.kind}): input {shp} -> output {out} is not a mean "
                        f"over {dims} spatial axes; corrupt artefact")
    h, w = (1, *shp[:-1]) if dims == 1 else shp[:-1]
    return global_pool_shape(h, w, shp[-1])


def err_stream_extra(count: int) -> int:
    """int16 words after dx that rct_err_stream needs (RCT_ERR_STREAM_EXTRA in rct.h)."""
    return (count + 15) // 16


def forward(kind: str, f: LayerFacts, low: "Lowering", macs: int) -> list[Call]:
    return [Call(f"{kind}_forward", f.index, f.name, {"x": low.x(f), "y": low.y(f)},
                 {"w": f.kernel, "b": f.bias}, {**_param.weight_args(f), "layer": f.index},
                 macs=macs)]


def backward(kind: str, f: LayerFacts, low: "Lowering", macs: int) -> list[Call]:
    step, s = low.bwd(f), f.shape
    bi = None
    if f.needs_dx:  # the kernel's sign bitmap follows dx (rct_err_stream)
        extra = err_stream_extra(low.cfg.max_batch * f.in_size)
        bi = Call(f"{kind}_backward_input", step, f.name,
                  {"dy": low.err_in, "dx": low.new_error(f, extra)}, {"w": f.kernel},
                  {"layer": f.index}, ret="dx_exp", macs=macs)
    up = Call(f"{kind}_backward_update", step, f.name, {"x": low.x(f), "dy": low.err_in},
              {"w": f.kernel}, {"x_exp": f.x_exp, "layer": f.index}, ret="gavg", macs=macs)
    return _param.backward(f, low, bi, up, s.positions, s.out_c)


def kernels(kind: str, mod: ModuleType) -> dict[str, Kernel]:
    """The three kernels of a conv kind whose numpy twins are mod.<kind>_forward etc."""
    fwd, bwi, bwu = (getattr(mod, f"{kind}_{p}") for p in
                     ("forward", "backward_input", "backward_update"))

    def run_forward(c: Call, st: "State") -> None:
        f = st.layer(c.args["layer"])
        w, b = st.t[c.tensors["w"]], st.t.get(c.tensors["b"] or "")
        bq, bb, be = (b.q, b.bits, b.exp) if b is not None else (None, 8, 0)
        a = c.args
        st.put(c.buffers["y"], fwd(st.buf(c.buffers["x"]).reshape(st.n, *f.in_shape), a["x_exp"],
                                   w.q, w.bits, w.exp, bq, bb, be, a["y_exp"],
                                   f.shape.with_n(st.n), a["act"], a["acc"]))

    def c_forward(c: Call, cx: "CContext") -> str:
        w, b, a = cx.tensor(c.tensors["w"]), cx.tensor(c.tensors["b"]), c.args
        return shaped(cx, a["layer"],
                      f"rct_{kind}_forward({cx.buf(c.buffers['x'])}, {a['x_exp']}, {w['data']}, "
                      f"{w['bits']}, {w['exp']},\n            {b['data']}, {b['bits']}, {b['exp']}, "
                      f"{cx.buf(c.buffers['y'])}, {a['y_exp']}, &sh, {c_act(a['act'])}, "
                      f"{c_acc(a['acc'])});")

    def run_backward_input(c: Call, st: "State") -> None:
        f, w = st.layer(c.args["layer"]), st.t[c.tensors["w"]]
        dx, st.regs["dx_exp"] = bwi(st.buf(c.buffers["dy"]).reshape(st.n, *f.out_shape),
                                    st.regs["e_exp"], w.q, w.bits, w.exp, f.shape.with_n(st.n))
        st.put(c.buffers["dx"], dx)

    def c_backward_input(c: Call, cx: "CContext") -> str:
        w = cx.tensor(c.tensors["w"])
        return shaped(cx, c.args["layer"],
                      f"dx_exp = rct_{kind}_backward_input({cx.buf(c.buffers['dy'])}, e_exp, "
                      f"{w['data']}, {w['bits']}, {w['exp']},\n            "
                      f"{cx.buf(c.buffers['dx'])}, &sh);")

    def run_update(c: Call, st: "State") -> None:
        f = st.layer(c.args["layer"])
        st.gavg[c.tensors["w"]] = bwu(
            st.t[c.tensors["w"]], st.buf(c.buffers["x"]).reshape(st.n, *f.in_shape),
            c.args["x_exp"], st.buf(c.buffers["dy"]).reshape(st.n, *f.out_shape),
            st.regs["e_exp"], f.shape.with_n(st.n), st.lr_shift, st.rng, st.stochastic)

    def c_update(c: Call, cx: "CContext") -> str:
        k = cx.tensor(c.tensors["w"])["k"]
        return shaped(cx, c.args["layer"],
                      f"s_gavg[{k}] = rct_{kind}_backward_update(&s_t[{k}], "
                      f"{cx.buf(c.buffers['x'])}, {c.args['x_exp']}, {cx.buf(c.buffers['dy'])},\n"
                      f"            e_exp, &sh, s_hp.lr_shift, RCT_STOCHASTIC, &s_rng);")

    return {
        f"{kind}_forward": Kernel(run_forward, c_forward, f"rct_{kind}_forward", "forward"),
        f"{kind}_backward_input": Kernel(run_backward_input, c_backward_input,
                                         f"rct_{kind}_backward_input", "backward-input"),
        f"{kind}_backward_update": Kernel(run_update, c_update, f"rct_{kind}_backward_update",
                                          "weight-update"),
    }
