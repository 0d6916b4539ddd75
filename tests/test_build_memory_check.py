"""`build` measures the linked Cortex-M image against its plan (rct_tflm/memory_check.py): every
RAM item the plan sizes (arena, state, link, staging) is found in the ELF at its planned size,
the total is within the margin, the stack bound fits the reserved stack, and a disagreement is a
one-line error. A model whose samples are staged streams on QEMU to the golden weights."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from conftest import require_tools, run_cli
from rct_tflm import memory_check
from rct_tflm.boards import STACK_BYTES, firmware_ram
from rct_tflm.errors import UserError
from rct_tflm.firmware_build import build_artefact
from rct_tflm.fixedpoint.config import EngineConfig
from rct_tflm.partition import partition

STAGED_IN = 1500  # int8 inputs: a TRAIN frame would exceed 1 KB, so samples are staged


def staged_mlp():
    from rct_tflm.emulator.floatref import mlp_artefact, quantise_artefact
    art = quantise_artefact(mlp_artefact([STAGED_IN, 16, 4]))
    for l in art.layers:
        l.act_exp = -4
    return art


@pytest.mark.parametrize("which", ["digits", "staged"])
def test_the_image_holds_exactly_what_the_plan_counts(tmp_path, which, digits_mlp_artefact):
    require_tools("arm-none-eabi-gcc")
    art = digits_mlp_artefact if which == "digits" else staged_mlp()
    cfg = EngineConfig(max_batch=2)
    plan = partition(art, "qemu-stm32f405", cfg=cfg).partition
    man = build_artefact("qemu-stm32f405", partition(art, "qemu-stm32f405", cfg=cfg),
                         tmp_path / "fw", cfg)
    mem = man["memory"]
    assert json.loads((tmp_path / "fw" / "size.json").read_text())["memory"] == mem
    for k in ("arena", "state", "stack", "link", "stage"):
        assert mem["ram"][k]["planned"] == plan["ram"]["items"][k]
    assert mem["ram"]["arena"]["measured"] == plan["ram"]["arena"]
    assert mem["ram"]["link"]["measured"] == plan["ram"]["items"]["link"]
    assert mem["ram"]["stage"]["measured"] == plan["ram"]["items"]["stage"] \
        == (2 * STAGED_IN if which == "staged" else 0)
    assert plan["ram"]["state"] - 4 < mem["ram"]["state"]["measured"] <= plan["ram"]["state"]
    assert mem["ram_total"]["planned"] == plan["ram"]["total"]
    assert 0 <= plan["ram"]["total"] - mem["ram_total"]["measured"] <= firmware_ram(64)["app"]
    assert mem["ram_total"]["measured"] == man["size"]["ram_used"]
    assert 0 < mem["stack"]["run"] < mem["stack"]["bound"] <= STACK_BYTES == mem["stack"]["reserved"]
    assert not (tmp_path / "fw" / "callgraph").exists()  # build litter stays out of the output
    # the static bound holds: a painted-stack training call in the emulator stays under it
    from rct_tflm.boards import get_board
    from rct_tflm.profile.run import Firmware
    f = Firmware.load(tmp_path / "fw", partition(art, "qemu-stm32f405", cfg=cfg),
                      get_board("qemu-stm32f405"))
    n = f.dm.model.input_size
    xa, la = f.m.alloc(2 * n), f.m.alloc(8)
    f.m.uc.mem_write(xa, (np.arange(2 * n) % 200 - 100).astype(np.int8).tobytes())
    f.m.uc.mem_write(la, np.array([1, 2], "<u2").tobytes())  # uint16 labels
    assert f.call("rct_model_init", 0)[0] == 0
    rc, _, peak = f.call("rct_model_train", xa, la, 2)
    f.elf.close()
    assert rc == 0 and 0 < peak <= mem["stack"]["model_api"]["rct_model_train"] <= mem["stack"]["run"]


def test_a_disagreement_beyond_the_margin_is_one_line_naming_it():
    rec = {"ram": {"arena": {"planned": 1000, "measured": 1000},
                   "link": {"planned": 2084, "measured": 2084},
                   "app": {"planned": 256, "measured": 90}},
           "ram_total": {"planned": 3340, "measured": 3174},
           "flash": {"code": 1, "tables": {"planned": 100, "measured": 105}},
           "stack": {"run": 900, "fault": 180, "bound": 1080, "reserved": 4096}}
    memory_check.check(rec, "b")  # the app margin and 5 % on tables are fine
    bad = copy.deepcopy(rec)
    bad["ram"]["link"]["measured"] = 8000
    bad["ram_total"]["measured"] = 9090
    with pytest.raises(UserError, match=r"^the b image disagrees with its memory plan by more than "
                                        r"10%: link 8000 B vs 2084 B planned; RAM total 9090 B"):
        memory_check.check(bad, "b")
    deep = copy.deepcopy(rec)
    deep["stack"].update(run=4000, bound=4180)
    with pytest.raises(UserError, match="needs 4180 B of stack.*reserves 4096 B"):
        memory_check.check(deep, "b")


@pytest.mark.slow
@pytest.mark.qemu
def test_staged_samples_train_on_qemu_to_the_golden_weights(tmp_path, capsys):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    partition(staged_mlp(), "qemu-stm32f405", cfg=EngineConfig(max_batch=2)).save(tmp_path / "p.rct")
    r = np.random.default_rng(0)
    x = r.random((40, STAGED_IN), dtype=np.float32)
    y = r.integers(0, 4, 40)
    np.savez(tmp_path / "d.npz", x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:])
    code, out, err = run_cli(capsys, "build", "--model", str(tmp_path / "p.rct"), "--out",
                             str(tmp_path / "fw"))
    assert code == 0, err
    assert "stage" in out and "stack: deepest path" in out
    shas = {}
    for target, extra in (("golden", ["--firmware", str(tmp_path / "fw")]),
                          ("qemu-stm32f405", ["--firmware", str(tmp_path / "fw")])):
        code, _, err = run_cli(capsys, "stream", "--target", target, *extra, "--model",
                               str(tmp_path / "p.rct"), "--data", f"npz:{tmp_path / 'd.npz'}",
                               "--batch-size", "2", "--out", str(tmp_path / target),
                               "--no-progress", "--timeout", "5")
        assert code == 0, err
        rec = json.loads((tmp_path / target / "stream.json").read_text())
        assert rec["samples"] == 30
        shas[target] = rec["weights_sha256"]
    assert shas["golden"] == shas["qemu-stm32f405"]
