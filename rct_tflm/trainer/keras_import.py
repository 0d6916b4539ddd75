"""Keras model (tf_keras or Keras 3; Sequential or a linear functional chain) -> model artefact.

The result is a `ModelArtefact` whose parameter tensors are float32 arrays in Keras layout
(docs/artefact.md): dense (in, out); conv2d H W I O; depthwise_conv2d H W C M; conv1d W I O;
embedding (vocab, dim); every bias (out,). The trainer quantises them.

Folded away at import: BatchNormalization (into the conv/dense before it: kernel and bias),
Activation('linear'), InputLayer, and a softmax on the last layer (training uses logits +
softmax cross-entropy, which is the same model). A ReLU / ReLU6 right after a conv/dense with
a linear activation is fused into that layer's `activation`. Layers without a bias get a zero
bias (the integer engine always adds one; it is trained like any other tensor).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..artefact import Layer, ModelArtefact
from ..errors import UserError

SUPPORTED = ("InputLayer", "Dense", "Conv2D", "DepthwiseConv2D", "Conv1D", "BatchNormalization",
             "ReLU", "Activation(relu|relu6|linear)", "MaxPooling2D", "AveragePooling2D",
             "Flatten", "Dropout", "Embedding", "GlobalAveragePooling1D",
             "softmax on the last layer only")
_PARAM = ("dense", "conv2d", "depthwise_conv2d", "conv1d")
# Keras class names the importer handles (aliases included): a saved model is checked against
# this list before it is deserialised (models.load_keras_file).
SUPPORTED_CLASSES = frozenset((
    "InputLayer", "Dense", "Conv2D", "Convolution2D", "DepthwiseConv2D", "Conv1D",
    "Convolution1D", "BatchNormalization", "ReLU", "Activation", "Softmax", "MaxPooling2D",
    "MaxPool2D", "AveragePooling2D", "AvgPool2D", "Flatten", "Dropout", "Embedding",
    "GlobalAveragePooling1D", "GlobalAvgPool1D"))


def unsupported_error(name: str, class_name: str, why: str = "") -> UserError:
    why = f" ({why})" if why else ""
    return UserError(f"layer '{name}' ({class_name}) is not supported{why}; "
                     f"supported layers: {', '.join(SUPPORTED)}")


def _unsupported(layer: Any, why: str = "") -> UserError:
    return unsupported_error(layer.name, type(layer).__name__, why)


def _act_name(act: Any) -> str:
    if act is None:
        return "linear"
    if isinstance(act, str):
        return act
    if isinstance(act, dict):  # Keras 3 serialised form
        return str(act.get("config", act.get("class_name", "?")))
    return getattr(act, "__name__", str(act))


def _activation(layer: Any, act: Any, last: bool) -> str:
    a = _act_name(act)
    if a in ("linear", "relu", "relu6"):
        return a
    if a == "softmax" and last:
        return "linear"
    if a == "softmax":
        raise _unsupported(layer, "softmax is allowed on the last layer only")
    raise _unsupported(layer, f"activation '{a}'; use relu, relu6 or linear")


def _pair(v: Any, n: int) -> list[int]:
    if isinstance(v, int):
        return [v] * n
    v = [int(x) for x in v]
    return v * n if len(v) == 1 else v


def _out_len(n: int, k: int, s: int, padding: str) -> int:
    return math.ceil(n / s) if padding == "same" else (n - k) // s + 1


def _check_common(layer: Any, cfg: dict) -> str:
    if cfg.get("data_format", "channels_last") not in (None, "channels_last"):
        raise _unsupported(layer, "channels_first data format")
    if any(d != 1 for d in _pair(cfg.get("dilation_rate", 1), 1)):
        raise _unsupported(layer, "dilation_rate != 1")
    if cfg.get("groups", 1) != 1:
        raise _unsupported(layer, "grouped convolution")
    pad = cfg.get("padding", "valid")
    if pad not in ("same", "valid"):
        raise _unsupported(layer, f"padding '{pad}'")
    return pad


def _layer_sequence(model: Any) -> list[Any]:
    """The model's layers in order; UserError unless it is one straight chain."""
    layers = list(model.layers)
    if type(model).__name__ == "Sequential":
        return layers
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UserError(f"model '{model.name}' has {len(model.inputs)} inputs and "
                        f"{len(model.outputs)} outputs; only single-input single-output chains "
                        "(Sequential or linear functional) are supported")
    prev = None
    for l in layers:
        if type(l).__name__ == "InputLayer":
            prev = l
            continue
        inp = l.input
        if isinstance(inp, (list, tuple)):
            raise UserError(f"layer '{l.name}' ({type(l).__name__}) takes {len(inp)} inputs: "
                            "branching graphs are not supported; use a single chain of layers")
        if prev is not None and inp is not prev.output:
            raise UserError(f"layer '{l.name}' ({type(l).__name__}) does not take the previous "
                            f"layer's output: branching graphs are not supported; use a single chain")
        prev = l
    return layers


def _input_shape(model: Any) -> tuple[tuple[int, ...], str]:
    t = model.inputs[0]
    shape = tuple(t.shape[1:])
    if any(d is None for d in shape):
        raise UserError(f"model '{model.name}' input shape {shape} has unknown dimensions; "
                        "give the Input layer a fixed shape")
    dtype = getattr(t, "dtype", "float32")
    return tuple(int(d) for d in shape), str(getattr(dtype, "name", dtype))


def import_keras(model: Any) -> tuple[ModelArtefact, dict]:
    """(artefact with float32 tensors, import notes {"folded_bn": [...], "final_softmax": bool})."""
    seq = [l for l in _layer_sequence(model) if type(l).__name__ != "InputLayer"]
    shape, in_dtype = _input_shape(model)
    in_shape = shape
    layers: list[Layer] = []
    tensors: dict[str, np.ndarray] = {}
    notes: dict[str, Any] = {"folded_bn": [], "final_softmax": False, "fused_relu": []}
    n_total = len(seq)

    def prev_param(l: Any, what: str) -> Layer:
        if not layers or layers[-1].kind not in _PARAM:
            raise _unsupported(l, f"{what} must follow a Dense/Conv layer")
        return layers[-1]

    for i, l in enumerate(seq):
        cls = type(l).__name__
        cfg = l.get_config()
        last = i == n_total - 1
        name = l.name.replace("/", "_")
        w = [np.asarray(a, dtype=np.float32) for a in l.get_weights()]
        if last and _act_name(cfg.get("activation")) == "softmax":
            notes["final_softmax"] = True  # Dense(..., activation="softmax"): kept as logits
        if cls == "Dense":
            if len(shape) != 1:
                raise _unsupported(l, f"Dense on a {len(shape)}-D input {shape}; put Flatten or "
                                      "a global pooling before it")
            act = _activation(l, cfg.get("activation"), last)
            units = int(cfg["units"])
            kernel = w[0]
            bias = w[1] if cfg.get("use_bias", True) else np.zeros(units, np.float32)
            out = (units,)
            layers.append(Layer(name, "dense", {"units": units, "activation": act}, shape, out,
                                {"kernel": f"{name}/kernel", "bias": f"{name}/bias"}))
            tensors[f"{name}/kernel"], tensors[f"{name}/bias"] = kernel, bias
        elif cls in ("Conv2D", "DepthwiseConv2D", "Conv1D"):
            nd = 1 if cls == "Conv1D" else 2
            if len(shape) != nd + 1:
                raise _unsupported(l, f"input shape {shape} is not {nd}-D with channels")
            pad = _check_common(l, cfg)
            if cls == "Conv1D" and pad == "causal":
                raise _unsupported(l, "causal padding")
            act = _activation(l, cfg.get("activation"), last)
            ks, st = _pair(cfg["kernel_size"], nd), _pair(cfg.get("strides", 1), nd)
            sp = [_out_len(shape[d], ks[d], st[d], pad) for d in range(nd)]
            if min(sp) < 1:
                raise _unsupported(l, f"kernel {ks} larger than its input {shape}")
            kernel = w[0]
            if cls == "DepthwiseConv2D":
                mult = int(cfg.get("depth_multiplier", 1))
                c_out = shape[-1] * mult
                kind = "depthwise_conv2d"
                conf = {"kernel_size": ks, "strides": st, "padding": pad, "depth_multiplier": mult,
                        "activation": act}
            else:
                c_out = int(cfg["filters"])
                kind = "conv1d" if nd == 1 else "conv2d"
                conf = {"filters": c_out, "kernel_size": ks, "strides": st, "padding": pad,
                        "activation": act}
            bias = w[1] if cfg.get("use_bias", True) else np.zeros(c_out, np.float32)
            out = (*sp, c_out)
            layers.append(Layer(name, kind, conf, shape, out,
                                {"kernel": f"{name}/kernel", "bias": f"{name}/bias"}))
            tensors[f"{name}/kernel"], tensors[f"{name}/bias"] = kernel, bias
        elif cls == "BatchNormalization":
            p = prev_param(l, "BatchNormalization")
            axis = cfg.get("axis", -1)
            axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
            if axis not in (-1, len(shape)):
                raise _unsupported(l, f"normalisation over axis {axis}; only the channel (last) axis")
            if p.config["activation"] != "linear":
                raise _unsupported(l, f"it follows '{p.name}' whose {p.config['activation']} "
                                      "activation prevents folding; move the activation after BN")
            it = iter(w)
            gamma = next(it) if cfg.get("scale", True) else np.ones(shape[-1], np.float32)
            beta = next(it) if cfg.get("center", True) else np.zeros(shape[-1], np.float32)
            mean, var = next(it), next(it)
            s = (gamma / np.sqrt(var + float(cfg.get("epsilon", 1e-3)))).astype(np.float64)
            k = tensors[p.params["kernel"]].astype(np.float64)
            if p.kind == "depthwise_conv2d":
                k = k * s.reshape(k.shape[2], k.shape[3])
            else:
                k = k * s
            b = (tensors[p.params["bias"]].astype(np.float64) - mean) * s + beta
            tensors[p.params["kernel"]] = k.astype(np.float32)
            tensors[p.params["bias"]] = b.astype(np.float32)
            notes["folded_bn"].append(f"{name} -> {p.name}")
            continue
        elif cls in ("ReLU", "Activation", "Softmax"):
            if cls == "Softmax":
                act = "softmax"
            elif cls == "Activation":
                act = _act_name(cfg.get("activation"))
            else:
                if cfg.get("negative_slope", 0) or cfg.get("threshold", 0):
                    raise _unsupported(l, "leaky/thresholded ReLU")
                mv = cfg.get("max_value")
                act = "relu" if mv is None else "relu6" if float(mv) == 6.0 else f"relu(max={mv})"
            if act == "linear":
                continue
            if act == "softmax":
                if not last:
                    raise _unsupported(l, "softmax is allowed on the last layer only")
                notes["final_softmax"] = True
                continue
            if act not in ("relu", "relu6"):
                raise _unsupported(l, f"activation '{act}'; use relu, relu6 or linear")
            if layers and layers[-1].kind in _PARAM and layers[-1].config["activation"] == "linear":
                layers[-1].config["activation"] = act
                notes["fused_relu"].append(f"{name} -> {layers[-1].name}")
                continue
            layers.append(Layer(name, act, {}, shape, shape))
            out = shape
        elif cls in ("MaxPooling2D", "AveragePooling2D"):
            if len(shape) != 3:
                raise _unsupported(l, f"input shape {shape} is not H x W x C")
            pad = _check_common(l, cfg)
            ps = _pair(cfg["pool_size"], 2)
            st = _pair(cfg.get("strides") or ps, 2)
            out = (_out_len(shape[0], ps[0], st[0], pad), _out_len(shape[1], ps[1], st[1], pad), shape[2])
            kind = "maxpool2d" if cls == "MaxPooling2D" else "avgpool2d"
            layers.append(Layer(name, kind, {"pool_size": ps, "strides": st, "padding": pad}, shape, out))
        elif cls == "Flatten":
            out = (int(np.prod(shape)),)
            layers.append(Layer(name, "flatten", {}, shape, out))
        elif cls == "Dropout":
            out = shape
            layers.append(Layer(name, "dropout", {"rate": float(cfg["rate"])}, shape, out))
        elif cls == "Embedding":
            if layers or len(shape) != 1:
                raise _unsupported(l, "Embedding must be the first layer, on a 1-D id sequence")
            if cfg.get("mask_zero"):
                raise _unsupported(l, "mask_zero=True; padding id 0 must be an ordinary row")
            vocab, dim = int(cfg["input_dim"]), int(cfg["output_dim"])
            out = (shape[0], dim)
            layers.append(Layer(name, "embedding", {"input_dim": vocab, "output_dim": dim}, shape,
                                out, {"embeddings": f"{name}/embeddings"}))
            tensors[f"{name}/embeddings"] = w[0]
        elif cls == "GlobalAveragePooling1D":
            if len(shape) != 2 or cfg.get("keepdims"):
                raise _unsupported(l, f"input shape {shape} is not steps x channels, or keepdims")
            out = (shape[1],)
            layers.append(Layer(name, "gap1d", {}, shape, out))
        else:
            raise _unsupported(l)
        shape = out
    if not any(l.params for l in layers):
        raise UserError(f"model '{model.name}' has no Dense/Conv/Embedding layer to train")
    if len(shape) != 1:
        raise UserError(f"model '{model.name}' ends with shape {shape}; the last layer must give "
                        "one logit per class (end with Dense(num_classes))")
    art = ModelArtefact(layers, dict(tensors), in_shape, int(shape[0]),
                        trainable=set(tensors))
    art.training["input_dtype"] = "int32" if "int" in in_dtype else "float32"
    return art, notes
