"""The golden integer training engine: a whole model artefact trained with integer kernels.

`lower()` turns a ModelArtefact into a list of integer ops (the same list the code generator
emits as C, so the two cannot disagree on exponents, accumulators or order); `Engine` runs
inference and training steps on it with the numpy twins in `fixedpoint/kernels/`. No floats
anywhere in a training step; numpy int64 intermediates.

Model split: parametric layers form a frozen prefix (int8 `const` tables on the device) and a
trainable suffix (RAM, RCT bitwidths). `artefact.trainable` names the trainable tensors; it may
be overridden by `trainable_layers`/`frozen_layers`. Every tensor of a layer shares its state.

One training step on n samples (n = 1: streaming SGD; n > 1: a micro-batch whose weight
gradients accumulate in int64 inside the fused kernels), in this order:

1. forward through every op, keeping each op's int8 output;
2. softmax + cross-entropy on the int8 logits -> int16 error at exponent -15;
3. backward from the last op down to the first trainable op: activation mask (by the op's int8
   output), error w.r.t. the input with the OLD weights (skipped for the first trainable op),
   then the kernel update, then the bias update;
4. the controller observes every tensor's Gavg, counts n samples, and at a period boundary
   changes bitwidths (tensors in artefact order) and re-keys the PRNG.

PRNG (one stream, key = seed, counter from 0), draw order: per step, ops from last to first;
per op the kernel's elements in row-major order (only when its update shift >= 1), then the
bias's; then at a period boundary the controller's drop_low_bit draws, tensors in order, and
the re-key (key += 0x9E3779B9 per boundary the step crossed, counter = 0).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..artefact import PARAM_KINDS, Layer, ModelArtefact
from ..errors import UserError
from .controller import DEVICE_GAVG_REF_SAMPLES, BitwidthController, ControllerConfig
from .prng import Rng
from .qtensor import QTensor
from .rounding import qmax, qmin, saturate, shift_round_nearest
from . import kernels as K

SUPPORTED = ("dense", "conv2d", "depthwise_conv2d", "relu", "relu6", "maxpool2d", "avgpool2d",
             "flatten", "dropout")
ACT_CODES = {"linear": K.ACT_LINEAR, "relu": K.ACT_RELU, "relu6": K.ACT_RELU6}
ACC_POLICIES = ("int64", "cap")


@dataclass(frozen=True)
class EngineConfig:
    lr_shift: int = 5  # learning rate 2^-lr_shift
    seed: int = 0
    # the device's controller: Gavg accumulated over 32 samples (docs/numerics.md)
    controller: ControllerConfig = field(
        default_factory=lambda: ControllerConfig(gavg_ref_samples=DEVICE_GAVG_REF_SAMPLES))
    stochastic: bool = True  # stochastic rounding of updates (False: nearest, the ablation)
    max_batch: int = 1  # largest micro-batch (buffers are sized for it)
    acc_policy: str = "int64"  # "int64": 64-bit accumulator where int32 could overflow; "cap": cap bits_max

    def __post_init__(self) -> None:
        if not 0 <= self.lr_shift <= 30:
            raise UserError(f"--lr-shift must be in 0..30 (learning rate 2^-N), got {self.lr_shift}")
        if not 1 <= self.max_batch <= 256:
            raise UserError(f"max batch must be in 1..256, got {self.max_batch}")
        if self.acc_policy not in ACC_POLICIES:
            raise UserError(f"accumulator policy must be one of {ACC_POLICIES}, got {self.acc_policy!r}")
        if not self.stochastic and self.controller.gavg_ref_samples:
            # round-to-nearest loses every update under half an LSB at each step, so the
            # per-step mean is the measure there (docs/numerics.md, "The Gavg statistic")
            object.__setattr__(self, "controller", replace(self.controller, gavg_ref_samples=0))


@dataclass
class Op:
    """One layer of the artefact, lowered to integer kernels (shapes per sample)."""
    index: int
    name: str
    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    x_exp: int
    y_exp: int
    act: int = K.ACT_LINEAR  # fused activation (dense/conv) or the op's own (relu/relu6)
    kernel: str | None = None
    bias: str | None = None
    trainable: bool = False
    needs_dx: bool = False  # backward must produce the error w.r.t. the input
    acc: int = K.ACC32
    shape: K.ConvShape | None = None  # conv/pool geometry at n = 1
    fan_in: int = 0

    @property
    def in_size(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def out_size(self) -> int:
        return int(np.prod(self.out_shape))

    @property
    def alias(self) -> bool:
        """Output shares the input's buffer (reshape or identity)."""
        return self.kind in ("flatten", "dropout")

    @property
    def upper(self) -> int:
        """`upper` argument of relu_backward for this op's activation."""
        return K.common.act_upper(self.act, self.y_exp)


@dataclass
class LoweredModel:
    ops: list[Op]
    tensors: dict[str, QTensor]  # every parameter tensor, integer (frozen ones int8)
    trainable: list[str]  # trainable tensor names, artefact order (layer order, kernel, bias)
    bits_max: dict[str, int]  # per trainable tensor cap (config bits_max or the fan-in cap)
    input_shape: tuple[int, ...]
    input_exp: int
    num_classes: int
    first_trainable: int  # op index of the first trainable op (len(ops) if none)

    @property
    def input_size(self) -> int:
        return int(np.prod(self.input_shape))


def _param_layers(art: ModelArtefact) -> list[Layer]:
    return [l for l in art.layers if l.kind in PARAM_KINDS]


def select_trainable(art: ModelArtefact, trainable_layers: int | None = None,
                     frozen_layers: int | None = None) -> set[str]:
    """Trainable tensor names: the artefact's own set, or the last K / all but the first K
    parametric layers; the whole model when the artefact names none."""
    pl = _param_layers(art)
    if trainable_layers is not None and frozen_layers is not None:
        raise UserError("give --trainable-layers or --frozen-layers, not both")
    if trainable_layers is not None:
        if not 1 <= trainable_layers <= len(pl):
            raise UserError(f"--trainable-layers must be in 1..{len(pl)} (the model has {len(pl)} "
                            f"parametric layers), got {trainable_layers}")
        frozen_layers = len(pl) - trainable_layers
    if frozen_layers is not None:
        if not 0 <= frozen_layers < len(pl):
            raise UserError(f"--frozen-layers must be in 0..{len(pl) - 1} (at least one layer must "
                            f"train), got {frozen_layers}")
        return {t for l in pl[frozen_layers:] for t in l.params.values()}
    if art.trainable:
        return set(art.trainable)
    return {t for l in pl for t in l.params.values()}


def _to_int8(t: Any) -> QTensor:
    """A frozen tensor as int8: float -> from_float(8); wider ints -> round to 8 bits."""
    if not isinstance(t, QTensor):
        return QTensor.from_float(np.asarray(t, np.float32), 8)
    if t.bits <= 8:
        return t.copy()
    s = t.bits - 8
    return QTensor(saturate(shift_round_nearest(t.q, s), 8).astype(np.int32), t.exp + s, 8)


def _to_trainable(name: str, t: Any, cfg: ControllerConfig, cap: int) -> QTensor:
    if not isinstance(t, QTensor):
        return QTensor.from_float(np.asarray(t, np.float32), min(cfg.bits_init, cap))
    q = t.copy()
    while q.bits > cap:  # an RCT artefact wider than this engine allows: round the low bits off
        q = QTensor(saturate(shift_round_nearest(q.q, 1), q.bits - 1).astype(np.int32), q.exp + 1,
                    q.bits - 1)
    if q.bits < cfg.bits_min:
        raise UserError(f"tensor {name} has {q.bits} bits, below the controller's minimum "
                        f"{cfg.bits_min}; lower --bits-min or retrain")
    return q


def _conv_geom(l: Layer, dm: int = 1, out_c: int | None = None) -> K.ConvShape:
    h, w, c = l.input_shape
    ks = l.config.get("kernel_size") or l.config.get("pool_size")
    st = l.config.get("strides") or l.config.get("pool_size")
    kh, kw = (ks, ks) if isinstance(ks, int) else ks
    sh, sw = (st, st) if isinstance(st, int) else st
    try:
        g = K.conv_shape(h, w, c, kh, kw, sh, sw, l.config.get("padding", "valid"), out_c, 1, dm)
    except ValueError as e:
        raise UserError(f"layer {l.name} ({l.kind}): {e}") from None
    if (g.out_h, g.out_w, g.out_c) != tuple(l.output_shape):
        raise UserError(f"layer {l.name} ({l.kind}): output shape {tuple(l.output_shape)} does not "
                        f"match its geometry {(g.out_h, g.out_w, g.out_c)}; corrupt artefact")
    return g


def lower(art: ModelArtefact, cfg: EngineConfig, trainable_layers: int | None = None,
          frozen_layers: int | None = None) -> LoweredModel:
    """Check that the engine can run/train the artefact and lower it to integer ops."""
    names = select_trainable(art, trainable_layers, frozen_layers)
    cc = cfg.controller
    if "input_exp" not in art.preprocess:
        raise UserError("the model artefact has no preprocess.input_exp (input exponent); "
                        "re-create it with `rct-tflm train`")
    x_exp = int(art.preprocess["input_exp"])
    ops: list[Op] = []
    tensors: dict[str, QTensor] = {}
    trainable: list[str] = []
    bits_max: dict[str, int] = {}
    seen_trainable = False
    for i, l in enumerate(art.layers):
        if l.kind not in SUPPORTED:
            raise UserError(f"layer {l.name}: kind '{l.kind}' is not supported by the integer "
                            f"engine; supported: {', '.join(SUPPORTED)}")
        op = Op(i, l.name, l.kind, tuple(l.input_shape), tuple(l.output_shape), x_exp, x_exp)
        if l.kind in PARAM_KINDS:
            if l.act_exp is None:
                raise UserError(f"layer {l.name} has no calibrated act_exp (output exponent); "
                                f"re-create the artefact with `rct-tflm train`")
            act = l.config.get("activation", "linear")
            if act not in ACT_CODES:
                raise UserError(f"layer {l.name}: activation '{act}' is not supported; "
                                f"supported: {', '.join(ACT_CODES)}")
            if "kernel" not in l.params:
                raise UserError(f"layer {l.name} has no kernel tensor; corrupt artefact")
            unknown = set(l.params) - {"kernel", "bias"}
            if unknown:
                raise UserError(f"layer {l.name}: parameters {sorted(unknown)} are not supported; "
                                f"supported: kernel, bias")
            op.y_exp, op.act = int(l.act_exp), ACT_CODES[act]
            op.kernel, op.bias = l.params["kernel"], l.params.get("bias")
            flags = {t in names for t in l.params.values()}
            if len(flags) > 1:
                raise UserError(f"layer {l.name}: kernel and bias must be both trainable or both "
                                f"frozen")
            op.trainable = flags.pop()
            if seen_trainable and not op.trainable:
                raise UserError(f"layer {l.name} is frozen but follows a trainable layer; the engine "
                                f"supports a frozen prefix and a trainable suffix only")
            seen_trainable |= op.trainable
            kshape = np.shape(art.tensors[op.kernel].q if isinstance(art.tensors[op.kernel], QTensor)
                              else art.tensors[op.kernel])
            if l.kind == "dense":
                if len(l.input_shape) != 1:
                    raise UserError(f"layer {l.name}: dense on a {len(l.input_shape)}-D input is not "
                                    f"supported; add a flatten layer before it")
                op.fan_in = int(l.input_shape[0])
                if tuple(kshape) != (op.fan_in, int(l.output_shape[0])):
                    raise UserError(f"layer {l.name}: kernel shape {kshape} does not match "
                                    f"{op.fan_in}->{l.output_shape[0]}; corrupt artefact")
            elif l.kind == "conv2d":
                op.shape = _conv_geom(l, 1, int(l.config["filters"]))
                op.fan_in = op.shape.k_h * op.shape.k_w * op.shape.in_c
            else:
                op.shape = _conv_geom(l, int(l.config.get("depth_multiplier", 1)))
                op.fan_in = op.shape.k_h * op.shape.k_w
            cap = cc.bits_max if op.trainable else 8
            if cfg.acc_policy == "cap" and K.needs_int64(op.fan_in, cap):
                cap = K.max_safe_bits(op.fan_in)
                if cap < cc.bits_min:
                    raise UserError(f"layer {l.name}: fan-in {op.fan_in} leaves no safe int32 "
                                    f"bitwidth >= {cc.bits_min}; use the int64 accumulator policy")
            op.acc = K.ACC64 if K.needs_int64(op.fan_in, cap) else K.ACC32
            for role, tn in l.params.items():
                if op.trainable:
                    # only the kernel multiplies activations; the bias is added in int64
                    c = cap if role == "kernel" else cc.bits_max
                    tensors[tn] = _to_trainable(tn, art.tensors[tn], cc, c)
                    # the device stores dense kernels [out][in] (the layout its GEMM reads)
                    tensors[tn].out_major = l.kind == "dense" and role == "kernel"
                    trainable.append(tn)
                    bits_max[tn] = c
                else:
                    tensors[tn] = _to_int8(art.tensors[tn])
        elif l.kind in ("relu", "relu6"):
            op.act = ACT_CODES[l.kind]
        elif l.kind in ("maxpool2d", "avgpool2d"):
            op.shape = _conv_geom(l)
        elif l.kind == "flatten" and int(np.prod(l.input_shape)) != int(np.prod(l.output_shape)):
            raise UserError(f"layer {l.name}: flatten changes the size; corrupt artefact")
        ops.append(op)
        x_exp = op.y_exp
    if not trainable:
        raise UserError("no trainable tensors: choose --trainable-layers K >= 1")
    last = art.layers[-1]
    if int(np.prod(last.output_shape)) != art.num_classes:
        raise UserError(f"the last layer {last.name} outputs {last.output_shape}, expected the "
                        f"{art.num_classes} class logits (softmax is applied by the engine)")
    if art.num_classes > 255:
        raise UserError(f"{art.num_classes} classes: labels are uint8, at most 255 are supported")
    first = next(o.index for o in ops if o.trainable)
    for o in ops:
        o.needs_dx = o.index > first
    return LoweredModel(ops, tensors, trainable, bits_max, tuple(art.input_shape),
                        int(art.preprocess["input_exp"]), art.num_classes, first)


# -- trainable state: serialisation and hash ----------------------------------------------------
def weights_blob(tensors: list[QTensor]) -> bytes:
    """The serialised trainable state (rct_model_weights_read): per tensor, in order, one byte
    bits, one byte exp (int8), then the values as int16 little-endian, row-major."""
    out = bytearray()
    for t in tensors:
        out += bytes([t.bits & 0xFF, t.exp & 0xFF])
        out += t.q.astype("<i2").tobytes()
    return bytes(out)


def parse_weights_blob(blob: bytes, like: list[QTensor]) -> list[QTensor]:
    """Inverse of weights_blob for tensors shaped like `like`."""
    out, off = [], 0
    for t in like:
        bits, exp = blob[off], int(np.int8(np.uint8(blob[off + 1])))
        q = np.frombuffer(blob, "<i2", t.size, off + 2).astype(np.int32).reshape(t.q.shape)
        out.append(QTensor(q.copy(), exp, bits, t.out_major))
        off += 2 + 2 * t.size
    return out


def weights_sha256(tensors: list[QTensor]) -> str:
    """SHA-256 over every trainable tensor, in order, as int16 little-endian row-major values."""
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.q.astype("<i2").tobytes())
    return h.hexdigest()


# -- the engine ----------------------------------------------------------------------------------
@dataclass
class StepResult:
    loss_q16_sum: int
    correct: int


def mask_folds(m: LoweredModel) -> dict[int, int]:
    """Trained dense/conv ops with a fused activation followed by a max-pool with
    non-overlapping windows (and no in-place op on the pool's output): op index -> pool index.
    The pool's backward applies the op's activation mask by the pool's output (the y of
    maxpool2d_backward / rct_maxpool2d_backward): for such windows identical to relu_backward on
    dx with the op's output, so the generated code need not keep that output until the op's
    backward."""
    folds = {}
    for op in m.ops[m.first_trainable:]:
        nxt = m.ops[op.index + 1] if op.index + 1 < len(m.ops) else None
        after = m.ops[op.index + 2] if op.index + 2 < len(m.ops) else None
        if (op.kind in PARAM_KINDS and op.act and nxt is not None and nxt.kind == "maxpool2d"
                and nxt.needs_dx and nxt.shape.stride_h >= nxt.shape.k_h
                and nxt.shape.stride_w >= nxt.shape.k_w
                and (after is None or after.kind not in ("relu", "relu6"))):
            folds[op.index] = nxt.index
    return folds


class Engine:
    """Integer inference and training of a lowered model (numpy golden model)."""

    def __init__(self, model: LoweredModel, cfg: EngineConfig) -> None:
        self.m = model
        self.cfg = cfg
        self.t = {n: q.copy() for n, q in model.tensors.items()}
        self.reset(cfg.seed)

    @classmethod
    def from_artefact(cls, art: ModelArtefact, cfg: EngineConfig | None = None,
                      trainable_layers: int | None = None,
                      frozen_layers: int | None = None) -> "Engine":
        cfg = cfg or EngineConfig()
        return cls(lower(art, cfg, trainable_layers, frozen_layers), cfg)

    def reset(self, seed: int) -> None:
        """Initial weights, PRNG (key = seed, counter 0) and controller, like rct_model_init."""
        self.t = {n: q.copy() for n, q in self.m.tensors.items()}
        self.rng = Rng(seed)
        self.ctrl = BitwidthController(self.cfg.controller, list(self.m.trainable),
                                       dict(self.m.bits_max))
        self.samples = 0
        self.steps = 0
        self.last_gavg = {n: 0 for n in self.m.trainable}
        self.last_loss_q16 = 0

    # -- forward ------------------------------------------------------------------------------
    def _forward_op(self, op: Op, x: np.ndarray, n: int) -> np.ndarray:
        if op.kind == "dense" or op.kind in ("conv2d", "depthwise_conv2d"):
            w = self.t[op.kernel]
            b = self.t[op.bias] if op.bias else None
            bq, bb, be = (b.q, b.bits, b.exp) if b is not None else (None, 8, 0)
            if op.kind == "dense":
                return K.dense_forward(x.reshape(n, -1), op.x_exp, w.q, w.bits, w.exp, bq, bb, be,
                                       op.y_exp, op.act, op.acc)
            fn = K.conv2d_forward if op.kind == "conv2d" else K.depthwise_conv2d_forward
            return fn(x.reshape(n, *op.in_shape), op.x_exp, w.q, w.bits, w.exp, bq, bb, be,
                      op.y_exp, op.shape.with_n(n), op.act, op.acc)
        if op.kind in ("relu", "relu6"):
            return K.relu_forward(x, 127 if op.kind == "relu" else K.relu6_upper(op.x_exp))
        if op.kind == "maxpool2d":
            return K.maxpool2d_forward(x.reshape(n, *op.in_shape), op.shape.with_n(n))
        if op.kind == "avgpool2d":
            return K.avgpool2d_forward(x.reshape(n, *op.in_shape), op.shape.with_n(n))
        return x  # flatten, dropout (identity on the device)

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Outputs of every op for int8 inputs x [n, *input_shape] (each as [n, out_size])."""
        n = x.shape[0]
        a = np.asarray(x, np.int8).reshape(n, -1)
        outs = []
        for op in self.m.ops:
            a = np.asarray(self._forward_op(op, a, n)).reshape(n, -1)
            outs.append(a)
        return outs

    def logits(self, x: np.ndarray) -> np.ndarray:
        """int8 logits [n, classes] at the last op's exponent."""
        return self.forward(x)[-1]

    def predict(self, x: np.ndarray, chunk: int = 256) -> np.ndarray:
        x = np.asarray(x, np.int8)
        return np.concatenate([np.argmax(self.logits(x[i:i + chunk]), axis=1)
                               for i in range(0, len(x), chunk)]) if len(x) else np.zeros(0, int)

    # -- training -----------------------------------------------------------------------------
    def train_step(self, x: np.ndarray, labels: np.ndarray) -> StepResult:
        """One step on n = len(labels) samples (a micro-batch when n > 1)."""
        n = len(labels)
        if not 1 <= n <= self.cfg.max_batch:
            raise ValueError(f"batch of {n} samples; this engine takes 1..{self.cfg.max_batch}")
        x = np.asarray(x, np.int8).reshape(n, -1)
        outs = self.forward(x)
        ins = [x] + outs[:-1]
        lab = np.asarray(labels, np.int64)
        dz, loss, correct = K.softmax_ce(outs[-1], self.m.ops[-1].y_exp, lab)
        e, e_exp = np.asarray(dz, np.int16), int(K.CE_GRAD_EXP)
        lr, sto, rng = self.cfg.lr_shift, self.cfg.stochastic, self.rng
        folds = mask_folds(self.m)
        folded_by = {p: o for o, p in folds.items()}
        for op in reversed(self.m.ops[self.m.first_trainable:]):
            xin, y = ins[op.index], outs[op.index]
            if op.kind in PARAM_KINDS:
                if op.act != K.ACT_LINEAR and op.index not in folds:
                    e = K.relu_backward(y, e.reshape(y.shape), op.upper)
                w = self.t[op.kernel]
                e_prev = None
                if op.kind == "dense":
                    if op.needs_dx:
                        e_prev, e_prev_exp = K.dense_backward_input(e.reshape(n, -1), e_exp, w.q,
                                                                    w.bits, w.exp)
                    g = K.dense_backward_update(w, xin, op.x_exp, e.reshape(n, -1), e_exp, lr, rng, sto)
                    rows = n
                else:
                    sh = op.shape.with_n(n)
                    xi = xin.reshape(n, *op.in_shape)
                    ez = e.reshape(n, *op.out_shape)
                    if op.kind == "conv2d":
                        bi, bu = K.conv2d_backward_input, K.conv2d_backward_update
                    else:
                        bi, bu = K.depthwise_conv2d_backward_input, K.depthwise_conv2d_backward_update
                    if op.needs_dx:
                        e_prev, e_prev_exp = bi(ez, e_exp, w.q, w.bits, w.exp, sh)
                    g = bu(w, xi, op.x_exp, ez, e_exp, sh, lr, rng, sto)
                    rows = n * sh.out_h * sh.out_w
                self.last_gavg[op.kernel] = g
                if op.bias:
                    self.last_gavg[op.bias] = K.bias_backward_update(
                        self.t[op.bias], e.reshape(rows, -1), e_exp, lr, rng, sto)
                if e_prev is not None:
                    e, e_exp = np.asarray(e_prev, np.int16).reshape(n, -1), int(e_prev_exp)
            elif op.kind in ("relu", "relu6"):
                e = K.relu_backward(y, e.reshape(y.shape), op.upper)
            elif op.kind == "maxpool2d" and op.needs_dx:
                sh = op.shape.with_n(n)  # the argmax the device's forward stored (its mask buffer)
                _, arg = K.maxpool2d_forward(xin.reshape(n, *op.in_shape), sh, with_arg=True)
                f = folded_by.get(op.index)  # the previous op's activation mask, folded in
                e, e_exp = K.maxpool2d_backward(arg, e.reshape(n, *op.out_shape), e_exp, sh,
                                                y if f is not None else None,
                                                self.m.ops[f].upper if f is not None else 128)
            elif op.kind == "avgpool2d" and op.needs_dx:
                e, e_exp = K.avgpool2d_backward(e.reshape(n, *op.out_shape), e_exp, op.shape.with_n(n))
            e = np.asarray(e, np.int16).reshape(n, -1)
        for name in self.m.trainable:
            self.ctrl.observe(name, self.last_gavg[name])
        self.ctrl.advance(n, self.t, rng)
        self.samples += n
        self.steps += 1
        self.last_loss_q16 = int(loss)
        return StepResult(int(loss), int(correct))

    # -- state --------------------------------------------------------------------------------
    def trainable_tensors(self) -> list[QTensor]:
        return [self.t[n] for n in self.m.trainable]

    def weights_sha256(self) -> str:
        return weights_sha256(self.trainable_tensors())

    def weights_blob(self) -> bytes:
        return weights_blob(self.trainable_tensors())

    def bitwidths(self) -> dict[str, tuple[int, int]]:
        return {n: (self.t[n].bits, self.t[n].exp) for n in self.m.trainable}

    def bitwidth_history(self) -> dict:
        return bitwidth_history(self.m.tensors, self.m.trainable,
                                [(d.sample, d.tensor, d.bits_after, d.exp_after) for d in self.ctrl.log])


ACTION_BY_DELTA = {(1, -1): "add_low", (-1, 1): "drop_low", (1, 0): "add_high"}


def bitwidth_history(initial: dict[str, QTensor], names: list[str],
                     changes: list[tuple[int, str, int, int]]) -> dict:
    """The documented bitwidth_history: initial (bits, exp) per tensor and every change, in order
    (sample count after the step that triggered it, tensor, action, bits, exp)."""
    cur = {n: (initial[n].bits, initial[n].exp) for n in names}
    out = []
    for sample, name, bits, exp in changes:
        b0, e0 = cur[name]
        out.append({"sample": int(sample), "tensor": name,
                    "action": ACTION_BY_DELTA.get((bits - b0, exp - e0), "set"),
                    "bits": int(bits), "exp": int(exp)})
        cur[name] = (bits, exp)
    return {"initial": {n: {"bits": initial[n].bits, "exp": initial[n].exp} for n in names},
            "changes": out, "final": {n: {"bits": b, "exp": e} for n, (b, e) in cur.items()}}


def quantise_inputs(x: np.ndarray, input_exp: int) -> np.ndarray:
    """Float inputs -> int8 at input_exp (round to nearest, saturate): the device's input."""
    v = np.floor(np.ldexp(np.asarray(x, np.float64), -int(input_exp)) + 0.5)
    return np.clip(v, qmin(8), qmax(8)).astype(np.int8)
