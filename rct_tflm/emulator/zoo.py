"""Numpy-built model artefacts for the integer engine (no TensorFlow): the shapes of the
built-in Keras models in rct_tflm/trainer/models.py plus a small all-kernels CNN, Glorot-initialised,
with calibrated activation exponents, quantised to 8 bits like a fresh `rct-tflm train` model.

Activation exponents are static on the device, so they must cover the activations the model
will reach *after* training, not only those at initialisation: measured max |activation| on
FP32 SGD runs from the same init (digits 64-32-10, lr 2^-4, 20 epochs; MNIST-14 196-64-10,
lr 2^-5, 10 epochs) grows 4.1x / 5.4x in the hidden layer and 22x / 27x in the logits, i.e.
2-2.5 and 4.5-4.8 bits. Calibrating without headroom clips the logits, the cross-entropy
gradient then never vanishes and the weights run away (docs/codegen.md "Activation headroom").
The defaults cover the measured growth: HIDDEN_HEADROOM bits on hidden layers, LOGITS_HEADROOM
on the logits.
"""
from __future__ import annotations

import numpy as np

from ..artefact import ModelArtefact
from ..data import Dataset
from ..errors import UserError
from .floatref import calibrate_act_exps, quantise_artefact, sequential_artefact

HIDDEN_HEADROOM = 3
LOGITS_HEADROOM = 5
ZOO = ("mlp", "cnn", "tiny_cnn", "resnet_tiny")


def specs(name: str, input_shape: tuple[int, ...], num_classes: int, hidden: int = 32) -> list:
    if name == "mlp":  # models._mlp: Flatten -> Dense(hidden, relu) -> Dense(classes)
        return [("flatten", "flatten", {}),
                ("dense1", "dense", {"units": hidden, "activation": "relu"}),
                ("logits", "dense", {"units": num_classes})]
    if name == "cnn":  # models._cnn
        return [("conv1", "conv2d", {"filters": 8, "kernel_size": 3, "padding": "same",
                                     "activation": "relu"}),
                ("pool1", "maxpool2d", {"pool_size": 2}),
                ("conv2", "conv2d", {"filters": 16, "kernel_size": 3, "padding": "same",
                                     "activation": "relu"}),
                ("pool2", "maxpool2d", {"pool_size": 2}),
                ("flatten", "flatten", {}),
                ("logits", "dense", {"units": num_classes})]
    if name == "tiny_cnn":  # every conv/pool kernel and ReLU6, for bit-exactness tests
        return [("conv1", "conv2d", {"filters": 4, "kernel_size": 3, "padding": "same",
                                     "activation": "relu6"}),
                ("dw1", "depthwise_conv2d", {"kernel_size": 3, "strides": 1, "padding": "valid",
                                             "depth_multiplier": 2, "activation": "relu"}),
                ("pool1", "maxpool2d", {"pool_size": 2}),
                ("relu6", "relu6", {}),
                ("pool2", "avgpool2d", {"pool_size": 2, "strides": 1}),
                ("flatten", "flatten", {}),
                ("logits", "dense", {"units": num_classes})]
    if name == "resnet_tiny":  # two residual blocks (identity skip, 1x1 strided projection)
        conv = lambda f, k=3, s=1, a="relu": {"filters": f, "kernel_size": k,  # noqa: E731
                                              "strides": s, "padding": "same", "activation": a}
        return [("conv0", "conv2d", conv(8)),
                ("b1_conv1", "conv2d", conv(8)),
                ("b1_conv2", "conv2d", conv(8, a="linear")),
                ("b1_add", "add", {}, ["b1_conv2", "conv0"]),
                ("b1_relu", "relu", {}),
                ("b2_conv1", "conv2d", conv(16, s=2)),
                ("b2_conv2", "conv2d", conv(16, a="linear")),
                ("b2_proj", "conv2d", conv(16, 1, 2, "linear"), ["b1_relu"]),
                ("b2_add", "add", {}, ["b2_conv2", "b2_proj"]),
                ("b2_relu", "relu", {}),
                ("gap", "gap2d", {}),
                ("logits", "dense", {"units": num_classes})]
    raise UserError(f"unknown zoo model '{name}'; known: {', '.join(ZOO)}")


def build(name: str, data: Dataset, seed: int = 0, hidden: int = 32, bits: int = 8,
          headroom: int = HIDDEN_HEADROOM, logits_headroom: int = LOGITS_HEADROOM,
          quantise: bool = True) -> ModelArtefact:
    """A fresh model for `data`: init, act_exp calibrated on the training inputs (+ headroom),
    preprocess copied from the data set, tensors quantised to `bits` (or left float)."""
    art = sequential_artefact(data.input_shape, specs(name, data.input_shape, data.num_classes,
                                                      hidden), seed,
                              int(data.preprocess["input_exp"]))
    art.preprocess = dict(data.preprocess)
    calibrate_act_exps(art, data.x_train, headroom, logits_headroom)
    return quantise_artefact(art, bits) if quantise else art


def float_mlp_weights(art: ModelArtefact) -> dict[str, np.ndarray]:
    """The float weights of an artefact (the FP32 reference's starting point)."""
    return {n: art.float_weights(n) for n in art.tensors}
