"""`rct-tflm train` / `rct-tflm compare` end to end on digits, and every kind of bad input.

Runs go through the real entry point (`rct_tflm.cli.main`, in-process so TensorFlow loads
once; two cases also as a subprocess of the console module) with 1-2 epochs.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rct_tflm.artefact import ModelArtefact
from rct_tflm.cli import main
from rct_tflm.fixedpoint import QTensor

pytestmark = pytest.mark.tf

ISSUE_R = ("test_accuracy", "gemm_energy_pj_per_step", "param_memory_bits_peak",
           "param_movement_pj_per_step", "final_bitwidths")
PNG = b"\x89PNG\r\n\x1a\n"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `rct-tflm ARGV` through the CLI's entry point."""
    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _png_ok(p: Path) -> None:
    import matplotlib.image as mpimg
    assert p.read_bytes()[:8] == PNG, p
    assert mpimg.imread(p).shape[0] > 100


# -- train / compare -------------------------------------------------------------------------
def test_train_rct_writes_a_loadable_artefact_metrics_and_plots(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = run(["train", "--data", "digits", "--method", "rct", "--epochs", "2",
                             "--out", str(out)], capsys)
    assert code == 0, err
    assert "rct: test accuracy" in stdout and "wrote" in stdout
    assert "rct:" in err and "step" in err  # the tqdm progress bar (on stderr)
    assert sorted(p.name for p in out.iterdir()) == ["bitwidths.png", "curves.png",
                                                     "energy_memory.png", "metrics.json",
                                                     "model.rct"]
    for png in ("bitwidths.png", "curves.png", "energy_memory.png"):
        _png_ok(out / png)
    m = json.loads((out / "metrics.json").read_text())
    for k in (*ISSUE_R, "method", "test_accuracy_curve", "train_loss_curve", "bitwidth_history",
              "controller_log", "param_memory_bits_peak_packed", "mean_bits", "steps",
              "final_tensor_bitwidths", "controller_config", "constants"):
        assert k in m, k
    assert m["method"] == "rct" and m["epochs"] == 2 and m["steps"] == 90
    assert m["test_accuracy"] > 0.5
    art = ModelArtefact.load(out / "model.rct")
    assert art.training["method"] == "rct" and art.preprocess["input_exp"] == -7
    assert all(isinstance(t, QTensor) for t in art.tensors.values())
    assert art.bitwidths() == m["final_tensor_bitwidths"]
    assert all(l.act_exp is not None for l in art.layers)
    assert not list(tmp_path.glob(".run.*"))  # no staging folder left behind


def test_compare_writes_the_issue_schema(tmp_path, capsys):
    out = tmp_path / "cmp"
    code, stdout, err = run(["compare", "--data", "digits", "--epochs", "1", "--out", str(out),
                             "--no-progress"], capsys)
    assert code == 0, err
    assert "RCT vs FP32: GEMM energy saving" in stdout
    for method in ("fp32", "qat", "rct"):
        assert (out / method / "metrics.json").is_file()
        assert ModelArtefact.load(out / method / "model.rct").training["method"] == method
    _png_ok(out / "energy_memory.png")
    assert (out / "compare.md").read_text().startswith("# FP32 vs QAT vs RCT")
    c = json.loads((out / "compare.json").read_text())
    assert set(c) == {"format", "version", "runs", "rct_vs_fp32", "rct_vs_qat"}
    assert (c["format"], c["version"]) == ("rct-tflm-compare", 1)
    assert set(c["runs"]) == {"fp32", "qat", "rct"}
    for r in c["runs"].values():
        assert set(ISSUE_R) <= set(r)
        assert isinstance(r["final_bitwidths"], dict)
    f, q, r = (c["runs"][k] for k in ("fp32", "qat", "rct"))
    a, b = c["rct_vs_fp32"], c["rct_vs_qat"]
    assert {"gemm_energy_saving", "param_memory_saving", "param_memory_saving_packed",
            "accuracy_delta"} <= set(a)
    assert {"param_memory_saving", "param_movement_energy_ratio"} <= set(b)
    assert a["gemm_energy_saving"] == pytest.approx(
        1 - r["gemm_energy_pj_per_step"] / f["gemm_energy_pj_per_step"])
    assert a["param_memory_saving"] == pytest.approx(
        1 - r["param_memory_bits_peak"] / f["param_memory_bits_peak"])
    assert a["param_memory_saving_packed"] == pytest.approx(
        1 - r["param_memory_bits_peak_packed"] / f["param_memory_bits_peak"])
    assert a["accuracy_delta"] == pytest.approx(r["test_accuracy"] - f["test_accuracy"])
    assert b["param_memory_saving"] == pytest.approx(
        1 - r["param_memory_bits_peak_packed"] / (40 * f["param_count"]))
    assert b["param_movement_energy_ratio"] == pytest.approx(
        r["param_movement_pj_per_step"] / q["param_movement_pj_per_step"])
    assert f["final_bitwidths"] == {"dense1": 32, "logits": 32}
    assert 0.9 < a["gemm_energy_saving"] < 1  # fractions, not percent


def test_train_fp32_artefact_holds_float_weights(tmp_path, capsys):
    out = tmp_path / "fp"
    code, _, err = run(["train", "--method", "fp32", "--epochs", "1", "--out", str(out),
                        "--no-progress"], capsys)
    assert code == 0, err
    art = ModelArtefact.load(out / "model.rct")
    assert all(t.dtype == np.float32 for t in art.tensors.values())
    # the device stages say what to do with a baseline run, not "re-create it with train"
    code, _, err = run(["partition", "--model", str(out), "--out", str(tmp_path / "p")], capsys)
    assert code == 2 and "trained with --method fp32, a baseline" in err, err
    assert "`rct-tflm train --method rct`" in err and not (tmp_path / "p").exists()


def test_model_input_hw_trains_on_images_with_a_channel_axis(tmp_path, capsys):
    """Input (8, 8) + Flatten against digits (N, 8, 8, 1) and against npz (N, 8, 8): axes of
    size 1 are matched, not refused."""
    model = _saved(tmp_path, "hw")
    for data in ("digits", _npz(tmp_path)):
        out = tmp_path / f"run-{data[:3]}"
        code, _, err = run(["train", "--data", data, "--model", model, "--epochs", "1",
                            "--out", str(out), "--no-progress"], capsys)
        assert code == 0, err
        assert ModelArtefact.load(out / "model.rct").input_shape == (8, 8)


# -- bad input -------------------------------------------------------------------------------
def _saved(tmp_path: Path, what: str) -> str:
    import tf_keras as k
    L = k.layers
    if what == "lstm":
        m = k.Sequential([L.Input((8, 8)), L.LSTM(4, name="my_lstm"), L.Dense(10)])
    elif what == "lambda":
        m = k.Sequential([L.Input((8, 8, 1)), L.Lambda(lambda t: t * 2, name="my_lambda"),
                          L.Flatten(), L.Dense(10)])
    elif what == "hw":  # a (H, W) input, as users build MLPs on images
        m = k.Sequential([L.Input((8, 8)), L.Flatten(), L.Dense(10)])
    else:  # a supported model whose input does not fit digits
        m = k.Sequential([L.Input((10,)), L.Dense(10)])
    path = tmp_path / f"{what}.keras"
    m.save(path)
    return str(path)


def _npz(tmp_path: Path, **over) -> str:
    rng = np.random.default_rng(0)
    a = {"x_train": rng.random((40, 8, 8)), "y_train": np.arange(40) % 10,
         "x_test": rng.random((20, 8, 8)), "y_test": np.arange(20) % 10, **over}
    np.savez(tmp_path / "d.npz", **a)
    return f"npz:{tmp_path / 'd.npz'}"


def _csv_inf(tmp_path: Path) -> str:
    rows = [f"{i},{i % 3},{i % 2}" for i in range(30)] + ["1,inf,0"]
    (tmp_path / "d.csv").write_text("a,b,label\n" + "\n".join(rows) + "\n")
    return f"csv:{tmp_path / 'd.csv'}"


BAD = {
    "unknown model": (lambda t: ["--model", "resnet"], "unknown model 'resnet'"),
    "unknown built-in": (lambda t: ["--model", "builtin:vgg"], "unknown built-in model 'vgg'"),
    "missing model file": (lambda t: ["--model", str(t / "nope.keras")], "does not exist"),
    "unknown data set": (lambda t: ["--data", "cifar"], "unknown data set 'cifar'"),
    "unknown method": (lambda t: ["--method", "adam"], "Invalid value for '--method': 'adam' is not one of 'rct', 'qat', 'fp32'"),
    "LSTM layer": (lambda t: ["--model", _saved(t, "lstm")],
                   "layer 'my_lstm' (LSTM) is not supported; supported layers: InputLayer, Add, "
                   "AveragePooling2D, Conv1D, Conv2D, Dense"),
    "Lambda layer": (lambda t: ["--model", _saved(t, "lambda")],
                     "layer 'my_lambda' (Lambda) is not supported; supported layers: "),
    "model/data shape": (lambda t: ["--model", _saved(t, "small")], "takes inputs of shape"),
    "npz 5-D": (lambda t: ["--data", _npz(t, x_train=np.ones((40, 2, 2, 2, 2)))],
                "must be N x H x W"),
    "npz vs built-in": (lambda t: ["--model", "builtin:mlp", "--data",
                                   _npz(t, x_train=np.ones((40, 9, 9)), x_test=np.ones((20, 9, 9)))],
                        "needs 8x8x1 images"),
    "npz NaN": (lambda t: ["--data", _npz(t, x_test=np.full((20, 8, 8), np.nan))], "NaN or inf"),
    "npz inf": (lambda t: ["--data", _npz(t, x_train=np.full((40, 8, 8), -np.inf))], "NaN or inf"),
    "csv inf": (lambda t: ["--data", _csv_inf(t)], "NaN or inf"),
    "lr": (lambda t: ["--lr", "-1"], "--lr must be a positive number"),
    "epochs": (lambda t: ["--epochs", "0"], "--epochs and --batch-size must be >= 1"),
    "controller": (lambda t: ["--t-max", "0.15"], "T_max > 2*T_min"),
    "diverges": (lambda t: ["--method", "fp32", "--lr", "1e12", "--epochs", "1"], "diverged"),
}


# Every case with --out absent; an existing --out with three representative ones (an import
# error, a data error and a failure in the middle of training).
@pytest.mark.parametrize("case, out_state", [(c, "absent") for c in BAD] + [
    (c, "existing") for c in ("LSTM layer", "npz NaN", "diverges")])
def test_bad_input_is_one_line_exit_2_and_out_untouched(case, out_state, tmp_path, capsys):
    args, words = BAD[case]
    out = tmp_path / "out"
    if out_state == "existing":
        out.mkdir()
        (out / "keep.txt").write_text("earlier results")
    argv = ["train", *args(tmp_path), "--out", str(out), "--no-progress"]
    code, stdout, err = run(argv, capsys)
    lines = [l for l in err.splitlines() if l.startswith("error: ")]
    assert code == 2, err
    assert len(lines) == 1 and words in lines[0], err
    if out_state == "absent":
        assert not out.exists()
    else:
        assert [p.name for p in out.iterdir()] == ["keep.txt"]
        assert (out / "keep.txt").read_text() == "earlier results"
    assert not list(tmp_path.glob(".out.*"))  # no staging folder left behind


def test_compare_refuses_bad_input_too(tmp_path, capsys):
    code, _, err = run(["compare", "--data", "cifar", "--out", str(tmp_path / "c")], capsys)
    assert code == 2 and "unknown data set" in err and not (tmp_path / "c").exists()


@pytest.mark.parametrize("argv, words", [
    (["--data", "cifar"], "error: unknown data set 'cifar'"),
    (["--method", "sgd"], "error: Invalid value for '--method': 'sgd'"),
])
def test_console_entry_point_exit_code(argv, words, tmp_path):
    """The real process: exit code 2, exactly one line on stderr, nothing written."""
    out = tmp_path / "o"
    p = subprocess.run([sys.executable, "-m", "rct_tflm", "train", *argv, "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and p.stderr.startswith(words), p.stderr
    assert not out.exists()


def test_error_after_tensorflow_loaded_is_still_one_line(tmp_path):
    """TensorFlow's C++ start-up banner is filtered (rct/quiet_tf.py): a user error found after
    the model is loaded is still the only line on stderr."""
    path = _saved(tmp_path, "mismatch")
    out = tmp_path / "o"
    p = subprocess.run([sys.executable, "-m", "rct_tflm", "train", "--model", path, "--out",
                        str(out)], capture_output=True, text=True, timeout=180)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0, p.stderr
    assert p.stderr.startswith("error: model ") and "inputs of shape" in p.stderr, p.stderr
    assert not out.exists()


def test_unsupported_saved_layer_refused_before_tensorflow_loads(tmp_path):
    """The saved config is checked first: an LSTM model fails without importing TensorFlow."""
    path = _saved(tmp_path, "lstm")
    code = ("import sys\nfrom rct_tflm.cli import main\n"
            f"try:\n    main(['train', '--model', {path!r}, '--out', {str(tmp_path / 'o')!r}])\n"
            "except SystemExit as e:\n"
            "    print(e.code, 'tensorflow' in sys.modules)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.stdout.split() == ["2", "False"], p.stderr
    assert "error: layer 'my_lstm' (LSTM) is not supported" in p.stderr
