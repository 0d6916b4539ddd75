#!/usr/bin/env python3
"""Reproduce the RCT paper's comparison on our own runs: bench/paper.json + bench/paper.md.

Models: MNIST-10k CNN and MLP (fixed 8,000/2,000 split of the t10k files), the SMS spam text
model (F1) and the digits MLP. Rows per model: fp32, qat, rct, rct fixed at 8 bits, rct with
round-to-nearest updates; plus the underflow pair at a small learning rate: fixed 8-bit
round-to-nearest (the update underflows the grid and learning stalls) against RCT's dynamic
bitwidth. Energy and memory come from rct_tflm.energy (docs/energy.md).

    .venv/bin/python tools/bench_paper.py            # full run (~4 min on 2 busy cores)
    .venv/bin/python tools/bench_paper.py --quick    # fewer epochs
    .venv/bin/python tools/bench_paper.py --only digits
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from rct_tflm.formats.atomic import write_text  # noqa: E402
DATASETS = (ROOT / ".." / "shared" / "datasets").resolve()

# name -> what to train; `needs` is the file that must exist; epochs (full, quick); lr is the
# SGD learning rate of every row but the underflow ones, which run at `underflow_lr`.
BENCHMARKS: dict[str, dict] = {
    "mnist-cnn": {"model": "builtin:cnn", "data": f"mnist-idx:{DATASETS / 'mnist10k'}",
                  "needs": DATASETS / "mnist10k", "epochs": (4, 1), "metric": "accuracy",
                  "lr": 0.1, "underflow_lr": 0.005},
    "mnist-mlp": {"model": "builtin:mlp784", "data": f"mnist-idx:{DATASETS / 'mnist10k'}",
                  "needs": DATASETS / "mnist10k", "epochs": (6, 2), "metric": "accuracy",
                  "lr": 0.1, "underflow_lr": 0.005},
    # The text model learns slowly under plain SGD (sparse embedding updates through a mean
    # pool): lr 0.5 and 20 epochs for every method. Its underflow rows run at lr 0.05 (a tenth):
    # at 0.005 not even FP32 leaves "all ham" within 20 epochs (F1 0 for every row), and at
    # 0.02 every row's F1 is small and seed-dependent (seed 1: FP32 26, fixed 8-bit RTN 27).
    "sms": {"model": "builtin:text", "data": f"sms:{DATASETS / 'sms_spam' / 'SMSSpamCollection'}",
            "needs": DATASETS / "sms_spam" / "SMSSpamCollection", "epochs": (20, 6),
            "metric": "f1", "lr": 0.5, "underflow_lr": 0.05},
    "digits": {"model": "builtin:mlp", "data": "digits", "needs": None, "epochs": (20, 6),
               "metric": "accuracy", "lr": 0.1, "underflow_lr": 0.005},
}
# row -> trainer options (see _config); "underflow" rows run at the model's underflow_lr.
ROWS: dict[str, dict] = {
    "fp32": {"method": "fp32"},
    "qat": {"method": "qat"},
    "rct": {"method": "rct"},
    "rct-fixed8": {"method": "rct", "fixed_bits": 8},
    "rct-nearest": {"method": "rct", "rounding": "nearest"},
    "underflow-fixed8-nearest": {"method": "rct", "fixed_bits": 8, "rounding": "nearest",
                                 "underflow": True},
    "underflow-rct": {"method": "rct", "underflow": True},
    # what float training reaches at that learning rate and epoch budget: the yardstick
    "underflow-fp32": {"method": "fp32", "underflow": True},
}
TARGETS = {"gemm_energy_saving": 0.90, "param_memory_saving": 0.46,
           "param_memory_saving_packed": 0.60, "vs_qat_param_memory_saving": 0.63}
ACCURACY_TOLERANCE = {"mnist-cnn": 0.010, "digits": 0.010, "sms": 0.015}  # points / 100
# The underflow demonstration: fixed 8-bit RTN must trail float training at the small lr by
# this much (it stalls), and RCT must close at least RECOVER_SHARE of that gap.
UNDERFLOW_MIN_GAP = 0.05
RECOVER_SHARE = 0.5


def _config(bench: dict, row: dict, epochs: int, seed: int):
    """The trainer's TrainConfig for one row (rct_tflm/trainer/runner.py; defaults = the CLI's)."""
    from dataclasses import replace

    from rct_tflm.trainer.runner import TrainConfig

    cfg = TrainConfig(model=bench["model"], data=bench["data"], method=row["method"],
                      epochs=epochs, seed=seed,
                      lr=bench["underflow_lr"] if row.get("underflow") else bench["lr"])
    if "rounding" in row:
        cfg.rounding = row["rounding"]
    if "fixed_bits" in row:  # controller off, every tensor stays at this width
        cfg.bits = "fixed"
        cfg.controller = replace(cfg.controller, bits_init=row["fixed_bits"])
    return cfg


def run_row(bench: dict, row: dict, epochs: int, seed: int, cache: dict | None = None,
            progress=None) -> dict:
    """Train one row (no files kept). `cache` keeps the loaded data and imported model graph
    for the model's other rows (they share model, data and seed); `progress` gets each step."""
    from rct_tflm.trainer.runner import prepare, train_run

    cfg = _config(bench, row, epochs, seed)
    cache = {} if cache is None else cache
    if "prep" not in cache:
        cache["prep"] = prepare(cfg)
    prep = cache["prep"]
    t0 = time.time()
    metrics = dict(train_run(cfg, None, progress or False, prep=prep))
    metrics["wall_seconds"] = round(time.time() - t0, 1)
    return metrics


def _score(m: dict, metric: str) -> float:
    v = m.get("test_f1") if metric == "f1" else m.get("test_accuracy")
    return float("nan") if v is None else float(v)


def _kernel_bits(m: dict) -> str:
    """Final bitwidths of the kernels (biases left out) in layer order, e.g. '8/9/7'."""
    fb = m.get("final_bitwidths") or {}
    ks = [str(b) for n, b in fb.items() if "bias" not in n]
    return "/".join(ks) if ks else "-"


def row_savings(m: dict, fp32: dict, qat: dict) -> dict:
    from rct_tflm.energy import saving

    return {
        "gemm_energy_saving": saving(m["gemm_energy_pj_per_step"],
                                     fp32["gemm_energy_pj_per_step"]),
        "param_memory_saving": saving(m["param_memory_bits_peak"],
                                      fp32["param_memory_bits_peak"]),
        "param_memory_saving_packed": saving(m["param_memory_bits_peak_packed"],
                                             fp32["param_memory_bits_peak"]),
        "vs_qat_param_memory_saving": saving(m["param_memory_bits_peak_packed"],
                                             qat["param_memory_bits_peak"]),
        "vs_qat_param_movement_energy_ratio": (m["param_movement_pj_per_step"]
                                               / qat["param_movement_pj_per_step"]),
    }


def bench_one(name: str, bench: dict, epochs: int, seed: int, bar=None) -> dict:
    """All ROWS of one model; `bar` (tqdm) advances one tick per training step."""
    from rct_tflm.report.compare import compare_dict

    cache: dict = {}
    runs: dict[str, dict] = {}
    for row_name, row in ROWS.items():
        tick = None
        if bar is not None:
            bar.set_description(f"{name} {row_name}")
            tick = lambda info: bar.update(1)  # noqa: E731
        m = run_row(bench, row, epochs, seed, cache, tick)
        runs[row_name] = m
        line = (f"  {name:10s} {row_name:34s} {bench['metric']} "
                f"{100 * _score(m, bench['metric']):6.2f}  bits {_kernel_bits(m):14s} "
                f"{m['wall_seconds']:6.1f} s")
        (bar.write if bar is not None else print)(line)
    cmp = compare_dict(runs)
    rows = {}
    for row_name, m in runs.items():
        rows[row_name] = {"score": _score(m, bench["metric"]), "lr": m.get("lr"),
                          "score_delta_vs_fp32": (_score(m, bench["metric"])
                                                  - _score(runs["fp32"], bench["metric"])),
                          "test_accuracy": m.get("test_accuracy"), "test_f1": m.get("test_f1"),
                          "final_bitwidths": m.get("final_bitwidths"),
                          "mean_bits": m.get("mean_bits"), "wall_seconds": m["wall_seconds"],
                          **row_savings(m, runs["fp32"], runs["qat"])}
    return {"model": bench["model"], "data": bench["data"], "epochs": epochs,
            "lr": bench["lr"], "underflow_lr": bench["underflow_lr"],
            "metric": bench["metric"], "rows": rows, "compare": cmp,
            "checks": checks(name, rows)}


def _total_steps(names: list[str], quick: bool, seed: int) -> int:
    """Training steps of the whole benchmark (every row of every model): the bar's total."""
    from rct_tflm.data import load_dataset
    from rct_tflm.trainer.runner import steps_per_run

    total = 0
    for name in names:
        b = BENCHMARKS[name]
        cfg = _config(b, ROWS["rct"], b["epochs"][1 if quick else 0], seed)
        total += len(ROWS) * steps_per_run(len(load_dataset(b["data"], seed).x_train), cfg)
    return total


def checks(name: str, rows: dict) -> dict:
    """The issue's targets for this model, measured: {target: {value, want, ok}}."""
    out = {}
    r = rows["rct"]
    for k, want in TARGETS.items():
        out[k] = {"value": r[k], "want": f">= {want}", "ok": bool(r[k] >= want)}
    if name in ACCURACY_TOLERANCE:
        d = r["score"] - rows["fp32"]["score"]
        tol = ACCURACY_TOLERANCE[name]
        out["score_delta_vs_fp32"] = {"value": d, "want": f">= -{tol}", "ok": bool(d >= -tol)}
    lo, hi = rows["underflow-fixed8-nearest"]["score"], rows["underflow-rct"]["score"]
    ref = rows["underflow-fp32"]["score"]
    gap = ref - lo
    out["underflow_fixed8_nearest_stalls"] = {
        "value": gap, "want": f">= {UNDERFLOW_MIN_GAP} (FP32 at the small lr minus fixed 8-bit RTN)",
        "ok": bool(gap >= UNDERFLOW_MIN_GAP)}
    out["underflow_rct_recovers"] = {
        "value": hi - lo, "want": f">= {RECOVER_SHARE} x that gap (RCT minus fixed 8-bit RTN)",
        "ok": bool(gap >= UNDERFLOW_MIN_GAP and hi - lo >= RECOVER_SHARE * gap)}
    return out


def _pct(v) -> str:
    return "n/a" if v is None or v != v else f"{100 * v:.1f}%"


def markdown(result: dict) -> str:
    lines = ["# RCT vs FP32 vs QAT on our own runs", "",
             f"Generated {result['generated']} by `{result['command']}` "
             f"({'quick' if result['quick'] else 'full'} run, seed {result['seed']}, "
             f"{result.get('wall_seconds', 0) / 60:.1f} min on {result['machine']}). "
             "Energy and memory: Horowitz 45 nm model, docs/energy.md. Savings are against FP32 "
             "(memory at its peak); 'vs QAT' is packed RCT against 40 bits/param; movement ratio "
             "is parameter-movement energy / QAT's. Score is test accuracy, F1 (spam class) for "
             "SMS spam; Δ is the score minus the fp32 row's, in points. Underflow rows run at a "
             "small learning rate: fixed 8-bit round-to-nearest updates underflow the grid, RCT "
             "adds low bits; underflow-fp32 is what float training reaches at that rate.", "",
             "| model | row | epochs | lr | score | Δ vs fp32 | GEMM energy saving | "
             "param mem saving (containers) | (packed) | vs QAT 40 b/param | movement / QAT | "
             "final kernel bits |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, b in result["benchmarks"].items():
        for row_name, r in b["rows"].items():
            ratio = r["vs_qat_param_movement_energy_ratio"]
            lines.append(
                f"| {name} | {row_name} | {b['epochs']} | {r.get('lr')} | "
                f"{100 * r['score']:.2f} ({b['metric']}) | "
                f"{100 * r['score_delta_vs_fp32']:+.2f} | "
                f"{_pct(r['gemm_energy_saving'])} | {_pct(r['param_memory_saving'])} | "
                f"{_pct(r['param_memory_saving_packed'])} | "
                f"{_pct(r['vs_qat_param_memory_saving'])} | {ratio:.3f} | "
                f"{_kernel_bits(r)} |")
    lines += ["", "## Targets (issue 2), measured on the `rct` row (underflow: its rows)", ""]
    for name, b in result["benchmarks"].items():
        for k, c in b["checks"].items():
            v = c["value"]
            lines.append(f"- {name} {k}: {v:.4f} (want {c['want']}) "
                         f"{'PASS' if c['ok'] else 'FAIL'}")
    for name, why in result["skipped"].items():
        lines.append(f"- {name}: skipped ({why})")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer epochs (a smoke run)")
    ap.add_argument("--only", choices=sorted(BENCHMARKS), action="append",
                    help="run only this model (repeatable)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench",
                    help="directory for paper.json and paper.md (default: bench/)")
    args = ap.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    names = args.only or list(BENCHMARKS)
    result = {"generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "command": " ".join(["tools/bench_paper.py",
                                   *(argv if argv is not None else sys.argv[1:])]),
              "quick": args.quick, "seed": args.seed,
              "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python "
                         f"{platform.python_version()}",
              "load_average_start": [round(x, 2) for x in os.getloadavg()],
              "benchmarks": {}, "skipped": {}}
    t0 = time.time()
    present = []
    for name in names:
        b = BENCHMARKS[name]
        if b["needs"] is not None and not Path(b["needs"]).exists():
            why = f"data set {b['needs']} is absent"
            print(f"skipping {name}: {why}", flush=True)
            result["skipped"][name] = why
        else:
            present.append(name)
    if present:
        from tqdm import tqdm

        with tqdm(total=_total_steps(present, args.quick, args.seed), unit="step",
                  dynamic_ncols=True, smoothing=0.05) as bar:
            for name in present:
                b = BENCHMARKS[name]
                bar.write(f"{name}: {b['model']} on {b['data']}")
                result["benchmarks"][name] = bench_one(
                    name, b, b["epochs"][1 if args.quick else 0], args.seed, bar)
    result["wall_seconds"] = round(time.time() - t0, 1)
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    md = markdown(result)
    from rct_tflm.report.compare import json_safe  # nan -> null: strict JSON

    # data paths relative to the checkout (../shared/...), not this machine's
    text = json.dumps(json_safe(result), indent=1).replace(str(ROOT.parent) + "/", "../")
    write_text(args.out / "paper.json", text + "\n")
    write_text(args.out / "paper.md", md)
    print()
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
