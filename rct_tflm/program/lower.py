"""lower(artefact, trainable selection, EngineConfig) -> Program: the one place that orders a
training step. Each layer's kind module (program/kinds/) gives its shape rule and its calls;
this module walks the layers, assigns the buffers (activations, max-pool argmax, errors,
trainable tensors) and derives every buffer's lifetime from the calls that use it.

Model split: parametric layers form a frozen prefix (int8 `const` tables on the device) and a
trainable suffix (RAM, RCT bitwidths). One training step on n samples: forward through every
layer; the loss head (training.loss: softmax + cross-entropy on the int8 logits, int16 error at
exponent -15, or the mean squared error against targets; program/kinds/softmax_ce.py, mse.py); backward from
the last layer down to the first trainable one (activation mask, error w.r.t. the input with
the OLD weights, kernel update, bias update); then the controller (program/golden.py).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..artefact import ModelArtefact
from ..errors import UserError
from ..fixedpoint.config import EngineConfig
from ..fixedpoint.qtensor import QTensor
from . import kinds
from .error_flow import ErrorFlow
from .model import INPUT, BufferSpec, Call, LayerFacts, Program, TensorEntry

_BUFFER_ORDER = ("activation", "mask", "error", "weights")  # memory report order within a kind


def select_trainable(art: ModelArtefact, trainable_layers: int | None = None,
                     frozen_layers: int | None = None) -> set[str]:
    """Trainable tensor names: the artefact's own set, or the last K / all but the first K
    parametric layers; the whole model when the artefact names none."""
    pl = [l for l in art.layers if kinds.params(l.kind)]
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


class Lowering:
    """The state a kind module's shape rule and lowering read and extend."""

    def __init__(self, art: ModelArtefact, cfg: EngineConfig, names: set[str]) -> None:
        self.art, self.cfg, self.names = art, cfg, names
        self.input_exp = int(art.preprocess.get("input_exp", 0))
        self.values: dict[str, QTensor] = {}
        self.table: list[TensorEntry] = []
        self.seen_trainable = False
        self.layers: list[LayerFacts] = []
        self.bufs: dict[str, BufferSpec] = {}
        self.srcs = [art.sources(i) for i in range(len(art.layers))]  # producers, -1: input
        self.consumers = art.consumers()
        self.act_of: list[str] = []  # buffer holding layer i's output
        self.folds: dict[int, int] = {}  # layer -> the max-pool after it that applies its mask
        self.plans: dict[str, Any] = {}  # layer -> its lowered frozen .tflite graph (tflite_frozen)
        self.err_in: str = ""  # error at the output of the layer being lowered backward
        self.err_out: str | None = None  # error buffer that layer wrote (its input's)
        self.first = 0

    # -- schedule steps ---------------------------------------------------------------------------
    @property
    def loss_step(self) -> int:
        return len(self.layers)

    def bwd(self, f: LayerFacts) -> int:
        return 2 * len(self.layers) - f.index

    # -- buffers ----------------------------------------------------------------------------------
    def new_buffer(self, name: str, kind: str, dtype: str, per_sample: int, nbytes: int) -> str:
        assert name not in self.bufs, name
        self.bufs[name] = BufferSpec(name, kind, dtype, per_sample, nbytes, 0, 0)
        return name

    def new_error(self, f: LayerFacts, extra: int = 0) -> str:
        """The error w.r.t. layer f's input (int16, `extra` more words per micro-batch)."""
        count = self.cfg.max_batch * f.in_size
        self.err_out = self.new_buffer(f"err{f.index}", "error", "int16", f.in_size,
                                       2 * (count + extra))
        return self.err_out

    def inputs(self, f: LayerFacts) -> list[str]:
        """The buffers holding layer f's inputs, in order."""
        return [INPUT if s < 0 else self.act_of[s] for s in self.srcs[f.index]]

    def input_exps(self, f: LayerFacts) -> list[int]:
        return [self.input_exp if s < 0 else self.layers[s].y_exp for s in self.srcs[f.index]]

    def x(self, f: LayerFacts) -> str:
        return self.inputs(f)[0]

    def shared(self, f: LayerFacts, buf: str) -> bool:
        """Whether a layer other than f reads `buf` and does not itself write it (a skip's
        other consumer): then f may not overwrite it in place."""
        writers = {p for p in range(f.index) if self.act_of[p] == buf}
        readers = {c for p in writers for c in self.consumers[p]}
        return bool(readers - writers - {f.index})

    def sole_consumer(self, i: int) -> LayerFacts | None:
        """The layer reading layer i's output, when exactly one does and reads nothing else."""
        c = self.consumers.get(i, [])
        return self.layers[c[0]] if len(c) == 1 and self.srcs[c[0]] == [i] else None

    def y(self, f: LayerFacts) -> str:
        return self.act_of[f.index]

    def folded_into(self, f: LayerFacts) -> LayerFacts | None:
        """The layer whose activation mask f's backward applies (a fold), if any."""
        by_pool = {p: o for o, p in self.folds.items()}
        return self.layers[by_pool[f.index]] if f.index in by_pool else None

    # -- tensors ----------------------------------------------------------------------------------
    def add_tensor(self, f: LayerFacts, role: str, name: str, q: QTensor, cap: int,
                   out_major: bool) -> None:
        self.values[name] = q
        self.table.append(TensorEntry(name, f.name, role, tuple(np.shape(q.q)), q.bits, q.exp,
                                      f.trainable, cap, out_major))


def lower(art: ModelArtefact, cfg: EngineConfig, trainable_layers: int | None = None,
          frozen_layers: int | None = None) -> Program:
    """Check that the engine can run/train the artefact and lower it to a program."""
    method = art.training.get("method")
    if method in ("fp32", "qat"):  # baselines keep float weights and no calibrated exponents
        raise UserError(f"this model was trained with --method {method}, a baseline for "
                        f"comparison; the device takes an RCT-trained model: train it with "
                        f"`rct-tflm train --method rct` (the default)")
    low = Lowering(art, cfg, select_trainable(art, trainable_layers, frozen_layers))
    if "input_exp" not in art.preprocess:
        raise UserError("the model artefact has no preprocess.input_exp (input exponent); "
                        "re-create it with `rct-tflm train`")
    exp_of = {-1: int(art.preprocess["input_exp"])}  # producer (-1: the input) -> exponent
    for i, l in enumerate(art.layers):
        if l.kind not in kinds.supported():  # unknown, or a host-only kind (no lowering)
            raise UserError(f"layer {l.name}: kind '{l.kind}' is not supported by the integer "
                            f"engine; supported: {', '.join(kinds.supported())}")
        if len(low.srcs[i]) != kinds.arity(l.kind):
            raise UserError(f"layer {l.name} ({l.kind}) reads {len(low.srcs[i])} tensors, it "
                            f"takes {kinds.arity(l.kind)}; corrupt artefact")
        x_exp = exp_of[low.srcs[i][0]]
        f = LayerFacts(i, l.name, l.kind, tuple(l.input_shape), tuple(l.output_shape), x_exp,
                       x_exp, sources=None if l.inputs is None else list(low.srcs[i]))
        kinds.kind(l.kind).shape(l, f, low)
        low.layers.append(f)
        exp_of[i] = f.y_exp
    dead = [art.layers[i].name for i, c in low.consumers.items() if 0 <= i < len(art.layers) - 1
            and not c]
    if dead:
        raise UserError(f"the output of layer {dead[0]} is read by no layer; the engine runs "
                        f"graphs with one output (the last layer's logits)")
    if not low.table or not any(t.trainable for t in low.table):
        raise UserError("no trainable tensors: choose --trainable-layers K >= 1")
    head = kinds.loss(art.training.get("loss", kinds.DEFAULT_LOSS))  # softmax_ce.py, mse.py
    head.check(art, low)  # output size against classes / targets
    layers = low.layers
    low.first = first = next(f.index for f in layers if f.trainable)
    for f in layers:
        f.needs_dx = any(s >= first for s in low.srcs[f.index])
    mb = cfg.max_batch

    forward: list[Call] = []
    for f in layers:
        cur = low.x(f)
        mode = kinds.output_mode(f.kind)
        if mode == "alias" or (mode == "inplace" and cur != INPUT and not low.shared(f, cur)):
            out = cur
        else:
            out = low.new_buffer(f"act{f.index}", "activation", "int8", f.out_size, mb * f.out_size)
        low.act_of.append(out)
    for f in layers[first:]:
        nxt = low.sole_consumer(f.index)
        after = low.sole_consumer(nxt.index) if nxt else None
        absorbs = getattr(kinds.kind(nxt.kind), "absorbs_mask", None) if nxt else None
        if absorbs is not None and absorbs(f, nxt, after):
            low.folds[f.index] = nxt.index
    for f in layers:
        forward += kinds.kind(f.kind).forward(f, low)

    err = low.new_buffer("err_logits", "error", "int16", art.num_classes,
                         2 * mb * art.num_classes)
    loss = head.call(art, low, err)
    backward = ErrorFlow(low, err).run()

    for t in low.table:
        if t.trainable:
            low.new_buffer("w_" + t.name.replace("/", "_"), "weights", "int16",
                           int(np.prod(t.shape)), 2 * int(np.prod(t.shape)))
    _lifetimes(low, [*forward, loss, *backward])
    buffers = sorted(low.bufs.values(), key=lambda b: _BUFFER_ORDER.index(b.kind))
    config: dict[str, Any] = {"lr_shift": cfg.lr_shift, "stochastic": cfg.stochastic,
                              "acc_policy": cfg.acc_policy, "seed": cfg.seed}
    return Program(layers, buffers, forward, loss, backward, low.table, tuple(art.input_shape),
                   int(art.preprocess["input_exp"]), art.num_classes, low.act_of[-1],
                   layers[-1].y_exp, mb, first, config, low.values, low.plans,
                   _input_affine(art.preprocess))


def _input_affine(pre: dict) -> tuple[float, int] | None:
    """(scale, zero point) of an input quantised as a .tflite's (its frozen part reads it)."""
    if "input_scale" not in pre:
        return None
    return float(pre["input_scale"]), int(pre["input_zero_point"])


def _lifetimes(low: Lowering, calls: list[Call]) -> None:
    """Every buffer lives from the first to the last step of a call that names it; trainable
    tensors live over the whole schedule."""
    span: dict[str, list[int]] = {}
    for c in calls:
        for b in c.buffers.values():
            if b is not None and b != INPUT:
                s = span.setdefault(b, [c.step, c.step])
                s[0], s[1] = min(s[0], c.step), max(s[1], c.step)
    for b in low.bufs.values():
        if b.kind == "weights":
            b.first, b.last = 0, 2 * len(low.layers)
        else:
            assert b.name in span, f"buffer {b.name} is named by no call"
            b.first, b.last = span[b.name]
