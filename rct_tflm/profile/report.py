"""profile.json, the printed table and the stacked-bar plot of a profile record."""
from __future__ import annotations

from pathlib import Path

from ..formats import results
from .program import KINDS


def table(rec: dict) -> str:
    """One line per kernel call (train step, inference, period boundary), then the totals."""
    head = (f"{'phase':<8} {'#':>2} {'kernel':<38} {'layer':<14} {'kind':<15} {'instr':>9} "
            f"{'MACs':>7} {'MAC/ins':>7} {'~cycles':>9}")
    lines = [head, "-" * len(head)]
    for k in rec["kernels"]:
        lines.append(f"{k['phase']:<8} {k['index']:>2} {k['name']:<38} {str(k['layer'] or '-'):<14} "
                     f"{k['kind']:<15} {k['instructions']:>9,} {k['macs']:>7,} "
                     f"{k['macs_per_instruction']:>7.4f} {k['est_cycles']:>9,}")
    ms = lambda v: "" if v is None else f", ~{v:.2f} ms at {rec['clock_hz'] / 1e6:g} MHz"
    lines += [
        "",
        f"training step: {rec['train_step_instructions']:,} instructions "
        f"(glue {rec['train_glue_instructions']:,}), {rec['train_step_macs']:,} MACs, "
        f"~{rec['train_step_est_cycles']:,} cycles{ms(rec['train_step_est_ms'])}",
        f"inference:     {rec['inference_instructions']:,} instructions "
        f"(glue {rec['inference_glue_instructions']:,}), {rec['inference_macs']:,} MACs, "
        f"~{rec['inference_est_cycles']:,} cycles{ms(rec['inference_est_ms'])}",
    ]
    if rec.get("boundary"):
        b = rec["boundary"]
        lines.append(f"period boundary (step {b['step']}): {b['instructions']:,} instructions, of "
                     f"which the controller's decision {b['advance_instructions']:,}")
    lines.append(f"static RAM {rec['ram_bytes']:,} B, flash {rec['flash_bytes']:,} B, peak stack "
                 f"{rec['stack_bytes']:,} B; weights after {rec['golden_check']['steps']} steps "
                 f"== golden engine")
    return "\n".join(lines)


def plot(rec: dict, path: Path) -> None:
    """Stacked bars: instructions per kernel kind, training step and inference."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    phases = [("train", "training step"), ("infer", "inference")]
    fig, ax = plt.subplots(figsize=(6, 4))
    bottoms = [0.0, 0.0]
    glue = [rec["train_glue_instructions"], rec["inference_glue_instructions"]]
    for kind in list(KINDS) + ["glue"]:
        vals = [glue[i] if kind == "glue" else rec["by_kind"][ph].get(kind, 0)
                for i, (ph, _) in enumerate(phases)]
        if not any(vals):
            continue
        ax.bar([lab for _, lab in phases], vals, bottom=bottoms, label=kind)
        bottoms = [b + v for b, v in zip(bottoms, vals)]
    ax.set_ylabel("instructions")
    ax.set_title(f"{rec.get('model', 'model')} on {rec['board']} ({rec['core']})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(rec: dict, out: Path) -> None:
    results.save(out / "profile.json", rec)
    (out / "profile.txt").write_text(table(rec) + "\n")
    plot(rec, out / "profile.png")
