"""gap1d on the integer engine (no TensorFlow): a numpy-built steps x channels model, mean over
the steps -> Dense -> Dense, trained on the golden engine and the host C build from the CLI on
npz time series; both end on the same integers, and the mean pool lowers to the avgpool2d
kernels on a 1 x steps window."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import emulate_golden_and_host
from rct_tflm.emulator.floatref import calibrate_act_exps, quantise_artefact, sequential_artefact
from rct_tflm.fixedpoint.config import EngineConfig
from rct_tflm.program import lower

STEPS, CH, CLASSES = 16, 4, 3


def _series(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Class k raises channel k's level: only the mean over the steps tells the classes apart."""
    y = rng.integers(0, CLASSES, n)
    x = rng.normal(0, 0.4, (n, STEPS, CH)) + 0.3
    x[np.arange(n), :, y] += 0.5
    return np.clip(x, 0, 1).astype(np.float32), y


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("gap1d")
    rng = np.random.default_rng(0)
    (xtr, ytr), (xte, yte) = _series(rng, 600), _series(rng, 150)
    np.savez(d / "series.npz", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    art = sequential_artefact((STEPS, CH), [("gap", "gap1d", {}),
                                            ("h", "dense", {"units": 16, "activation": "relu"}),
                                            ("out", "dense", {"units": CLASSES})], seed=1)
    art.preprocess = {"input_exp": -7, "kind": "image", "scale": 1.0}
    calibrate_act_exps(art, xtr, 1, 3)
    quantise_artefact(art).save(d / "m.rct")
    return d / "m.rct", d / "series.npz"


def test_gap1d_lowers_to_the_avgpool_kernels_on_one_window(files):
    from rct_tflm.program import load_artefact
    p = lower(load_artefact(files[0]), EngineConfig(), trainable_layers=2)
    call = p.forward[0]
    assert call.kernel == "avgpool2d_forward" and call.layer == "gap"
    sh = p.layers[0].shape
    assert (sh.in_h, sh.in_w, sh.in_c, sh.k_h, sh.k_w, sh.out_h, sh.out_w) == \
        (1, STEPS, CH, 1, STEPS, 1, 1)


def test_golden_and_host_train_the_same_integers(capsys, tmp_path, files):
    g, h = emulate_golden_and_host(capsys, tmp_path, "--model", str(files[0]), "--data",
                                   f"npz:{files[1]}", "--trainable-layers", "2", "--batch-size",
                                   "2", "--epochs", "2", "--lr", "0.0625", "--period-samples",
                                   "512")
    for k in ("weights_sha256", "bitwidth_history", "prng_counter", "accuracy_curve"):
        assert h[k] == g[k], k
    assert g["test_accuracy_after"] > 0.8, g["test_accuracy_after"]  # chance is 1/3
