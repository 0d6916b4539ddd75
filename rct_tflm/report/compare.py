"""`compare.json`, `compare.md` and `energy_memory.png`: FP32 vs QAT vs RCT on one model.

The schema of `compare.json` (docs/energy.md, issue 2 item 6):
{"runs": {"fp32": R, "qat": R, "rct": R, ...},
 "rct_vs_fp32": {"gemm_energy_saving", "param_memory_saving", "param_memory_saving_packed",
                 "accuracy_delta", "f1_delta"},
 "rct_vs_qat": {"param_memory_saving", "param_movement_energy_ratio",
                "param_memory_saving_containers", "param_memory_saving_vs_tfmot_actual"}}
Savings are fractions (0.86 = 86%) at peak memory; the movement ratio is RCT / QAT.
Every file is written atomically (temp file + rename).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..energy import saving
from ..errors import UserError
from ..formats import results
from ..formats.atomic import atomic_path, write_text

REQUIRED_RUNS = ("fp32", "qat", "rct")
REQUIRED_FIELDS = ("test_accuracy", "gemm_energy_pj_per_step", "param_memory_bits_peak",
                   "param_memory_bits_peak_packed", "param_movement_pj_per_step",
                   "final_bitwidths")
# Non-scalar fields kept in each run's record (everything scalar is kept as well).
_KEEP = ("final_bitwidths", "gemm_energy_breakdown")


def json_safe(v: Any) -> Any:
    """nan/inf are not JSON: they become null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    if hasattr(v, "tolist") and getattr(v, "ndim", 0) > 0:  # numpy array
        return json_safe(v.tolist())
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # numpy scalar
        return json_safe(v.item())
    return v


def _record(name: str, m: dict) -> dict:
    missing = [f for f in REQUIRED_FIELDS if f not in m]
    if missing:
        raise UserError(f"run '{name}' lacks {', '.join(missing)} for the comparison; "
                        "merge energy.run_costs() into its metrics")
    r = {k: v for k, v in m.items()
         if isinstance(v, (int, float, str, bool)) or v is None or k in _KEEP}
    r.setdefault("test_f1", None)
    return r


def compare_dict(runs: dict[str, dict]) -> dict:
    """The comparison (no files): per-run records and RCT's savings against FP32 and QAT."""
    absent = [r for r in REQUIRED_RUNS if r not in runs]
    if absent:
        raise UserError(f"comparison needs runs {', '.join(REQUIRED_RUNS)}; missing "
                        f"{', '.join(absent)}")
    recs = {name: _record(name, m) for name, m in runs.items()}
    f, q, r = recs["fp32"], recs["qat"], recs["rct"]
    f1_delta = (r["test_f1"] - f["test_f1"]
                if r.get("test_f1") is not None and f.get("test_f1") is not None else None)
    tfmot = q.get("param_memory_bits_tfmot_actual")
    out = {
        "runs": recs,
        "rct_vs_fp32": {
            "gemm_energy_saving": saving(r["gemm_energy_pj_per_step"],
                                         f["gemm_energy_pj_per_step"]),
            "param_memory_saving": saving(r["param_memory_bits_peak"],
                                          f["param_memory_bits_peak"]),
            "param_memory_saving_packed": saving(r["param_memory_bits_peak_packed"],
                                                 f["param_memory_bits_peak"]),
            "accuracy_delta": r["test_accuracy"] - f["test_accuracy"],
            "f1_delta": f1_delta,
        },
        "rct_vs_qat": {
            "param_memory_saving": saving(r["param_memory_bits_peak_packed"],
                                          q["param_memory_bits_peak"]),
            "param_movement_energy_ratio": (r["param_movement_pj_per_step"]
                                            / q["param_movement_pj_per_step"]
                                            if q["param_movement_pj_per_step"] else math.nan),
            "param_memory_saving_containers": saving(r["param_memory_bits_peak"],
                                                     q["param_memory_bits_peak"]),
            "param_memory_saving_vs_tfmot_actual": (saving(r["param_memory_bits_peak_packed"],
                                                           tfmot) if tfmot else None),
        },
    }
    return json_safe(out)


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _bits_summary(fb: Any) -> str:
    """Final bitwidths in one cell: 'k:8 b:8 ...' by tensor, shortened."""
    if not isinstance(fb, dict) or not fb:
        return "-"
    return ", ".join(f"{n}={b}" for n, b in fb.items())


def compare_markdown(c: dict) -> str:
    rows = ["| method | accuracy | F1 | GEMM energy (nJ/step) | param memory peak, containers "
            "(KiB) | packed (KiB) | param movement (nJ/step) | mean bits | final bitwidths |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, r in c["runs"].items():
        f1 = "-" if r.get("test_f1") is None else f"{100 * r['test_f1']:.2f}"
        mb = r.get("mean_bits")
        rows.append(
            f"| {name} | {100 * r['test_accuracy']:.2f}% | {f1} | "
            f"{r['gemm_energy_pj_per_step'] / 1e3:.1f} | "
            f"{r['param_memory_bits_peak'] / 8192:.2f} | "
            f"{r['param_memory_bits_peak_packed'] / 8192:.2f} | "
            f"{r['param_movement_pj_per_step'] / 1e3:.2f} | "
            f"{'-' if mb is None else f'{mb:.2f}'} | {_bits_summary(r.get('final_bitwidths'))} |")
    a, b = c["rct_vs_fp32"], c["rct_vs_qat"]
    ratio = b["param_movement_energy_ratio"]
    lines = [
        "# FP32 vs QAT vs RCT", "",
        "Energy per training step and parameter memory from the Horowitz (ISSCC 2014, 45 nm) "
        "model in docs/energy.md; memory at its peak during training.", "",
        *rows, "",
        "## RCT against FP32", "",
        f"- GEMM energy saving: **{_pct(a['gemm_energy_saving'])}**",
        f"- parameter memory saving (int8/int16 device containers): "
        f"**{_pct(a['param_memory_saving'])}**",
        f"- parameter memory saving (packed, b bits per weight): "
        f"**{_pct(a['param_memory_saving_packed'])}**",
        f"- accuracy delta (RCT - FP32): **{100 * a['accuracy_delta']:+.2f} points**",
    ]
    if a.get("f1_delta") is not None:
        lines.append(f"- F1 delta (RCT - FP32): **{100 * a['f1_delta']:+.2f} points**")
    lines += [
        "", "## RCT against QAT", "",
        f"- parameter memory saving, packed RCT vs 40 bits/param (fp32 master + int8 copy): "
        f"**{_pct(b['param_memory_saving'])}**",
        f"- parameter memory saving, RCT containers vs 40 bits/param: "
        f"{_pct(b.get('param_memory_saving_containers'))}",
        f"- parameter memory saving, packed RCT vs what tfmot actually holds: "
        f"{_pct(b.get('param_memory_saving_vs_tfmot_actual'))}",
        f"- parameter movement energy, RCT / QAT: **{'n/a' if ratio is None else f'{ratio:.3f}'}**",
        "",
    ]
    return "\n".join(lines)


def plot_energy_memory(c: dict, path: Path) -> None:
    """Three bar panels: GEMM energy, peak parameter memory (containers, packed), movement."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(c["runs"])
    runs = [c["runs"][n] for n in names]
    x = list(range(len(names)))
    fig, ax = plt.subplots(1, 3, figsize=(13, 4))
    ax[0].bar(x, [r["gemm_energy_pj_per_step"] / 1e6 for r in runs], color="tab:blue")
    ax[0].set_title("GEMM energy per step")
    ax[0].set_ylabel("µJ")
    w = 0.4
    ax[1].bar([i - w / 2 for i in x], [r["param_memory_bits_peak"] / 8192 for r in runs], w,
              label="device containers", color="tab:orange")
    ax[1].bar([i + w / 2 for i in x], [r["param_memory_bits_peak_packed"] / 8192 for r in runs],
              w, label="packed", color="tab:green")
    ax[1].set_title("peak parameter memory")
    ax[1].set_ylabel("KiB")
    ax[1].legend(fontsize=8)
    ax[2].bar(x, [r["param_movement_pj_per_step"] / 1e3 for r in runs], color="tab:purple")
    ax[2].set_title("parameter movement per step")
    ax[2].set_ylabel("nJ")
    for a in ax:
        a.set_xticks(x)
        a.set_xticklabels(names, rotation=20, fontsize=8)
    fig.suptitle("FP32 vs QAT vs RCT (Horowitz 45 nm model, docs/energy.md)")
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)


def write_compare(runs: dict[str, dict], out_dir: Path) -> dict:
    """Write compare.json, compare.md and energy_memory.png into `out_dir`; return the dict."""
    c = compare_dict(runs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_energy_memory(c, out_dir / "energy_memory.png")
    write_text(out_dir / "compare.md", compare_markdown(c))
    results.save(out_dir / "compare.json", c)
    return c
