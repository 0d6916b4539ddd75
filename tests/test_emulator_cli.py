"""`rct-tflm generate` and `rct-tflm emulate` end to end on digits, and their bad-input errors
(exit code 2, one line, nothing written)."""
from __future__ import annotations

import copy
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import emulate_golden_and_host, require_tools, run_cli
from rct_tflm.artefact import Layer, ModelArtefact
from rct_tflm.boards import firmware_ram_bytes
from rct_tflm.data import load_dataset
from rct_tflm.fixedpoint.config import EngineConfig, quantise_inputs
from rct_tflm.program import Engine

EMULATE_FIELDS = ("test_accuracy_before", "test_accuracy_after", "samples", "samples_per_s",
                  "weights_sha256", "bitwidth_history")


@pytest.fixture(scope="module")
def art_path(tmp_path_factory, digits_mlp_artefact) -> Path:
    p = tmp_path_factory.mktemp("art") / "digits_mlp.rct"
    digits_mlp_artefact.save(p)
    return p


def test_generate_writes_project_and_prints_memory_table(capsys, tmp_path, art_path):
    code, out, err = run_cli(capsys, "generate", "--model", str(art_path), "--out",
                             str(tmp_path / "gen"), "--board", "nucleo-l476rg")
    assert code == 0, err
    left = 98304 - firmware_ram_bytes(64)  # the L476's RAM minus stack, link buffers, app state
    assert "RAM total" in out and f"RAM budget: {left} B" in out
    for f in ("rct_model.c", "rct_model.h", "rct_config.h", "rct_weights.c", "rct_weights.h",
              "Makefile", "memory.json", "memory.md", "rct_generated.json"):
        assert (tmp_path / "gen" / f).is_file(), f
    rep = json.loads((tmp_path / "gen" / "memory.json").read_text())
    assert rep["ram"]["budget"] == left and str(rep["ram"]["total"]) in out


def test_generate_default_budget_is_the_default_board(capsys, tmp_path, art_path):
    code, out, _ = run_cli(capsys, "generate", "--model", str(art_path), "--out", str(tmp_path / "g"))
    # qemu-stm32f405: 128 KB, less what the firmware itself holds
    assert code == 0 and f"RAM budget: {131072 - firmware_ram_bytes(64)} B" in out


def conv1d_artefact(path: Path) -> Path:
    art = ModelArtefact([Layer("c1d", "conv1d", {"filters": 2, "kernel_size": 3, "strides": 1,
                                                 "padding": "same", "activation": "relu"},
                               (8, 1), (8, 2), {"kernel": "k"}, -4)],
                        {"k": np.zeros((3, 1, 2), np.float32)}, (8, 1), 16, {"k"},
                        {"input_exp": -7})
    art.save(path)
    return path


def unknown_kind_artefact(path: Path, src: Path) -> Path:
    art = ModelArtefact.load(src)
    art.layers[0].kind = "lstm"  # no kind module: the stages' load refuses it
    art.save(path)
    return path


@pytest.mark.parametrize("case", ["budget", "board", "layer", "kind", "missing", "notgen", "lr"])
def test_generate_bad_input_exits_2_and_writes_nothing(capsys, tmp_path, art_path, case):
    out = tmp_path / "gen"
    args = ["generate", "--model", str(art_path), "--out", str(out)]
    expect = {"budget": "over the budget of 1000 B (", "board": "unknown board 'nosuch'",
              "layer": "kind 'conv1d' is not supported by the integer engine; supported: add, avgpool2d, conv2d, dense",
              "kind": "has unknown layer kind 'lstm'; re-create it with `rct-tflm train`",
              "missing": "does not exist", "notgen": "is not a generated project",
              "lr": "--lr 1e-12 is outside the integer engine's 2^-30 .. 1"}[case]
    if case == "budget":
        args += ["--ram-budget", str(1000 + firmware_ram_bytes(64))]
    elif case == "board":
        args += ["--board", "nosuch"]
    elif case == "layer":
        args[2] = str(conv1d_artefact(tmp_path / "c1d.rct"))
    elif case == "kind":
        args[2] = str(unknown_kind_artefact(tmp_path / "lstm.rct", art_path))
    elif case == "missing":
        args[2] = str(tmp_path / "nope.rct")
    elif case == "notgen":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    elif case == "lr":
        args += ["--lr", "1e-12"]
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and err.startswith("error: ") and expect in err, err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no temp folder left behind
    if case == "notgen":
        assert [p.name for p in out.iterdir()] == ["keep.txt"]
    else:
        assert not out.exists()


def test_emulate_golden_on_digits(capsys, tmp_path, art_path):
    out = tmp_path / "em"
    code, stdout, err = run_cli(capsys, "emulate", "--target", "golden", "--model", str(art_path),
                                "--data", "digits", "--epochs", "1", "--seed", "3", "--out",
                                str(out), "--max-samples", "600", "--eval-every", "300",
                                "--period-samples", "512", "--lr", "0.0625", "--no-progress")
    assert code == 0, err
    assert "golden: test accuracy" in stdout
    rec = json.loads((out / "emulate.json").read_text())
    for f in EMULATE_FIELDS:
        assert rec[f] is not None, f
    assert rec["samples"] == 600 and rec["steps"] == 600 and rec["seed"] == 3
    assert rec["accuracy_curve"]["samples"] == [0, 300, 600]
    assert rec["test_accuracy_after"] > rec["test_accuracy_before"] - 0.05
    assert len(rec["weights_sha256"]) == 64
    assert set(rec["bitwidth_history"]) == {"initial", "changes", "final"}
    for f in ("bitwidths.png", "curves.png", "model.rct"):
        assert (out / f).stat().st_size > 0, f
    # the trained artefact reproduces the run: same weights hash and test accuracy
    trained = ModelArtefact.load(out / "model.rct")
    eng = Engine.from_artefact(trained, EngineConfig())
    assert eng.weights_sha256() == rec["weights_sha256"]
    assert {n: {"bits": b, "exp": e} for n, (b, e) in eng.bitwidths().items()} == \
        rec["bitwidth_history"]["final"]
    # the run's split is the artefact's training seed's (0), not --seed's (the PRNG's)
    split = load_dataset("digits", int(trained.training.get("seed", 0)))
    xt = quantise_inputs(split.x_test.reshape(len(split.x_test), -1),
                         trained.preprocess["input_exp"])
    assert np.mean(eng.predict(xt) == split.y_test) == pytest.approx(rec["test_accuracy_after"])
    assert trained.training["method"] == "rct-int"


def _npz_images(d: Path, hw: tuple[int, ...], classes: int = 10) -> Path:
    """An npz file of images (N, *hw) in [0, 1], labels cycling through 0..classes-1."""
    r = np.random.default_rng(0)
    p = d / "im.npz"
    y = np.arange(60) % classes
    np.savez(p, x_train=r.random((60, *hw)), y_train=y, x_test=r.random((30, *hw)),
             y_test=y[:30])
    return p


@pytest.mark.parametrize("data_shape", [(16, 16), (16, 16, 1)])
def test_emulate_matches_a_hw_input_with_images_with_or_without_a_channel_axis(
        capsys, tmp_path, data_shape):
    """Input (16, 16) -> Flatten -> Dense, as users build MLPs on images, against npz images
    (N, 16, 16) and (N, 16, 16, 1): the loader's channel axis does not make them differ."""
    from rct_tflm.emulator.floatref import quantise_artefact, sequential_artefact
    art = sequential_artefact((16, 16), [("flat", "flatten", {}), ("out", "dense", {"units": 10})])
    art.layers[-1].act_exp = -3
    quantise_artefact(art).save(tmp_path / "hw.rct")
    code, out, err = run_cli(capsys, "emulate", "--target", "golden", "--model",
                             str(tmp_path / "hw.rct"), "--data",
                             f"npz:{_npz_images(tmp_path, data_shape)}", "--max-samples", "8",
                             "--out", str(tmp_path / "em"), "--no-progress")
    assert code == 0, err
    assert json.loads((tmp_path / "em" / "emulate.json").read_text())["samples"] == 8


@pytest.mark.parametrize("case", ["missing_model", "no_target", "board_and_target", "epochs",
                                  "data", "data_shape", "bad_board", "stray_dir",
                                  "sanitize_golden"])
def test_emulate_bad_input_exits_2_and_writes_nothing(capsys, tmp_path, art_path, case):
    out = tmp_path / "em"
    base = ["emulate", "--target", "golden", "--model", str(art_path), "--out", str(out),
            "--no-progress", "--max-samples", "5"]
    args, expect = {
        "missing_model": (base[:4] + [str(tmp_path / "x.rct")] + base[5:], "does not exist"),
        "no_target": (["emulate", "--model", str(art_path), "--out", str(out)], "Missing option '--target'"),
        "board_and_target": (["emulate", "--target", "host", str(tmp_path), "--model", str(art_path)],
                             "give one or the other"),
        "epochs": (base + ["--epochs", "0"], "--epochs must be >= 1"),
        "data": (base + ["--data", "csv:" + str(tmp_path / "none.csv")], "does not exist"),
        "data_shape": (base + ["--data", f"npz:{_npz_images(tmp_path, (7, 7))}"],
                       "model digits_mlp.rct takes inputs of shape (64,) (64 values), data set "
                       "im has (7, 7, 1) (49 values); give --data the data set the model was "
                       "trained on"),
        "bad_board": (["emulate", "--target", "stm32-nope", str(tmp_path)], "Invalid value for '--target'"),
        "stray_dir": (base + [str(tmp_path)], "the golden model runs no firmware"),
        "sanitize_golden": (base + ["--sanitize"], "--target host only"),
    }[case]
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and err.startswith("error: ") and expect in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_emulate_failure_keeps_the_previous_output(capsys, tmp_path, art_path):
    out = tmp_path / "em"
    out.mkdir()
    (out / "emulate.json").write_text("{}")
    code, _, err = run_cli(capsys, "emulate", "--target", "golden", "--model", str(art_path),
                           "--out", str(out), "--data", "npz:" + str(tmp_path / "missing.npz"))
    assert code == 2
    assert (out / "emulate.json").read_text() == "{}"


@pytest.mark.parametrize("board, url_prefix, tools", [
    ("host", "serial: /dev/", ("gcc",)),
    pytest.param("qemu-stm32f405", "serial: socket://127.0.0.1:",
                 ("arm-none-eabi-gcc", "qemu-system-arm"),
                 marks=[pytest.mark.qemu, pytest.mark.slow]),
])
def test_emulate_board_serves_until_ctrl_c(tmp_path, digits_mlp_artefact, board, url_prefix, tools):
    """Boot mode: the firmware behind its serial URL (host: a pty, QEMU: a socket); it answers
    HELLO with the generated model's hash; SIGINT stops it cleanly."""
    require_tools(*tools)
    from rct_tflm.codegen import generate
    from rct_tflm.firmware_build import build_firmware
    from rct_tflm.link import Link, open_port
    generate(digits_mlp_artefact, tmp_path / "gen", EngineConfig())
    build_firmware(board, tmp_path / "gen", tmp_path / "fw")
    exe = Path(sys.executable).with_name("rct-tflm")
    p = subprocess.Popen([str(exe), "emulate", "--target", board, str(tmp_path / "fw")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().strip()
        assert line.startswith(url_prefix), line
        url = line.split(" ", 1)[1]
        link = Link(open_port(url), url)
        try:
            hello = link.hello()
            assert hello.model_hash == bytes.fromhex(
                json.loads((tmp_path / "gen" / "rct_generated.json").read_text())["model_hash"])
        finally:
            link.close()
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=20) == 0
        assert "stopped" in p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_head_only_after_pretraining_on_0_to_4_learns_all_ten_classes(capsys, tmp_path, digits):
    """The issue's transfer case through the CLI: pretrain every layer on digits 0-4, then
    train only the classifier head on all ten classes."""
    from rct_tflm.emulator import zoo
    art = tmp_path / "init.rct"
    zoo.build("mlp", digits).save(art)
    code, _, err = run_cli(capsys, "emulate", "--target", "golden", "--model", str(art),
                           "--epochs", "3", "--train-classes", "0-4", "--lr", "0.0625",
                           "--out", str(tmp_path / "pre"), "--no-progress")
    assert code == 0, err
    pre = json.loads((tmp_path / "pre" / "emulate.json").read_text())
    assert pre["samples"] == 3 * int(np.sum(digits.y_train < 5)) and pre["train_classes"] == [0, 1, 2, 3, 4]
    code, _, err = run_cli(capsys, "emulate", "--target", "golden", "--model",
                           str(tmp_path / "pre" / "model.rct"), "--epochs", "2",
                           "--trainable-layers", "1", "--lr", "0.0625", "--seed", "0",
                           "--out", str(tmp_path / "head"), "--no-progress")
    assert code == 0, err
    rec = json.loads((tmp_path / "head" / "emulate.json").read_text())
    assert rec["trainable"] == ["logits/kernel", "logits/bias"]
    assert rec["test_accuracy_before"] < 0.55 < 0.8 < rec["test_accuracy_after"]
    trained = ModelArtefact.load(tmp_path / "head" / "model.rct")
    # the frozen layer did not move: it is the pretrained layer as the device stores a frozen
    # prefix (rounded to int8 where the pretraining had widened it)
    from rct_tflm.program import lower
    frozen = lower(ModelArtefact.load(tmp_path / "pre" / "model.rct"), EngineConfig(),
                   trainable_layers=1).tensors
    for name in ("dense1/kernel", "dense1/bias"):
        t = trained.tensors[name]
        assert t.bits == frozen[name].bits <= 8 and t.exp == frozen[name].exp  # int8 container
        assert np.array_equal(t.q, frozen[name].q)
    x = quantise_inputs(digits.x_test.reshape(len(digits.x_test), -1), trained.preprocess["input_exp"])
    pred = Engine.from_artefact(trained, EngineConfig()).predict(x)
    pred0 = Engine.from_artefact(ModelArtefact.load(tmp_path / "pre" / "model.rct"),
                                 EngineConfig()).predict(x)
    for c in range(5, 10):  # every new class is learned: never predicted before, now at least
        # 7 of its ~36 test digits (2x chance; the slowest, 8, spans 0.2-0.9 over seeds 0-3)
        assert np.mean(pred0[digits.y_test == c] == c) == 0, c
        assert np.mean(pred[digits.y_test == c] == c) >= 0.19, c


def test_train_classes_bad_spec(capsys, tmp_path, art_path):
    code, _, err = run_cli(capsys, "emulate", "--target", "golden", "--model", str(art_path),
                           "--out", str(tmp_path / "x"), "--train-classes", "4-1")
    assert code == 2 and "--train-classes '4-1'" in err and not (tmp_path / "x").exists()


def test_emulate_host_and_golden_give_the_same_record(capsys, tmp_path, art_path):
    """The CLI path of both targets (micro-batch 2, controller decisions inside the run)."""
    g, h = emulate_golden_and_host(capsys, tmp_path, "--model", str(art_path), "--batch-size",
                                   "2", "--max-samples", "1100", "--lr", "0.03125",
                                   "--period-samples", "512", "--t-min", "0.3", "--t-max", "0.9")
    assert g["bitwidth_history"]["changes"]
    for k in ("weights_sha256", "bitwidth_history", "prng_counter", "accuracy_curve", "samples",
              "steps", "final_bitwidths"):
        assert h[k] == g[k], k


def test_known_and_new_classes_are_scored_apart(tmp_path, digits_mlp_artefact):
    """A model that shipped knowing classes 0-4: the accuracy curve splits known from new
    classes, and the record ends with the confusion matrix of the final predictions."""
    from rct_tflm.artefact import known_classes
    from rct_tflm.emulator.run import EmulateConfig, emulate_run, prepare
    art = copy.deepcopy(digits_mlp_artefact)
    art.training = {**art.training, "classes_seen": [0, 1, 2, 3, 4]}
    assert known_classes(art) == [0, 1, 2, 3, 4]
    art.save(tmp_path / "m.rct")
    rec = emulate_run(prepare(EmulateConfig(target="golden", model=str(tmp_path / "m.rct"),
                                            data="digits", epochs=1, max_samples=400,
                                            eval_every=200)), None, progress=False)
    c = rec["accuracy_curve"]
    assert rec["classes_known"] == [0, 1, 2, 3, 4] and c["samples"] == [0, 200, 400]
    assert len(c["known_accuracy"]) == len(c["new_accuracy"]) == 3
    conf = np.asarray(rec["confusion"])
    assert conf.shape == (10, 10) and conf.sum() == len(load_dataset("digits").y_test)
    assert abs(np.trace(conf) / conf.sum() - rec["test_accuracy_after"]) < 1e-12
    diag = np.diag(conf)  # rows are true classes: known accuracy = their diagonal share
    assert abs(diag[:5].sum() / conf[:5].sum() - c["known_accuracy"][-1]) < 1e-12
    assert abs(diag[5:].sum() / conf[5:].sum() - c["new_accuracy"][-1]) < 1e-12
    art.training["classes_seen"] = list(range(10))  # saw every class: no split
    assert known_classes(art) is None
