"""FP32 reference for the integer engine: float forward, act_exp calibration, plain SGD.

Used to build artefacts without TensorFlow (tests, benchmarks) and as the FP32 SGD baseline the
integer engine is compared with (same model, same initial weights, same sample order, batch 1).
Float code lives here, outside `rct_tflm.fixedpoint`, on purpose: the engine itself has none.
"""
from __future__ import annotations

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
    """x (N,H,W,C) -> (N,OH,OW,kh*kw*C) patches, zero padded like Keras 'same'."""
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


def float_forward(art: ModelArtefact, x: np.ndarray,
                  weights: dict[str, np.ndarray] | None = None) -> list[np.ndarray]:
    """Outputs of every layer for a batch x (N, *input_shape), float64."""
    w = weights or {n: art.float_weights(n).astype(np.float64) for n in art.tensors}
    outs = []
    a = np.asarray(x, np.float64)
    for l in art.layers:
        c = l.config
        if l.kind == "dense":
            a = _act(a @ w[l.params["kernel"]] + w[l.params["bias"]] if "bias" in l.params
                     else a @ w[l.params["kernel"]], c.get("activation", "linear"))
        elif l.kind == "conv2d":
            k = w[l.params["kernel"]]
            kh, kw, _, f = k.shape
            cols = _im2col(a, kh, kw, *c["strides"], c["padding"])
            y = cols @ k.reshape(-1, f)
            if "bias" in l.params:
                y = y + w[l.params["bias"]]
            a = _act(y, c.get("activation", "linear"))
        elif l.kind in ("maxpool2d", "avgpool2d"):
            ph, pw = c["pool_size"]
            sh, sw = c.get("strides") or c["pool_size"]
            n, h, wd, ch = a.shape
            oh, ow = _conv_out(h, ph, sh, "valid"), _conv_out(wd, pw, sw, "valid")
            win = np.stack([a[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :]
                            for i in range(ph) for j in range(pw)])
            a = win.max(0) if l.kind == "maxpool2d" else win.mean(0)
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


def calibrate_act_exps(art: ModelArtefact, x: np.ndarray, headroom_bits: int = 0) -> None:
    """Set every layer's act_exp to the int8 grid covering max|output| over the batch x."""
    for l, o in zip(art.layers, float_forward(art, x)):
        l.act_exp = exponent_for(float(np.max(np.abs(o))), 8, headroom_bits)


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


def sgd_mlp(art: ModelArtefact, x: np.ndarray, y: np.ndarray, lr: float, order: np.ndarray,
            weights: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Batch-1 float SGD with softmax cross-entropy over samples x[order]; returns new weights.

    Only dense/relu MLPs; tensors not in art.trainable stay fixed (the frozen prefix)."""
    w = {n: np.array(v, np.float64) for n, v in
         (weights or {n: art.float_weights(n) for n in art.tensors}).items()}
    dense = [l for l in art.layers if l.kind == "dense"]
    for i in order:
        acts = [np.asarray(x[i], np.float64)]
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
