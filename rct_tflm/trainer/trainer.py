"""The RCT trainer (TensorFlow, on the workstation): integer weights only, float gradients, contract updates.

State: every trainable tensor is a `QTensor` (int32 values, exponent, bitwidth) — there is no
float master copy. Each step builds float views q * 2**exp as TF constants, runs the quantised
forward (qforward.py), takes softmax cross-entropy gradients with GradientTape (straight-
through), and for each tensor applies delta = -lr * g / 2**exp (LSB units, float64) with the
contract's `apply_update` (stochastic or nearest rounding + saturation at the bitwidth). The
Gavg it returns feeds the bitwidth controller, which decides every `period_samples` samples.

Embedding tables get a sparse update: only the rows the batch used are rounded and written
(the others have a zero gradient), and their Gavg is the mean over those rows — a dense Gavg
would be diluted by thousands of untouched rows and push the table to the widest bitwidth.

Activation exponents (8-bit, power of two) follow a running estimate of each quantised
layer's max |output|: initialised from the max over the first batches, then an exponential
moving average (momentum 0.9) of per-batch maxima; exp = smallest exponent covering it. At the
end `act_exp` is calibrated from the max over the whole training set.
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from ..artefact import ModelArtefact
from ..data import Dataset, epoch_order, f1_score, score_metrics
from ..errors import UserError
from ..fixedpoint import BitwidthController, ControllerConfig, QTensor, Rng, apply_update
from ..fixedpoint.qtensor import exponent_for
from ..program import kinds
from .qforward import ACT_BITS, QForward, scales_from_exps
from .quiet_tf import tf

ACT_EMA = 0.9
CALIB_BATCHES = 8
EVAL_BATCH = 500


@dataclass
class RCTConfig:
    lr: float = 0.05
    batch_size: int = 32
    epochs: int = 20
    seed: int = 0
    rounding: str = "stochastic"  # "stochastic" | "nearest"
    controller: ControllerConfig = field(default_factory=ControllerConfig)

    def to_json(self) -> dict:
        d = asdict(self)
        d["controller"] = asdict(self.controller)
        return d


def batch_order(n: int, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Sample indices of each batch of one epoch, cut from `data.epoch_order` (the one shared
    definition of the data order), so RCT, the FP32/QAT baselines and the device agree."""
    perm = epoch_order(n, seed, epoch)
    return [perm[i:i + batch_size] for i in range(0, n, batch_size)]


def evaluate(pred: np.ndarray, y: np.ndarray, metric: str) -> dict[str, float | None]:
    """Classes against labels; an MSE model's per-sample scores (metric "auc"/"mse"): the ROC
    AUC against anomaly marks (the "accuracy" of its curve; 0 without marks) and the mean."""
    if metric in ("auc", "mse"):
        sm = score_metrics(np.asarray(pred) * 65536.0, y)
        return {"accuracy": sm["auc"] or 0.0, "f1": None, "auc": sm["auc"],
                "score_mean": sm["score_mean"]}
    acc = float(np.mean(pred == y))
    return {"accuracy": acc, "f1": f1_score(y, pred) if metric == "f1" else None}


class RCTTrainer:
    """Trains `art` (float32 tensors from keras_import) with RCT; holds only QTensors."""

    def __init__(self, art: ModelArtefact, data: Dataset, cfg: RCTConfig) -> None:
        self.cfg = cfg
        self.data = data
        tf.random.set_seed(cfg.seed)
        self.fwd = QForward(art)
        self.names = list(self.fwd.param_names)
        self.kernel_of = {l.name: l.params[kinds.params(l.kind)[0]]  # kernel, or lookup table
                          for l in art.layers if l.params}
        # Quantise the initial float weights and drop them: from here on only integers exist.
        self.tensors: dict[str, QTensor] = {
            n: QTensor.from_float(art.tensors[n], cfg.controller.bits_init) for n in self.names}
        # Own copies of the layers: act_exp calibration must not leak into the caller's graph
        # (compare and the benchmark train several methods from one imported model).
        self.art = ModelArtefact(copy.deepcopy(art.layers), dict(self.tensors), art.input_shape,
                                 art.num_classes,
                                 set(self.names), dict(data.preprocess), dict(art.training))
        self.sparse = {t for l in art.layers if kinds.id_count(l) is not None  # a lookup table
                       for t in l.params.values()}
        self.controller = BitwidthController(cfg.controller, list(self.names))
        self.rng = Rng(cfg.seed)
        self.in_scale = np.float32(2.0 ** int(data.preprocess.get("input_exp", -(ACT_BITS - 1))))
        self.act_max = np.zeros(self.fwd.n_scales, np.float64)
        self.step = 0
        self.mse = data.targets != "labels"  # the loss head: mean squared error (mse.py)
        self.history: dict[str, Any] = {"train_loss_curve": [], "test_accuracy_curve": [],
                                        "test_f1_curve": [], "bitwidth_history": [],
                                        "test_score_mean_curve": []}
        self._train_fn = tf.function(self._train_step, reduce_retracing=True)
        self._pred_fn = tf.function(self._predict, reduce_retracing=True)

    # -- TF parts (no state held) ------------------------------------------------------------
    def _train_step(self, ws: list[tf.Tensor], x: tf.Tensor, y: tf.Tensor, scales: tf.Tensor,
                    in_scale: tf.Tensor, seed: tf.Tensor) -> tuple:
        with tf.GradientTape() as tape:
            tape.watch(ws)
            logits, amax = self.fwd(ws, x, scales, in_scale, training=True, seed=seed)
            if self.mse:  # y: the float targets (regression) or the inputs (autoencoder)
                out = tf.reshape(logits, [tf.shape(logits)[0], -1])
                loss = tf.reduce_mean(tf.square(out - tf.reshape(y, tf.shape(out))))
            else:
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, ws)]
        return loss, grads, amax

    def _predict(self, ws: list[tf.Tensor], x: tf.Tensor, y: tf.Tensor, scales: tf.Tensor,
                 in_scale: tf.Tensor) -> tuple:
        logits, amax = self.fwd(ws, x, scales, in_scale, training=False)
        if self.mse:  # the per-sample score: mean squared error against the targets
            out = tf.reshape(logits, [tf.shape(logits)[0], -1])
            return tf.reduce_mean(tf.square(out - tf.reshape(y, tf.shape(out))), axis=1), amax
        return tf.argmax(logits, axis=-1), amax

    # -- helpers ---------------------------------------------------------------------------
    def _views(self) -> list[tf.Tensor]:
        """Float views of the integer weights, built fresh (constants, not variables)."""
        return [tf.constant(self.tensors[n].to_float()) for n in self.names]

    def _scales(self) -> np.ndarray:
        exps = [exponent_for(float(a), ACT_BITS) for a in self.act_max]
        return scales_from_exps(np.asarray(exps))

    def _x(self, idx: np.ndarray | slice, split: str = "train") -> tf.Tensor:
        x = self.data.x_train[idx] if split == "train" else self.data.x_test[idx]
        return tf.constant(x.astype(np.int32) if self.fwd.int_input else x.astype(np.float32))

    def _y(self, idx: np.ndarray | slice, split: str = "train") -> tf.Tensor:
        """A batch's targets: labels, regression targets, or (autoencoder) the inputs."""
        if self.data.targets == "input":
            x = self.data.x_train[idx] if split == "train" else self.data.x_test[idx]
            return tf.constant(x.reshape(len(x), -1).astype(np.float32))
        y = self.data.y_train[idx] if split == "train" else self.data.y_test[idx]
        return tf.constant(y.astype(np.float32) if self.mse else y.astype(np.int32))

    def predict(self, x_split: str = "test") -> tuple[np.ndarray, np.ndarray]:
        """(predicted classes or an MSE model's scores, max |activation| per quantised layer)
        over a whole split."""
        n = len(self.data.x_test if x_split == "test" else self.data.x_train)
        ws, scales = self._views(), tf.constant(self._scales())
        preds, amax = [], np.zeros(self.fwd.n_scales)
        for i in range(0, n, EVAL_BATCH):
            sl = slice(i, i + EVAL_BATCH)
            p, a = self._pred_fn(ws, self._x(sl, x_split), self._y(sl, x_split), scales,
                                 tf.constant(self.in_scale))
            preds.append(p.numpy())
            amax = np.maximum(amax, a.numpy())
        return np.concatenate(preds), amax

    def bits(self) -> dict[str, int]:
        return {n: self.tensors[n].bits for n in self.names}

    def layer_bits(self) -> dict[str, int]:
        """A layer's bitwidth is its kernel's (embedding: its table's)."""
        return {l: self.tensors[t].bits for l, t in self.kernel_of.items()}

    def _calibrate_start(self) -> None:
        ws, sc = self._views(), tf.constant(np.ones(self.fwd.n_scales, np.float32))
        order = batch_order(len(self.data.x_train), self.cfg.batch_size, self.cfg.seed, 2**31)
        # Unquantised max over a few batches (scales of 1 would clip everything: use fwd raw).
        raw = QForward(self.art, quantize=False)
        for b in order[:CALIB_BATCHES]:
            _, a = raw(ws, self._x(b), sc, self.in_scale)
            self.act_max = np.maximum(self.act_max, a.numpy())

    # -- training --------------------------------------------------------------------------
    def train_step(self, idx: np.ndarray) -> float:
        cfg = self.cfg
        x, y = self._x(idx), self._y(idx)
        seed = tf.constant([cfg.seed, self.step], tf.int32)
        loss, grads, amax = self._train_fn(self._views(), x, y, tf.constant(self._scales()),
                                           tf.constant(self.in_scale), seed)
        if not np.isfinite(float(loss)):
            raise UserError(f"RCT training diverged at step {self.step} (loss is {float(loss)}); "
                            f"lower --lr (now {cfg.lr})")
        self.act_max = ACT_EMA * self.act_max + (1 - ACT_EMA) * amax.numpy()
        for n, g in zip(self.names, grads):
            t = self.tensors[n]
            delta = -cfg.lr * np.ldexp(g.numpy().astype(np.float64), -t.exp)
            if n in self.sparse:
                rows = np.unique(self.data.x_train[idx])
                sub = QTensor(t.q[rows], t.exp, t.bits)
                gq = apply_update(sub, delta[rows], self.rng, cfg.rounding)
                t.q[rows] = sub.q
            else:
                gq = apply_update(t, delta, self.rng, cfg.rounding)
            self.controller.observe(n, gq)
        self.step += 1
        if self.controller.advance(len(idx), self.tensors, self.rng):
            self._record_bits()
        return float(loss)

    def _record_bits(self) -> None:
        self.history["bitwidth_history"].append(
            {"step": self.step, "sample": self.controller.samples, "bits": self.bits()})

    def _evaluate(self) -> None:
        pred, _ = self.predict("test")
        m = evaluate(pred, self.data.y_test, self.data.metric)
        self.history["test_accuracy_curve"].append(m["accuracy"])
        self.history["test_f1_curve"].append(m["f1"])
        self.history["test_score_mean_curve"].append(m.get("score_mean"))

    def train(self, progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
        """Run all epochs; returns the history (curves, bitwidth_history, controller log)."""
        t0 = time.time()
        self._calibrate_start()
        self._record_bits()
        n = len(self.data.x_train)
        for epoch in range(self.cfg.epochs):
            losses = []
            for idx in batch_order(n, self.cfg.batch_size, self.cfg.seed, epoch):
                losses.append(self.train_step(idx))
                if progress:
                    progress({"epoch": epoch, "loss": losses[-1], "bits": self.layer_bits()})
            self.history["train_loss_curve"].append(float(np.mean(losses)))
            self._evaluate()
        self.history["train_seconds"] = time.time() - t0
        self.history["controller_log"] = self.controller.log_dicts()
        self.history["steps"] = self.step
        self.history["samples"] = self.controller.samples
        return self.history

    def calibrate_act_exps(self) -> None:
        """act_exp of every layer output: 8-bit exponent covering max |activation| on train."""
        _, amax = self.predict("train")
        exps = [exponent_for(float(a), ACT_BITS) for a in amax]
        exp_of = {-1: int(self.art.preprocess.get("input_exp", -(ACT_BITS - 1)))}
        for i, (l, k) in enumerate(zip(self.art.layers, self.fwd.quant_layers)):
            # a kind that passes its input's exponent through keeps its (first) source's
            exp_of[i] = exps[k] if k >= 0 else exp_of[self.art.sources(i)[0]]
            l.act_exp = int(exp_of[i])

    def artefact(self, training: dict[str, Any]) -> ModelArtefact:
        """The trained artefact: QTensors (shared, not copied), calibrated act_exp, record."""
        self.calibrate_act_exps()
        self.art.tensors = dict(self.tensors)
        self.art.training = {**self.art.training, **training}
        return self.art
