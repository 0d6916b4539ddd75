"""C twins of the golden kernels: same signatures as rct_tflm.fixedpoint.kernels, executed by the
C harness (driver.py) on one target (host or a QEMU Cortex-M board). Weights travel as int16
values with their bits; the harness stores read-only weights in the container of that bitwidth
and trainable tensors as int16. Dense kernels travel in device order ([out][in], the transpose
of the golden model's [in, out])."""
from __future__ import annotations

import numpy as np

from rct_tflm.fixedpoint import ControllerConfig, QTensor, Rng
from rct_tflm.fixedpoint.kernels import ConvShape

from .driver import Harness


def _i8(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int8).ravel()


def _i16(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int16).ravel()


def _i32(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int32).ravel()


def _dev(q: np.ndarray, out_major: bool) -> np.ndarray:
    """Values in device order: the last axis first for out-major tensors (dense [out][in])."""
    q = np.asarray(q)
    return q.reshape(-1, q.shape[-1]).T if out_major and q.ndim >= 2 else q


def _from_dev(v: np.ndarray, shape: tuple[int, ...], out_major: bool) -> np.ndarray:
    if out_major and len(shape) >= 2:
        return v.reshape(shape[-1], -1).T.reshape(shape)
    return v.reshape(shape)


HELPERS = {"shl_sat": 1, "sat": 2, "div_round": 3, "relu6_upper": 4, "asr": 5}
DECISION_FIELDS = ("sample", "tensor", "action", "bits_before", "bits_after", "exp_before",
                   "exp_after", "gavg_q16", "saturated")


class CKernels:
    def __init__(self, h: Harness) -> None:
        self.h = h
        self.target = h.target.name

    # -- runtime ------------------------------------------------------------------------------
    def prng(self, key: int, counter: int, n: int) -> tuple[np.ndarray, int]:
        ints, arrs = self.h.call(1, [key, counter, n])
        return arrs[0], ints[0]

    def round_nearest(self, v: np.ndarray, s: int) -> np.ndarray:
        return self.h.call(2, [s], [np.asarray(v, np.int64).ravel()])[1][0]

    def round_stochastic(self, v: np.ndarray, s: int, rng: Rng) -> np.ndarray:
        ints, arrs = self.h.call(3, [s, rng.key, rng.counter], [np.asarray(v, np.int64).ravel()])
        rng.counter = ints[0]
        return arrs[0]

    def gavg_q16(self, abs_sum: int, size: int, sh: int) -> int:
        return self.h.call(4, [abs_sum, size, sh])[0][0]

    def helper(self, name: str, v, p: int = 0, c=None) -> np.ndarray:
        """An inline helper of rct.h applied element-wise (harness op 31)."""
        arrays = [np.asarray(v, np.int64).ravel()]
        if c is not None:
            arrays.append(np.asarray(c, np.int64).ravel())
        return self.h.call(31, [HELPERS[name], p], arrays)[1][0]

    def controller(self, cfg: ControllerConfig, tensors: list[QTensor], caps: list[int],
                   events: list[tuple[int, int, int]], rng: Rng
                   ) -> tuple[np.ndarray, np.ndarray, int]:
        """rct_controller_init, then events (0, slot, gavg_q16) = observe and (1, n, 0) =
        advance(n samples); tensors and rng are updated in place. Returns (decisions [k, 9] in
        DECISION_FIELDS order, [samples, PRNG key, PRNG counter] after every advance, controller
        sample count)."""
        ints = [cfg.t_min_q16, cfg.t_max_q16, cfg.sat_guard_ppm, cfg.period_samples,
                cfg.bits_min, cfg.bits_max, int(cfg.enabled), len(tensors), rng.key, rng.counter,
                cfg.gavg_ref_samples]
        for t, cap in zip(tensors, caps):
            ints += [t.exp, t.bits, cap]
        ev = np.asarray(events, np.int64).reshape(-1)
        out_ints, arrs = self.h.call(29, ints, [*[_i16(t.q) for t in tensors], ev])
        for k, t in enumerate(tensors):
            t.q = arrs[2 + k].astype(np.int32).reshape(t.q.shape)
            t.exp, t.bits = out_ints[2 * k], out_ints[2 * k + 1]
        states = arrs[1].reshape(-1, 3)
        if len(states):
            rng.key = int(states[-1, 1])
        rng.counter = out_ints[2 * len(tensors)]
        return (arrs[0].reshape(-1, len(DECISION_FIELDS)), states,
                out_ints[2 * len(tensors) + 1])

    def _tensor_op(self, op: int, t: QTensor, head: list[int], rng: Rng, tail: list[int],
                   arrays: list[np.ndarray]) -> int:
        ints, arrs = self.h.call(op, [t.exp, t.bits, *head, rng.key, rng.counter, *tail],
                                 [_i16(_dev(t.q, t.out_major)), *arrays])
        rng.counter = ints[1]
        t.q = _from_dev(arrs[0].astype(np.int32), t.q.shape, t.out_major)
        return ints[0]

    def update(self, t: QTensor, g, g_exp: int, lr_shift: int, rng: Rng, stochastic=True) -> int:
        g = _dev(np.asarray(g).reshape(t.q.shape), t.out_major)
        return self._tensor_op(9, t, [g_exp, lr_shift, int(stochastic)], rng, [], [_i32(g)])

    def bit_change(self, which: str, t: QTensor, rng: Rng) -> int:
        code = {"add_low": 1, "drop_low": 2, "add_high": 3}[which]
        ints, arrs = self.h.call(28, [code, t.exp, t.bits, rng.key, rng.counter],
                                 [_i16(_dev(t.q, t.out_major))])
        t.exp, t.bits, rng.counter = ints[0], ints[1], ints[2]
        t.q = _from_dev(arrs[0].astype(np.int32), t.q.shape, t.out_major)
        return ints[3]

    def err_stream(self, v) -> tuple[np.ndarray, int]:
        """rct_err_stream (one-pass dynamic error exponent) over int64 values; the golden rule
        is kernels.normalize_i16(v, 0)."""
        ints, arrs = self.h.call(40, [], [np.asarray(v, np.int64).ravel()])
        return arrs[0], ints[0]

    # -- dense --------------------------------------------------------------------------------
    def dense_forward(self, x, x_exp, w, w_bits, w_exp, b, b_bits, b_exp, y_exp, act, acc):
        n, fin = x.shape
        out = w.shape[1]
        arrays = [_i8(x), _i16(np.asarray(w).T)] + ([_i16(b)] if b is not None else [])
        ints = [x_exp, w_bits, w_exp, int(b is not None), b_bits, b_exp, y_exp, n, fin, out, act,
                acc]
        return self.h.call(5, ints, arrays)[1][0].reshape(n, out)

    def dense_backward_input(self, dz, dz_exp, w, w_bits, w_exp):
        n, out = dz.shape
        fin = w.shape[0]
        ints, arrs = self.h.call(6, [dz_exp, w_bits, w_exp, n, fin, out],
                                 [_i16(dz), _i16(np.asarray(w).T)])
        return arrs[0].reshape(n, fin), ints[0]

    def dense_backward_weight(self, x, dz, g):
        n, fin = x.shape
        out = self.h.call(7, [n, fin, dz.shape[1]], [_i8(x), _i16(dz), _i32(g.T)])[1][0]
        g[...] = out.reshape(g.shape[::-1]).T

    def bias_backward(self, dz, g):
        c = dz.shape[-1]
        g[...] = self.h.call(8, [dz.size // c, c], [_i16(dz), _i32(g)])[1][0]

    def dense_backward_update(self, t, x, x_exp, dz, dz_exp, lr_shift, rng, stochastic=True):
        assert t.out_major, "a dense kernel is trained in device order (QTensor.out_major)"
        n, fin = x.shape
        return self._tensor_op(10, t, [x_exp, dz_exp, n, fin, dz.shape[1], lr_shift,
                                       int(stochastic)], rng, [], [_i8(x), _i16(dz)])

    def bias_backward_update(self, t, dz, dz_exp, lr_shift, rng, stochastic=True):
        c = dz.shape[-1]
        return self._tensor_op(11, t, [dz_exp, dz.size // c, c, lr_shift, int(stochastic)], rng,
                               [], [_i16(dz)])

    # -- conv / depthwise ---------------------------------------------------------------------
    def _fwd(self, op, x, x_exp, w, w_bits, w_exp, b, b_bits, b_exp, y_exp, sh: ConvShape, act,
             acc):
        arrays = [_i8(x), _i16(w)] + ([_i16(b)] if b is not None else [])
        ints = [x_exp, w_bits, w_exp, int(b is not None), b_bits, b_exp, y_exp, act, acc,
                *sh.as_tuple()]
        return self.h.call(op, ints, arrays)[1][0].reshape(sh.n, sh.out_h, sh.out_w, sh.out_c)

    def _bin(self, op, dz, dz_exp, w, w_bits, w_exp, sh: ConvShape):
        ints, arrs = self.h.call(op, [dz_exp, w_bits, w_exp, *sh.as_tuple()], [_i16(dz), _i16(w)])
        return arrs[0].reshape(sh.n, sh.in_h, sh.in_w, sh.in_c), ints[0]

    def _bw(self, op, x, dz, sh: ConvShape, g):
        g[...] = self.h.call(op, list(sh.as_tuple()), [_i8(x), _i16(dz), _i32(g)])[1][0].reshape(g.shape)

    def _bu(self, op, t, x, x_exp, dz, dz_exp, sh: ConvShape, lr_shift, rng, stochastic=True):
        return self._tensor_op(op, t, [x_exp, dz_exp, lr_shift, int(stochastic)], rng,
                               list(sh.as_tuple()), [_i8(x), _i16(dz)])

    def conv2d_forward(self, *a, **k):
        return self._fwd(12, *a, **k)

    def conv2d_backward_input(self, *a):
        return self._bin(13, *a)

    def conv2d_backward_weight(self, *a):
        return self._bw(14, *a)

    def conv2d_backward_update(self, *a, **k):
        return self._bu(15, *a, **k)

    def depthwise_conv2d_forward(self, *a, **k):
        return self._fwd(16, *a, **k)

    def depthwise_conv2d_backward_input(self, *a):
        return self._bin(17, *a)

    def depthwise_conv2d_backward_weight(self, *a):
        return self._bw(18, *a)

    def depthwise_conv2d_backward_update(self, *a, **k):
        return self._bu(19, *a, **k)

    # -- activations, pools, softmax ----------------------------------------------------------
    def relu_forward(self, x, upper):
        return self.h.call(20, [upper], [_i8(x)])[1][0].reshape(np.shape(x))

    def relu_backward(self, y, dy, upper):
        return self.h.call(21, [upper], [_i8(y), _i16(dy)])[1][0].reshape(np.shape(dy))

    def maxpool2d_forward(self, x, sh: ConvShape, with_arg: bool = False, null_arg: bool = False):
        """null_arg: the C kernel gets arg = NULL (inference), only y is meaningful."""
        y, arg = self.h.call(22, [*sh.as_tuple(), int(null_arg)], [_i8(x)])[1]
        shape = (sh.n, sh.out_h, sh.out_w, sh.out_c)
        return (y.reshape(shape), arg.reshape(shape)) if with_arg else y.reshape(shape)

    def maxpool2d_backward(self, arg, dy, dy_exp, sh: ConvShape, y=None, upper: int = 128):
        arrays = [np.ascontiguousarray(arg, np.uint8).ravel(), _i16(dy)]
        ints, arrs = self.h.call(23, [dy_exp, *sh.as_tuple(), upper],
                                 arrays + ([_i8(y)] if y is not None else []))
        return arrs[0].reshape(sh.n, sh.in_h, sh.in_w, sh.in_c), ints[0]

    def avgpool2d_forward(self, x, sh: ConvShape):
        return self.h.call(24, list(sh.as_tuple()), [_i8(x)])[1][0].reshape(
            sh.n, sh.out_h, sh.out_w, sh.out_c)

    def avgpool2d_backward(self, dy, dy_exp, sh: ConvShape):
        ints, arrs = self.h.call(25, [dy_exp, *sh.as_tuple()], [_i16(dy)])
        return arrs[0].reshape(sh.n, sh.in_h, sh.in_w, sh.in_c), ints[0]

    def requantize_i8(self, x, from_exp, to_exp):
        return self.h.call(26, [from_exp, to_exp], [_i8(x)])[1][0].reshape(np.shape(x))

    def softmax_ce(self, z, z_exp, labels):
        n, c = z.shape
        lab = np.asarray(labels, np.uint16).view(np.int16)  # the uint16 labels' bits
        ints, arrs = self.h.call(27, [z_exp, n, c], [_i8(z), lab])
        return arrs[0].reshape(n, c), ints[1], ints[0]

    def argmax_i8(self, z):
        return self.h.call(30, [], [_i8(z)])[0][0]

    # -- loss heads and residual graphs --------------------------------------------------------
    def mse_loss(self, y, y_exp, t, t_exp, want_scores: bool = True):
        n = np.shape(y)[0]
        m = int(np.size(y)) // n
        ints, arrs = self.h.call(80, [y_exp, t_exp, n, m, int(want_scores)], [_i8(y), _i8(t)])
        return arrs[0].reshape(n, m), ints[0], ints[1], arrs[1]

    def add_forward(self, a, a_exp, b, b_exp, y_exp, in_place: bool = False):
        return self.h.call(81, [a_exp, b_exp, y_exp, int(in_place)], [_i8(a), _i8(b)])[1][0] \
            .reshape(np.shape(a))

    def err_add(self, da, da_exp, db, db_exp, in_place: bool = False):
        ints, arrs = self.h.call(82, [da_exp, db_exp, int(in_place)], [_i16(da), _i16(db)])
        return arrs[0].reshape(np.shape(da)), ints[0]

    def pad2d_forward(self, x, top, bottom, left, right):
        n, h, w, c = x.shape
        return self.h.call(83, [n, h, w, c, top, bottom, left, right], [_i8(x)])[1][0] \
            .reshape(n, h + top + bottom, w + left + right, c)

    def pad2d_backward(self, dy, top, bottom, left, right):
        n, oh, ow, c = dy.shape
        h, w = oh - top - bottom, ow - left - right
        return self.h.call(84, [n, h, w, c, top, bottom, left, right], [_i16(dy)])[1][0] \
            .reshape(n, h, w, c)

    # -- TFLite arithmetic (rct_tfl.h), same arguments as rct_tflm.fixedpoint.tflite -----------
    def _tfl_conv(self, op, x, zp_in, w, bias, qms, shifts, zp_out, act, stride, dilation,
                  padding, dm=1):
        from rct_tflm.fixedpoint.tflite.geometry import out_size, pad_before
        n, h, wd, c = x.shape
        kh, kw = (w.shape[1], w.shape[2])
        o = w.shape[0] if op == 90 else w.shape[3]
        oh = out_size(padding, h, kh, stride[0], dilation[0])
        ow = out_size(padding, wd, kw, stride[1], dilation[1])
        shape = [n, h, wd, c, oh, ow, o, kh, kw, stride[0], stride[1],
                 pad_before(padding, h, kh, stride[0], dilation[0]),
                 pad_before(padding, wd, kw, stride[1], dilation[1]), dm]
        ints = shape + [dilation[0], dilation[1], zp_in, zp_out, act[0], act[1],
                        int(bias is not None)]
        b = _i32(bias if bias is not None else [0])
        return self.h.call(op, ints, [_i8(x), _i8(w), b, _i32(qms), _i32(shifts)])[1][0] \
            .reshape(n, oh, ow, o)

    def tfl_conv2d(self, x, zp_in, w, bias, qms, shifts, zp_out, act, stride=(1, 1),
                   dilation=(1, 1), padding="valid"):
        return self._tfl_conv(90, x, zp_in, w, bias, qms, shifts, zp_out, act, stride,
                              dilation, padding)

    def tfl_depthwise_conv2d(self, x, zp_in, w, bias, qms, shifts, zp_out, act,
                             depth_multiplier=1, stride=(1, 1), dilation=(1, 1),
                             padding="valid"):
        return self._tfl_conv(91, x, zp_in, w, bias, qms, shifts, zp_out, act, stride,
                              dilation, padding, depth_multiplier)

    def tfl_fully_connected(self, x, zp_in, w, bias, qms, shifts, zp_out, act):
        n, i = x.shape
        o = w.shape[0]
        qms, shifts = np.atleast_1d(qms), np.atleast_1d(shifts)
        ints = [n, i, o, zp_in, zp_out, act[0], act[1], int(bias is not None),
                int(qms.size > 1)]
        b = _i32(bias if bias is not None else [0])
        return self.h.call(92, ints, [_i8(x), _i8(w), b, _i32(qms), _i32(shifts)])[1][0] \
            .reshape(n, o)

    def tfl_add(self, a, zp_a, b, zp_b, params, zp_out, act, in_place=False):
        (q1, e1), (q2, e2), (qo, eo) = params
        ints = [zp_a, q1, e1, zp_b, q2, e2, qo, eo, zp_out, act[0], act[1], int(in_place)]
        return self.h.call(93, ints, [_i8(a), _i8(b)])[1][0].reshape(np.shape(a))

    def _tfl_pool(self, op, x, filt, stride, padding, act):
        from rct_tflm.fixedpoint.tflite.geometry import out_size, pad_before
        n, h, w, c = x.shape
        oh, ow = out_size(padding, h, filt[0], stride[0]), out_size(padding, w, filt[1], stride[1])
        ints = [n, h, w, c, oh, ow, filt[0], filt[1], stride[0], stride[1],
                pad_before(padding, h, filt[0], stride[0]),
                pad_before(padding, w, filt[1], stride[1]), act[0], act[1]]
        return self.h.call(op, ints, [_i8(x)])[1][0].reshape(n, oh, ow, c)

    def tfl_average_pool(self, x, filt, stride, padding, act):
        return self._tfl_pool(94, x, filt, stride, padding, act)

    def tfl_max_pool(self, x, filt, stride, padding, act):
        return self._tfl_pool(95, x, filt, stride, padding, act)

    def tfl_mean_hw(self, x, zp_in, qm, shift, zp_out):
        n, h, w, c = x.shape
        return self.h.call(96, [n, h, w, c, zp_in, qm, shift, zp_out], [_i8(x)])[1][0] \
            .reshape(n, c)

    def tfl_pad(self, x, top, bottom, left, right, value):
        n, h, w, c = x.shape
        return self.h.call(97, [n, h, w, c, top, bottom, left, right, value], [_i8(x)])[1][0] \
            .reshape(n, h + top + bottom, w + left + right, c)

    def tfl_requantize(self, x, zp_in, qm, shift, zp_out):
        return self.h.call(98, [zp_in, qm, shift, zp_out], [_i8(x)])[1][0].reshape(np.shape(x))

    def tfl_mbqm(self, x, qm, shift):
        return self.h.call(99, [qm, shift], [_i32(x)])[1][0].reshape(np.shape(x))
