"""The README's generated tables: the measured results from bench/*.json, the layer matrix
(`rct-tflm layers --markdown`) and the boards (`rct-tflm boards`), written between the README's
`<!-- generated: NAME -->` / `<!-- end: NAME -->` markers. Never edit those blocks by hand.

    .venv/bin/python tools/readme_tables.py           # rewrite README.md
    .venv/bin/python tools/readme_tables.py --check   # exit 1 if README.md is out of date (make test)
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rct_tflm.boards import board_table  # noqa: E402
from rct_tflm.cli.layers import markdown as layers_markdown  # noqa: E402


def _load(name: str) -> dict:
    return json.loads((ROOT / "bench" / name).read_text())


def _pct(v: float, nd: int = 1) -> str:
    return f"{100 * v:.{nd}f} %"


def _pt(v: float) -> str:
    return f"{100 * v:+.2f}".replace("-", "−") + " pt"


def _span(vals: list[float]) -> str:
    lo, hi = min(vals), max(vals)
    return _pct(lo) if f"{100 * lo:.1f}" == f"{100 * hi:.1f}" else f"{100 * lo:.1f}–{_pct(hi)}"


def measured() -> str:
    paper, engine, mcu, link, fleet, tfl = (_load(n) for n in (
        "paper.json", "engine.json", "mcu.json", "link.json", "fleet.json", "tflite.json"))
    fl = {r["scenario"]: r for r in fleet["rows"]}
    b = paper["benchmarks"]
    rct = {n: x["rows"]["rct"] for n, x in b.items()}
    names = {"mnist-cnn": "MNIST CNN", "mnist-mlp": "MNIST MLP", "digits": "digits",
             "sms": "SMS spam F1"}
    deltas = ", ".join(f"{names.get(n, n)} {_pt(r['score_delta_vs_fp32'])}" for n, r in rct.items())
    under = [x["rows"] for x in b.values()]
    gap = max(abs(r["underflow-rct"]["score"] - r["underflow-fp32"]["score"]) for r in under)
    lr_small = sorted({x["underflow_lr"] for x in b.values()})
    acc = {a["model"]: a for a in engine["accuracy"]}
    memory = _load("memory.json")["rows"]
    built = [r for r in memory if r["outcome"] == "built"]
    worst = max(abs(r["ram_diff_pct"]) for r in built)
    mb = next(r for r in built if r["model"].startswith("mobilenet"))

    def int_row(m: str) -> str:
        a = acc[m]
        bits = sorted({t["bits"] for n, t in a["int_final_bitwidths"].items() if n.endswith("kernel")})
        return f"{m} {_pt(a['delta_points'] / 100)} (final kernels {'/'.join(map(str, bits))} bits)"
    h = engine["head_only"]
    step = {(r["model"], r["kernels_impl"]): r for r in mcu["rct_tflm"]}
    peer = {p["peer"]: p for p in mcu["peers"]}
    mlp = step[("mlp", "fast")]
    aifes = peer["aifes"]["train_step_instructions"]
    mem = {m["model"]: m for m in engine["memory"]}["digits-64-32-10"]
    q = link["targets"]["qemu-stm32f405"]
    rows = [
        ("RCT vs FP32, GEMM energy per training step",
         f"{_span([r['gemm_energy_saving'] for r in rct.values()])} saved on all {len(rct)} benchmark models",
         "`make bench` → `bench/paper.json`"),
        ("RCT vs FP32, parameter memory (peak)",
         f"≥ {_pct(min(r['param_memory_saving'] for r in rct.values()))} saved in device containers, "
         f"≥ {_pct(min(r['param_memory_saving_packed'] for r in rct.values()))} packed",
         "`tools/bench_paper.py` → `bench/paper.json`"),
        ("RCT vs QAT (FP32 master + int8 copy)",
         f"≥ {_pct(min(r['vs_qat_param_memory_saving'] for r in rct.values()))} parameter memory "
         f"saved; parameter-movement energy ×{max(r['vs_qat_param_movement_energy_ratio'] for r in rct.values()):.2f} at most",
         "`bench/paper.json`"),
        ("RCT accuracy minus FP32", deltas, "`bench/paper.json`"),
        (f"underflow at lr {'/'.join(f'{v:g}' for v in lr_small)}",
         f"fixed 8-bit round-to-nearest stalls ({_span([r['underflow-fixed8-nearest']['score'] for r in under])}); "
         f"RCT within {100 * gap:.2f} pt of FP32", "`bench/paper.json`"),
        ("integer batch-1 training minus FP32 SGD (device controller)",
         "; ".join(int_row(m) for m in acc), "`tools/bench_engine.py` → `bench/engine.json`"),
        ("head-only training on the device after pretraining on digits 0–4",
         f"{_pct(h['accuracy_before'])} → {_pct(h['accuracy_after'])} (FP32 head: "
         f"{_pct(h['fp32_head_accuracy_after'])})", "`bench/engine.json`"),
        ("golden == host C == Cortex-M4 (QEMU stm32f405 with the DSP kernels, mps2-an386 portable)",
         "identical weights and bitwidth history", "`make test`"),
        ("Cortex-M4 training step, digits MLP 64-32-10 (both layers, batch 1)",
         f"{mlp['train_step_instructions']:,} instructions (AIfES f32: {aifes:,}, "
         f"{aifes / mlp['train_step_instructions']:.1f}× more)",
         "`tools/bench_mcu.py` → `bench/mcu.json`"),
        ("Cortex-M4 inference, same MLP",
         f"{mlp['inference_instructions']:,} instructions (CMSIS-NN int8: "
         f"{peer['cmsis-nn']['inference_instructions']:,})", "`bench/mcu.json`"),
        ("Cortex-M4 training step, small CNN / DS-CNN (frozen backbone)",
         f"{step[('cnn', 'fast')]['train_step_instructions']:,} / "
         f"{step[('ds-cnn', 'fast')]['train_step_instructions'] / 1e6:.2f} M instructions",
         "`bench/mcu.json`"),
        ("digits MLP firmware (trains both layers)",
         f"{mlp['flash_bytes'] / 1000:.1f} KB flash, {mlp['ram_bytes'] / 1000:.1f} KB RAM linked "
         f"(model {mem['ram_total'] / 1000:.1f} KB of it)", "`bench/mcu.json`, `bench/engine.json`"),
        ("serial link, 64-byte samples (qemu-stm32f405)",
         f"{_pct(q['overhead_fraction'])} protocol overhead", "`tools/bench_link.py` → `bench/link.json`"),
        (f"fleet of {fl['iid']['boards']} host boards (Flower, integer FedAvg), digits 0–4 head "
         f"learning all ten, {fl['iid']['rounds']} rounds",
         f"IID {_pct(fl['iid']['final_accuracy'])} vs centralised "
         f"{_pct(fl['iid']['centralised_accuracy'][-1])} (centralised − fleet, mean of the last "
         f"{fl['iid']['last_k']} rounds: {fl['iid']['gap_points_last_k']:+.1f} pt); Dirichlet 0.5 "
         f"{_pct(fl['dirichlet']['final_accuracy'])} ({fl['dirichlet']['gap_points_last_k']:+.1f} pt)"
         .replace("-", "−").replace("Dirichlet 0.5", "Dirichlet α = 0.5"),
         "`tools/bench_fleet.py` → `bench/fleet.json`"),
        ("frozen int8 .tflite vs the tflite-micro interpreter (`rct-tflm verify`): "
         + ", ".join(r["model"] for r in tfl["rows"]),
         "; ".join(f"{t} {sum(r['targets'][t].get('mismatches', 0) for r in tfl['rows'])} "
                   f"mismatches in {sum(r['targets'][t].get('compared', 0) for r in tfl['rows'])}"
                   for t in ("golden", "host", "qemu-mps2-an500", "qemu-stm32f405"))
         + (" (" + ", ".join(f"{r['model']} does not fit {t}" for r in tfl["rows"]
                            for t, v in r["targets"].items() if "error" in v) + ")"
            if any("error" in v for r in tfl["rows"] for v in r["targets"].values()) else ""),
         "`tools/bench_tflite.py` → `bench/tflite.json`"),
        ("head trained on each of those .tflite (`partition --model x.tflite`, then `build`): "
         "the frozen layer at the cut vs tflite-micro, linked RAM vs the plan",
         f"{sum(r['head_path']['frozen_vs_tflm_at_cut']['mismatches'] for r in tfl['rows'])} "
         f"mismatches in {sum(r['head_path']['frozen_vs_tflm_at_cut']['compared'] for r in tfl['rows'])}; "
         + "; ".join(f"{r['model']}: " + ", ".join(
             f"{b} {v['outcome']}" + (f" ({v['ram_diff_pct']:+.1f} %)" if v["outcome"] == "built"
                                      else "")
             for b, v in r["head_path"]["boards"].items()) for r in tfl["rows"]),
         "`tools/bench_tflite.py` → `bench/tflite.json`"),
        ("fleet of 4 qemu-stm32f405 boards vs 4 host boards, 3 rounds",
         "identical global weights" if fl["qemu-vs-host: qemu"]["equals_host"] else
         "DIFFERENT global weights", "`bench/fleet.json`, `make test`"),
        ("linked RAM vs the partition plan (qemu-stm32f405; digits MLP/CNN, MNIST MLP, "
         "MobileNetV1-0.25 96×96, ResNet-8 32×32)",
         f"within {worst:.1f} % for all {len(built)} builds; MobileNet: {mb['planned_total']:,} B "
         f"planned, {mb['measured_total']:,} B linked ({mb['measured']['stage']:,} B staging, "
         f"{mb['measured']['link']:,} B link buffers)", "`tools/bench_memory.py` → `bench/memory.json`"),
    ]
    out = ["| what | result | reproduce |", "|---|---|---|"]
    out += [f"| {a} | {r} | {c} |" for a, r, c in rows]
    return "\n".join(out)


def boards() -> str:
    out = ["| board | MCU | core | flash / RAM | emulated by | flashed with |", "|---|---|---|---|---|---|"]
    for r in board_table():
        name = f"**{r['name']}** (default)" if r["default"] else r["name"]
        qemu = f"QEMU `{r['qemu']}`" if r["qemu"] != "-" else "-"
        flash = "-" if r["qemu"] != "-" else "pyOCD, st-flash or OpenOCD"
        out.append(f"| {name} | {r['mcu']} | {r['core']} | {r['flash_kb']} / {r['ram_kb']} KB | "
                   f"{qemu} | {flash} |")
    return "\n".join(out)


BLOCKS = {"measured": measured, "layers": layers_markdown, "boards": boards}


def render(text: str) -> str:
    for name, fn in BLOCKS.items():
        pat = re.compile(rf"(<!-- generated: {name} [^\n]*-->\n).*?(<!-- end: {name} -->)", re.S)
        if not pat.search(text):
            raise SystemExit(f"README.md has no '<!-- generated: {name} ... -->' block")
        text = pat.sub(lambda m: m.group(1) + fn() + "\n" + m.group(2), text)
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if README.md is out of date")
    args = ap.parse_args()
    readme = ROOT / "README.md"
    old = readme.read_text()
    new = render(old)
    if args.check:
        if new != old:
            print("README.md's generated tables are out of date: run "
                  "`.venv/bin/python tools/readme_tables.py`", file=sys.stderr)
            return 1
        return 0
    readme.write_text(new)
    print(new[new.index("<!-- generated: measured"):new.index("<!-- end: measured -->")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
