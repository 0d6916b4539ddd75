"""`rct-tflm report`: one Markdown + JSON summary (and plots) of the runs found under some folders.

It reads what the other stages wrote — `compare.json` (the trainer's fp32/QAT/RCT), `metrics.json`
(`rct-tflm train`), a partitioned `model.rct`, `build.json` (firmware size), `emulate.json`
(golden / host C engine), `stream.json` (on-device training over the link) and `fleet.json`
(`rct-tflm fleet`) — and writes
`report.md`, `report.json` and plots (device_plots.py: bitwidths, accuracy over samples with
the known/new classes split, confusion matrix, RAM/flash) when there is something to draw. Runs
are grouped by the model and stream they trained; weights are compared only inside a group. Nothing is recomputed: the report only shows measured numbers. numpy and
matplotlib only.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..formats import results
from .compare import json_safe
from ..formats.atomic import write_text
from ..program import load_artefact
from .device_plots import plot_confusion, plot_device_accuracy, plot_memory
from .fleet_section import fleet_section
from .train_plots import plot_bitwidth_history

RUN_FILES = ("compare.json", "metrics.json", "emulate.json", "stream.json", "build.json",
             "fleet.json")


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{100 * float(v):.1f}%"


def _load_json(p: Path) -> dict:
    return results.load(p)  # format and version checked: one line for a file it cannot read


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
                art = load_artefact(p)
                # trained copies of a partitioned model carry the same plan: show it once
                if art.partition and all(art.partition != q for _, q in found["partition"]):
                    found["partition"].append((p, art.partition))
    # metrics.json inside a compare folder is already in its compare.json
    compare_dirs = {p.parent for p, _ in found["compare.json"]}
    found["metrics.json"] = [(p, m) for p, m in found["metrics.json"]
                             if p.parent.parent not in compare_dirs]
    return found


def _compare_section(c: dict) -> list[str]:
    runs = c["runs"]
    lines = ["| method | test accuracy | GEMM energy / step | param memory (peak) | "
             "param movement / step | final bits |", "|---|---|---|---|---|---|"]
    for meth, r in runs.items():
        bits = "/".join(str(b) for b in (r.get("final_bitwidths") or {}).values())
        lines.append(f"| {meth} | {_pct(r.get('test_accuracy'))} | "
                     f"{r['gemm_energy_pj_per_step'] / 1e6:.2f} µJ | "
                     f"{r['param_memory_bits_peak'] / 8192:.2f} KiB | "
                     f"{r['param_movement_pj_per_step'] / 1e6:.3f} µJ | {bits} |")
    f, q = c.get("rct_vs_fp32", {}), c.get("rct_vs_qat", {})
    lines += ["", f"RCT vs FP32: GEMM energy saving **{_pct(f.get('gemm_energy_saving'))}**, "
              f"parameter memory saving **{_pct(f.get('param_memory_saving'))}** (device "
              f"containers) / **{_pct(f.get('param_memory_saving_packed'))}** (packed), accuracy "
              f"delta {100 * (f.get('accuracy_delta') or 0):+.2f} points.",
              f"RCT vs QAT: parameter memory saving **{_pct(q.get('param_memory_saving'))}**, "
              f"parameter-movement energy ratio {q.get('param_movement_energy_ratio') or 0:.2f}."]
    return lines


def _run_row(name: str, kind: str, r: dict) -> str:
    where = r.get("board") or r.get("target") or "?"
    return (f"| `{name}` | {kind} | {where} | {_pct(r.get('test_accuracy_before'))} | "
            f"{_pct(r.get('test_accuracy_after'))} | {r.get('samples', 'n/a')} | "
            f"{r.get('samples_per_s') or 0:.0f} | `{str(r.get('weights_sha256', ''))[:16]}` |")


def same_run_key(r: dict) -> tuple:
    """Runs that trained the same model on the same stream: only their weights may be compared
    (a different model, data, seed or length gives other weights by design)."""
    return (str(r.get("model")), str(r.get("data")), r.get("seed"), r.get("epochs"),
            r.get("batch"), r.get("max_samples"))


def _memory_of(build_json: Path, b: dict) -> dict | None:
    p = build_json.parent / str(b.get("model_dir", "model")) / "memory.json"
    try:  # the generated tree's memory report (codegen/report.py); a chart without it is fine
        return json.loads(p.read_text()) if p.is_file() else None
    except (OSError, ValueError):
        return None


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
                        f"written by train, compare, partition, build, emulate, stream or fleet")
    out.mkdir(parents=True, exist_ok=True)
    md = ["# rct_tflm report", ""]
    summary: dict[str, Any] = {"sources": [str(d) for d in dirs]}
    def img(path: Path, alt: str) -> list[str]:
        return [f"![{alt}]({os.path.relpath(path, out)})", ""] if path.is_file() else []

    for p, c in found["compare.json"]:
        md += [f"## Trainer: FP32 vs QAT vs RCT (`{_rel(p.parent)}`)", ""] + _compare_section(c) + [""]
        md += img(p.parent / "energy_memory.png", "energy and memory") + \
            img(p.parent / "rct" / "bitwidths.png", "RCT bitwidths in the trainer")
        summary.setdefault("compare", []).append({"path": str(p), "rct_vs_fp32": c.get("rct_vs_fp32"),
                                                  "rct_vs_qat": c.get("rct_vs_qat")})
    for p, m in found["metrics.json"]:
        md += [f"## Trainer run `{_rel(p.parent)}`", "",
               f"{m.get('method', '?').upper()} on {str(m.get('data')).replace(str(root) + '/', '')}: test accuracy "
               f"{_pct(m.get('test_accuracy'))}, final bits "
               f"{'/'.join(str(b) for b in (m.get('final_bitwidths') or {}).values())}.", ""]
    for p, plan in found["partition"]:
        md += [f"## Partition for {plan['board']} (`{_rel(p)}`)", "",
               f"Frozen int8 layers (flash): {', '.join(plan['frozen_layers']) or '-'} "
               f"({plan['frozen_flash_bytes']} B). Trainable RCT layers (RAM): "
               f"{', '.join(plan['trainable_layers'])} ({plan['trainable_params']} parameters, "
               f"{plan['ram']['model_total']} B for a training step).", ""]
    for i, (p, b) in enumerate(found["build.json"]):
        if "size_text" in b:
            md += [f"## Firmware (`{_rel(p.parent)}`)", "", b["size_text"], ""]
            summary.setdefault("firmware", []).append({"path": str(p), "size": b.get("size")})
            if b.get("size"):
                png = out / ("memory.png" if i == 0 else f"memory_{i}.png")
                plot_memory(_rel(p.parent), b["size"], _memory_of(p, b), png)
                md += [f"![RAM and flash]({png.name})", ""]
    runs = [(_rel(p.parent), "emulate", r) for p, r in found["emulate.json"]] + \
           [(_rel(p.parent), "stream", r) for p, r in found["stream.json"]]
    groups: dict[tuple, list[tuple[str, str, dict]]] = {}
    for run in runs:
        groups.setdefault(same_run_key(run[2]), []).append(run)
    if runs:
        md += ["## Training after deployment (integer engine)", ""]
        summary["runs"], summary["groups"] = [], []
    for gi, (key, members) in enumerate(groups.items()):
        first = members[0][2]
        model = Path(str(first.get("model"))).name
        md += [f"### Model `{model}` on {first.get('data')} ({first.get('epochs')} epochs, seed "
               f"{first.get('seed')}, batch {first.get('batch')})", "",
               "| run | kind | target | accuracy before | accuracy after | samples | samples/s "
               "| weights sha256 |", "|---|---|---|---|---|---|---|---|"]
        md += [_run_row(name, k, r) for name, k, r in members]
        shas = {r.get("weights_sha256") for _, _, r in members if r.get("weights_sha256")}
        same = None
        if len(members) > 1 and shas:
            same = len(shas) == 1
            md += ["", f"Final trainable weights are {'**bit-identical**' if same else '**different**'} "
                       f"across {', '.join(f'`{n}`' for n, _, _ in members)} (same model and stream)."]
        summary["groups"].append({"model": first.get("model"), "runs": [n for n, _, _ in members],
                                  "weights_identical": same})
        for name, k, r in members:
            if k == "stream" and r.get("wire_bytes"):
                md += ["", f"Link (`{name}`): {r['wire_bytes']:,} bytes on the wire, protocol "
                           f"overhead {_pct(r.get('overhead_fraction'))} of the training traffic, "
                           f"{r.get('retransmits', 0)} retransmits, "
                           f"{r.get('samples_per_s') or 0:.0f} samples/s."]
        md.append("")
        tag = "" if gi == 0 else f"_{gi}"
        main = next((r for _, k, r in members if k == "stream"), first)
        main_name = next((n for n, _, r in members if r is main))
        if main.get("bitwidth_history"):
            plot_bitwidth_history(main["bitwidth_history"], int(main.get("samples", 0)),
                                  f"bitwidth per tensor on the device ({main_name})",
                                  out / f"bitwidths_device{tag}.png")
            md += [f"![bitwidths](bitwidths_device{tag}.png)", ""]
        plot_device_accuracy([(n, r) for n, _, r in members], out / f"device_accuracy{tag}.png")
        md += [f"![accuracy](device_accuracy{tag}.png)", ""]
        # the board's own predictions first: a stream run's confusion, else an emulate run's
        with_conf = next(((n, r) for n, k, r in sorted(members, key=lambda m: m[1] != "stream")
                          if r.get("confusion")), None)
        if with_conf:
            plot_confusion(with_conf[0], with_conf[1]["confusion"], out / f"confusion{tag}.png")
            md += [f"![confusion matrix](confusion{tag}.png)", ""]
        summary["runs"] += [{"name": n, "kind": k, **{f: r.get(f) for f in (
            "board", "target", "model", "test_accuracy_before", "test_accuracy_after", "samples",
            "samples_per_s", "weights_sha256", "wire_bytes", "payload_bytes")}}
            for n, k, r in members]
    for p, f in found["fleet.json"]:
        md += fleet_section(_rel(p.parent), f, lambda png, alt: img(p.parent / png, alt))
        summary.setdefault("fleets", []).append(
            {"path": str(p), **{k: f.get(k) for k in ("boards", "rounds", "final_test_accuracy",
                                                      "gap_points_last_k", "weights_sha256")}})
    if len(groups) == 1:
        summary["weights_identical"] = summary["groups"][0]["weights_identical"]
    write_text(out / "report.md", "\n".join(md) + "\n")
    results.save(out / "report.json", json_safe(summary))
    return summary
