"""Global average pooling from Keras to on-device training: a tf_keras Conv2D x 2 ->
GlobalAveragePooling2D -> Dense on digits 8x8 goes through `train` (RCT on the host),
`partition` (the GAP frozen in the int8 prefix, or inside the trained suffix so that the error
flows back through it into the last conv), `generate` and `emulate` on the golden engine and on
the host C build, which end on the same integers."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import emulate_golden_and_host, require_tools, run_cli
from rct_tflm.artefact import ModelArtefact
from rct_tflm.cli import main

pytestmark = [pytest.mark.tf, pytest.mark.slow]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """The run folder of `rct-tflm train` on the saved Keras model."""
    import tf_keras as k
    L = k.layers
    d = tmp_path_factory.mktemp("gap")
    k.utils.set_random_seed(0)
    # two convs: one conv before the mean stays near chance under plain SGD (even in FP32)
    m = k.Sequential([L.Input((8, 8, 1)), L.Conv2D(16, 3, padding="same", activation="relu"),
                      L.Conv2D(16, 3, padding="same", activation="relu"),
                      L.GlobalAveragePooling2D(), L.Dense(10)])
    m.save(d / "gap.keras")
    try:
        main(["train", "--data", "digits", "--model", str(d / "gap.keras"), "--epochs", "20",
              "--lr", "0.5", "--out", str(d / "run"), "--no-progress"])
    except SystemExit as e:
        assert not e.code, "train failed"
    return d / "run"


def test_the_importer_makes_a_gap2d_layer(trained):
    art = ModelArtefact.load(trained / "model.rct")
    assert [(l.kind, tuple(l.output_shape)) for l in art.layers] == [
        ("conv2d", (8, 8, 16)), ("conv2d", (8, 8, 16)), ("gap2d", (16,)), ("dense", (10,))]


@pytest.mark.parametrize("trainable", [1, 2])
def test_golden_and_host_train_the_same_integers(capsys, tmp_path, trained, trainable):
    """trainable 1: only the Dense head trains, the GAP runs forward in the frozen part;
    trainable 2: the last conv trains too, so the GAP's backward carries the error to it."""
    require_tools("gcc")
    plan = tmp_path / "part"
    code, _, err = run_cli(capsys, "partition", "--model", str(trained), "--out", str(plan),
                           "--trainable-layers", str(trainable), "--batch-size", "2")
    assert code == 0, err
    code, _, err = run_cli(capsys, "generate", "--model", str(plan), "--out", str(tmp_path / "g"))
    assert code == 0, err
    prog = json.loads((tmp_path / "g" / "program.json").read_text())
    name = ModelArtefact.load(plan).layers[2].name
    gap = [c["kernel"] for c in prog["forward"] + prog["backward"] if c["layer"] == name]
    assert gap == (["avgpool2d_forward"] if trainable == 1 else
                   ["avgpool2d_forward", "avgpool2d_backward"])
    g, h = emulate_golden_and_host(capsys, tmp_path, "--model", str(plan), "--batch-size", "2",
                                   "--max-samples", "1100", "--lr", "0.0625",
                                   "--period-samples", "512")
    for k in ("weights_sha256", "bitwidth_history", "prng_counter", "accuracy_curve",
              "final_bitwidths"):
        assert h[k] == g[k], k
    assert 0.5 < g["test_accuracy_before"] < g["test_accuracy_after"]  # chance is 0.1
    before = ModelArtefact.load(plan)
    after = ModelArtefact.load(tmp_path / "golden" / "model.rct")
    conv = before.layers[1].params["kernel"]
    moved = not np.array_equal(before.float_weights(conv), after.float_weights(conv))
    assert moved == (trainable == 2)  # the error reached the conv only through the GAP


def test_keepdims_keeps_a_1x1xC_map_and_other_inputs_are_refused_in_one_line():
    """keepdims=True leaves a 1 x 1 x C map (the same bytes as C); a 3-D pool is refused in
    one line naming the supported layers."""
    import tf_keras as k
    from rct_tflm.errors import UserError
    from rct_tflm.trainer.keras_import import import_keras
    L = k.layers
    m = k.Sequential([L.Input((4, 4, 2)), L.GlobalAveragePooling2D(keepdims=True), L.Flatten(),
                      L.Dense(3)])
    art, _ = import_keras(m)
    assert [(l.kind, tuple(l.output_shape)) for l in art.layers] == [
        ("gap2d", (1, 1, 2)), ("flatten", (2,)), ("dense", (3,))]
    bad = k.Sequential([L.Input((4, 2)), L.Reshape((4, 2, 1)), L.Reshape((8,)), L.Dense(3)])
    import_keras(bad)  # reshapes alone are fine
    with pytest.raises(UserError, match="GlobalAveragePooling3D.*supported layers") as e:
        import_keras(k.Sequential([L.Input((4, 4)), L.Reshape((2, 2, 2, 2)),
                                   L.GlobalAveragePooling3D(), L.Dense(3)]))
    assert "\n" not in str(e.value)
