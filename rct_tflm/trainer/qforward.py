"""The quantised forward pass of an artefact graph in TensorFlow (the RCT trainer's forward).

Weights come in as float *views* of integer tensors (q * 2**exp, built per step by the
caller); nothing here holds weights. Activations are fake-quantised to 8 bits at a per-layer
power-of-two exponent, round to nearest (ties up, as `shift_round_nearest`), saturated to
[-128, 127], with a straight-through estimator: the backward pass treats the quantiser as the
identity, so TF autodiff gives the float gradients the paper's simulation uses.

Which layers quantise their output: conv/dense/depthwise/conv1d, embedding, avgpool2d and
gap1d (they compute new values); relu, relu6, maxpool2d, flatten and dropout pass their input
exponent through (on integers they only select, clip or reshape).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..artefact import Layer, ModelArtefact
from .quiet_tf import tf

ACT_BITS = 8
_QLO, _QHI = -(2 ** (ACT_BITS - 1)), 2 ** (ACT_BITS - 1) - 1
REQUANT_KINDS = ("dense", "conv2d", "depthwise_conv2d", "conv1d", "embedding", "avgpool2d", "gap1d")


def fake_quant(x: tf.Tensor, scale: tf.Tensor) -> tf.Tensor:
    """8-bit quantise-dequantise at `scale` = 2**exp, straight-through gradient."""
    q = tf.clip_by_value(tf.floor(x / scale + 0.5), _QLO, _QHI) * scale
    return x + tf.stop_gradient(q - x)


def _act(x: tf.Tensor, a: str) -> tf.Tensor:
    if a == "relu":
        return tf.nn.relu(x)
    if a == "relu6":
        return tf.nn.relu6(x)
    return x


class QForward:
    """Functional executor over `art.layers`; `param_names` fixes the order of weight inputs.

    `quant_layers[i]` is the index into the scale vector of layer i's output quantiser, or -1
    when the layer passes its input's exponent through."""

    def __init__(self, art: ModelArtefact, quantize: bool = True) -> None:
        self.layers: list[Layer] = list(art.layers)
        self.param_names: list[str] = [t for l in self.layers for t in l.params.values()]
        self.quantize = quantize
        self.quant_layers = []
        k = 0
        for l in self.layers:
            if l.kind in REQUANT_KINDS:
                self.quant_layers.append(k)
                k += 1
            else:
                self.quant_layers.append(-1)
        self.n_scales = k
        self.int_input = art.training.get("input_dtype") == "int32" or \
            (self.layers and self.layers[0].kind == "embedding")

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
        for i, l in enumerate(self.layers):
            c = l.config
            p = {role: w[t] for role, t in l.params.items()}
            if l.kind == "dense":
                x = _act(tf.matmul(x, p["kernel"]) + p["bias"], c["activation"])
            elif l.kind == "conv2d":
                x = tf.nn.conv2d(x, p["kernel"], [1, *c["strides"], 1], c["padding"].upper())
                x = _act(x + p["bias"], c["activation"])
            elif l.kind == "depthwise_conv2d":
                x = tf.nn.depthwise_conv2d(x, p["kernel"], [1, *c["strides"], 1], c["padding"].upper())
                x = _act(x + p["bias"], c["activation"])
            elif l.kind == "conv1d":
                x = tf.nn.conv1d(x, p["kernel"], c["strides"][0], c["padding"].upper())
                x = _act(x + p["bias"], c["activation"])
            elif l.kind == "embedding":
                x = tf.gather(p["embeddings"], tf.cast(x, tf.int32))
            elif l.kind == "relu":
                x = tf.nn.relu(x)
            elif l.kind == "relu6":
                x = tf.nn.relu6(x)
            elif l.kind == "maxpool2d":
                x = tf.nn.max_pool2d(x, c["pool_size"], c["strides"], c["padding"].upper())
            elif l.kind == "avgpool2d":
                x = tf.nn.avg_pool2d(x, c["pool_size"], c["strides"], c["padding"].upper())
            elif l.kind == "gap1d":
                x = tf.reduce_mean(x, axis=1)
            elif l.kind == "flatten":
                x = tf.reshape(x, [tf.shape(x)[0], -1])
            elif l.kind == "dropout":
                if training and c["rate"] > 0:
                    keep = tf.random.stateless_uniform(tf.shape(x), seed=seed) >= c["rate"]
                    x = tf.where(keep, x / (1.0 - c["rate"]), tf.zeros_like(x))
            else:  # import guarantees kinds; a hand-edited artefact may not
                raise ValueError(f"layer kind {l.kind}")
            k = self.quant_layers[i]
            if k >= 0:
                amax.append(tf.reduce_max(tf.abs(x)))
                if self.quantize:
                    x = fake_quant(x, scales[k])
        return x, tf.stack(amax)


def scales_from_exps(exps: np.ndarray) -> np.ndarray:
    return np.ldexp(np.ones(len(exps), np.float32), np.asarray(exps, np.int32)).astype(np.float32)
