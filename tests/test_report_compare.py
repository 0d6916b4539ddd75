"""compare.json schema and saving arithmetic, compare.md, the plot, atomic writes. No TensorFlow."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from rct_tflm.artefact import Layer, ModelArtefact
from rct_tflm.energy import run_costs
from rct_tflm.errors import UserError
from rct_tflm.fixedpoint import QTensor
from rct_tflm.formats import results
from rct_tflm.report.compare import compare_dict, write_compare


def _metrics(**kw) -> dict:
    m = {"test_accuracy": 0.9, "test_f1": None, "final_bitwidths": {"d/kernel": 8},
         "gemm_energy_pj_per_step": 1000.0, "param_memory_bits_peak": 3200,
         "param_memory_bits_peak_packed": 3200, "param_movement_pj_per_step": 50.0}
    m.update(kw)
    return m


def _runs() -> dict:
    return {
        "fp32": _metrics(test_accuracy=0.95, gemm_energy_pj_per_step=1000.0,
                         param_memory_bits_peak=3200, param_memory_bits_peak_packed=3200,
                         param_movement_pj_per_step=40.0),
        "qat": _metrics(test_accuracy=0.94, gemm_energy_pj_per_step=600.0,
                        param_memory_bits_peak=4000, param_memory_bits_peak_packed=4000,
                        param_movement_pj_per_step=60.0, param_memory_bits_tfmot_actual=3300),
        "rct": _metrics(test_accuracy=0.945, gemm_energy_pj_per_step=70.0,
                        param_memory_bits_peak=1000, param_memory_bits_peak_packed=900,
                        param_movement_pj_per_step=15.0, history=[1, 2, 3]),
    }


def test_schema_and_arithmetic():
    c = compare_dict(_runs())
    assert set(c) == {"runs", "rct_vs_fp32", "rct_vs_qat"}
    assert set(c["runs"]) == {"fp32", "qat", "rct"}
    for r in c["runs"].values():
        for k in ("test_accuracy", "gemm_energy_pj_per_step", "param_memory_bits_peak",
                  "param_movement_pj_per_step", "final_bitwidths"):
            assert k in r
    assert "history" not in c["runs"]["rct"]  # long non-scalar fields are left out
    a, b = c["rct_vs_fp32"], c["rct_vs_qat"]
    assert {"gemm_energy_saving", "param_memory_saving", "param_memory_saving_packed",
            "accuracy_delta"} <= set(a)
    assert {"param_memory_saving", "param_movement_energy_ratio"} <= set(b)
    assert a["gemm_energy_saving"] == pytest.approx(0.93)
    assert a["param_memory_saving"] == pytest.approx(1 - 1000 / 3200)
    assert a["param_memory_saving_packed"] == pytest.approx(1 - 900 / 3200)
    assert a["accuracy_delta"] == pytest.approx(-0.005)
    assert a["f1_delta"] is None
    assert b["param_memory_saving"] == pytest.approx(1 - 900 / 4000)  # packed vs 40 bits/param
    assert b["param_memory_saving_containers"] == pytest.approx(1 - 1000 / 4000)
    assert b["param_memory_saving_vs_tfmot_actual"] == pytest.approx(1 - 900 / 3300)
    assert b["param_movement_energy_ratio"] == pytest.approx(15 / 60)


def test_f1_delta_and_extra_rows():
    runs = _runs()
    runs["fp32"]["test_f1"], runs["rct"]["test_f1"] = 0.90, 0.89
    runs["rct_fixed8"] = _metrics()
    c = compare_dict(runs)
    assert c["rct_vs_fp32"]["f1_delta"] == pytest.approx(-0.01)
    assert "rct_fixed8" in c["runs"]


def test_missing_run_or_field_is_a_user_error():
    runs = _runs()
    del runs["qat"]
    with pytest.raises(UserError, match="qat"):
        compare_dict(runs)
    runs = _runs()
    del runs["rct"]["param_movement_pj_per_step"]
    with pytest.raises(UserError, match="param_movement_pj_per_step"):
        compare_dict(runs)


def test_zero_baseline_gives_null_not_nan(tmp_path):
    runs = _runs()
    runs["qat"]["param_movement_pj_per_step"] = 0.0
    c = write_compare(runs, tmp_path)
    assert c["rct_vs_qat"]["param_movement_energy_ratio"] is None
    json.loads((tmp_path / "compare.json").read_text())  # strict JSON, no NaN


def test_write_compare_files(tmp_path):
    out = tmp_path / "cmp"
    c = write_compare(_runs(), out)
    assert sorted(p.name for p in out.iterdir()) == ["compare.json", "compare.md",
                                                     "energy_memory.png"]
    assert results.load(out / "compare.json") == results.stamp("compare.json", c)
    md = (out / "compare.md").read_text()
    assert "| rct | 94.50% |" in md
    assert "93.0%" in md  # GEMM energy saving
    assert "77.5%" in md  # packed RCT vs 40 bits/param
    assert (out / "energy_memory.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_end_to_end_with_energy_model(tmp_path):
    layers = [Layer("d", "dense", {"units": 10, "activation": "linear"}, (64,), (10,),
                    {"kernel": "d/kernel", "bias": "d/bias"})]
    art = ModelArtefact(layers, {"d/kernel": QTensor(np.zeros((64, 10), np.int32), -7, 8),
                                 "d/bias": QTensor(np.zeros(10, np.int32), -7, 8)}, (64,), 10)
    runs = {}
    for m in ("fp32", "qat", "rct"):
        r = run_costs(art, m, [], 100, 32)
        r.update(test_accuracy=0.9, test_f1=None, final_bitwidths={})
        runs[m] = r
    c = write_compare(runs, tmp_path)
    assert c["rct_vs_fp32"]["gemm_energy_saving"] == pytest.approx(1 - 0.3 / 4.6)
    assert c["rct_vs_fp32"]["param_memory_saving"] == pytest.approx(0.75)
    assert c["rct_vs_qat"]["param_memory_saving"] == pytest.approx(0.8)


def test_report_does_not_import_tensorflow():
    import subprocess
    code = ("import sys, rct_tflm.report.compare, rct_tflm.energy; "
            "sys.exit(1 if 'tensorflow' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
