"""`rct-tflm partition`: the fixed split, its plan, its limits, and the artefact it writes."""
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


def test_default_split_trains_only_the_head(digits_mlp_artefact):
    p = partition(digits_mlp_artefact)
    plan = p.partition
    assert plan["frozen_layers"] == ["dense0"] and plan["trainable_layers"] == ["dense1"]
    assert p.trainable == {"dense1/kernel", "dense1/bias"}
    # frozen tensors are stored as the device holds them: int8
    for n in ("dense0/kernel", "dense0/bias"):
        assert isinstance(p.tensors[n], QTensor) and p.tensors[n].bits == 8
    assert plan["frozen_flash_bytes"] == 64 * 32 + 32
    assert plan["trainable_params"] == 32 * 10 + 10
    assert 0 < plan["ram"]["model_total"] < 2048


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
    with pytest.raises(UserError, match=r"needs \d+ B of RAM.*nucleo-l476rg.*--trainable-layers"):
        partition(big, "nucleo-l476rg", frozen_layers=0)
    assert partition(digits_mlp_artefact).partition["ram"]["firmware_reserve"] > 4096  # stack + link


def test_cli_partition_and_errors(digits_mlp_artefact, tmp_path, capsys):
    src = tmp_path / "m.rct"
    digits_mlp_artefact.save(src)
    main(["partition", "--model", str(src), "--out", str(tmp_path / "p"), "--board",
          "nucleo-f411re"])
    assert "trainable layers (RCT, RAM)  dense1" in capsys.readouterr().out
    assert ModelArtefact.load(tmp_path / "p").partition["board"] == "nucleo-f411re"
    assert "dense1" in (tmp_path / "p" / "plan.txt").read_text()
    for args, msg in [(["--board", "no-such-board"], "unknown board 'no-such-board'"),
                      (["--trainable-layers", "9"], "--trainable-layers must be in")]:
        with pytest.raises(SystemExit) as e:
            main(["partition", "--model", str(src), "--out", str(tmp_path / "bad"), *args])
        assert e.value.code == 2
        assert msg in capsys.readouterr().err
        assert not (tmp_path / "bad").exists()
