"""The host RCT trainer: integer-only state, learning, determinism, the bitwidth controller.

Short digits runs (a 64-32-10 MLP, 45 steps per epoch) keep this file fast; the long runs on
MNIST and SMS spam are the paper benchmark (tools/bench_paper.py).
"""
from __future__ import annotations

import types
from dataclasses import replace

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from rct_tflm.data import Dataset, epoch_order  # noqa: E402
from rct_tflm.fixedpoint import ControllerConfig, QTensor  # noqa: E402
from rct_tflm.fixedpoint.rounding import qmax, qmin  # noqa: E402
from rct_tflm.trainer.runner import TrainConfig, prepare  # noqa: E402
from rct_tflm.trainer.trainer import RCTConfig, RCTTrainer, batch_order  # noqa: E402

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def digits_prep():
    return prepare(TrainConfig(model="builtin:mlp", data="digits", seed=0))


def _trainer(prep, **kw) -> RCTTrainer:
    ctrl = kw.pop("controller", ControllerConfig())
    return RCTTrainer(prep.art, prep.data, RCTConfig(**{"lr": 0.1, "epochs": 3, "seed": 0,
                                                        "controller": ctrl, **kw}))


@pytest.fixture(scope="module")
def trained(digits_prep):
    tr = _trainer(digits_prep)
    hist = tr.train()
    return tr, hist


# -- no float master copy ------------------------------------------------------------------
def _float_weight_copies(root, weight_shapes: set[tuple]) -> tuple[list[str], list[str]]:
    """Walk everything reachable from `root`; return (float copies of weights, QTensor paths).

    A float copy is any tf.Variable, or a float numpy array / TF tensor with the shape of a
    trainable weight tensor, held anywhere in the object graph (attributes, containers,
    tf.function captures)."""
    bad: list[str] = []
    qts: list[str] = []
    seen: set[int] = set()
    stack = [(root, "trainer")]
    while stack:
        obj, path = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, tf.Variable):
            bad.append(f"{path}: tf.Variable {obj.name}")
        elif isinstance(obj, QTensor):
            qts.append(path)
            if obj.q.dtype.kind not in "iu":
                bad.append(f"{path}: QTensor with {obj.q.dtype} values")
        elif isinstance(obj, np.ndarray):
            if obj.dtype.kind == "f" and tuple(obj.shape) in weight_shapes:
                bad.append(f"{path}: float array {obj.shape}")
            elif obj.dtype == object:
                stack.extend((x, f"{path}[]") for x in obj.ravel())
        elif tf.is_tensor(obj):
            if obj.dtype.is_floating and tuple(obj.shape) in weight_shapes:
                bad.append(f"{path}: float tensor {tuple(obj.shape)}")
        elif isinstance(obj, tf.types.experimental.PolymorphicFunction):
            for cf in obj._list_all_concrete_functions_for_serialization():
                stack.extend((c, f"{path}<captured>") for c in cf.captured_inputs)
            stack.append((getattr(obj, "_python_function", None), f"{path}.python_function"))
        elif isinstance(obj, (str, bytes, int, float, bool, complex, type(None), np.generic,
                              type, types.ModuleType, types.FunctionType,
                              types.BuiltinFunctionType)):
            continue
        elif isinstance(obj, types.MethodType):
            stack.append((obj.__self__, f"{path}.__self__"))
        elif isinstance(obj, dict):
            stack.extend((v, f"{path}[{k!r}]") for k, v in obj.items())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(obj))
        else:
            if hasattr(obj, "__dict__"):
                stack.extend((v, f"{path}.{k}") for k, v in vars(obj).items())
            for k in getattr(type(obj), "__slots__", ()):
                if hasattr(obj, k):
                    stack.append((getattr(obj, k), f"{path}.{k}"))
    return bad, qts


def test_trainer_state_holds_integer_weights_only(trained, digits_prep):
    tr, _ = trained
    shapes = {tuple(np.shape(digits_prep.art.tensors[n])) for n in tr.names}
    assert shapes == {(64, 32), (32,), (32, 10), (10,)}
    bad, qts = _float_weight_copies(tr, shapes)
    assert bad == [], f"float copies of weights in the trainer state: {bad[:5]}"
    # Every trainable tensor is a QTensor (int32 values in its signed range), and the artefact
    # the trainer writes shares those very objects.
    assert set(tr.names) == set(digits_prep.art.tensors)
    for n in tr.names:
        t = tr.tensors[n]
        assert isinstance(t, QTensor) and t.q.dtype == np.int32
        assert qmin(t.bits) <= t.q.min() and t.q.max() <= qmax(t.bits)
        assert tr.art.tensors[n] is t
    assert len(qts) >= len(tr.names)


def test_the_walk_finds_a_float_master_copy(trained, digits_prep):
    """The inspection above can fail: plant the copies a careless trainer would keep."""
    tr, _ = trained
    shapes = {tuple(np.shape(digits_prep.art.tensors[n])) for n in tr.names}
    n = tr.names[0]
    for plant in (tr.tensors[n].to_float(), tf.Variable(tr.tensors[n].to_float()),
                  tf.constant(tr.tensors[n].to_float())):
        tr.__dict__["_planted"] = {"deep": [plant]}
        try:
            bad, _ = _float_weight_copies(tr, shapes)
        finally:
            del tr.__dict__["_planted"]
        assert bad and "_planted" in bad[0]


def test_float_views_are_rebuilt_from_the_integers_every_step(digits_prep):
    tr = _trainer(digits_prep, epochs=1)
    tr._calibrate_start()
    seen_views, after = [], []
    fn = tr._train_fn

    def spy(ws, *a):
        assert not any(isinstance(w, tf.Variable) for w in ws)
        seen_views.append([w.numpy() for w in ws])
        return fn(ws, *a)

    tr._train_fn = spy
    for idx in batch_order(len(digits_prep.data.x_train), 32, 0, 0)[:4]:
        tr.train_step(idx)
        after.append({n: (tr.tensors[n].q.copy(), tr.tensors[n].exp) for n in tr.names})
    assert len(seen_views) == 4
    for step in range(1, 4):  # the views of step k are q * 2**exp after step k-1's update
        for n, v in zip(tr.names, seen_views[step]):
            q, e = after[step - 1][n]
            np.testing.assert_array_equal(v, np.ldexp(q.astype(np.float64), e).astype(np.float32))
    assert any(not np.array_equal(a, b) for a, b in zip(seen_views[0], seen_views[3]))


# -- learning and determinism ------------------------------------------------------------------
def test_short_rct_run_learns_digits(trained):
    tr, hist = trained
    acc = hist["test_accuracy_curve"]
    assert len(acc) == 3 and acc[-1] > 0.75  # chance is 0.10
    assert hist["train_loss_curve"][-1] < hist["train_loss_curve"][0]
    assert hist["steps"] == 3 * 45 and hist["samples"] == 3 * len(tr.data.x_train)


def test_same_seed_same_integer_weights(trained, digits_prep):
    tr, hist = trained
    again = _trainer(digits_prep)
    hist2 = again.train()
    for n in tr.names:
        a, b = tr.tensors[n], again.tensors[n]
        assert (a.bits, a.exp) == (b.bits, b.exp), n
        np.testing.assert_array_equal(a.q, b.q, err_msg=n)
    assert hist2["controller_log"] == hist["controller_log"]
    assert hist2["test_accuracy_curve"] == hist["test_accuracy_curve"]


def test_another_seed_gives_other_weights(trained, digits_prep):
    tr, _ = trained
    other = _trainer(digits_prep, epochs=1, seed=1)
    other.train()
    n = tr.names[0]
    assert not np.array_equal(tr.tensors[n].q, other.tensors[n].q)


def test_batch_order_is_the_shared_epoch_order():
    for n, bs, seed, ep in ((1437, 32, 0, 0), (100, 7, 3, 5)):
        batches = batch_order(n, bs, seed, ep)
        assert all(len(b) == bs for b in batches[:-1]) and 0 < len(batches[-1]) <= bs
        np.testing.assert_array_equal(np.concatenate(batches), epoch_order(n, seed, ep))


# -- the bitwidth controller inside training ----------------------------------------------------
def _replay(initial: dict[str, int], log: list[dict]) -> dict[str, int]:
    bits = dict(initial)
    for d in log:
        assert bits[d["tensor"]] == d["bits_before"]
        bits[d["tensor"]] = d["bits_after"]
    return bits


def test_controller_decisions_are_logged_and_consistent(trained):
    tr, hist = trained
    bh, log = hist["bitwidth_history"], hist["controller_log"]
    assert bh[0]["step"] == 0 and set(bh[0]["bits"].values()) == {8}
    assert log, "3 epochs at lr 0.1 make at least one decision"
    for d in log:
        assert d["action"] in ("add_low", "drop_low", "add_high")
        assert d["sample"] % 1600 < 32  # decided at a period boundary (K = 1600 samples)
    assert _replay(bh[0]["bits"], log) == tr.bits()
    for e in bh:
        assert all(4 <= b <= 16 for b in e["bits"].values())
    assert bh[-1]["bits"] == tr.bits()


def test_small_learning_rate_adds_low_bits(digits_prep):
    """lr 0.005: updates underflow the 8-bit grid (Gavg < T_min), the controller adds low bits."""
    ctrl = ControllerConfig(period_samples=512)
    tr = _trainer(digits_prep, lr=0.005, epochs=2, controller=ctrl)
    hist = tr.train()
    adds = [d for d in hist["controller_log"] if d["action"] == "add_low"]
    assert adds and all(d["gavg"] < ctrl.t_min for d in adds)
    for d in adds:  # an exact shift: one more bit, one exponent lower, the range unchanged
        assert (d["bits_after"], d["exp_after"]) == (d["bits_before"] + 1, d["exp_before"] - 1)
    kernels = [n for n in tr.names if n.endswith("/kernel")]
    assert all(tr.tensors[n].bits > 8 for n in kernels)
    assert all(tr.tensors[n].bits <= 16 for n in tr.names)


def test_bits_stay_within_the_configured_range(digits_prep):
    ctrl = ControllerConfig(bits_init=6, bits_min=5, bits_max=7, period_samples=512)
    tr = _trainer(digits_prep, lr=0.005, epochs=1, controller=ctrl)
    hist = tr.train()
    for e in hist["bitwidth_history"]:
        assert all(5 <= b <= 7 for b in e["bits"].values()), e
    assert max(tr.bits().values()) == 7  # it wanted more and stopped at the cap


def test_fixed_bits_disable_the_controller(digits_prep):
    ctrl = replace(ControllerConfig(period_samples=512), enabled=False)
    tr = _trainer(digits_prep, lr=0.005, epochs=1, controller=ctrl, rounding="nearest")
    hist = tr.train()
    assert hist["controller_log"] == [] and set(tr.bits().values()) == {8}


# -- other layer kinds -------------------------------------------------------------------------
def _text_dataset(seed: int = 0) -> Dataset:
    """Padded token sequences; class 1 draws half its words from ids 2..9 ("spam words"),
    class 0 never uses them: learnable only through the embedding rows (sparse updates)."""
    rng = np.random.default_rng(seed)
    n, t = 600, 12
    y = rng.integers(0, 2, n)
    x = rng.integers(10, 40, size=(n, t))
    spam = (rng.random((n, t)) < 0.5) & (y[:, None] == 1)
    x[spam] = rng.integers(2, 10, size=int(spam.sum()))
    lengths = rng.integers(4, t + 1, n)
    x[np.arange(t)[None, :] >= lengths[:, None]] = 0  # right padding, id 0
    pre = {"kind": "text", "seq_len": t, "vocab_size": 40, "pad_id": 0, "oov_id": 1}
    x = x.astype(np.int32)
    return Dataset("toy-text", "text", x[:480], y[:480], x[480:], y[480:], 2, metric="f1",
                   preprocess=pre)


def _text_trainer(epochs: int) -> RCTTrainer:
    import tf_keras as k

    from rct_tflm.trainer.keras_import import import_keras

    k.utils.set_random_seed(0)
    L = k.layers
    model = k.Sequential([L.Input((12,), dtype="int32"), L.Embedding(40, 8, name="emb"),
                          L.Conv1D(8, 3, activation="relu", name="conv"),
                          L.GlobalAveragePooling1D(name="gap"), L.Dense(2, name="logits")])
    art, _ = import_keras(model)
    return RCTTrainer(art, _text_dataset(), RCTConfig(lr=0.5, epochs=epochs, seed=0))


def test_embedding_update_touches_only_the_rows_of_the_batch():
    tr = _text_trainer(1)
    tr._calibrate_start()
    idx = batch_order(len(tr.data.x_train), 32, 0, 0)[0]
    used = np.unique(tr.data.x_train[idx])
    before = tr.tensors["emb/embeddings"].q.copy()
    tr.train_step(idx)
    after = tr.tensors["emb/embeddings"].q
    unused = np.setdiff1d(np.arange(40), used)
    assert len(unused) and np.array_equal(after[unused], before[unused])
    assert not np.array_equal(after[used], before[used])


def test_text_model_trains():
    tr = _text_trainer(6)
    hist = tr.train()
    assert hist["test_accuracy_curve"][-1] > 0.75 and hist["test_f1_curve"][-1] > 0.7
    assert set(tr.layer_bits()) == {"emb", "conv", "logits"}


def test_conv_depthwise_bn_pools_dropout_relu6_train(digits):
    """Every image layer kind the trainer supports, in one model, for one epoch."""
    import tf_keras as k

    from rct_tflm.trainer.keras_import import import_keras

    k.utils.set_random_seed(0)
    L = k.layers
    model = k.Sequential([
        L.Input((8, 8, 1)), L.Conv2D(16, 3, padding="same", use_bias=False, name="c1"),
        L.BatchNormalization(name="bn1"), L.ReLU(6.0, name="r6"),
        L.DepthwiseConv2D(3, padding="same", activation="relu", name="dw"),
        L.AveragePooling2D(2, name="ap"), L.Conv2D(16, 1, activation="relu", name="pw"),
        L.MaxPooling2D(2, name="mp"), L.Flatten(name="fl"), L.Dropout(0.1, name="do"),
        L.Dense(10, name="logits")])
    art, notes = import_keras(model)
    assert notes["folded_bn"] == ["bn1 -> c1"] and notes["fused_relu"] == ["r6 -> c1"]
    assert [l.kind for l in art.layers] == ["conv2d", "depthwise_conv2d", "avgpool2d", "conv2d",
                                            "maxpool2d", "flatten", "dropout", "dense"]
    tr = RCTTrainer(art, digits, RCTConfig(lr=0.3, epochs=4, seed=0))
    hist = tr.train()
    assert hist["test_accuracy_curve"][-1] > 0.6  # chance is 0.1 (FP32 reaches 0.85 here)
    out = tr.artefact({"method": "rct"})
    assert all(l.act_exp is not None for l in out.layers)
    assert all(isinstance(out.tensors[t], QTensor) for t in out.tensors)
    assert all(l.act_exp is None for l in art.layers)  # the caller's graph is left alone
