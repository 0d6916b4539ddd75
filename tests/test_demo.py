"""`rct-tflm demo --quick`: every stage end to end on the default QEMU board, the report, and
the TFLite scenario."""
from __future__ import annotations

import json

import pytest

from conftest import require_tools
from rct_tflm.cli import main


@pytest.mark.slow
@pytest.mark.qemu
def test_quick_demo_end_to_end(tmp_path, capsys):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    out = tmp_path / "demo"
    main(["demo", "--quick", "--no-progress", "--out", str(out)])
    said = capsys.readouterr().out
    for n in range(1, 9):
        assert f"== {n}." in said
    assert "board weights == golden model weights" in said
    compare = json.loads((out / "1-host" / "compare.json").read_text())
    assert compare["rct_vs_fp32"]["gemm_energy_saving"] > 0.9
    golden = json.loads((out / "5-golden" / "emulate.json").read_text())
    device = json.loads((out / "6-device" / "stream.json").read_text())
    assert device["board"] == "qemu-stm32f405"
    assert device["weights_sha256"] == golden["weights_sha256"]
    assert device["bitwidth_history"] == golden["bitwidth_history"]
    # the device knew digits 0-4 only; training on the board teaches it the other five
    assert device["test_accuracy_before"] < 0.55
    assert device["test_accuracy_after"] > device["test_accuracy_before"] + 0.2
    report = (out / "7-report" / "report.md").read_text()
    assert "bit-identical" in report and "qemu-stm32f405" in report
    assert str(tmp_path) not in report  # paths are relative to the demo folder
    for png in ("bitwidths_device.png", "device_accuracy.png"):
        assert (out / "7-report" / png).stat().st_size > 1000
    assert not list(tmp_path.glob(".demo*"))  # no temp or backup folder left behind
    # TFLite in, TFLite out: a Keras CNN's int8 .tflite, backbone frozen in TFLite's arithmetic
    tfl = json.loads((out / "8-tflite" / "tflite.json").read_text())
    assert tfl["verify"]["compared"] == 500 and tfl["verify"]["mismatches"] == 0
    assert tfl["board_golden_mismatches"] == 0
    assert tfl["test_accuracy_before"] < 0.55
    assert tfl["test_accuracy_after"] > tfl["test_accuracy_before"] + 0.15
    assert tfl["export_agreement"] >= 0.99  # the exported .tflite in tflite-micro vs the board
    assert all(a is not None for a in tfl["per_class_after"])
    assert (out / "8-tflite" / "per_class.png").stat().st_size > 1000


def test_demo_refuses_a_real_board(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["demo", "--board", "nucleo-f411re", "--out", str(tmp_path / "d")])
    assert e.value.code == 2
    assert "boots its board in QEMU" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_failed_demo_restores_the_previous_out(tmp_path, monkeypatch):
    from rct_tflm import demo
    out = tmp_path / "d"
    out.mkdir()
    (out / "keep.txt").write_text("previous run")

    def boom(dest, cfg, say):
        (dest / "half.txt").write_text("x")
        raise RuntimeError("stage failed")

    monkeypatch.setattr(demo, "run_demo", boom)
    with pytest.raises(RuntimeError):
        main(["demo", "--quick", "--out", str(out)])
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["d"]
