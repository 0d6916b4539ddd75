"""`rct-tflm export`: a trained artefact as a fully int8 .tflite that tflite-micro runs (and
agrees with the device's predictions) and as a .keras that tf_keras loads; bad paths are one
line."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_cli

pytestmark = pytest.mark.tf
pytest.importorskip("tflite_micro", reason="tflite-micro is installed by `make setup`")


def test_export_tflite_and_keras(capsys, tmp_path, digits_mlp_artefact, digits):
    from rct_tflm.formats.tflite_model import read_tflite
    from rct_tflm.trainer.quiet_tf import tf_keras
    art = tmp_path / "model.rct"
    digits_mlp_artefact.save(art)
    code, out, err = run_cli(capsys, "export", "--model", str(art), "--tflite",
                             str(tmp_path / "m.tflite"), "--keras", str(tmp_path / "m.keras"))
    assert code == 0, err
    r = json.loads((tmp_path / "export.json").read_text())
    assert r["test_samples"] == len(digits.y_test)
    # a dense model moves onto the device's grids: its 8-bit weights stored exactly, so the
    # .tflite decides as the device does wherever the device's top logits do not tie
    assert r["grids"] == "device"
    assert r["agreement_ties_accepted"] >= 0.995 and r["agreement_with_device"] >= 0.97, r
    assert abs(r["tflite_test_accuracy"] - r["device_test_accuracy"]) < 0.03
    m = read_tflite(tmp_path / "m.tflite")  # fully int8, only supported operators
    assert {op.name for op in m.ops} <= {"FULLY_CONNECTED", "RESHAPE", "SOFTMAX"}
    k = tf_keras().models.load_model(tmp_path / "m.keras")
    w = k.get_layer(digits_mlp_artefact.layers[0].name).get_weights()[0]
    assert np.allclose(w, digits_mlp_artefact.float_weights(digits_mlp_artefact.layers[0]
                                                            .params["kernel"]))


def test_export_needs_an_output_with_the_right_suffix(capsys, tmp_path, digits_mlp_artefact):
    art = tmp_path / "model.rct"
    digits_mlp_artefact.save(art)
    code, _, err = run_cli(capsys, "export", "--model", str(art))
    assert code == 2 and "--tflite" in err
    code, _, err = run_cli(capsys, "export", "--model", str(art), "--tflite",
                           str(tmp_path / "m.bin"))
    assert code == 2 and "must end in .tflite" in err and not (tmp_path / "m.bin").exists()
