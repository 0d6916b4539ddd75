"""ZeroPadding2D, Reshape and GlobalAveragePooling2D(keepdims=True) from Keras to on-device
training: the stock keras.applications MobileNet imports, and a small tf_keras model with all
three (the padding trained through, so its backward crops the error into the conv before it)
goes through `train`, `partition`, `generate` and `emulate`, golden == host C."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import emulate_golden_and_host, require_tools, run_cli
from rct_tflm.artefact import ModelArtefact
from rct_tflm.cli import main

pytestmark = [pytest.mark.tf, pytest.mark.slow]


def test_the_stock_keras_mobilenet_imports():
    from rct_tflm.trainer.keras_import import import_keras
    from rct_tflm.trainer.quiet_tf import tf_keras
    m = tf_keras().applications.MobileNet(input_shape=(32, 32, 3), alpha=0.25, weights=None,
                                          classes=3)
    art, _ = import_keras(m)
    kinds = [l.kind for l in art.layers]
    assert {"zeropad2d", "gap2d", "reshape"} <= set(kinds)
    assert tuple(art.layers[-1].output_shape) == (3,)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    import tf_keras as k
    L = k.layers
    d = tmp_path_factory.mktemp("pad")
    k.utils.set_random_seed(0)
    m = k.Sequential([L.Input((8, 8, 1)), L.Conv2D(8, 3, padding="same", activation="relu"),
                      L.ZeroPadding2D(((0, 1), (0, 1))),
                      L.DepthwiseConv2D(3, strides=2, activation="relu"),
                      L.Conv2D(16, 1, activation="relu"),
                      L.GlobalAveragePooling2D(keepdims=True), L.Conv2D(10, 1),
                      L.Reshape((10,)), L.Softmax()])
    m.save(d / "pad.keras")
    try:
        main(["train", "--data", "digits", "--model", str(d / "pad.keras"), "--epochs", "15",
              "--lr", "0.5", "--out", str(d / "run"), "--no-progress"])
    except SystemExit as e:
        assert not e.code, "train failed"
    return d / "run"


def test_golden_and_host_train_through_the_padding(capsys, tmp_path, trained):
    require_tools("gcc")
    art = ModelArtefact.load(trained / "model.rct")
    assert [l.kind for l in art.layers] == ["conv2d", "zeropad2d", "depthwise_conv2d", "conv2d",
                                            "gap2d", "conv2d", "reshape"]
    plan = tmp_path / "part"
    code, _, err = run_cli(capsys, "partition", "--model", str(trained), "--out", str(plan),
                           "--trainable-layers", "4")
    assert code == 0, err
    code, _, err = run_cli(capsys, "generate", "--model", str(plan), "--out", str(tmp_path / "g"))
    assert code == 0, err
    prog = json.loads((tmp_path / "g" / "program.json").read_text())
    kernels = [c["kernel"] for c in prog["forward"] + prog["backward"]]
    assert "pad2d_forward" in kernels and "pad2d_backward" in kernels
    g, h = emulate_golden_and_host(capsys, tmp_path, "--model", str(plan), "--max-samples",
                                   "1100", "--lr", "0.0625", "--period-samples", "512")
    for key in ("weights_sha256", "bitwidth_history", "prng_counter", "accuracy_curve"):
        assert h[key] == g[key], key
    assert g["test_accuracy_after"] > 0.3  # chance is 0.1
