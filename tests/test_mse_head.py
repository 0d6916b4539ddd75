"""The MSE loss head (regression and autoencoders) and uint16 labels through the program: the
golden engine and the generated C built for the host train to the same integers (weights_sha256,
bitwidth history, PRNG position, per-sample scores), a 300-class classifier's labels (> 255)
too; bad targets are refused with one line."""
from __future__ import annotations

import re

import numpy as np
import pytest

from conftest import require_tools
from rct_tflm.artefact import ModelArtefact
from rct_tflm.data import load_dataset
from rct_tflm.emulator.floatref import calibrate_act_exps, quantise_artefact, sequential_artefact
from rct_tflm.emulator.run import EmulateConfig, emulate_run, prepare
from rct_tflm.errors import UserError
from rct_tflm.fixedpoint import ControllerConfig
from rct_tflm.fixedpoint.config import EngineConfig
from rct_tflm.fixedpoint.kernels import mse_loss
from rct_tflm.program import Engine, lower

N_TRAIN = 300  # training samples of the npz sets
STEPS = 600  # samples trained (two epochs of them): the controller decides at 512


def artefact(data, specs, seed: int, **training) -> ModelArtefact:
    """A dense model for `data` (flattened first), act_exp calibrated on its inputs, 8-bit."""
    flat = [("flat", "flatten", {})] if len(data.input_shape) > 1 else []
    art = sequential_artefact(data.input_shape, flat + specs, seed,
                              int(data.preprocess["input_exp"]))
    art.preprocess = dict(data.preprocess)
    calibrate_act_exps(art, data.x_train, 1, 1)
    art = quantise_artefact(art)
    art.training.update(training)
    return art


def autoencoder(data, seed: int = 1) -> ModelArtefact:
    size = int(np.prod(data.input_shape))
    return artefact(data, [("enc", "dense", {"units": 16, "activation": "relu"}),
                           ("dec", "dense", {"units": size})], seed, loss="mse",
                    targets="input")


@pytest.fixture(scope="module")
def sets(tmp_path_factory, digits):
    """npz data sets: regression (8 float targets per sample), 300 classes, an autoencoder's
    (no y_train; y_test marks the anomalous half)."""
    d = tmp_path_factory.mktemp("mse")
    rng = np.random.default_rng(5)
    x = digits.x_train.reshape(len(digits.x_train), -1)[:400]
    y = np.stack([x[:, 8 * k:8 * k + 8].mean(1) - 0.2 * k * x[:, k] for k in range(8)], 1)
    np.savez(d / "reg.npz", x_train=x[:N_TRAIN], y_train=y[:N_TRAIN], x_test=x[N_TRAIN:],
             y_test=y[N_TRAIN:])
    lab = np.concatenate([np.arange(300), rng.integers(0, 300, 300)])
    xc = rng.uniform(0, 1, (600, 64)).astype(np.float32)
    xc[np.arange(600), lab % 64] += 1.0  # a feature per class group: learnable a little
    np.savez(d / "c300.npz", x_train=xc[:500], y_train=lab[:500], x_test=xc[500:],
             y_test=lab[500:])
    xa = x[:N_TRAIN + 100].copy()
    xa[N_TRAIN + 50:, :32] = xa[N_TRAIN + 50:, 32:]  # top half copied down: anomalous
    np.savez(d / "ae.npz", x_train=xa[:N_TRAIN], x_test=xa[N_TRAIN:],
             y_test=np.r_[np.zeros(50, int), np.ones(50, int)])
    return {k: str(d / f"{k}.npz") for k in ("reg", "c300", "ae")}


def run(target: str, path: str, data: str, batch: int, tmp) -> dict:
    cfg = EmulateConfig(target=target, model=path, data=data, epochs=2, seed=3, batch=batch,
                        max_samples=STEPS, eval_every=STEPS // 2,
                        engine=EngineConfig(lr_shift=4, controller=ControllerConfig(
                            period_samples=512, gavg_ref_samples=32, t_min=1.0, t_max=8.0)),
                        build_dir=str(tmp) if target == "host" else None)
    return emulate_run(prepare(cfg), None, progress=False)


CASES = ["autoencoder", "regression", "classes300"]


@pytest.fixture(scope="module")
def models(tmp_path_factory, sets, digits):
    d = tmp_path_factory.mktemp("models")
    reg = load_dataset(f"npz:{sets['reg']}")
    c300 = load_dataset(f"npz:{sets['c300']}")
    arts = {"autoencoder": (autoencoder(digits), "digits", 2),  # digits: targets = inputs
            "regression": (artefact(reg, [("h", "dense", {"units": 16, "activation": "relu"}),
                                          ("out", "dense", {"units": 8})], 2, loss="mse",
                                    targets="vector"), f"npz:{sets['reg']}", 1),
            "classes300": (artefact(c300, [("h", "dense", {"units": 32, "activation": "relu"}),
                                           ("logits", "dense", {"units": 300})], 3),
                           f"npz:{sets['c300']}", 1)}
    out = {}
    for name, (art, data, batch) in arts.items():
        art.save(d / f"{name}.rct")
        out[name] = (str(d / f"{name}.rct"), data, batch)
    return out


@pytest.mark.parametrize("case", CASES)
def test_golden_and_host_c_train_an_mse_head_and_300_classes_to_the_same_integers(
        case, models, tmp_path):
    require_tools("gcc")
    path, data, batch = models[case]
    g = run("golden", path, data, batch, tmp_path)
    h = run("host", path, data, batch, tmp_path)
    assert g["samples"] == h["samples"] == STEPS
    for k in ("weights_sha256", "bitwidth_history", "prng_counter", "accuracy_curve",
              "loss_curve"):
        assert g[k] == h[k], (case, k)
    if case == "classes300":
        assert g["confusion"] == h["confusion"] and len(g["confusion"]) == 300
    else:  # the scores INFER reports, sample by sample
        assert g["loss"] == "mse" and g["test_scores_q16"] == h["test_scores_q16"]
        assert g["test_score_mean_after"] < g["test_score_mean_before"]  # it learns
    assert g["bitwidth_history"]["changes"]  # the controller decided inside the run


def test_an_autoencoders_score_is_the_mse_kernels_and_predict_reports_it(digits):
    art = autoencoder(digits)
    eng = Engine.from_artefact(art)
    from rct_tflm.fixedpoint.config import quantise_inputs
    x = quantise_inputs(digits.x_test.reshape(len(digits.x_test), -1)[:20], -7)
    y = eng.logits(x)
    _, _, _, want = mse_loss(y, eng.program.output_exp, x, eng.program.input_exp)
    assert np.array_equal(eng.predict(x), want)
    assert eng.program.targets == "input" and eng.program.target_size == 0
    prog = eng.program.to_json()["loss"]
    assert prog["kernel"] == "mse_loss" and prog["buffers"]["t"] == "input"


def test_the_anomaly_data_set_is_deterministic_and_marks_its_anomalies():
    a, b = load_dataset("anomaly", 0), load_dataset("anomaly", 0)
    assert np.array_equal(a.x_test, b.x_test) and a.x_train.shape == (2000, 640)
    assert a.targets == "input" and list(np.bincount(a.y_test)) == [500, 500]
    assert not np.array_equal(load_dataset("anomaly", 1).x_train, a.x_train)


# -- one-line errors ----------------------------------------------------------------------------
def one_line(e) -> str:
    assert "\n" not in str(e.value)
    return str(e.value)


def test_an_autoencoder_whose_output_is_not_the_input_size_is_refused(digits):
    art = artefact(digits, [("enc", "dense", {"units": 16, "activation": "relu"}),
                            ("dec", "dense", {"units": 60})], 1, loss="mse", targets="input")
    with pytest.raises(UserError, match=re.escape(
            "autoencoder: the last layer dec outputs 60 values, the input has 64; the "
            "reconstruction must be as large as the input")) as e:
        lower(art, EngineConfig())
    one_line(e)


def test_a_regression_model_refuses_targets_of_the_wrong_shape(models, sets, tmp_path):
    path, _, _ = models["regression"]
    with pytest.raises(UserError, match=re.escape(
            "the model regresses 8 values per sample (MSE), data set 'digits' has targets "
            "labels; give y_train of shape (N, 8)")) as e:
        prepare(EmulateConfig(target="golden", model=path, data="digits"))
    one_line(e)
    bad = tmp_path / "bad.npz"
    z = np.load(sets["reg"])
    np.savez(bad, x_train=z["x_train"], y_train=z["y_train"], x_test=z["x_test"],
             y_test=z["y_test"][:, 0])
    with pytest.raises(UserError, match="test split: regression targets must be a finite "
                                        r"numeric \(N, m\) array like y_train") as e:
        load_dataset(f"npz:{bad}")
    one_line(e)


def test_a_classifier_refuses_regression_data_and_the_trainer_refuses_mismatched_losses(
        models, sets, digits):
    path, _, _ = models["classes300"]
    with pytest.raises(UserError, match="has vector targets, the model is a classifier") as e:
        prepare(EmulateConfig(target="golden", model=path, data=f"npz:{sets['reg']}"))
    one_line(e)
    from rct_tflm.trainer.runner import TrainConfig, _data_for_loss
    with pytest.raises(UserError, match=re.escape(
            "--loss mse but data set digits has class labels; give regression targets (npz "
            "y_train of shape (N, m)) or train an autoencoder (--autoencoder)")) as e:
        _data_for_loss(TrainConfig(loss="mse"), digits, None, "builtin:mlp")
    one_line(e)
    with pytest.raises(UserError, match="model builtin:mlp is compiled with MSE but data set"):
        _data_for_loss(TrainConfig(), digits, "mse", "builtin:mlp")
    assert _data_for_loss(TrainConfig(), digits.as_autoencoder(), "mse", "x").targets == "input"
    with pytest.raises(UserError, match="--loss softmax_ce needs class labels"):
        _data_for_loss(TrainConfig(loss="softmax_ce"), digits.as_autoencoder(), None, "x")


def test_a_wide_regressions_target_records_are_planned_and_the_image_links_to_plan(
        capsys, digits, tmp_path):
    """600 float targets per sample: the TRAIN frames carry them, so the link buffers grow;
    partition plans that, and the linked qemu-stm32f405 image agrees with the plan (build
    checks it within 10 %)."""
    from conftest import require_tools, run_cli
    from rct_tflm.boards import firmware_ram
    require_tools("arm-none-eabi-gcc")
    x = digits.x_train.reshape(len(digits.x_train), -1)[:120]
    y = np.repeat(x, 10, axis=1)[:, :600] * 0.5
    np.savez(tmp_path / "wide.npz", x_train=x[:100], y_train=y[:100], x_test=x[100:],
             y_test=y[100:])
    reg = load_dataset(f"npz:{tmp_path / 'wide.npz'}")
    art = artefact(reg, [("out", "dense", {"units": 600})], 4, loss="mse", targets="vector")
    art.save(tmp_path / "wide.rct")
    code, _, err = run_cli(capsys, "partition", "--model", str(tmp_path / "wide.rct"), "--board",
                           "qemu-stm32f405", "--out", str(tmp_path / "p"))
    assert code == 0, err
    from rct_tflm.program import load_artefact
    plan = load_artefact(tmp_path / "p" / "model.rct").partition
    assert plan["ram"]["items"]["link"] == firmware_ram(64, 1, 600)["link"] \
        > firmware_ram(64)["link"]
    code, _, err = run_cli(capsys, "build", "--model", str(tmp_path / "p" / "model.rct"), "--out",
                           str(tmp_path / "fw"))
    assert code == 0, err
    import json
    mem = json.loads((tmp_path / "fw" / "size.json").read_text())["memory"]["ram"]["link"]
    assert mem["planned"] == mem["measured"]
