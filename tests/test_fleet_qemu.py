"""A fleet of four emulated Cortex-M4 boards (qemu-stm32f405) ends three rounds with the same
global weights, the same per-board bitwidths every round and the same accuracy curve as the
same fleet on host-build boards (same seed); the controller decides inside the rounds (a short
decision period and two local epochs), so bitwidths move on the boards and the average aligns them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import require_tools, run_cli
from rct_tflm.cli import main

pytest.importorskip("flwr", reason="rct_tflm[fleet] (flwr) is installed by `make setup`")
pytestmark = [pytest.mark.qemu, pytest.mark.slow]
BUILD = ["--period-samples", "512", "--lr", "0.0625", "--t-min", "0.3"]


@pytest.fixture(scope="module")
def builds(tmp_path_factory, digits_mlp_artefact) -> Path:
    require_tools("gcc", "arm-none-eabi-gcc", "qemu-system-arm")
    d = tmp_path_factory.mktemp("fleet-qemu")
    digits_mlp_artefact.save(d / "model.rct")
    for b in ("host", "qemu-stm32f405"):
        main(["build", "--board", b, "--model", str(d / "model.rct"), "--out", str(d / b),
              *BUILD])
    return d


def test_four_qemu_boards_end_where_four_host_boards_end(capsys, builds):
    runs = {}
    for b in ("host", "qemu-stm32f405"):
        code, out, err = run_cli(capsys, "fleet", "--boards", "4", "--board-kind", b,
                                 "--firmware", str(builds / b), "--model",
                                 str(builds / "model.rct"), "--rounds", "3", "--local-epochs", "2", "--seed", "3",
                                 "--no-centralised", "--out", str(builds / f"run-{b}"),
                                 "--no-progress")
        assert code == 0, err
        runs[b] = json.loads((builds / f"run-{b}" / "fleet.json").read_text())
    h, q = runs["host"], runs["qemu-stm32f405"]
    assert q["board_kind"] == "qemu-stm32f405" and q["missed"] == []
    assert q["weights_sha256"] == h["weights_sha256"]
    assert q["test_accuracy"] == h["test_accuracy"]
    bits = [[r["boards"][str(b)]["bits"] for b in range(4)] for r in q["round_records"]]
    assert bits == [[r["boards"][str(b)]["bits"] for b in range(4)] for r in h["round_records"]]
    assert sum(r["boards"][str(b)]["decisions"] for r in q["round_records"]
               for b in range(4)) > 0
