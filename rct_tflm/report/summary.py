"""`rct-tflm report`: one Markdown + JSON summary (and plots) of the runs found under some folders.

It reads what the other stages wrote — `compare.json` (host fp32/QAT/RCT), `metrics.json`
(`rct-tflm train`), a partitioned `model.rct`, `build.json` (firmware size), `emulate.json`
(golden / host C engine) and `stream.json` (on-device training over the link) — and writes
`report.md`, `report.json` and `bitwidths_device.png` / `device_accuracy.png` when there is
something to draw. Nothing is recomputed: the report only shows measured numbers. numpy and
matplotlib only.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..artefact import ModelArtefact
from ..errors import UserError
from .compare import json_safe
from .train_plots import figure, plot_bitwidth_history, save_png

RUN_FILES = ("compare.json", "metrics.json", "emulate.json", "stream.json", "build.json")


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{100 * float(v):.1f}%"


def _load_json(p: Path) -> dict:
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read {p} ({type(e).__name__}); re-run the stage that wrote it") from None


def collect(dirs: list[Path]) -> dict[str, list[tuple[Path, dict]]]:
    """Every known result file under `dirs`, by file name (sorted paths)."""
    found: dict[str, list[tuple[Path, dict]]] = {k: [] for k in RUN_FILES}
    found["partition"] = []
    for d in dirs:
        if not d.exists():
            raise UserError(f"'{d}' does not exist; give folders written by rct-tflm commands")
        files = [d] if d.is_file() else sorted(d.rglob("*"))
        for p in files:
            if p.name in RUN_FILES:
                found[p.name].append((p, _load_json(p)))
            elif p.suffix == ".rct":
                art = ModelArtefact.load(p)
                # trained copies of a partitioned model carry the same plan: show it once
                if art.partition and all(art.partition != q for _, q in found["partition"]):
                    found["partition"].append((p, art.partition))
    # metrics.json inside a compare folder is already in its compare.json
    compare_dirs = {p.parent for p, _ in found["compare.json"]}
    found["metrics.json"] = [(p, m) for p, m in found["metrics.json"]
                             if p.parent.parent not in compare_dirs]
    return found


def plot_device_accuracy(rows: list[tuple[str, float, float]], path: Path) -> None:
    plt = figure()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [100 * r[1] for r in rows], width=0.4, label="before")
    ax.bar([x + 0.2 for x in xs], [100 * r[2] for r in rows], width=0.4, label="after")
    ax.set_xticks(list(xs), [r[0] for r in rows], fontsize=8)
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("training after deployment: accuracy before and after")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    save_png(fig, path)


def _compare_section(c: dict) -> list[str]:
    runs = c["runs"]
    lines = ["| method | test accuracy | GEMM energy / step | param memory (peak) | "
             "param movement / step | final bits |", "|---|---|---|---|---|---|"]
    for meth, r in runs.items():
        bits = "/".join(str(b) for b in (r.get("final_bitwidths") or {}).values())
        lines.append(f"| {meth} | {_pct(r.get('test_accuracy'))} | "
                     f"{r['gemm_energy_pj_per_step'] / 1e6:.2f} uJ | "
                     f"{r['param_memory_bits_peak'] / 8192:.2f} KiB | "
                     f"{r['param_movement_pj_per_step'] / 1e6:.3f} uJ | {bits} |")
    f, q = c.get("rct_vs_fp32", {}), c.get("rct_vs_qat", {})
    lines += ["", f"RCT vs FP32: GEMM energy saving **{_pct(f.get('gemm_energy_saving'))}**, "
              f"parameter memory saving **{_pct(f.get('param_memory_saving'))}** (device "
              f"containers) / **{_pct(f.get('param_memory_saving_packed'))}** (packed), accuracy "
              f"delta {100 * (f.get('accuracy_delta') or 0):+.2f} points.",
              f"RCT vs QAT: parameter memory saving **{_pct(q.get('param_memory_saving'))}**, "
              f"parameter-movement energy ratio {q.get('param_movement_energy_ratio') or 0:.2f}."]
    return lines


def _run_row(kind: str, p: Path, r: dict) -> str:
    where = r.get("board") or r.get("target") or "?"
    return (f"| {kind} | {where} | {_pct(r.get('test_accuracy_before'))} | "
            f"{_pct(r.get('test_accuracy_after'))} | {r.get('samples', 'n/a')} | "
            f"{r.get('samples_per_s', 0):.0f} | `{str(r.get('weights_sha256', ''))[:16]}` |")


def build_report(dirs: list[Path], out: Path) -> dict:
    """Write report.md / report.json (+ plots) into `out`; returns the JSON summary."""
    root = Path(os.path.commonpath([str(Path(d).resolve()) for d in dirs]))
    root = root.parent if root.is_file() else root

    def _rel(p: Path) -> str:
        """Paths are shown relative to the common folder of the sources."""
        return str(Path(p).resolve().relative_to(root))

    found = collect(dirs)
    if not any(found.values()):
        raise UserError(f"no rct-tflm results under {', '.join(map(str, dirs))}; give folders "
                        f"written by train, compare, partition, build, emulate or stream")
    out.mkdir(parents=True, exist_ok=True)
    md = ["# rct_tflm report", ""]
    summary: dict[str, Any] = {"sources": [str(d) for d in dirs]}
    def img(path: Path, alt: str) -> list[str]:
        return [f"![{alt}]({os.path.relpath(path, out)})", ""] if path.is_file() else []

    for p, c in found["compare.json"]:
        md += [f"## Host training: FP32 vs QAT vs RCT (`{_rel(p.parent)}`)", ""] + _compare_section(c) + [""]
        md += img(p.parent / "energy_memory.png", "energy and memory") + \
            img(p.parent / "rct" / "bitwidths.png", "RCT bitwidths during host training")
        summary.setdefault("compare", []).append({"path": str(p), "rct_vs_fp32": c.get("rct_vs_fp32"),
                                                  "rct_vs_qat": c.get("rct_vs_qat")})
    for p, m in found["metrics.json"]:
        md += [f"## Host training run `{_rel(p.parent)}`", "",
               f"{m.get('method', '?').upper()} on {str(m.get('data')).replace(str(root) + '/', '')}: test accuracy "
               f"{_pct(m.get('test_accuracy'))}, final bits "
               f"{'/'.join(str(b) for b in (m.get('final_bitwidths') or {}).values())}.", ""]
    for p, plan in found["partition"]:
        md += [f"## Partition for {plan['board']} (`{_rel(p)}`)", "",
               f"Frozen int8 layers (flash): {', '.join(plan['frozen_layers']) or '-'} "
               f"({plan['frozen_flash_bytes']} B). Trainable RCT layers (RAM): "
               f"{', '.join(plan['trainable_layers'])} ({plan['trainable_params']} parameters, "
               f"{plan['ram']['model_total']} B for a training step).", ""]
    for p, b in found["build.json"]:
        if "size_text" in b:
            md += [f"## Firmware (`{_rel(p.parent)}`)", "", b["size_text"], ""]
            summary.setdefault("firmware", []).append({"path": str(p), "size": b.get("size")})
    runs = [("emulate", p, r) for p, r in found["emulate.json"]] + \
           [("stream", p, r) for p, r in found["stream.json"]]
    if runs:
        md += ["## Training after deployment (integer engine)", "",
               "| run | target | accuracy before | accuracy after | samples | samples/s | weights sha256 |",
               "|---|---|---|---|---|---|---|"]
        md += [_run_row(k, p, r) for k, p, r in runs]
        shas = {r.get("weights_sha256") for _, _, r in runs if r.get("weights_sha256")}
        if len(runs) > 1:
            same = len(shas) == 1
            md += ["", f"Final trainable weights are {'**bit-identical**' if same else '**different**'} "
                       f"across {', '.join(sorted({str(r.get('board') or r.get('target')) for _, _, r in runs}))}."]
            summary["weights_identical"] = same
        for k, p, r in runs:
            if k == "stream":
                if r.get("wire_bytes"):
                    md += ["", f"Link (`{_rel(p.parent)}`): {r['wire_bytes']} bytes on the wire, "
                               f"protocol overhead {_pct(r.get('overhead_fraction'))} of the "
                               f"training traffic, {r.get('retransmits', 0)} retransmits, "
                               f"{r.get('samples_per_s', 0):.0f} samples/s."]
        md.append("")
        main = next((r for k, _, r in runs if k == "stream"), runs[0][2])
        if main.get("bitwidth_history"):
            plot_bitwidth_history(main["bitwidth_history"], int(main.get("samples", 0)),
                                  f"bitwidth per tensor during on-device training "
                                  f"({main.get('board') or main.get('target')})",
                                  out / "bitwidths_device.png")
            md += ["![bitwidths](bitwidths_device.png)", ""]
        plot_device_accuracy([(f"{k}:{r.get('board') or r.get('target')}",
                               float(r.get("test_accuracy_before") or 0),
                               float(r.get("test_accuracy_after") or 0)) for k, _, r in runs],
                             out / "device_accuracy.png")
        md += ["![accuracy](device_accuracy.png)", ""]
        summary["runs"] = [{"kind": k, "path": str(p),
                            **{f: r.get(f) for f in ("board", "target", "test_accuracy_before",
                                                     "test_accuracy_after", "samples",
                                                     "samples_per_s", "weights_sha256",
                                                     "wire_bytes", "payload_bytes")}}
                           for k, p, r in runs]
    (out / "report.md").write_text("\n".join(md) + "\n")
    (out / "report.json").write_text(json.dumps(json_safe(summary), indent=1))
    return summary
