"""The partition plan drives the later stages: generate, build, profile, emulate and stream take
the board, micro-batch and split from a partitioned artefact; a flag that contradicts it is an
error naming both values; `--model` also takes the run folder holding model.rct."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import require_tools, run_cli


@pytest.fixture(scope="module")
def planned(tmp_path_factory, digits_mlp_artefact) -> Path:
    """A run folder (model.rct) and its plan for nucleo-f411re, micro-batch 2."""
    from rct_tflm.fixedpoint.config import EngineConfig
    from rct_tflm.partition import partition
    d = tmp_path_factory.mktemp("plan")
    (d / "run").mkdir()
    digits_mlp_artefact.save(d / "run" / "model.rct")
    partition(digits_mlp_artefact, "nucleo-f411re", trainable_layers=1,
              cfg=EngineConfig(max_batch=2)).save(d / "p.rct")
    return d


def test_generate_takes_board_and_micro_batch_from_the_plan(capsys, tmp_path, planned):
    code, out, err = run_cli(capsys, "generate", "--model", str(planned / "p.rct"), "--out",
                             str(tmp_path / "g"))
    assert code == 0, err
    man = json.loads((tmp_path / "g" / "rct_generated.json").read_text())
    assert man["board"] == "nucleo-f411re" and man["max_batch"] == 2
    assert [t["name"] for t in man["trainable"]] == ["dense1/kernel", "dense1/bias"]
    code, _, err = run_cli(capsys, "generate", "--model", str(planned / "p.rct"), "--out",
                           str(tmp_path / "h"), "--board", "host")
    assert code == 0, err  # the host build of the same firmware always goes


@pytest.mark.parametrize("flag,value,planned_value", [
    ("--board", "qemu-stm32f405", "nucleo-f411re"), ("--batch-size", "1", "2"),
    ("--trainable-layers", "2", "1"), ("--frozen-layers", "0", "1")])
def test_a_flag_contradicting_the_plan_is_an_error_naming_both(capsys, tmp_path, planned, flag,
                                                              value, planned_value):
    for cmd in ("generate", "build"):
        out = tmp_path / cmd
        code, _, err = run_cli(capsys, cmd, "--model", str(planned / "p.rct"), "--out", str(out),
                               flag, value)
        assert code == 2, err
        assert f"{flag} {value} contradicts the partition plan of p.rct ({planned_value})" in err
        assert not out.exists()


def test_build_follows_the_plan_and_stream_refuses_another_boards_firmware(capsys, tmp_path,
                                                                          planned):
    require_tools("arm-none-eabi-gcc")
    code, _, err = run_cli(capsys, "build", "--model", str(planned / "p.rct"), "--out",
                           str(tmp_path / "fw"))
    assert code == 0, err
    assert json.loads((tmp_path / "fw" / "build.json").read_text())["board"] == "nucleo-f411re"
    code, _, err = run_cli(capsys, "stream", "--target", "qemu-stm32f405", "--firmware",
                           str(tmp_path / "fw"), "--model", str(planned / "p.rct"), "--out",
                           str(tmp_path / "s"))
    assert code == 2 and "was built for nucleo-f411re, not qemu-stm32f405" in err
    code, _, err = run_cli(capsys, "emulate", "--target", "qemu-stm32f405", str(tmp_path / "fw"))
    assert code == 2 and "was built for nucleo-f411re, not qemu-stm32f405" in err


def test_emulate_keeps_within_the_planned_micro_batch(capsys, tmp_path, planned):
    code, _, err = run_cli(capsys, "emulate", "--target", "golden", "--model",
                           str(planned / "p.rct"), "--out", str(tmp_path / "e"), "--batch-size", "4",
                           "--max-samples", "8", "--no-progress")
    assert code == 2 and "--batch-size 4 exceeds the partition plan's micro-batch (2)" in err
    assert not (tmp_path / "e").exists()


def test_model_accepts_a_run_folder(capsys, tmp_path, planned):
    code, _, err = run_cli(capsys, "generate", "--model", str(planned / "run"), "--out",
                           str(tmp_path / "g"), "--board", "host")
    assert code == 0, err
    code, _, err = run_cli(capsys, "partition", "--model", str(planned / "run"), "--out",
                           str(tmp_path / "p"))
    assert code == 0, err
    assert (tmp_path / "p" / "model.rct").is_file() and (tmp_path / "p" / "plan.txt").is_file()
    code, _, err = run_cli(capsys, "generate", "--model", str(tmp_path), "--out",
                           str(tmp_path / "g2"))
    assert code == 2 and "holds no model.rct" in err
