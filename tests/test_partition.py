"""`rct-tflm partition`: the split (chosen or given), its per-layer plan, its limits, and the
artefact it writes."""
from __future__ import annotations

import numpy as np
import pytest

from rct_tflm.artefact import ModelArtefact
from rct_tflm.cli import main
from rct_tflm.errors import UserError
from rct_tflm.fixedpoint import QTensor
from rct_tflm.fixedpoint.config import EngineConfig
from rct_tflm.program import Engine
from rct_tflm.partition import partition


def test_no_split_given_trains_the_deepest_suffix_that_fits(digits_mlp_artefact):
    p = partition(digits_mlp_artefact)
    assert p.partition["trainable_layers"] == ["dense0", "dense1"]
    assert p.partition["split"] == "deepest that fits"


def test_head_split_and_its_plan(digits_mlp_artefact):
    p = partition(digits_mlp_artefact, trainable_layers=1)
    plan = p.partition
    assert plan["frozen_layers"] == ["dense0"] and plan["trainable_layers"] == ["dense1"]
    assert p.trainable == {"dense1/kernel", "dense1/bias"}
    # frozen tensors are stored as the device holds them: int8
    for n in ("dense0/kernel", "dense0/bias"):
        assert isinstance(p.tensors[n], QTensor) and p.tensors[n].bits == 8
    assert plan["frozen_flash_bytes"] == 64 * 32 + 32
    assert plan["trainable_params"] == 32 * 10 + 10
    assert 0 < plan["ram"]["model_total"] < 2048
    rows = {r["name"]: r for r in plan["layers"]}
    assert rows["dense0"]["flash"] == 64 * 32 + 32 and rows["dense0"]["weights"] == 0
    assert rows["dense1"]["weights"] == 2 * (32 * 10 + 10)  # int16 in RAM
    r = plan["ram"]
    assert r["total"] == sum(r["items"].values()) == r["model_total"] + r["firmware_reserve"]


def test_partitioned_artefact_round_trips_and_trains_the_same(digits_mlp_artefact, tmp_path, digits):
    p = partition(digits_mlp_artefact, trainable_layers=1)
    p.save(tmp_path / "p.rct")
    q = ModelArtefact.load(tmp_path / "p.rct")
    assert q.partition == p.partition and q.trainable == p.trainable
    x = np.zeros((1, 64), np.int8)
    e1 = Engine.from_artefact(p, EngineConfig(seed=3))
    e2 = Engine.from_artefact(q, EngineConfig(seed=3))
    e1.train_step(x, np.array([4]))
    e2.train_step(x, np.array([4]))
    assert e1.weights_sha256() == e2.weights_sha256()


def test_frozen_layers_and_whole_model(digits_mlp_artefact):
    assert partition(digits_mlp_artefact, frozen_layers=0).partition["frozen_layers"] == []
    with pytest.raises(UserError, match="not both"):
        partition(digits_mlp_artefact, trainable_layers=1, frozen_layers=1)
    with pytest.raises(UserError, match="--trainable-layers must be in 1..2"):
        partition(digits_mlp_artefact, trainable_layers=3)


def test_too_large_for_the_board_is_refused(digits_mlp_artefact):
    from rct_tflm.emulator.floatref import mlp_artefact, quantise_artefact
    big = quantise_artefact(mlp_artefact([64, 2048, 10]))
    for l in big.layers:
        l.act_exp = -4
    with pytest.raises(UserError, match=r"nucleo-l476rg does not fit its RAM.*--trainable-layers 1"):
        partition(big, "nucleo-l476rg", frozen_layers=0)
    assert partition(digits_mlp_artefact).partition["ram"]["firmware_reserve"] > 4096  # stack + link


def test_cli_partition_and_errors(digits_mlp_artefact, tmp_path, capsys):
    src = tmp_path / "m.rct"
    digits_mlp_artefact.save(src)
    main(["partition", "--model", str(src), "--out", str(tmp_path / "p"), "--board",
          "nucleo-f411re", "--trainable-layers", "1"])
    assert "trainable layers (RCT, RAM)  dense1" in capsys.readouterr().out
    assert ModelArtefact.load(tmp_path / "p").partition["board"] == "nucleo-f411re"
    assert "dense1" in (tmp_path / "p" / "plan.txt").read_text()
    for args, msg in [(["--board", "no-such-board"], "unknown board 'no-such-board'"),
                      (["--trainable-layers", "9"], "--trainable-layers must be in"),
                      (["--ram-budget", "200K"], "at most nucleo-f411re's 131072 B"),
                      (["--ram-budget", "lots"], "give bytes (98304) or KB (96K)"),
                      (["--trainable-from", "nope"], "no such layer"),
                      (["--ram-budget", "7K", "--board", "qemu-stm32f405"],
                       "no split fits qemu-stm32f405")]:
        with pytest.raises(SystemExit) as e:
            main(["partition", "--model", str(src), "--out", str(tmp_path / "bad"),
                  "--board", "nucleo-f411re", *args])
        assert e.value.code == 2
        assert msg in capsys.readouterr().err
        assert not (tmp_path / "bad").exists()


def big_mlp(sizes: list[int]):
    from rct_tflm.emulator.floatref import mlp_artefact, quantise_artefact
    art = quantise_artefact(mlp_artefact(sizes))
    for l in art.layers:
        l.act_exp = -4
    return art


def test_the_search_stops_where_the_budget_does():
    art = big_mlp([64, 1024, 512, 10])  # dense0 ~131 KB, dense1 ~1 MB trainable (int16)
    whole = partition(art, "qemu-mps2-an386").partition
    assert whole["trainable_layers"] == ["dense0", "dense1", "dense2"]
    head = partition(art, "qemu-stm32f405").partition  # 128 KB: only the head fits
    assert head["trainable_layers"] == ["dense2"] and head["ram"]["total"] <= 131072
    budget = whole["ram"]["total"]
    assert partition(art, "qemu-mps2-an386", ram_limit=budget).partition["trainable_layers"] \
        == whole["trainable_layers"]
    assert partition(art, "qemu-mps2-an386", ram_limit=budget - 1).partition["trainable_layers"] \
        == ["dense1", "dense2"]


def test_a_given_split_that_overflows_names_what_and_the_split_that_fits():
    art = big_mlp([64, 1024, 512, 10])
    with pytest.raises(UserError, match=r"does not fit its RAM, \d+ B > 131072 B: arena \d+ B "
                                        r"\(w_dense1_kernel \d+ B.*; train fewer layers: "
                                        r"--trainable-layers 1 fits"):
        partition(art, "qemu-stm32f405", trainable_layers=2)
    p = partition(art, "qemu-mps2-an386", trainable_from="dense1").partition
    assert p["trainable_layers"] == ["dense1", "dense2"] and p["split"] == "given"
    with pytest.raises(UserError, match="one of --trainable-layers, --frozen-layers"):
        partition(art, trainable_layers=1, trainable_from="dense1")


def test_cli_prints_the_table_and_keeps_the_ram_budget(digits_mlp_artefact, tmp_path, capsys):
    src = tmp_path / "m.rct"
    digits_mlp_artefact.save(src)
    main(["partition", "--model", str(src), "--out", str(tmp_path / "p"), "--board",
          "nucleo-f411re", "--ram-budget", "12K"])
    out = capsys.readouterr().out
    assert "split                        deepest that fits" in out
    assert out.splitlines()[-1] == "wrote " + str(tmp_path / "p") + "/: model.rct plan.txt"
    head = next(l for l in out.splitlines() if l.startswith("layer "))
    assert head.split() == ["layer", "kind", "part", "flash", "B", "weights", "B", "act", "B",
                            "error", "B", "mask", "B"]
    total = next(l for l in out.splitlines() if l.startswith("RAM total"))
    assert "of 12288 B (--ram-budget; board 131072 B)" in total
    plan = ModelArtefact.load(tmp_path / "p").partition
    assert plan["ram"]["limit"] == 12288 and plan["ram"]["total"] <= 12288
    assert plan["trainable_layers"] == ["dense0", "dense1"]
    assert (tmp_path / "p" / "plan.txt").read_text().strip() in out
    main(["partition", "--model", str(src), "--out", str(tmp_path / "q"), "--board",
          "nucleo-f411re", "--ram-budget", "7400"])  # only the head fits 7400 B
    assert ModelArtefact.load(tmp_path / "q").partition["trainable_layers"] == ["dense1"]
