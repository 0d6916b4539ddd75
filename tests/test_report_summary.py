"""`rct-tflm report`: what it collects, what it shows, and its errors."""
from __future__ import annotations

import json

import pytest

from rct_tflm.cli import main
from rct_tflm.errors import UserError
from rct_tflm.formats import results
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
    results.save(runs / "g" / "emulate.json", _run("golden", "ab" * 32, 0.5, 0.8))
    stream = {**_run("qemu", "ab" * 32, 0.5, 0.8), "board": "qemu-stm32f405",
              "wire_bytes": 1000, "overhead_fraction": 0.05, "retransmits": 0}
    results.save(runs / "s" / "stream.json", stream)
    s = build_report([runs], tmp_path / "rep")
    md = (tmp_path / "rep" / "report.md").read_text()
    assert md.count("## Partition for") == 1
    assert "**bit-identical**" in md and s["weights_identical"] is True
    assert "protocol overhead 5.0%" in md
    assert (tmp_path / "rep" / "bitwidths_device.png").is_file()
    results.save(runs / "s" / "stream.json", {**stream, "weights_sha256": "cd" * 32})
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


def test_runs_of_different_models_are_grouped_and_never_compared(tmp_path):
    runs = tmp_path / "runs"
    for d, model, sha in (("a", "/m/one.rct", "ab"), ("b", "/m/one.rct", "ab"),
                          ("c", "/m/two.rct", "cd")):
        (runs / d).mkdir(parents=True)
        rec = {**_run("golden", sha * 32, 0.5, 0.8), "model": model, "data": "digits", "seed": 0,
               "epochs": 1, "batch": 1}
        results.save(runs / d / "emulate.json", rec)
    s = build_report([runs], tmp_path / "rep")
    md = (tmp_path / "rep" / "report.md").read_text()
    assert md.count("### Model `one.rct`") == 1 and md.count("### Model `two.rct`") == 1
    assert "**different**" not in md and md.count("**bit-identical**") == 1
    assert [g["weights_identical"] for g in s["groups"]] == [True, None]
    assert {r["name"] for r in s["runs"]} == {"a", "b", "c"}
    assert (tmp_path / "rep" / "device_accuracy_1.png").is_file()


def test_known_new_accuracy_curve_confusion_and_memory_chart(tmp_path):
    from rct_tflm.report.device_plots import memory_parts
    runs = tmp_path / "runs"
    (runs / "g").mkdir(parents=True)
    curve = {"samples": [0, 500, 1000], "test_accuracy": [0.5, 0.7, 0.8],
             "known_accuracy": [0.98, 0.95, 0.9], "new_accuracy": [0.0, 0.45, 0.7]}
    conf = [[5, 1], [2, 7]]
    rec = {**_run("golden", "ab" * 32, 0.5, 0.8), "accuracy_curve": curve,
           "classes_known": [0], "confusion": conf}
    results.save(runs / "g" / "emulate.json", rec)
    size = {"text": 10000, "data": 8, "bss": 3000, "flash_used": 10008, "ram_used": 7104,
            "flash_total": 65536, "ram_total": 20480}
    memory = {"ram": {"by_kind": {"activation": 100, "weights": 600}, "state": 200},
              "flash": {"tensors": [{"name": "w", "kind": "frozen", "bytes": 2000}]}}
    (runs / "fw" / "model").mkdir(parents=True)
    results.save(runs / "fw" / "build.json", {"size": size, "size_text": "fw"})
    (runs / "fw" / "model" / "memory.json").write_text(json.dumps(memory))
    build_report([runs], tmp_path / "rep")
    md = (tmp_path / "rep" / "report.md").read_text()
    for png in ("device_accuracy.png", "confusion.png", "memory.png"):
        assert f"]({png})" in md and (tmp_path / "rep" / png).stat().st_size > 1000, png
    parts = memory_parts(size, memory)
    assert parts["RAM"] == {"model activation": 100, "model weights": 600, "model state": 200,
                            "runtime, link and app": 3008 - 900, "stack (reserved)": 4096}
    assert parts["flash"] == {"frozen weights": 2000, "code and other tables": 8008}
    assert sum(parts["RAM"].values()) == size["ram_used"]


def test_a_result_from_another_tool_or_a_newer_version_is_one_line(tmp_path, capsys):
    d = tmp_path / "runs"
    d.mkdir()
    (d / "emulate.json").write_text(json.dumps({"format": "rct-tflm-emulate", "version": 99}))
    with pytest.raises(UserError, match="version 99, newer than this rct_tflm reads"):
        build_report([d], tmp_path / "r")
    (d / "emulate.json").write_text(json.dumps({"format": "something-else", "version": 1}))
    main_code = None
    with pytest.raises(SystemExit) as e:
        main(["report", str(d), "--out", str(tmp_path / "r")])
    main_code = e.value.code
    err = capsys.readouterr().err
    assert main_code == 2 and "is not a rct-tflm-emulate file" in err and len(err.splitlines()) == 1
