"""ResNet-8 (MLPerf Tiny, CIFAR-shaped 32x32x3, residual Adds) end to end: trained on the host
with RCT, partitioned with the last residual block trainable for stm32f746g-disco (320 KB; the
firmware for it links within the plan), and the same split trained on the device over the link:
golden == host C == Cortex-M7 on qemu-mps2-an500, weights and test predictions. And a small
residual net trained whole on the board: the skips' summed errors alike in C and numpy."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import require_tools, run_cli, stream_golden_host_board

pytestmark = [pytest.mark.qemu, pytest.mark.slow]


def cifar_shaped(digits, n_train: int, n_test: int) -> dict[str, np.ndarray]:
    """Digits upsampled 4x to 32x32 and tinted into 3 channels: CIFAR's shape, digits' labels."""
    rng = np.random.default_rng(0)

    def up(x: np.ndarray) -> np.ndarray:
        img = np.kron(x.reshape(-1, 8, 8), np.ones((4, 4), np.float32))[..., None]
        return (img * rng.uniform(0.5, 1.0, (len(x), 1, 1, 3))).astype(np.float32)
    return {"x_train": up(digits.x_train[:n_train]), "y_train": digits.y_train[:n_train],
            "x_test": up(digits.x_test[:n_test]), "y_test": digits.y_test[:n_test]}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digits) -> Path:
    pytest.importorskip("tensorflow")
    d = tmp_path_factory.mktemp("resnet8")
    np.savez(d / "c32.npz", **cifar_shaped(digits, 400, 100))
    from rct_tflm.cli import main
    main(["train", "--model", "builtin:resnet8", "--data", f"npz:{d / 'c32.npz'}", "--out",
          str(d / "train"), "--epochs", "2", "--batch-size", "8", "--lr", "0.1", "--no-progress"])
    return d


@pytest.mark.tf
def test_last_block_trainable_on_the_f746_plan_and_link(capsys, trained):
    require_tools("arm-none-eabi-gcc")
    d = trained
    code, out, err = run_cli(capsys, "partition", "--model", str(d / "train" / "model.rct"),
                             "--board", "stm32f746g-disco", "--trainable-from", "s3_conv1",
                             "--out", str(d / "f746"))
    assert code == 0, err
    from rct_tflm.program import load_artefact
    p = load_artefact(d / "f746" / "model.rct").partition
    assert p["board"] == "stm32f746g-disco"
    assert p["trainable_layers"] == ["s3_conv1", "s3_conv2", "s3_proj", "logits"]
    assert "s2_proj" in p["frozen_layers"] and p["ram"]["total"] <= 320 * 1024
    code, out, err = run_cli(capsys, "build", "--model", str(d / "f746" / "model.rct"), "--out",
                             str(d / "fw-f746"))
    assert code == 0, err
    size = json.loads((d / "fw-f746" / "size.json").read_text())
    ram = size["memory"]["ram_total"]
    assert size["ram_used"] <= size["ram_total"] == 320 * 1024
    assert abs(ram["measured"] - ram["planned"]) <= 0.1 * ram["planned"], ram  # the plan holds


@pytest.mark.tf
def test_golden_host_and_cortex_m7_train_the_last_block_to_the_same_weights(capsys, trained):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    d = trained
    code, _, err = run_cli(capsys, "partition", "--model", str(d / "train" / "model.rct"),
                           "--board", "qemu-mps2-an500", "--trainable-from", "s3_conv1",
                           "--out", str(d / "an500"))
    assert code == 0, err
    model = str(d / "an500" / "model.rct")
    data = d / "stream.npz"
    c = np.load(d / "c32.npz")
    np.savez(data, x_train=c["x_train"][:48], y_train=c["y_train"][:48],
             x_test=c["x_test"][:16], y_test=c["y_test"][:16])
    results = stream_golden_host_board(capsys, model, f"npz:{data}", d, 3)
    ref = results["golden"]
    assert ref["samples"] == 48 and ref["loss_trace"]
    for b, r in results.items():
        assert r["weights_sha256"] == ref["weights_sha256"], b
        assert r["test_accuracy_after"] == ref["test_accuracy_after"], b
        assert r["board_golden_mismatches"] == 0, b  # INFER on the board == the golden engine


def test_the_skip_errors_sum_alike_on_golden_host_and_cortex_m7(capsys, tmp_path, digits):
    """resnet_tiny trained whole on the board: both residual joins' errors are summed at their
    skips (err_add, the waiting exponent in a register) in C on the Cortex-M7 as in numpy."""
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    from rct_tflm.emulator import zoo
    from rct_tflm.program import lower
    from rct_tflm.fixedpoint.config import EngineConfig
    art = zoo.build("resnet_tiny", digits, seed=3)
    adds = [c for c in lower(art, EngineConfig(), trainable_layers=7).backward
            if c.kernel == "err_add"]
    assert len(adds) == 2  # both skips, every layer trainable
    art.save(tmp_path / "r.rct")
    code, _, err = run_cli(capsys, "partition", "--model", str(tmp_path / "r.rct"), "--board",
                           "qemu-mps2-an500", "--trainable-layers", "7", "--out",
                           str(tmp_path / "p"))
    assert code == 0, err
    model = str(tmp_path / "p" / "model.rct")
    np.savez(tmp_path / "d.npz", x_train=digits.x_train[:96], y_train=digits.y_train[:96],
             x_test=digits.x_test[:32], y_test=digits.y_test[:32])
    shas = {}
    for b, r in stream_golden_host_board(capsys, model, f"npz:{tmp_path / 'd.npz'}", tmp_path,
                                         5).items():
        assert r["samples"] == 96 and r["board_golden_mismatches"] == 0, b
        shas[b] = r["weights_sha256"]
    assert len(set(shas.values())) == 1, shas
