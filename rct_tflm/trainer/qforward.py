"""The quantised forward pass of an artefact graph in TensorFlow (the RCT trainer's forward).

Weights come in as float *views* of integer tensors (q * 2**exp, built per step by the
caller); nothing here holds weights. Activations are fake-quantised to 8 bits at a per-layer
power-of-two exponent, round to nearest (ties up, as `shift_round_nearest`), saturated to
[-128, 127], with a straight-through estimator: the backward pass treats the quantiser as the
identity, so TF autodiff gives the float gradients the paper's simulation uses.

Each layer's TensorFlow forward is its kind's `tf_forward` (rct_tflm/program/kinds/). Every
layer quantises its output (conv/dense/depthwise/conv1d, embedding, avgpool2d, gap2d, gap1d compute
new values) except the kinds marked PASSES_EXPONENT: relu, relu6, maxpool2d, flatten and
dropout pass their input exponent through (on integers they only select, clip or reshape).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..artefact import Layer, ModelArtefact
from ..program import kinds
from .quiet_tf import tf

ACT_BITS = 8
_QLO, _QHI = -(2 ** (ACT_BITS - 1)), 2 ** (ACT_BITS - 1) - 1


def fake_quant(x: tf.Tensor, scale: tf.Tensor) -> tf.Tensor:
    """8-bit quantise-dequantise at `scale` = 2**exp, straight-through gradient."""
    q = tf.clip_by_value(tf.floor(x / scale + 0.5), _QLO, _QHI) * scale
    return x + tf.stop_gradient(q - x)


class QForward:
    """Functional executor over `art.layers`; `param_names` fixes the order of weight inputs.

    `quant_layers[i]` is the index into the scale vector of layer i's output quantiser, or -1
    when the layer passes its input's exponent through."""

    def __init__(self, art: ModelArtefact, quantize: bool = True) -> None:
        self.layers: list[Layer] = list(art.layers)
        # the layer graph alone (run_graph): the executor holds no weights
        self.graph = ModelArtefact(self.layers, {}, art.input_shape, art.num_classes)
        self.param_names: list[str] = [t for l in self.layers for t in l.params.values()]
        self.quantize = quantize
        self.quant_layers = []
        k = 0
        for l in self.layers:
            if not hasattr(kinds.kind(l.kind), "tf_forward"):  # import guarantees a kind; a
                raise ValueError(f"layer kind {l.kind}")  # hand-edited artefact may not
            if kinds.requantises(l.kind):
                self.quant_layers.append(k)
                k += 1
            else:
                self.quant_layers.append(-1)
        self.n_scales = k
        self.int_input = art.training.get("input_dtype") == "int32" or \
            (self.layers and kinds.id_count(self.layers[0]) is not None)

    def quant_layer_names(self) -> list[str]:
        return [l.name for l, q in zip(self.layers, self.quant_layers) if q >= 0]

    def __call__(self, ws: list[tf.Tensor], x: tf.Tensor, scales: tf.Tensor, in_scale: Any,
                 training: bool = False, seed: tf.Tensor | None = None
                 ) -> tuple[tf.Tensor, tf.Tensor]:
        """(logits, max |pre-quantisation output| per quantised layer)."""
        w = dict(zip(self.param_names, ws))
        amax = []
        if not self.int_input and self.quantize:
            x = fake_quant(x, in_scale)
        quant = dict(zip((l.name for l in self.layers), self.quant_layers))

        def layer(l: Layer, a: Any) -> Any:
            p = {role: w[t] for role, t in l.params.items()}
            y = kinds.kind(l.kind).tf_forward(tf, l, a, p, training, seed)
            k = quant[l.name]
            if k >= 0:
                amax.append(tf.reduce_max(tf.abs(y)))
                if self.quantize:
                    y = fake_quant(y, scales[k])
            return y

        x = self.graph.run_graph(x, layer)[-1]
        return x, tf.stack(amax)


def scales_from_exps(exps: np.ndarray) -> np.ndarray:
    return np.ldexp(np.ones(len(exps), np.float32), np.asarray(exps, np.int32)).astype(np.float32)
