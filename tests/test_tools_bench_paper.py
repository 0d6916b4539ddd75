"""tools/bench_paper.py: the CLI, and its tables/targets on synthetic metrics (no training)."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rct_tflm.artefact import Layer, ModelArtefact
from rct_tflm.energy import run_costs
from rct_tflm.fixedpoint import QTensor

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "bench_paper.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_paper", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_help():
    p = subprocess.run([sys.executable, str(TOOL), "--help"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    for opt in ("--quick", "--only", "digits", "mnist-cnn", "sms"):
        assert opt in p.stdout


def test_unknown_benchmark_is_rejected():
    p = subprocess.run([sys.executable, str(TOOL), "--only", "cifar"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and "invalid choice" in p.stderr


def _fake_artefact() -> ModelArtefact:
    layers = [Layer("d1", "dense", {"units": 32}, (64,), (32,), {"kernel": "d1/kernel",
                                                                 "bias": "d1/bias"}),
              Layer("d2", "dense", {"units": 10}, (32,), (10,), {"kernel": "d2/kernel",
                                                                 "bias": "d2/bias"})]
    z = lambda *s: QTensor(np.zeros(s, np.int32), -7, 8)  # noqa: E731
    return ModelArtefact(layers, {"d1/kernel": z(64, 32), "d1/bias": z(32), "d2/kernel": z(32, 10),
                                  "d2/bias": z(10)}, (64,), 10)


def test_pipeline_on_synthetic_runs(tmp_path, monkeypatch):
    bp = _load()
    art = _fake_artefact()
    acc = {"fp32": 0.97, "qat": 0.965, "rct": 0.966, "rct-fixed8": 0.96, "rct-nearest": 0.95,
           "underflow-fixed8-nearest": 0.5, "underflow-rct": 0.88, "underflow-fp32": 0.9}
    ticks = []

    def fake_run_row(bench, row, epochs, seed, cache=None, progress=None):
        method = row["method"]
        bits = row.get("fixed_bits", 9)
        hist = [{"step": 0, "sample": 0, "bits": {"d1/kernel": 8}},
                {"step": 10, "sample": 320, "bits": {"d1/kernel": bits}}]
        m = run_costs(art, method, hist if method == "rct" else [], 100, 32)
        name = next(k for k, v in bp.ROWS.items() if v == row)
        if progress:
            progress({"epoch": 0, "loss": 1.0, "bits": None})
            ticks.append(name)
        m.update(test_accuracy=acc[name], test_f1=None, wall_seconds=0.0, lr=0.1,
                 final_bitwidths={"d1/kernel": bits, "d1/bias": 8, "d2/kernel": 8, "d2/bias": 8})
        return m

    monkeypatch.setattr(bp, "run_row", fake_run_row)
    assert bp.main(["--only", "digits", "--out", str(tmp_path)]) == 0
    assert ticks == list(bp.ROWS)  # every row drove the progress bar
    res = json.loads((tmp_path / "paper.json").read_text())
    rows = res["benchmarks"]["digits"]["rows"]
    assert set(rows) == set(bp.ROWS)
    c = res["benchmarks"]["digits"]["checks"]
    assert c["score_delta_vs_fp32"]["ok"] is True  # -0.4 points, within 1.0
    assert c["underflow_fixed8_nearest_stalls"]["ok"] is True  # 0.9 vs 0.5
    assert c["underflow_rct_recovers"]["ok"] is True  # closes 0.38 of the 0.4 gap
    assert rows["rct"]["gemm_energy_saving"] == pytest.approx(
        res["benchmarks"]["digits"]["compare"]["rct_vs_fp32"]["gemm_energy_saving"])
    assert rows["fp32"]["gemm_energy_saving"] == pytest.approx(0.0)
    assert rows["rct"]["score_delta_vs_fp32"] == pytest.approx(-0.004)
    md = (tmp_path / "paper.md").read_text()
    assert "| digits | rct | 20 | 0.1 | 96.60 (accuracy) | -0.40 |" in md
    assert "9/8" in md  # final kernel bits
    assert "FAIL" not in md


def _rows(**scores) -> dict:
    base = {"gemm_energy_saving": 0.93, "param_memory_saving": 0.5,
            "param_memory_saving_packed": 0.7, "vs_qat_param_memory_saving": 0.75}
    return {name: {"score": sc, **base} for name, sc in scores.items()}


@pytest.mark.parametrize("scores, failing", [
    ({"fp32": 0.95, "rct": 0.93, "underflow-fixed8-nearest": 0.1, "underflow-rct": 0.8,
      "underflow-fp32": 0.8}, {"score_delta_vs_fp32"}),  # 2 points below FP32
    ({"fp32": 0.95, "rct": 0.95, "underflow-fixed8-nearest": 0.1, "underflow-rct": 0.3,
      "underflow-fp32": 0.8}, {"underflow_rct_recovers"}),  # closes < half the gap
    ({"fp32": 0.95, "rct": 0.95, "underflow-fixed8-nearest": 0.1, "underflow-rct": 0.12,
      "underflow-fp32": 0.12}, {"underflow_fixed8_nearest_stalls", "underflow_rct_recovers"}),
])
def test_checks_fail_when_a_target_is_missed(scores, failing):
    bp = _load()
    c = bp.checks("digits", _rows(**scores))
    assert {k for k, v in c.items() if not v["ok"]} == failing


def test_row_configs():
    bp = _load()
    b = bp.BENCHMARKS["sms"]
    fixed = bp._config(b, bp.ROWS["underflow-fixed8-nearest"], 3, 0)
    assert (fixed.bits, fixed.rounding, fixed.lr) == ("fixed", "nearest", b["underflow_lr"])
    assert fixed.controller.bits_init == 8 and fixed.rct_config().controller.enabled is False
    rct = bp._config(b, bp.ROWS["rct"], 3, 0)
    assert (rct.bits, rct.rounding, rct.lr, rct.epochs) == ("dynamic", "stochastic", b["lr"], 3)
    assert bp._config(b, bp.ROWS["qat"], 3, 0).method == "qat"


def test_absent_dataset_is_skipped(tmp_path, monkeypatch):
    bp = _load()
    monkeypatch.setitem(bp.BENCHMARKS, "sms", dict(bp.BENCHMARKS["sms"],
                                                    needs=tmp_path / "nope"))
    monkeypatch.setattr(bp, "run_row", lambda *a: pytest.fail("must not train"))
    assert bp.main(["--only", "sms", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "paper.json").read_text())
    assert "absent" in res["skipped"]["sms"]


@pytest.mark.slow
@pytest.mark.tf
def test_quick_digits_benchmark_for_real(tmp_path):
    """The tool end to end (real training, 6 epochs): every row, a progress bar, the table."""
    p = subprocess.run([sys.executable, str(TOOL), "--only", "digits", "--quick", "--out",
                        str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "step/s" in p.stderr or "s/step" in p.stderr  # tqdm's bar
    assert "| digits | rct |" in p.stdout
    res = json.loads((tmp_path / "paper.json").read_text())
    b = res["benchmarks"]["digits"]
    assert set(b["rows"]) == set(_load().ROWS) and b["epochs"] == 6
    for k in ("gemm_energy_saving", "param_memory_saving", "param_memory_saving_packed",
              "vs_qat_param_memory_saving", "underflow_fixed8_nearest_stalls"):
        assert b["checks"][k]["ok"], (k, b["checks"][k])
    assert b["rows"]["underflow-fixed8-nearest"]["score"] < 0.2  # stalls near chance (0.1)
    assert b["rows"]["rct"]["score"] > 0.8
