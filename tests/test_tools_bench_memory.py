"""The MobileNetV1-0.25 96x96 target through the CLI as a user runs it (tools/bench_memory.py
builds the tf_keras model): `train` imports it, `partition` for qemu-stm32f405 fits (samples
staged: one 27,648-byte staging buffer, 512-byte frames) and prints the table, and `build`
measures the image within the margin of the plan. A micro-batch of two is refused up front."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from conftest import require_tools, run_cli

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("bench_memory", ROOT / "tools" / "bench_memory.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_mobilenet_v1_025_96_partitions_builds_and_measures_as_planned(tmp_path, capsys):
    require_tools("arm-none-eabi-gcc")
    tool = _tool()
    tool.mobilenet_v1(tmp_path / "mobilenet.keras")
    tool.synthetic_images(tmp_path / "img.npz", n=12)
    code, _, err = run_cli(capsys, "train", "--model", str(tmp_path / "mobilenet.keras"),
                           "--data", f"npz:{tmp_path / 'img.npz'}", "--epochs", "1",
                           "--out", str(tmp_path / "tr"), "--no-progress")
    assert code == 0, err
    code, out, err = run_cli(capsys, "partition", "--model", str(tmp_path / "tr"), "--board",
                             "qemu-stm32f405", "--out", str(tmp_path / "p"))
    assert code == 0, err
    assert "sample staging buffer (large samples, SAMPLE_WRITE)     27648 B" in out
    assert "conv2d_13" in out and "depthwise_conv2d_12" in out  # one row per layer
    code, out, err = run_cli(capsys, "build", "--model", str(tmp_path / "p"), "--out",
                             str(tmp_path / "fw"))
    assert code == 0, err
    mem = json.loads((tmp_path / "fw" / "size.json").read_text())["memory"]
    t = mem["ram_total"]
    assert abs(t["measured"] - t["planned"]) <= 0.10 * t["planned"] and t["planned"] <= 131072
    assert mem["ram"]["stage"] == {"planned": 27648, "measured": 27648}
    assert mem["ram"]["link"]["measured"] < 2200  # not four copies of a 27,648-byte sample
    code, _, err = run_cli(capsys, "partition", "--model", str(tmp_path / "tr"), "--board",
                           "qemu-stm32f405", "--batch-size", "2", "--out", str(tmp_path / "p2"))
    assert code == 2 and "no split fits qemu-stm32f405" in err and "stage 55296 B" in err
    assert not (tmp_path / "p2").exists()
