"""Keras import (BN folding, fused activations) and the quantised forward against Keras itself."""
from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from rct_tflm.emulator.floatref import float_forward  # noqa: E402
from rct_tflm.errors import UserError  # noqa: E402
from rct_tflm.trainer.keras_import import SUPPORTED, import_keras  # noqa: E402
from rct_tflm.trainer.qforward import QForward, fake_quant  # noqa: E402

pytestmark = pytest.mark.tf


def _k():
    import tf_keras as k
    k.utils.set_random_seed(0)
    return k, k.layers


def _float_forward(art, x):
    fwd = QForward(art, quantize=False)
    ws = [tf.constant(art.tensors[n]) for n in fwd.param_names]
    ones = tf.ones([fwd.n_scales])
    logits, _ = fwd(ws, tf.constant(x), ones, 1.0)
    return logits.numpy()


def test_image_graph_with_batchnorm_matches_keras():
    k, L = _k()
    model = k.Sequential([
        L.Input((8, 8, 2)), L.Conv2D(6, 3, padding="same", use_bias=False, name="c1"),
        L.BatchNormalization(name="bn1"), L.ReLU(name="relu"),
        L.DepthwiseConv2D(3, strides=2, padding="valid", depth_multiplier=2, name="dw"),
        L.BatchNormalization(name="bn2"), L.Activation("relu6", name="r6"),
        L.AveragePooling2D(1, name="ap"), L.MaxPooling2D(2, padding="same", name="mp"),
        L.Flatten(name="fl"), L.Dropout(0.3, name="do"), L.Dense(5, activation="softmax",
                                                                  name="out")])
    rng = np.random.default_rng(0)
    for bn in ("bn1", "bn2"):  # trained-looking statistics, so folding has work to do
        layer = model.get_layer(bn)
        c = layer.get_weights()[0].shape[0]
        layer.set_weights([rng.uniform(0.5, 2, c), rng.normal(0, 0.3, c), rng.normal(0, 0.5, c),
                           rng.uniform(0.2, 3, c)])
    art, notes = import_keras(model)
    assert [l.kind for l in art.layers] == ["conv2d", "depthwise_conv2d", "avgpool2d",
                                            "maxpool2d", "flatten", "dropout", "dense"]
    assert notes["folded_bn"] == ["bn1 -> c1", "bn2 -> dw"] and notes["final_softmax"]
    assert art.layers[0].config["activation"] == "relu"
    assert art.layers[1].config["activation"] == "relu6"
    x = rng.random((16, 8, 8, 2)).astype(np.float32)
    want = np.log(model(x, training=False).numpy())  # the graph keeps logits, Keras softmaxes
    got = _float_forward(art, x)
    got = got - np.log(np.exp(got).sum(-1, keepdims=True))
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_text_graph_matches_keras():
    k, L = _k()
    model = k.Sequential([L.Input((10,), dtype="int32"), L.Embedding(30, 4, name="emb"),
                          L.Conv1D(5, 3, activation="relu", name="conv"),
                          L.GlobalAveragePooling1D(name="gap"), L.Dense(2, name="out")])
    art, _ = import_keras(model)
    assert art.training["input_dtype"] == "int32"
    x = np.random.default_rng(1).integers(0, 30, (8, 10)).astype(np.int32)
    np.testing.assert_allclose(_float_forward(art, x), model(x).numpy(), atol=1e-5)
    # the host-only kinds' numpy FP32 reference too (embedding, conv1d, gap1d)
    np.testing.assert_allclose(float_forward(art, x)[-1], model(x).numpy(), atol=1e-5)


def test_functional_chain_and_keras3_models_import():
    import keras

    k, L = _k()
    inp = k.Input((6,))
    out = k.layers.Dense(3, name="d")(k.layers.Dense(4, activation="relu", name="h")(inp))
    art, _ = import_keras(k.Model(inp, out))
    assert [l.name for l in art.layers] == ["h", "d"]
    k3 = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, name="d3")])
    art3, _ = import_keras(k3)
    assert art3.layers[0].kind == "dense" and art3.tensors["d3/kernel"].shape == (6, 3)


def test_residual_graph_imports_with_its_skip_and_matches_keras():
    """A ResNet block: BN folds into the branch's convs, the block's ReLU stays a layer after
    the Add, the skip is named in `inputs`; the float forward (TF and numpy) is Keras'."""
    k, L = _k()
    i = k.Input((8, 8, 3))
    x = L.Conv2D(4, 3, padding="same", use_bias=False, name="stem")(i)
    x = L.ReLU(name="stem_relu")(L.BatchNormalization(name="stem_bn")(x))
    y = L.Conv2D(4, 3, padding="same", activation="relu", name="c1")(x)
    y = L.BatchNormalization(name="c2_bn")(L.Conv2D(4, 3, padding="same", name="c2")(y))
    z = L.ReLU(name="out_relu")(L.Add(name="add")([y, x]))
    p = L.Conv2D(6, 1, strides=2, name="proj")(z)  # a skip that reads the previous layer
    q = L.Add(name="add2")([L.Conv2D(6, 3, strides=2, padding="same", name="c3")(z), p])
    model = k.Model(i, L.Dense(3, name="logits")(L.GlobalAveragePooling2D(name="gap")(q)))
    rng = np.random.default_rng(0)
    for bn in ("stem_bn", "c2_bn"):
        layer = model.get_layer(bn)
        c = layer.get_weights()[0].shape[0]
        layer.set_weights([rng.uniform(0.5, 2, c), rng.normal(0, 0.3, c), rng.normal(0, 0.5, c),
                           rng.uniform(0.2, 3, c)])
    art, notes = import_keras(model)
    by = {l.name: l for l in art.layers}
    assert notes["folded_bn"] == ["stem_bn -> stem", "c2_bn -> c2"]
    assert by["stem"].config["activation"] == "relu"  # the ReLU before the skip: fused
    assert by["add"].inputs == ["c2", "stem"] and by["out_relu"].inputs is None
    assert by["add2"].kind == "add" and len(by["add2"].inputs) == 2
    assert not art.is_chain() and art.layers[-1].name == "logits"
    order = [l.name for l in art.layers]
    for l in art.layers:  # topological: every producer comes earlier
        assert all(order.index(s) < order.index(l.name) for s in (l.inputs or []))
    x_in = rng.normal(0, 1, (4, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(_float_forward(art, x_in), model(x_in).numpy(), atol=1e-4)
    np.testing.assert_allclose(float_forward(art, x_in)[-1], model(x_in).numpy(), atol=1e-4)


def test_fake_quant_rounds_saturates_and_passes_gradients_straight_through():
    x = tf.constant([0.26, -0.26, 0.125, 100.0, -100.0])
    with tf.GradientTape() as t:
        t.watch(x)
        y = fake_quant(x, tf.constant(0.25))
    np.testing.assert_allclose(y.numpy(), [0.25, -0.25, 0.25, 127 * 0.25, -128 * 0.25])
    np.testing.assert_allclose(t.gradient(y, x).numpy(), np.ones(5))


def _unsupported_models():
    k, L = _k()
    yield "LSTM", k.Sequential([L.Input((8, 8)), L.LSTM(4, name="lstm"), L.Dense(2)])
    yield "Lambda", k.Sequential([L.Input((4,)), L.Lambda(lambda t: t * 2, name="lam"),
                                  L.Dense(2)])
    yield "LeakyReLU", k.Sequential([L.Input((4,)), L.Dense(3), L.LeakyReLU(name="lr"),
                                     L.Dense(2)])
    yield "activation 'sigmoid'", k.Sequential([L.Input((4,)), L.Dense(3, activation="sigmoid"),
                                                L.Dense(2)])
    yield "softmax is allowed on the last layer only", k.Sequential(
        [L.Input((4,)), L.Dense(3, activation="softmax"), L.Dense(2)])
    yield "mask_zero", k.Sequential([L.Input((5,), dtype="int32"),
                                     L.Embedding(9, 2, mask_zero=True), L.GlobalAveragePooling1D(),
                                     L.Dense(2)])
    yield "prevents folding", k.Sequential([L.Input((4, 4, 1)), L.Conv2D(2, 3, activation="relu"),
                                            L.BatchNormalization(), L.Flatten(), L.Dense(2)])
    yield "dilation_rate", k.Sequential([L.Input((6, 6, 1)), L.Conv2D(2, 3, dilation_rate=2),
                                         L.Flatten(), L.Dense(2)])
    yield "put Flatten", k.Sequential([L.Input((4, 4, 1)), L.Dense(3), L.Dense(2)])
    inp = k.Input((4,))
    a, b = L.Dense(3)(inp), L.Dense(3)(inp)
    yield "Concatenate", k.Model(inp, L.Dense(2)(L.Concatenate()([a, b])))
    shared = L.Dense(4)
    yield "used more than once", k.Model(inp, L.Dense(2)(L.Add()([shared(inp), shared(inp)])))


@pytest.mark.parametrize("what", [w for w, _ in _unsupported_models()])
def test_unsupported_layers_are_named_with_the_supported_list(what):
    model = dict(_unsupported_models())[what]
    with pytest.raises(UserError, match=what.replace("(", r"\(")) as e:
        import_keras(model)
    msg = str(e.value)
    assert "\n" not in msg
    if what in ("LSTM", "Lambda", "LeakyReLU"):
        assert f"({what})" in msg and "supported layers: " + ", ".join(SUPPORTED) in msg
