"""The autoencoder's MSE head trained over the serial link (protocol 5: no target record, the
input is the target; INFER answers the Q16.16 score): the same stream ends with the same
weights_sha256, bitwidth history and test scores on the golden model, the host C build and the
Cortex-M7 build on qemu-mps2-an500."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import require_tools, run_cli
from rct_tflm.cli import main
from rct_tflm.data import load_dataset
from rct_tflm.emulator.floatref import calibrate_act_exps, quantise_artefact, sequential_artefact

pytestmark = [pytest.mark.qemu, pytest.mark.slow]
TARGETS = ("golden", "host", "qemu-mps2-an500")
N_TRAIN, N_TEST = 600, 60


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Path:
    """A 640-32-8-32-640 autoencoder on the anomaly spectra (its last 2 layers train), 600
    normal training samples, 30 normal + 30 anomalous test samples, firmware for each board."""
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    d = tmp_path_factory.mktemp("mse-e2e")
    data = load_dataset("anomaly", 0)
    art = sequential_artefact((640,), [("enc", "dense", {"units": 32, "activation": "relu"}),
                                       ("code", "dense", {"units": 8, "activation": "relu"}),
                                       ("dec", "dense", {"units": 32, "activation": "relu"}),
                                       ("recon", "dense", {"units": 640})], 4, -7)
    art.preprocess = dict(data.preprocess)
    calibrate_act_exps(art, data.x_train, 1, 1)
    art = quantise_artefact(art)
    art.training.update(loss="mse", targets="input")
    art.save(d / "ae.rct")
    idx = np.r_[0:N_TEST // 2, 500:500 + N_TEST // 2]  # normal, then anomalous
    np.savez(d / "ae.npz", x_train=data.x_train[:N_TRAIN], x_test=data.x_test[idx],
             y_test=data.y_test[idx])
    for b in TARGETS[1:]:
        main(["build", "--board", b, "--model", str(d / "ae.rct"), "--out", str(d / b),
              "--trainable-layers", "2", "--period-samples", "512", "--lr", "0.0625",
              "--t-min", "1.0", "--t-max", "8.0"])
    return d


def test_the_autoencoder_head_streams_to_the_same_weights_on_golden_host_and_cortex_m7(
        capsys, setup):
    results = {}
    for b in TARGETS:
        fw = setup / ("host" if b == "golden" else b)  # golden mirrors the host build's config
        code, out, err = run_cli(capsys, "stream", "--target", b, "--firmware", str(fw),
                                 "--model", str(setup / "ae.rct"), "--data",
                                 f"npz:{setup / 'ae.npz'}", "--seed", "5",
                                 "--checkpoint-every", "0",
                                 "--out", str(setup / f"s-{b}"), "--no-progress",
                                 "--timeout", "10")
        assert code == 0, err
        results[b] = json.loads((setup / f"s-{b}" / "stream.json").read_text())
    ref = results["golden"]
    assert ref["samples"] == N_TRAIN and ref["protocol_version"] == 5 and ref["loss"] == "mse"
    assert ref["bitwidth_history"]["changes"]
    for b, r in results.items():
        assert r["weights_sha256"] == ref["weights_sha256"], b
        assert r["bitwidth_history"] == ref["bitwidth_history"], b
        assert r["test_scores_q16"] == ref["test_scores_q16"], b  # INFER's scores
        assert r["test_auc_after"] == ref["test_auc_after"], b
        assert r["board_golden_mismatches"] == 0, b
