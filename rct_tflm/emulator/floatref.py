"""FP32 reference for the integer engine: float forward, act_exp calibration, plain SGD.

Used to build artefacts without TensorFlow (tests, benchmarks) and as the FP32 SGD baseline the
integer engine is compared with (same model, same initial weights, same sample order, batch 1).
Float code lives here, outside `rct_tflm.fixedpoint`, on purpose: the engine itself has none.
Each layer's maths is its kind's (`float_forward`, `spec` in rct_tflm/program/kinds/).
"""
from __future__ import annotations

import numpy as np

from ..artefact import MODEL_INPUT, Layer, ModelArtefact
from ..fixedpoint.qtensor import QTensor, exponent_for
from ..program import kinds


def float_forward(art: ModelArtefact, x: np.ndarray,
                  weights: dict[str, np.ndarray] | None = None) -> list[np.ndarray]:
    """Outputs of every layer for a batch x (N, *input_shape), float64 (each kind's
    `float_forward`)."""
    w = weights or {n: art.float_weights(n).astype(np.float64) for n in art.tensors}
    for l in art.layers:
        if not hasattr(kinds.kind(l.kind), "float_forward"):
            raise ValueError(f"floatref: layer kind {l.kind} not supported")
    return art.run_graph(
        np.asarray(x, np.float64).reshape(len(x), *art.input_shape),
        lambda l, a: kinds.kind(l.kind).float_forward(l, a, {r: w[t] for r, t in l.params.items()}))


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


def sequential_artefact(input_shape: tuple[int, ...], specs: list[tuple],
                        seed: int = 0, input_exp: int = -7) -> ModelArtefact:
    """A float32 model from (name, kind, config) specs, a chain, or (name, kind, config, inputs)
    for a layer of a graph reading the named layers (MODEL_INPUT: the input): Keras defaults and
    shapes from each kind's `spec`, Glorot-uniform kernels (Keras fan-in/fan-out, the kind's
    `kernel_shape`), zero biases; classes = last width. Kinds: those with a `spec` (dense,
    conv2d, depthwise_conv2d, maxpool2d, avgpool2d, gap2d, gap1d, flatten, relu, relu6,
    dropout, add)."""
    rng = np.random.default_rng(seed)
    layers, tensors = [], {}
    shape = tuple(int(v) for v in input_shape)
    shapes = {MODEL_INPUT: shape}
    for name, kind, cfg, *graph in specs:
        inputs = list(graph[0]) if graph else None
        if inputs is not None:
            shape = shapes[inputs[0]]
        mod = kinds.kind(kind)
        if not hasattr(mod, "spec"):
            raise ValueError(f"sequential_artefact cannot build layer kind {kind}")
        cfg, out = mod.spec(dict(cfg), shape)
        params = {}
        if kinds.params(kind):
            params = {"kernel": f"{name}/kernel", "bias": f"{name}/bias"}
            kshape = mod.kernel_shape(cfg, shape, out)
            rf = int(np.prod(kshape[:-2]))
            tensors[params["kernel"]] = glorot(rng, kshape, rf * kshape[-2], rf * kshape[-1])
            tensors[params["bias"]] = np.zeros(out[-1], np.float32)
        layers.append(Layer(name, kind, cfg, shape, out, params, inputs=inputs))
        shape = shapes[name] = out
    return ModelArtefact(layers, tensors, tuple(int(v) for v in input_shape), int(np.prod(shape)),
                         set(tensors), {"input_exp": input_exp}, {"method": "init", "seed": seed})


def sgd_mlp(art: ModelArtefact, x: np.ndarray, y: np.ndarray, lr: float, order: np.ndarray,
            weights: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Batch-1 float SGD with softmax cross-entropy over samples x[order]; returns new weights.

    Only MLPs: chains of the kinds whose `MLP` fact is "trained" (dense: act(x W + b)) or
    "skipped" (flatten, dropout); tensors not in art.trainable stay fixed (the frozen prefix)."""
    w = {n: np.array(v, np.float64) for n, v in
         (weights or {n: art.float_weights(n) for n in art.tensors}).items()}
    other = sorted({l.kind for l in art.layers if kinds.mlp_role(l.kind) is None})
    if other:
        mlp = "/".join(k for k in kinds.known() if kinds.mlp_role(k))
        raise ValueError(f"sgd_mlp trains {mlp} chains only, not {other}")
    dense = [l for l in art.layers if kinds.mlp_role(l.kind) == "trained"]
    for i in order:
        acts = [np.asarray(x[i], np.float64).reshape(-1)]
        for l in dense:
            lw = {role: w[t] for role, t in l.params.items()}
            acts.append(kinds.kind(l.kind).float_forward(l, acts[-1], lw))
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
                         dict(art.preprocess), dict(art.training), art.partition, dict(art.files))
