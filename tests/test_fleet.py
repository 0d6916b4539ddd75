"""Fleet training (rct_tflm.fleet, `rct-tflm fleet`): shards, the Flower round on golden and
host boards, the global model recomputed by hand (each board's own training, then the integer
FedAvg), a board killed mid-round that misses it and rejoins, a board that times out, a stopped
server resumed to the same weights, and every bad input as one line with exit code 2."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import float_digits_mlp, require_tools, run_cli
from rct_tflm.data import run_order
from rct_tflm.errors import UserError
from rct_tflm.fixedpoint.config import quantise_inputs
from rct_tflm.fixedpoint.fedavg import fedavg
from rct_tflm.fixedpoint.state import weights_sha256
from rct_tflm.fleet import FleetConfig, run_fleet
from rct_tflm.fleet.client import round_seed
from rct_tflm.fleet.params import arrays_to_blob, blob_to_arrays
from rct_tflm.fleet.shards import SplitSpec, parse_split, split_shards
from rct_tflm.program import Engine
from rct_tflm.stream.device_model import device_model

pytest.importorskip("flwr", reason="rct_tflm[fleet] (flwr) is installed by `make setup`")


@pytest.fixture(scope="module")
def half_model(tmp_path_factory, digits) -> Path:
    """The digits MLP pretrained on digits 0-4 only (numpy): a fleet has new classes to learn."""
    from rct_tflm.emulator.floatref import quantise_artefact
    keep = digits.y_train < 5
    part = SimpleNamespace(x_train=digits.x_train[keep], y_train=digits.y_train[keep],
                           preprocess=digits.preprocess)
    p = tmp_path_factory.mktemp("fleet") / "model.rct"
    quantise_artefact(float_digits_mlp(part, epochs=3)).save(p)
    return p


@pytest.fixture(scope="module")
def host_fw(tmp_path_factory, half_model) -> Path:
    require_tools("gcc")
    from rct_tflm.cli import main
    d = tmp_path_factory.mktemp("fleet-fw") / "fw"
    main(["build", "--board", "host", "--model", str(half_model), "--out", str(d)])
    return d


def cfg(model: Path, out: Path, **kw) -> FleetConfig:
    return FleetConfig(**{"model": str(model), "data": "digits", "out": str(out), "boards": 3,
                          "kind": "golden", "rounds": 2, "progress": False, "lr_shift": 4,
                          "centralised": False, **kw})


# -- shards -------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", ["iid", "dirichlet:0.5", "dirichlet:100"])
def test_shards_are_disjoint_cover_everything_and_repeat_for_a_seed(spec, digits):
    y = digits.y_train
    s = split_shards(y, 8, parse_split(spec), seed=3, min_size=4)
    assert len(s) == 8 and min(len(p) for p in s) >= 4
    assert np.array_equal(np.sort(np.concatenate(s)), np.arange(len(y)))
    again = split_shards(y, 8, parse_split(spec), seed=3, min_size=4)
    assert all(np.array_equal(a, b) for a, b in zip(s, again))


def test_dirichlet_shards_are_label_skewed_and_iid_ones_are_not(digits):
    y = digits.y_train

    def top_class_share(spec: str) -> float:
        shards = split_shards(y, 8, parse_split(spec), seed=0)
        return float(np.mean([np.bincount(y[p], minlength=10).max() / len(p) for p in shards]))
    assert top_class_share("iid") < 0.2 < 0.3 < top_class_share("dirichlet:0.5")


@pytest.mark.parametrize("bad", ["dirichlet", "dirichlet:0", "dirichlet:-1", "dirichlet:x",
                                 "noniid"])
def test_a_bad_split_is_one_line(bad):
    with pytest.raises(UserError, match="iid or dirichlet:ALPHA"):
        parse_split(bad)


def test_too_many_boards_for_the_data_is_refused(digits):
    with pytest.raises(UserError, match="use fewer --boards"):
        split_shards(digits.y_train[:10], 8, SplitSpec("iid"), 0, min_size=2)


# -- the round ----------------------------------------------------------------------------------
def test_the_global_model_is_the_integer_fedavg_of_each_boards_own_training(
        half_model, tmp_path, digits):
    """Recomputed without Flower or the link: every board = the golden engine started from the
    global model with the round seed, trained on its shard in run_order; global = fedavg."""
    r = run_fleet(cfg(half_model, tmp_path / "f", rounds=2))
    from rct_tflm.program import load_artefact
    dm = device_model(load_artefact(half_model), None, None)
    names = list(dm.model.trainable)
    x = quantise_inputs(digits.x_train, dm.model.input_exp).reshape(len(digits.x_train), -1)
    shards = split_shards(digits.y_train, 3, SplitSpec("iid"), 0, min_size=1)
    g = {n: t.copy() for n, t in Engine(dm.model, dm.cfg).t.items() if n in names}
    for rnd in (1, 2):
        models, samples = [], []
        for b, s in enumerate(shards):
            seed = round_seed(0, rnd, b)
            e = Engine(dm.model, replace(dm.cfg, lr_shift=4, seed=seed))
            for n in names:
                e.t[n] = g[n].copy()
            order = run_order(len(s), 1, seed)
            for i in order:
                e.train_step(x[s][i:i + 1], digits.y_train[s][i:i + 1])
            models.append({n: e.t[n] for n in names})
            samples.append(len(order))
        g = fedavg(models, samples, 0, rnd, dm.model.bits_max, names)
    assert r["weights_sha256"] == weights_sha256([g[n] for n in names])
    assert r["final_bitwidths"] == {n: g[n].bits for n in names}
    assert [x["samples"] for x in r["round_records"]] == [len(digits.y_train)] * 2
    assert r["test_accuracy"][-1] > r["initial_test_accuracy"] + 0.2  # it learnt 5-9
    for f in r["files"]:
        assert (tmp_path / "f" / f).is_file()
    from rct_tflm.report.summary import build_report
    rep = build_report([tmp_path / "f"], tmp_path / "report")
    md = (tmp_path / "report" / "report.md").read_text()
    assert "## Fleet" in md and "fleet_accuracy.png" in md
    assert rep["fleets"][0]["weights_sha256"] == r["weights_sha256"]


def test_weights_cross_flower_as_the_same_integers(digits_mlp_artefact):
    dm = device_model(digits_mlp_artefact)
    e = Engine(dm.model, dm.cfg)
    blob = e.weights_blob()
    like = e.trainable_tensors()
    arrays = blob_to_arrays(blob, like)
    assert all(a.dtype == np.int32 for a in arrays)
    assert arrays_to_blob(arrays, like) == blob
    with pytest.raises(UserError, match="same model"):
        arrays_to_blob(arrays[:-2], like)


def test_a_host_fleet_equals_the_golden_fleet(capsys, half_model, host_fw, tmp_path):
    """`make test`'s fleet: 3 host-build boards, 2 rounds, over their ptys; the same run on
    golden devices (the build's manifest) ends with the same global weights."""
    runs = {}
    for kind in ("host", "golden"):
        code, out, err = run_cli(capsys, "fleet", "--boards", "3", "--board-kind", kind,
                                 "--firmware", str(host_fw), "--model", str(half_model),
                                 "--rounds", "2", "--lr", "0.0625", "--out",
                                 str(tmp_path / kind), "--no-progress")
        assert code == 0, err
        runs[kind] = json.loads((tmp_path / kind / "fleet.json").read_text())
    h, g = runs["host"], runs["golden"]
    assert h["weights_sha256"] == g["weights_sha256"]
    assert h["test_accuracy"] == g["test_accuracy"]
    assert h["missed"] == [] and h["rounds"] == 2
    assert len(h["centralised_test_accuracy"]) == 2
    assert abs(h["gap_points"]) < 10
    for rec in h["round_records"]:
        assert sorted(rec["boards"]) == ["0", "1", "2"]
        assert all(b["wire_bytes"] > 0 for b in rec["boards"].values())


def test_a_board_killed_mid_round_misses_it_and_rejoins_the_next(half_model, host_fw,
                                                                  tmp_path):
    r = run_fleet(cfg(half_model, tmp_path / "k", kind="host", firmware=str(host_fw),
                      rounds=3, kill={1: 2}, timeout=0.5, retries=2))
    assert r["rounds"] == 3 and len(r["test_accuracy"]) == 3
    assert [(m["round"], m["board"]) for m in r["missed"]] == [(2, 1)]
    assert r["rejoined"] == [{"round": 3, "board": 1}]
    recs = r["round_records"]
    assert sorted(recs[1]["boards"]) == ["0", "2"] and recs[1]["aggregated"]
    assert sorted(recs[2]["boards"]) == ["0", "1", "2"]


def test_a_board_that_misses_the_round_timeout_does_not_stall_it(half_model, tmp_path):
    r = run_fleet(cfg(half_model, tmp_path / "t", rounds=2, round_timeout=0.2))
    assert len(r["missed"]) == 6 and all("round timeout" in m["reason"] for m in r["missed"])
    assert [j["round"] for j in r["rejoined"]] == [2, 2, 2]
    assert not any(x["aggregated"] for x in r["round_records"])  # the global model is kept
    assert r["test_accuracy"] == [r["initial_test_accuracy"]] * 2


def test_a_stopped_server_resumes_from_its_last_round(half_model, tmp_path):
    whole = run_fleet(cfg(half_model, tmp_path / "whole", rounds=3))

    def stop(rec):
        if rec.round == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run_fleet(cfg(half_model, tmp_path / "cut", rounds=3), on_round=stop)
    ck = tmp_path / "cut" / "fleet_checkpoint.json"
    assert json.loads(ck.read_text())["rounds_done"] == 2
    assert not (tmp_path / "cut" / "fleet.json").exists()
    with pytest.raises(UserError, match="--resume"):
        run_fleet(cfg(half_model, tmp_path / "cut", rounds=3))
    with pytest.raises(UserError, match="seed"):
        run_fleet(cfg(half_model, tmp_path / "cut", rounds=3, seed=1, resume=str(ck)))
    r = run_fleet(cfg(half_model, tmp_path / "cut", rounds=3, resume=str(ck)))
    assert r["weights_sha256"] == whole["weights_sha256"]
    assert r["test_accuracy"] == whole["test_accuracy"]


@pytest.mark.parametrize("args, msg", [
    (["--split", "skewed"], "iid or dirichlet:ALPHA"),
    (["--kill", "1"], "BOARD@ROUND"),
    (["--kill", "7@1"], "boards 0..2"),
    (["--kill", "1@2"], "processes"),  # golden boards cannot lose power
    (["--boards", "0"], "--boards must be in 1..64"),
    (["--rounds", "0"], "--rounds must be >= 1"),
    (["--min-boards", "4"], "--min-boards must be in 1..3"),
])
def test_bad_fleet_input_is_one_line_and_exit_2(capsys, half_model, tmp_path, args, msg):
    code, _, err = run_cli(capsys, "fleet", "--board-kind", "golden", "--model",
                           str(half_model), "--out", str(tmp_path / "o"), "--no-progress", *args)
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o" / "fleet.json").exists()


def test_a_corrupt_fleet_checkpoint_is_refused(capsys, half_model, tmp_path):
    bad = tmp_path / "fleet_checkpoint.json"
    bad.write_text('{"format": "rct-tflm-fleet-checkpoint", "version": 1, "weights_b64": "!"')
    code, _, err = run_cli(capsys, "fleet", "--board-kind", "golden", "--model",
                           str(half_model), "--out", str(tmp_path / "o"), "--resume", str(bad),
                           "--no-progress")
    assert code == 2 and "corrupt checkpoint" in err


def test_running_boards_join_with_port(capsys, half_model, host_fw, tmp_path):
    """Two boards already running (host builds on their ptys, as a flashed board on its
    ST-LINK port) join one started golden board: the same run as three golden boards."""
    from rct_tflm.link import HostFirmware
    runners = [HostFirmware(host_fw) for _ in range(2)]
    urls = [r.start() for r in runners]
    try:
        code, out, err = run_cli(capsys, "fleet", "--boards", "1", "--board-kind", "golden",
                                 *[a for u in urls for a in ("--port", u)], "--firmware",
                                 str(host_fw), "--model", str(half_model), "--rounds", "2",
                                 "--lr", "0.0625", "--no-centralised", "--out",
                                 str(tmp_path / "mixed"), "--no-progress")
    finally:
        for r in runners:
            r.stop()
    assert code == 0, err
    mixed = json.loads((tmp_path / "mixed" / "fleet.json").read_text())
    assert mixed["boards"] == 3 and mixed["port_boards"] == 2
    same = run_fleet(cfg(half_model, tmp_path / "g", firmware=str(host_fw), rounds=2))
    assert mixed["weights_sha256"] == same["weights_sha256"]


def test_a_board_with_other_firmware_stops_the_run_before_round_one(half_model, host_fw,
                                                                     tmp_path,
                                                                     digits_mlp_artefact):
    """--firmware says the model, the board on --port runs another: its HELLO stops the run."""
    require_tools("gcc")
    from rct_tflm.cli import main
    other = tmp_path / "other.rct"
    digits_mlp_artefact.save(other)
    main(["build", "--board", "host", "--model", str(other), "--out", str(tmp_path / "fw")])
    from rct_tflm.link import HostFirmware
    with HostFirmware(tmp_path / "fw") as board:
        with pytest.raises(UserError, match="model mismatch"):
            run_fleet(cfg(half_model, tmp_path / "o", boards=0, ports=[board.url],
                          firmware=str(host_fw), kind="host"))
    assert not (tmp_path / "o" / "fleet_checkpoint.json").exists()


def test_a_bad_option_is_refused_before_any_firmware_is_built(capsys, half_model, tmp_path):
    code, _, err = run_cli(capsys, "fleet", "--board-kind", "host", "--model", str(half_model),
                           "--kill", "9@1", "--out", str(tmp_path / "o"), "--no-progress")
    assert code == 2 and "--kill 9@1" in err
    assert not (tmp_path / "o" / "firmware").exists()
