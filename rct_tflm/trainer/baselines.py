"""FP32 and 8-bit QAT baselines on the same graph, initial weights, data order and schedule.

Both rebuild a tf_keras model from the imported artefact graph (BatchNorm already folded),
load the same float initial weights RCT quantises, and train with plain SGD (no momentum) at
the same learning rate, batch size, epochs and batch order (`trainer.batch_order`).

QAT uses tfmot's `quantize_model` (default 8-bit scheme). When tfmot refuses a layer (e.g.
Embedding), it falls back to tfmot's documented partial quantisation: `quantize_annotate_layer`
on the layers its 8-bit registry supports, then `quantize_apply`; the layers left in float are
listed in the run's metrics (`qat_float_layers`).
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from ..artefact import ModelArtefact
from ..data import Dataset
from ..errors import UserError
from ..program import kinds
from .quiet_tf import tf, tf_keras
from .quiet_tf import tfmot as tfmot_module
from .trainer import RCTConfig, batch_order, evaluate

EVAL_BATCH = 500


def keras_from_artefact(art: ModelArtefact) -> Any:
    """A functional tf_keras model with the artefact's graph (each kind's `to_keras`) and
    (float) weights (in the kind's PARAMS order, Keras' own)."""
    k = tf_keras()
    L = k.layers
    int_in = kinds.id_count(art.layers[0]) is not None
    inp = L.Input(art.input_shape, dtype="int32" if int_in else "float32")
    made: list[Any] = []

    def build(l: Any, x: Any) -> Any:
        act = l.config.get("activation", "linear")
        fused = act if act in ("linear", "relu") else "linear"  # relu6 becomes its own layer
        layer = kinds.kind(l.kind).to_keras(L, l, fused)
        made.append(layer)
        y = layer(x)
        if act == "relu6" and l.params:
            made.append(L.ReLU(6.0, name=f"{l.name}_relu6"))
            y = made[-1](y)
        return y

    model = k.Model(inp, art.run_graph(inp, build)[-1], name="rct_graph")
    for l in art.layers:
        if l.params:
            model.get_layer(l.name).set_weights([art.float_weights(l.params[r])
                                                 for r in kinds.params(l.kind)])
    return model


def quantize_qat(model: Any) -> tuple[Any, list[str]]:
    """(tfmot QAT model, names of layers left in float)."""
    tfmot = tfmot_module()
    q = tfmot.quantization.keras
    try:
        return q.quantize_model(model), []
    except (RuntimeError, ValueError, TypeError):
        pass
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as reg)
    registry = reg.Default8BitQuantizeRegistry()
    floats: list[str] = []

    def annotate(layer: Any) -> Any:
        if registry.supports(layer):
            return q.quantize_annotate_layer(layer)
        floats.append(layer.name)
        return layer

    k = tf_keras()
    annotated = k.models.clone_model(model, clone_function=annotate)
    annotated.set_weights(model.get_weights())
    return q.quantize_apply(annotated), floats


_KERAS_NAME = {"kernel": "depthwise_kernel"}  # artefact role -> Keras variable name, where they differ


def _unwrap(layer: Any) -> Any:
    return getattr(layer, "layer", layer)  # tfmot QuantizeWrapper holds the float layer


def float_tensors(model: Any, art: ModelArtefact) -> dict[str, np.ndarray]:
    """The model's float (master) weights under the artefact's tensor names."""
    by_name = {_unwrap(l).name: l for l in model.layers}
    out = {}
    for l in art.layers:
        if not l.params:
            continue
        # tfmot swaps the inner layer's kernel attribute for its fake-quantised tensor: read
        # the wrapper's variables, whose names end in <role>:0.
        variables = {v.name.split("/")[-1].split(":")[0]: v for v in by_name[l.name].weights}
        for role, t in l.params.items():
            # Keras names a DepthwiseConv2D kernel 'depthwise_kernel'; the artefact says 'kernel'.
            var = variables.get(role) if role in variables else variables[_KERAS_NAME[role]]
            out[t] = np.asarray(var.numpy(), np.float32)
    return out


class KerasTrainer:
    """Plain-SGD custom loop (same batch order as RCT) for a tf_keras / tfmot model."""

    def __init__(self, model: Any, data: Dataset, cfg: RCTConfig) -> None:
        k = tf_keras()
        self.model, self.data, self.cfg = model, data, cfg
        self.opt = k.optimizers.SGD(learning_rate=cfg.lr, momentum=0.0)
        self.int_in = data.kind == "text"
        self.quantized = any("Quantize" in type(l).__name__ for l in model.layers)
        self._step = tf.function(self._train_step, reduce_retracing=True)
        self._pred = tf.function(lambda x: tf.argmax(self.model(x, training=False), -1),
                                 reduce_retracing=True)
        self.history: dict[str, Any] = {"train_loss_curve": [], "test_accuracy_curve": [],
                                        "test_f1_curve": []}

    def _train_step(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            logits = self.model(x, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        vs = self.model.trainable_variables
        self.opt.apply_gradients(zip(tape.gradient(loss, vs), vs))
        return loss

    def _x(self, x: np.ndarray) -> tf.Tensor:
        return tf.constant(x.astype(np.int32) if self.int_in else x.astype(np.float32))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([self._pred(self._x(x[i:i + EVAL_BATCH])).numpy()
                               for i in range(0, len(x), EVAL_BATCH)])

    def train(self, progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
        t0 = time.time()
        d, step = self.data, 0
        for epoch in range(self.cfg.epochs):
            losses = []
            for idx in batch_order(len(d.x_train), self.cfg.batch_size, self.cfg.seed, epoch):
                loss = self._step(self._x(d.x_train[idx]), tf.constant(d.y_train[idx].astype(np.int32)))
                losses.append(float(loss))
                if not np.isfinite(losses[-1]):
                    raise UserError(f"{'QAT' if self.quantized else 'FP32'} training diverged at "
                                    f"step {step} (loss is {losses[-1]}); lower --lr (now "
                                    f"{self.cfg.lr})")
                step += 1
                if progress:
                    progress({"epoch": epoch, "loss": losses[-1], "bits": None})
            self.history["train_loss_curve"].append(float(np.mean(losses)))
            m = evaluate(self.predict(d.x_test), d.y_test, d.metric)
            self.history["test_accuracy_curve"].append(m["accuracy"])
            self.history["test_f1_curve"].append(m["f1"])
        self.history.update(steps=step, samples=step and sum(
            len(b) for e in range(self.cfg.epochs)
            for b in batch_order(len(d.x_train), self.cfg.batch_size, self.cfg.seed, e)),
            train_seconds=time.time() - t0, bitwidth_history=[], controller_log=[])
        return self.history


def train_baseline(method: str, art: ModelArtefact, data: Dataset, cfg: RCTConfig,
                   progress: Callable[[dict], None] | None = None
                   ) -> tuple[ModelArtefact, dict[str, Any], Any]:
    """Train fp32 or qat; returns (artefact with float32 tensors, history, keras model)."""
    k = tf_keras()
    k.utils.set_random_seed(cfg.seed)
    model = keras_from_artefact(art)
    notes: dict[str, Any] = {}
    if method == "qat":
        model, floats = quantize_qat(model)
        notes["qat_float_layers"] = floats
        notes["qat_scheme"] = "tfmot default 8-bit" + (
            " (partial: quantize_annotate_layer on supported layers)" if floats else "")
    tr = KerasTrainer(model, data, cfg)
    hist = tr.train(progress)
    hist.update(notes)
    out = ModelArtefact(art.layers, float_tensors(model, art), art.input_shape, art.num_classes,
                        set(art.trainable), dict(data.preprocess), dict(art.training))
    return out, hist, model
