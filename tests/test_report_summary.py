"""`rct-tflm report`: what it collects, what it shows, and its errors."""
from __future__ import annotations

import json

import pytest

from rct_tflm.cli import main
from rct_tflm.errors import UserError
from rct_tflm.partition import partition
from rct_tflm.report.summary import build_report


def _run(target: str, sha: str, before: float, after: float) -> dict:
    hist = {"initial": {"k": {"bits": 8, "exp": -7}},
            "changes": [{"sample": 512, "tensor": "k", "action": "add_low", "bits": 9, "exp": -8}],
            "final": {"k": {"bits": 9, "exp": -8}}}
    return {"target": target, "test_accuracy_before": before, "test_accuracy_after": after,
            "samples": 1000, "samples_per_s": 123.0, "weights_sha256": sha,
            "bitwidth_history": hist}


def test_report_shows_partition_runs_and_sha_agreement(tmp_path, digits_mlp_artefact):
    runs = tmp_path / "runs"
    (runs / "g").mkdir(parents=True)
    (runs / "s").mkdir()
    partition(digits_mlp_artefact).save(runs / "p.rct")
    partition(digits_mlp_artefact).save(runs / "g" / "model.rct")  # same plan: shown once
    (runs / "g" / "emulate.json").write_text(json.dumps(_run("golden", "ab" * 32, 0.5, 0.8)))
    stream = {**_run("qemu", "ab" * 32, 0.5, 0.8), "board": "qemu-stm32f405",
              "wire_bytes": 1000, "overhead_fraction": 0.05, "retransmits": 0}
    (runs / "s" / "stream.json").write_text(json.dumps(stream))
    s = build_report([runs], tmp_path / "rep")
    md = (tmp_path / "rep" / "report.md").read_text()
    assert md.count("## Partition for") == 1
    assert "**bit-identical**" in md and s["weights_identical"] is True
    assert "protocol overhead 5.0%" in md
    assert (tmp_path / "rep" / "bitwidths_device.png").is_file()
    (runs / "s" / "stream.json").write_text(json.dumps({**stream, "weights_sha256": "cd" * 32}))
    s = build_report([runs], tmp_path / "rep2")
    assert s["weights_identical"] is False
    assert "**different**" in (tmp_path / "rep2" / "report.md").read_text()


def test_report_errors(tmp_path, capsys):
    with pytest.raises(UserError, match="does not exist"):
        build_report([tmp_path / "nope"], tmp_path / "r")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no rct-tflm results"):
        build_report([tmp_path / "empty"], tmp_path / "r")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "stream.json").write_text("{not json")
    with pytest.raises(SystemExit) as e:
        main(["report", str(tmp_path / "bad"), "--out", str(tmp_path / "r")])
    assert e.value.code == 2 and "stream.json" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
