"""What the kinds share on the trainer's side: reading a Keras layer (`from_keras`), the
quantised forward in TensorFlow (`tf_forward`) and the Keras rebuild of the baselines
(`to_keras`). TensorFlow and Keras come in as arguments (duck typing): rct_tflm.program never
imports them (.importlinter), the trainer passes its own."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


class Unsupported(Exception):
    """A Keras layer a kind cannot import, and why; the importer adds the layer's name and
    class and the supported list (trainer/keras_import.py)."""


@dataclass(frozen=True)
class KerasLayer:
    """What a kind's `from_keras` reads of one Keras layer."""
    name: str  # the artefact layer's name
    cfg: dict  # layer.get_config()
    weights: list[np.ndarray]  # layer.get_weights(), float32
    shape: tuple[int, ...]  # input shape per sample
    last: bool  # the model's last layer: a softmax there means logits
    first: bool  # no artefact layer before it


def act_name(act: Any) -> str:
    if act is None:
        return "linear"
    if isinstance(act, str):
        return act
    if isinstance(act, dict):  # Keras 3 serialised form
        return str(act.get("config", act.get("class_name", "?")))
    return getattr(act, "__name__", str(act))


def activation(act: Any, last: bool) -> str:
    """A fused activation the engine has; a final softmax is dropped (training uses logits)."""
    a = act_name(act)
    if a in ("linear", "relu", "relu6"):
        return a
    if a == "softmax" and last:
        return "linear"
    if a == "softmax":
        raise Unsupported("softmax is allowed on the last layer only")
    raise Unsupported(f"activation '{a}'; use relu, relu6 or linear")


def pair(v: Any, n: int) -> list[int]:
    if isinstance(v, int):
        return [v] * n
    v = [int(x) for x in v]
    return v * n if len(v) == 1 else v


def out_len(n: int, k: int, s: int, padding: str) -> int:
    return math.ceil(n / s) if padding == "same" else (n - k) // s + 1


def padding(cfg: dict) -> str:
    """The padding of a conv/pool layer, after the checks every one of them passes."""
    if cfg.get("data_format", "channels_last") not in (None, "channels_last"):
        raise Unsupported("channels_first data format")
    if any(d != 1 for d in pair(cfg.get("dilation_rate", 1), 1)):
        raise Unsupported("dilation_rate != 1")
    if cfg.get("groups", 1) != 1:
        raise Unsupported("grouped convolution")
    pad = cfg.get("padding", "valid")
    if pad not in ("same", "valid"):
        raise Unsupported(f"padding '{pad}'")
    return pad


def conv(k: KerasLayer, nd: int) -> tuple[str, str, list[int], list[int], list[int]]:
    """(padding, activation, kernel size, strides, output extent) of an nd-D convolution."""
    if len(k.shape) != nd + 1:
        raise Unsupported(f"input shape {k.shape} is not {nd}-D with channels")
    pad = padding(k.cfg)
    act = activation(k.cfg.get("activation"), k.last)
    ks, st = pair(k.cfg["kernel_size"], nd), pair(k.cfg.get("strides", 1), nd)
    sp = [out_len(k.shape[d], ks[d], st[d], pad) for d in range(nd)]
    if min(sp) < 1:
        raise Unsupported(f"kernel {ks} larger than its input {k.shape}")
    return pad, act, ks, st, sp


def filters_conv(k: KerasLayer, nd: int) -> tuple[dict, tuple[int, ...], dict[str, np.ndarray]]:
    """`from_keras` of an nd-D convolution with `filters` output channels (conv1d, conv2d)."""
    pad, act, ks, st, sp = conv(k, nd)
    c_out = int(k.cfg["filters"])
    return ({"filters": c_out, "kernel_size": ks, "strides": st, "padding": pad,
             "activation": act}, (*sp, c_out), kernel_bias(k, c_out))


def pool(k: KerasLayer) -> tuple[dict, tuple[int, ...], dict[str, np.ndarray]]:
    """`from_keras` of a 2-D pooling layer."""
    if len(k.shape) != 3:
        raise Unsupported(f"input shape {k.shape} is not H x W x C")
    pad = padding(k.cfg)
    ps = pair(k.cfg["pool_size"], 2)
    st = pair(k.cfg.get("strides") or ps, 2)
    out = (out_len(k.shape[0], ps[0], st[0], pad), out_len(k.shape[1], ps[1], st[1], pad),
           k.shape[2])
    return {"pool_size": ps, "strides": st, "padding": pad}, out, {}


def kernel_bias(k: KerasLayer, c_out: int) -> dict[str, np.ndarray]:
    """The kernel and the bias; a layer without one gets a zero bias (the engine adds one)."""
    bias = k.weights[1] if k.cfg.get("use_bias", True) else np.zeros(c_out, np.float32)
    return {"kernel": k.weights[0], "bias": bias}


def tf_act(tf: Any, x: Any, a: str) -> Any:
    if a == "relu":
        return tf.nn.relu(x)
    if a == "relu6":
        return tf.nn.relu6(x)
    return x


def tf_conv2d(tf: Any, op: Any, l: Any, x: Any, p: dict) -> Any:
    """act(op(x, kernel) + bias) for a 2-D conv op of tf.nn (conv2d, depthwise_conv2d)."""
    c = l.config
    x = op(x, p["kernel"], [1, *c["strides"], 1], c["padding"].upper())
    return tf_act(tf, x + p["bias"], c["activation"])


def tf_pool(op: Any, l: Any, x: Any) -> Any:
    """A 2-D pooling op of tf.nn (max_pool2d, avg_pool2d) on the layer's windows."""
    c = l.config
    return op(x, c["pool_size"], c["strides"], c["padding"].upper())


def keras_pool(cls: Any, l: Any) -> Any:
    """A Keras pooling layer (class `cls`) with the layer's windows."""
    c = l.config
    return cls(c["pool_size"], c["strides"], c["padding"], name=l.name)
