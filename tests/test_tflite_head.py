"""Training a head on an imported int8 `.tflite` (`partition --model x.tflite`): the graph up to
the trailing FULLY_CONNECTED layers stays frozen in TFLite's arithmetic, integer for integer
what tflite-micro computes, then one documented requantisation to the head's Q-format input;
the head's weights are the file's, dequantised; golden == host C == Cortex-M (QEMU) after
on-device training."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import emulate_golden_and_host, require_tools, run_cli, \
    stream_golden_host_board

tf = pytest.importorskip("tensorflow")
from test_tflite_import import convert  # noqa: E402

from rct_tflm.errors import UserError  # noqa: E402
from rct_tflm.fixedpoint.config import EngineConfig  # noqa: E402
from rct_tflm.fixedpoint.tflite.multiplier import mbqm  # noqa: E402
from rct_tflm.formats.tflite_model import read_tflite  # noqa: E402
from rct_tflm.partition.tflite_head import import_tflite, partition_tflite  # noqa: E402
from rct_tflm.program import Engine, lower  # noqa: E402
from rct_tflm.program.golden import State  # noqa: E402

pytestmark = pytest.mark.tf
N = 500


def _cnn(head: bool = True):
    import tf_keras as K
    L = K.layers
    K.utils.set_random_seed(0)
    i = K.Input((8, 8, 1))
    x = L.Conv2D(6, 3, padding="same", activation="relu")(i)
    x = L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6")(x)
    x = L.GlobalAveragePooling2D()(x)
    if not head:
        return K.Model(i, x)
    x = L.Dense(12, activation="relu", name="fc1")(x)
    return K.Model(i, L.Softmax()(L.Dense(10, name="logits")(x)))


@pytest.fixture(scope="module")
def tfl(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("head") / "cnn.tflite"
    p.write_bytes(convert(_cnn(), (8, 8, 1)))
    return p


def test_the_head_is_the_files_dense_layers_dequantised(tfl):
    art = import_tflite(tfl)
    assert [(l.name, l.kind) for l in art.layers] == [
        ("frozen", "tflite_frozen"), ("fc1", "dense"), ("logits", "dense")]
    assert art.layers[1].config["activation"] == "relu" and art.num_classes == 10
    m = read_tflite(tfl)
    fc = [op for op in m.ops if op.name == "FULLY_CONNECTED"][-1]
    w = m.tensors[fc.inputs[1]]
    want = (w.data * np.broadcast_to(w.scale, (w.shape[0],))[:, None]).T
    got = art.float_weights("logits/kernel")
    step = 2.0 ** art.tensors["logits/kernel"].exp
    assert np.max(np.abs(got - want)) <= step / 2 + 1e-7  # RCT's 8-bit grid of the same weights
    x_in = m.tensors[m.inputs[0]]
    assert art.preprocess["input_scale"] == pytest.approx(float(x_in.scale[0]))
    assert art.preprocess["input_zero_point"] == int(x_in.zero_point[0])
    assert set(art.trainable) == set(art.tensors) and "cnn.tflite" in art.files
    # one head layer: the cut moves to the input of the logits, fc1 joins the frozen graph
    one = import_tflite(tfl, 1)
    assert [l.name for l in one.layers] == ["frozen", "logits"]
    assert one.layers[0].config["output"] == fc.inputs[0]


def test_the_frozen_part_is_tflite_micros_then_one_requantisation(tfl):
    """≥ 500 inputs: the frozen call's input to the boundary is tflite-micro's tensor at the
    cut, integer for integer, and the head reads clamp(MBQM(q - zp, M, shift)) of it."""
    from rct_tflm.verify.tflm_reference import tflm_tensors
    art = import_tflite(tfl)
    m = read_tflite(tfl)
    p = lower(art, EngineConfig())
    call = p.forward[0]
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.integers(-128, 128, (N // 2, 8, 8, 1), dtype=np.int8),
                        p.quantise_inputs(rng.random((N - N // 2, 8, 8, 1)))
                        .reshape(-1, 8, 8, 1)])
    cut = int(art.layers[0].config["output"])
    ref = tflm_tensors(m, x, [cut])[cut].reshape(N, -1).astype(np.int64)
    from rct_tflm.program.tflite_lower import run_plan
    ours = run_plan(p.plans["frozen"], x).reshape(N, -1)
    assert np.array_equal(ours, ref)  # 0 mismatches over 500 inputs
    st = State(Engine(p, EngineConfig()), x.reshape(N, -1))  # golden buffers take any n
    st.run(p.forward[:1])
    a = call.args
    want = np.clip(mbqm(ref - a["zp"], a["qm"], a["shift"]), -128, 127)
    assert np.array_equal(st.buf(call.buffers["y"]), want)
    assert a["qm"] * 2.0 ** (a["shift"] - 31) == pytest.approx(
        p.plans["frozen"].out_scale / 2.0 ** art.layers[0].act_exp, rel=1e-6)


def test_golden_and_host_c_train_the_head_alike(capsys, tfl, tmp_path):
    require_tools("gcc")
    path = tmp_path / "cnn.rct"
    import_tflite(tfl).save(path)
    g, h = emulate_golden_and_host(capsys, tmp_path, "--model", str(path), "--data", "digits",
                                   "--epochs", "1", "--seed", "4", "--batch-size", "2",
                                   "--max-samples", "300", "--eval-every", "150")
    assert h["weights_sha256"] == g["weights_sha256"]
    assert h["accuracy_curve"] == g["accuracy_curve"]
    from rct_tflm.program import load_artefact
    before = Engine.from_artefact(load_artefact(path)).weights_sha256()
    assert g["weights_sha256"] != before  # the head trained


def test_partition_takes_the_deepest_head_or_the_given_one(capsys, tfl, tmp_path):
    code, out, err = run_cli(capsys, "partition", "--model", str(tfl), "--board",
                             "qemu-stm32f405", "--out", str(tmp_path / "auto"))
    assert code == 0, err
    assert "deepest that fits" in out and "tflite_frozen" in out
    from rct_tflm.program import load_artefact
    plan = load_artefact(tmp_path / "auto" / "model.rct").partition
    assert plan["frozen_layers"] == ["frozen"] and plan["trainable_layers"] == ["fc1", "logits"]
    assert plan["frozen_flash_bytes"] >= lower(import_tflite(tfl), EngineConfig()) \
        .plans["frozen"].const_bytes
    art = partition_tflite(tfl, "qemu-stm32f405", trainable_from="logits")
    assert [l.name for l in art.layers] == ["frozen", "logits"]
    # a board too small for the whole head: the deepest head that fits (here: logits alone)
    small = partition_tflite(tfl, "qemu-stm32f405", ram_limit=art.partition["ram"]["total"])
    assert small.partition["trainable_layers"] == ["logits"]


@pytest.mark.parametrize("args, msg", [
    (["--trainable-layers", "3"], "ends in 2 FULLY_CONNECTED layer(s)"),
    (["--frozen-layers", "1"], "for a .tflite give --trainable-layers K"),
    (["--trainable-from", "conv"], "is one of its last FULLY_CONNECTED layers: fc1, logits")])
def test_a_head_the_file_does_not_have_is_one_line(capsys, tfl, tmp_path, args, msg):
    code, _, err = run_cli(capsys, "partition", "--model", str(tfl), "--out",
                           str(tmp_path / "p"), *args)
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "p").exists()


def test_a_tflite_without_a_dense_head_is_refused(tmp_path):
    p = tmp_path / "features.tflite"
    p.write_bytes(convert(_cnn(head=False), (8, 8, 1)))
    with pytest.raises(UserError, match="ends in MEAN: rct_tflm trains the FULLY_CONNECTED"):
        import_tflite(p)


@pytest.mark.slow
@pytest.mark.qemu
def test_golden_host_and_cortex_m7_stream_the_head_to_the_same_weights(capsys, tfl, tmp_path,
                                                                       digits):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    code, _, err = run_cli(capsys, "partition", "--model", str(tfl), "--board",
                           "qemu-mps2-an500", "--out", str(tmp_path / "p"))
    assert code == 0, err
    model = str(tmp_path / "p" / "model.rct")
    data = tmp_path / "d.npz"
    np.savez(data, x_train=digits.x_train[:120], y_train=digits.y_train[:120],
             x_test=digits.x_test[:60], y_test=digits.y_test[:60])
    res = stream_golden_host_board(capsys, model, f"npz:{data}", tmp_path, 2)
    ref = res["golden"]
    assert ref["samples"] == 120
    for b, r in res.items():
        assert r["weights_sha256"] == ref["weights_sha256"], b
        assert r["test_accuracy_after"] == ref["test_accuracy_after"], b
        assert r["board_golden_mismatches"] == 0, b


def test_a_mobilenet_style_1x1_conv_classifier_is_the_head_and_exports_exactly(tmp_path):
    """Keras' MobileNet ends in GAP (keepdims) -> 1x1 Conv2D -> Reshape -> Softmax: the 1x1
    convolution of a 1x1 map is the dense head. Exported untrained (8-bit weights: stored
    exactly, the boundary as a QUANTIZE), the .tflite in tflite-micro predicts what the device
    predicts on every sample."""
    import tf_keras as K
    from rct_tflm.trainer.export_tflite_head import export_head
    from rct_tflm.verify.tflm_reference import tflm_tensors
    L = K.layers
    K.utils.set_random_seed(1)
    i = K.Input((8, 8, 1), batch_size=1)  # a fixed batch: the Reshape's shape is a constant
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(i)
    x = L.GlobalAveragePooling2D(keepdims=True)(x)
    x = L.Reshape((10,))(L.Conv2D(10, 1, name="conv_preds")(x))
    p = tmp_path / "mnet.tflite"
    p.write_bytes(convert(K.Model(i, L.Softmax()(x)), (8, 8, 1)))
    art = import_tflite(p)
    assert [(l.name, l.kind) for l in art.layers] == [
        ("frozen", "tflite_frozen"), ("frozen_flatten", "flatten"), ("conv_preds", "dense")]
    out = tmp_path / "exported.tflite"
    out.write_bytes(export_head(art))
    m = read_tflite(out)
    assert [op.name for op in m.ops].count("QUANTIZE") == 1  # the boundary
    e = Engine.from_artefact(art)
    x_q = np.random.default_rng(0).integers(-128, 128, (200, 8, 8, 1), dtype=np.int8)
    logits = next(op for op in m.ops if op.name == "SOFTMAX").inputs[0]  # on the device's grid
    ref = tflm_tensors(m, x_q, [logits])[logits].reshape(200, -1).astype(int)
    ours = e.logits(x_q.reshape(200, -1)).astype(int)
    assert np.max(np.abs(ref - ours)) <= 1  # TFLite's requantisation rounds twice at ties
    assert np.mean(np.all(ref == ours, axis=1)) >= 0.9
