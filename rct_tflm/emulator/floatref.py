"""FP32 reference for the integer engine: float forward, act_exp calibration, plain SGD.

Used to build artefacts without TensorFlow (tests, benchmarks) and as the FP32 SGD baseline the
integer engine is compared with (same model, same initial weights, same sample order, batch 1).
Float code lives here, outside `rct_tflm.fixedpoint`, on purpose: the engine itself has none.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..artefact import Layer, ModelArtefact
from ..fixedpoint.qtensor import QTensor, exponent_for


def _conv_out(n: int, k: int, s: int, padding: str) -> int:
    return -(-n // s) if padding == "same" else (n - k) // s + 1


def _pad_same(n: int, k: int, s: int) -> tuple[int, int]:
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _im2col(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, padding: str) -> np.ndarray:
    """x (N,H,W,C) -> (N,OH,OW,kh*kw*C) patches (order kh, kw, c), zero padded like Keras 'same'."""
    n, h, w, c = x.shape
    if padding == "same":
        pt, pb = _pad_same(h, kh, sh)
        pl, pr = _pad_same(w, kw, sw)
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    oh, ow = _conv_out(h, kh, sh, padding), _conv_out(w, kw, sw, padding)
    cols = np.empty((n, oh, ow, kh, kw, c), x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = x[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :]
    return cols.reshape(n, oh, ow, kh * kw * c)


def _act(y: np.ndarray, a: str) -> np.ndarray:
    if a == "relu":
        return np.maximum(y, 0)
    if a == "relu6":
        return np.clip(y, 0, 6)
    return y


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def _pool(a: np.ndarray, c: dict, kind: str) -> np.ndarray:
    """Max/average pooling, Keras rules ('same' pads; padded taps are ignored, as in TF)."""
    ph, pw = _pair(c["pool_size"])
    sh, sw = _pair(c.get("strides") or c["pool_size"])
    n, h, wd, ch = a.shape
    pad = c.get("padding", "valid")
    if pad == "same":
        pt, pb = _pad_same(h, ph, sh)
        pl, pr = _pad_same(wd, pw, sw)
        a = np.pad(a, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=np.nan)
    oh, ow = _conv_out(h, ph, sh, pad), _conv_out(wd, pw, sw, pad)
    win = np.stack([a[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :] for i in range(ph) for j in range(pw)])
    return np.nanmax(win, 0) if kind == "maxpool2d" else np.nanmean(win, 0)


def float_forward(art: ModelArtefact, x: np.ndarray,
                  weights: dict[str, np.ndarray] | None = None) -> list[np.ndarray]:
    """Outputs of every layer for a batch x (N, *input_shape), float64."""
    w = weights or {n: art.float_weights(n).astype(np.float64) for n in art.tensors}
    outs = []
    a = np.asarray(x, np.float64).reshape(len(x), *art.input_shape)
    for l in art.layers:
        c = l.config
        bias = w[l.params["bias"]] if "bias" in l.params else 0.0
        if l.kind == "dense":
            a = _act(a @ w[l.params["kernel"]] + bias, c.get("activation", "linear"))
        elif l.kind == "conv2d":
            k = w[l.params["kernel"]]
            kh, kw, _, f = k.shape
            cols = _im2col(a, kh, kw, *_pair(c["strides"]), c["padding"])
            a = _act(cols @ k.reshape(-1, f) + bias, c.get("activation", "linear"))
        elif l.kind == "depthwise_conv2d":
            k = w[l.params["kernel"]]  # [kh, kw, cin, dm]; output channel ci * dm + m
            kh, kw, cin, dm = k.shape
            cols = _im2col(a, kh, kw, *_pair(c["strides"]), c["padding"])
            cols = cols.reshape(*cols.shape[:3], kh * kw, cin)
            y = np.einsum("nhwtc,tcm->nhwcm", cols, k.reshape(kh * kw, cin, dm))
            a = _act(y.reshape(*y.shape[:3], cin * dm) + bias, c.get("activation", "linear"))
        elif l.kind in ("maxpool2d", "avgpool2d"):
            a = _pool(a, c, l.kind)
        elif l.kind == "flatten":
            a = a.reshape(a.shape[0], -1)
        elif l.kind == "relu":
            a = np.maximum(a, 0)
        elif l.kind == "relu6":
            a = np.clip(a, 0, 6)
        elif l.kind == "dropout":
            pass
        else:
            raise ValueError(f"floatref: layer kind {l.kind} not supported")
        outs.append(a)
    return outs


def calibrate_act_exps(art: ModelArtefact, x: np.ndarray, headroom_bits: int = 0,
                       logits_headroom_bits: int | None = None) -> None:
    """Set every layer's act_exp to the int8 grid covering max|output| over the batch x, plus
    `headroom_bits` (the last layer, the logits: `logits_headroom_bits`, default the same)."""
    outs = float_forward(art, x)
    for i, (l, o) in enumerate(zip(art.layers, outs)):
        h = logits_headroom_bits if i == len(outs) - 1 and logits_headroom_bits is not None \
            else headroom_bits
        l.act_exp = exponent_for(float(np.max(np.abs(o))), 8, h)


def dense_layer(name: str, n_in: int, n_out: int, activation: str) -> Layer:
    return Layer(name, "dense", {"units": n_out, "activation": activation}, (n_in,), (n_out,),
                 {"kernel": f"{name}/kernel", "bias": f"{name}/bias"})


def glorot(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int) -> np.ndarray:
    lim = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-lim, lim, size=shape).astype(np.float32)


def mlp_artefact(sizes: list[int], seed: int = 0, input_exp: int = -7) -> ModelArtefact:
    """A float32 MLP sizes[0]-...-sizes[-1] (ReLU hidden, linear logits), Glorot init, zero bias."""
    rng = np.random.default_rng(seed)
    layers, tensors = [], {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        l = dense_layer(f"dense{i}", a, b, "relu" if i < len(sizes) - 2 else "linear")
        layers.append(l)
        tensors[l.params["kernel"]] = glorot(rng, (a, b), a, b)
        tensors[l.params["bias"]] = np.zeros(b, np.float32)
    art = ModelArtefact(layers, tensors, (sizes[0],), sizes[-1], set(tensors),
                        {"input_exp": input_exp}, {"method": "init", "seed": seed})
    return art


def cnn_artefact(input_shape: tuple[int, int, int], filters: int, hidden: int, num_classes: int,
                 seed: int = 0, input_exp: int = -7) -> ModelArtefact:
    """conv3x3(filters, same, relu) -> maxpool2 -> flatten -> dense(hidden, relu) -> dense(classes)."""
    rng = np.random.default_rng(seed)
    h, w, c = input_shape
    conv = Layer("conv0", "conv2d", {"filters": filters, "kernel_size": [3, 3], "strides": [1, 1],
                                     "padding": "same", "activation": "relu"},
                 input_shape, (h, w, filters), {"kernel": "conv0/kernel", "bias": "conv0/bias"})
    pool = Layer("pool0", "maxpool2d", {"pool_size": [2, 2], "strides": [2, 2], "padding": "valid"},
                 (h, w, filters), (h // 2, w // 2, filters))
    flat_n = (h // 2) * (w // 2) * filters
    flat = Layer("flatten", "flatten", {}, (h // 2, w // 2, filters), (flat_n,))
    d0 = dense_layer("dense0", flat_n, hidden, "relu")
    d1 = dense_layer("dense1", hidden, num_classes, "linear")
    tensors = {"conv0/kernel": glorot(rng, (3, 3, c, filters), 9 * c, 9 * filters),
               "conv0/bias": np.zeros(filters, np.float32),
               "dense0/kernel": glorot(rng, (flat_n, hidden), flat_n, hidden),
               "dense0/bias": np.zeros(hidden, np.float32),
               "dense1/kernel": glorot(rng, (hidden, num_classes), hidden, num_classes),
               "dense1/bias": np.zeros(num_classes, np.float32)}
    return ModelArtefact([conv, pool, flat, d0, d1], tensors, input_shape, num_classes,
                         set(tensors), {"input_exp": input_exp}, {"method": "init", "seed": seed})


def _out_shape(kind: str, c: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
    if kind == "dense":
        if len(shape) != 1:
            raise ValueError(f"dense needs a flat input, got {shape}; add a flatten layer")
        return (int(c["units"]),)
    if kind == "flatten":
        return (int(np.prod(shape)),)
    if kind in ("relu", "relu6", "dropout"):
        return shape
    h, w, ch = shape
    ks = _pair(c["kernel_size"] if "kernel_size" in c else c["pool_size"])
    st = _pair(c.get("strides") or c["pool_size"])
    pad = c.get("padding", "valid")
    oh, ow = _conv_out(h, ks[0], st[0], pad), _conv_out(w, ks[1], st[1], pad)
    out_c = {"conv2d": lambda: int(c.get("filters", 0)),
             "depthwise_conv2d": lambda: ch * int(c.get("depth_multiplier", 1))}.get(kind, lambda: ch)()
    return (oh, ow, out_c)


def sequential_artefact(input_shape: tuple[int, ...], specs: list[tuple[str, str, dict]],
                        seed: int = 0, input_exp: int = -7) -> ModelArtefact:
    """A float32 sequential model from (name, kind, config) specs: shapes inferred with Keras
    rules, Glorot-uniform kernels (Keras fan-in/fan-out), zero biases; classes = last width.
    Kinds: dense, conv2d, depthwise_conv2d, maxpool2d, avgpool2d, flatten, relu, relu6, dropout."""
    rng = np.random.default_rng(seed)
    layers, tensors = [], {}
    shape = tuple(int(v) for v in input_shape)
    for name, kind, cfg in specs:
        cfg = dict(cfg)
        if kind in ("conv2d", "depthwise_conv2d"):
            cfg.setdefault("strides", [1, 1])
            cfg.setdefault("padding", "valid")
            cfg.setdefault("activation", "linear")
            cfg["kernel_size"] = list(_pair(cfg["kernel_size"]))
            cfg["strides"] = list(_pair(cfg["strides"]))
        elif kind in ("maxpool2d", "avgpool2d"):
            cfg["pool_size"] = list(_pair(cfg["pool_size"]))
            cfg["strides"] = list(_pair(cfg.get("strides") or cfg["pool_size"]))
            cfg.setdefault("padding", "valid")
        elif kind == "dense":
            cfg.setdefault("activation", "linear")
        if kind == "depthwise_conv2d":
            cfg.setdefault("depth_multiplier", 1)
        out = _out_shape(kind, cfg, shape)
        params = {}
        if kind in ("dense", "conv2d", "depthwise_conv2d"):
            params = {"kernel": f"{name}/kernel", "bias": f"{name}/bias"}
            if kind == "dense":
                kshape = (shape[0], out[0])
            elif kind == "conv2d":
                kshape = (*cfg["kernel_size"], shape[2], out[2])
            else:
                kshape = (*cfg["kernel_size"], shape[2], int(cfg["depth_multiplier"]))
            rf = int(np.prod(kshape[:-2]))
            tensors[params["kernel"]] = glorot(rng, kshape, rf * kshape[-2], rf * kshape[-1])
            tensors[params["bias"]] = np.zeros(out[-1], np.float32)
        layers.append(Layer(name, kind, cfg, shape, out, params))
        shape = out
    return ModelArtefact(layers, tensors, tuple(int(v) for v in input_shape), int(np.prod(shape)),
                         set(tensors), {"input_exp": input_exp}, {"method": "init", "seed": seed})


def sgd_mlp(art: ModelArtefact, x: np.ndarray, y: np.ndarray, lr: float, order: np.ndarray,
            weights: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Batch-1 float SGD with softmax cross-entropy over samples x[order]; returns new weights.

    Only dense/relu MLPs; tensors not in art.trainable stay fixed (the frozen prefix)."""
    w = {n: np.array(v, np.float64) for n, v in
         (weights or {n: art.float_weights(n) for n in art.tensors}).items()}
    other = sorted({l.kind for l in art.layers} - {"dense", "flatten", "dropout"})
    if other:
        raise ValueError(f"sgd_mlp trains dense/flatten/dropout chains only, not {other}")
    dense = [l for l in art.layers if l.kind == "dense"]
    for i in order:
        acts = [np.asarray(x[i], np.float64).reshape(-1)]
        for l in dense:
            z = acts[-1] @ w[l.params["kernel"]] + w[l.params["bias"]]
            acts.append(_act(z, l.config["activation"]))
        z = acts[-1] - acts[-1].max()
        p = np.exp(z) / np.exp(z).sum()
        e = p
        e[y[i]] -= 1.0
        for k in range(len(dense) - 1, -1, -1):
            l = dense[k]
            kn, bn = l.params["kernel"], l.params["bias"]
            if l.config["activation"] == "relu":
                e = e * (acts[k + 1] > 0)
            if kn not in art.trainable:
                break
            e_prev = w[kn] @ e
            w[kn] -= lr * np.outer(acts[k], e)
            w[bn] -= lr * e
            e = e_prev
    return {n: v.astype(np.float32) for n, v in w.items()}


def predict(art: ModelArtefact, x: np.ndarray, weights: dict[str, np.ndarray] | None = None) -> np.ndarray:
    fw = None if weights is None else {n: np.asarray(v, np.float64) for n, v in weights.items()}
    return np.argmax(float_forward(art, x, fw)[-1], axis=1)


def quantise_artefact(art: ModelArtefact, bits: int = 8) -> ModelArtefact:
    """A copy with every float tensor quantised to `bits` (QTensor.from_float, 1 bit headroom)."""
    t = {n: QTensor.from_float(v, bits) if not isinstance(v, QTensor) else v.copy()
         for n, v in art.tensors.items()}
    return ModelArtefact(list(art.layers), t, art.input_shape, art.num_classes, set(art.trainable),
                         dict(art.preprocess), dict(art.training), art.partition)
