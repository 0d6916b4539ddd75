"""The golden engine: integer inference and training by executing a Program's calls with their
numpy kernels (program/kinds/), over named buffers like the device's arena (no floats in a
training step; numpy int64 intermediates).

After the program's calls, a training step ends with the controller: it observes every
trainable tensor's Gavg, counts n samples, and at a period boundary changes bitwidths (tensors
in program order) and re-keys the PRNG. PRNG (one stream, key = seed, counter from 0), draw
order: the backward calls' order (layers from last to first; per layer the kernel's elements in
row-major order when its update shift >= 1, then the bias's); then at a period boundary the
controller's drop_low_bit draws, tensors in order, and the re-key (key += 0x9E3779B9 per
boundary the step crossed, counter = 0).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..artefact import ModelArtefact
from ..fixedpoint.controller import BitwidthController
from ..fixedpoint.config import EngineConfig
from ..fixedpoint.state import bitwidth_history, weights_blob, weights_sha256
from ..fixedpoint.prng import Rng
from ..fixedpoint.qtensor import QTensor
from . import kinds
from .lower import lower
from .model import INPUT, Call, LayerFacts, Program


@dataclass
class StepResult:
    loss_q16_sum: int
    correct: int  # classification: samples whose argmax is the label (MSE: 0)
    scores: np.ndarray | None = None  # MSE: the samples' Q16.16 mean squared errors


class State:
    """What a call's numpy kernel reads and writes: buffers ([n, per sample] arrays), tensors,
    the PRNG, the error exponents (e_exp, dx_exp) and the last Gavg per tensor. `targets`: the
    labels (classification) or the int8 target vectors (regression); None for an autoencoder."""

    def __init__(self, engine: "Engine", x: np.ndarray, targets: np.ndarray | None = None) -> None:
        self.n = x.shape[0]
        self.bufs: dict[str, np.ndarray] = {INPUT: x}
        self.t, self.rng, self.gavg = engine.t, engine.rng, engine.last_gavg
        self.lr_shift, self.stochastic = engine.cfg.lr_shift, engine.cfg.stochastic
        self.layers = engine.program.layers
        self.plans = engine.program.plans  # frozen .tflite parts (kinds/tflite_frozen.py)
        self.targets = targets
        self.regs = {"e_exp": 0, "dx_exp": 0}
        self.loss = self.correct = 0
        self.scores: np.ndarray | None = None

    def layer(self, index: int) -> LayerFacts:
        return self.layers[index]

    def buf(self, name: str) -> np.ndarray:
        return self.bufs[name]

    def put(self, name: str, value: np.ndarray) -> None:
        self.bufs[name] = np.asarray(value).reshape(self.n, -1)

    def run(self, calls: list[Call]) -> None:
        for c in calls:
            kinds.kernel(c.kernel).run(c, self)


class Engine:
    """Integer inference and training of a lowered program (numpy golden model)."""

    def __init__(self, program: Program, cfg: EngineConfig) -> None:
        self.program = program
        self.cfg = cfg
        self.reset(cfg.seed)

    @classmethod
    def from_artefact(cls, art: ModelArtefact, cfg: EngineConfig | None = None,
                      trainable_layers: int | None = None,
                      frozen_layers: int | None = None) -> "Engine":
        cfg = cfg or EngineConfig()
        return cls(lower(art, cfg, trainable_layers, frozen_layers), cfg)

    def reset(self, seed: int) -> None:
        """Initial weights, PRNG (key = seed, counter 0) and controller, like rct_model_init."""
        p = self.program
        self.t: dict[str, QTensor] = {n: q.copy() for n, q in p.tensors.items()}
        self.rng = Rng(seed)
        self.ctrl = BitwidthController(self.cfg.controller, list(p.trainable), dict(p.bits_max))
        self.samples = 0
        self.steps = 0
        self.last_gavg = {n: 0 for n in p.trainable}
        self.last_loss_q16 = 0

    # -- inference ----------------------------------------------------------------------------
    def logits(self, x: np.ndarray) -> np.ndarray:
        """int8 logits [n, classes] at the output exponent for int8 inputs x [n, *input_shape]."""
        x = np.asarray(x, np.int8)
        st = State(self, x.reshape(x.shape[0], -1))
        st.run(self.program.forward)
        return st.buf(self.program.output)

    def scores(self, x: np.ndarray, targets: np.ndarray | None = None) -> np.ndarray:
        """MSE model: the Q16.16 score (mean squared error) per sample, as INFER reports it:
        the forward and the loss call (targets: regression's int8 vectors; None: the input)."""
        x = np.asarray(x, np.int8)
        st = State(self, x.reshape(x.shape[0], -1), targets)
        st.run([*self.program.forward, self.program.loss])
        return np.asarray(st.scores, np.int64)

    def predict(self, x: np.ndarray, targets: np.ndarray | None = None,
                chunk: int = 256) -> np.ndarray:
        """Per sample what INFER answers: the class (argmax) or, for an MSE model, the score."""
        x = np.asarray(x, np.int8)
        if not len(x):
            return np.zeros(0, np.int64)
        if self.program.loss_kind == "mse":
            return np.concatenate([self.scores(x[i:i + chunk], None if targets is None
                                               else targets[i:i + chunk])
                                   for i in range(0, len(x), chunk)])
        return np.concatenate([np.argmax(self.logits(x[i:i + chunk]), axis=1)
                               for i in range(0, len(x), chunk)])

    # -- training -----------------------------------------------------------------------------
    def train_step(self, x: np.ndarray, targets: np.ndarray | None) -> StepResult:
        """One step on n = len(x) samples (a micro-batch when n > 1); targets: labels, int8
        target vectors (regression) or None (an autoencoder: the input)."""
        x = np.asarray(x, np.int8)
        n = len(x)
        if not 1 <= n <= self.cfg.max_batch:
            raise ValueError(f"batch of {n} samples; this engine takes 1..{self.cfg.max_batch}")
        kind = self.program.targets
        if kind == "labels":
            targets = np.asarray(targets, np.int64).reshape(n)
        elif kind == "vector":
            targets = np.asarray(targets, np.int8).reshape(n, self.program.target_size)
        else:
            targets = None
        st = State(self, x.reshape(n, -1), targets)
        st.run(self.program.calls())
        for name in self.program.trainable:
            self.ctrl.observe(name, self.last_gavg[name])
        self.ctrl.advance(n, self.t, self.rng)
        self.samples += n
        self.steps += 1
        self.last_loss_q16 = int(st.loss)
        return StepResult(int(st.loss), int(st.correct), st.scores)

    # -- state --------------------------------------------------------------------------------
    def trainable_tensors(self) -> list[QTensor]:
        return [self.t[n] for n in self.program.trainable]

    def weights_sha256(self) -> str:
        return weights_sha256(self.trainable_tensors())

    def weights_blob(self) -> bytes:
        return weights_blob(self.trainable_tensors())

    def bitwidths(self) -> dict[str, tuple[int, int]]:
        return {n: (self.t[n].bits, self.t[n].exp) for n in self.program.trainable}

    def bitwidth_history(self) -> dict:
        return bitwidth_history(self.program.tensors, self.program.trainable,
                                [(d.sample, d.tensor, d.bits_after, d.exp_after) for d in self.ctrl.log])
