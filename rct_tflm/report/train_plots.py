"""PNG plots of one training run from its metrics dict (matplotlib, Agg; no TensorFlow).

* bitwidths.png      per-tensor bitwidth over training steps (kernels solid, biases dashed)
* curves.png         training loss and test accuracy (and F1) per epoch
* energy_memory.png  GEMM energy per step by layer and GEMM, parameter memory peak/final
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..formats.atomic import atomic_path


def figure() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_png(fig: Any, path: Path) -> None:
    """Atomic PNG write (temp file + rename)."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    finally:
        figure().close(fig)


def bit_steps(hist: dict, total: int) -> dict[str, tuple[list[int], list[int]]]:
    """Per tensor the (samples, bits) corners of its step curve from 0 to `total` samples, from a
    bitwidth_history record (rct_tflm.fixedpoint.state.bitwidth_history format)."""
    out = {}
    for name, s in hist["initial"].items():
        xs, ys = [0], [s["bits"]]
        for c in hist["changes"]:
            if c["tensor"] == name:
                xs += [c["sample"], c["sample"]]
                ys += [ys[-1], c["bits"]]
        xs.append(max(total, xs[-1]))
        ys.append(ys[-1])
        out[name] = (xs, ys)
    return out


def plot_bitwidth_history(hist: dict, total: int, title: str, path: Path) -> None:
    """Bits of every trainable tensor over the samples trained (integer engine runs: emulate,
    stream, report); kernels solid, biases dashed."""
    plt = figure()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for name, (xs, ys) in bit_steps(hist, total).items():
        ax.plot(xs, ys, ls="--" if name.endswith("bias") else "-", lw=1.5, label=name)
    from matplotlib.ticker import MaxNLocator
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("training samples")
    ax.set_ylabel("bits")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    save_png(fig, path)


def plot_bitwidths(m: dict, path: Path) -> None:
    plt = figure()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    hist = m.get("bitwidth_history") or []
    steps = max(int(m.get("steps", 1)), 1)
    if hist:
        names = list(hist[0]["bits"])
        for n in names:
            xs, ys = [], []
            for e in hist:
                if xs:  # step function: hold the previous value until this change
                    xs.append(e["step"])
                    ys.append(ys[-1])
                xs.append(e["step"])
                ys.append(e["bits"][n])
            xs.append(steps)
            ys.append(ys[-1])
            ax.plot(xs, ys, ls="--" if n.endswith("/bias") else "-", lw=1.5, label=n)
        ax.legend(fontsize=7, loc="best")
        ax.set_title(f"{m.get('method', '?').upper()} bitwidth per tensor ({m.get('model')})")
    else:
        for layer, b in (m.get("final_bitwidths") or {}).items():
            ax.plot([0, steps], [b, b], label=layer)
        ax.legend(fontsize=7, loc="best")
        ax.set_title(f"{m.get('method', '?').upper()}: fixed weight width (no controller)")
    ax.set_xlabel("training step")
    ax.set_ylabel("bits")
    from matplotlib.ticker import MaxNLocator
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    save_png(fig, path)


def plot_curves(m: dict, path: Path) -> None:
    plt = figure()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    loss = m.get("train_loss_curve") or []
    ep = list(range(1, len(loss) + 1))
    a1.plot(ep, loss, marker=".")
    a1.set_title("training loss (softmax CE)")
    a1.set_xlabel("epoch")
    acc = m.get("test_accuracy_curve") or []
    a2.plot(range(1, len(acc) + 1), [100 * a for a in acc], marker=".", label="accuracy")
    if m.get("test_f1_curve"):
        a2.plot(range(1, len(acc) + 1), [100 * (f or 0) for f in m["test_f1_curve"]], marker=".",
                label="F1 (positive class)")
    a2.set_title("test metric (%)")
    a2.set_xlabel("epoch")
    a2.legend(fontsize=8)
    for a in (a1, a2):
        a.grid(alpha=0.3)
    fig.suptitle(f"{m.get('method', '?').upper()} on {m.get('data')} ({m.get('model')})", fontsize=10)
    save_png(fig, path)


def plot_run_energy_memory(m: dict, path: Path) -> None:
    plt = figure()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    br = m.get("gemm_energy_breakdown") or {}
    layers = list(br)
    bottom = [0.0] * len(layers)
    for part in ("forward", "backward_input", "backward_weight"):
        vals = [br[l].get(part, 0.0) / 1e6 for l in layers]
        a1.bar(layers, vals, bottom=bottom, label=part)
        bottom = [b + v for b, v in zip(bottom, vals)]
    a1.set_title("GEMM energy per step (µJ)")
    a1.tick_params(axis="x", labelrotation=30, labelsize=7)
    if layers:
        a1.legend(fontsize=7)
    keys = [("param_memory_bits_peak", "peak\ncontainers"),
            ("param_memory_bits_peak_packed", "peak\npacked"),
            ("param_memory_bits_final", "final\ncontainers"),
            ("param_memory_bits_final_packed", "final\npacked")]
    present = [(lab, m[k] / 8192) for k, lab in keys if m.get(k) is not None]
    if present:
        a2.bar([p[0] for p in present], [p[1] for p in present], color="tab:green")
    a2.set_title("parameter memory (KiB)")
    a2.tick_params(axis="x", labelsize=7)
    if "energy_error" in m:
        a2.text(0.5, 0.5, m["energy_error"], ha="center", va="center", transform=a2.transAxes,
                fontsize=7, wrap=True)
    for a in (a1, a2):
        a.grid(alpha=0.3, axis="y")
    fig.suptitle(f"{m.get('method', '?').upper()}: energy and memory ({m.get('model')})", fontsize=10)
    save_png(fig, path)
