"""PNG plots of one fleet run from its fleet.json dict (matplotlib, Agg).

* fleet_accuracy.png   global test accuracy per round, and the centralised run at equal samples
* fleet_bitwidths.png  bits of each trainable tensor per round: every board's, and the global
* fleet_link.png       bytes over each board's link per round, and seconds per round
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..report.train_plots import figure, save_png

FILES = ("fleet_accuracy.png", "fleet_bitwidths.png", "fleet_link.png")


def _integer_ticks(axis) -> None:
    """Rounds and bitwidths are integers (matplotlib imported only when plotting)."""
    from matplotlib.ticker import MaxNLocator
    axis.set_major_locator(MaxNLocator(integer=True))


def plot_accuracy(f: dict, path: Path) -> None:
    plt = figure()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    rounds = np.arange(0, f["rounds"] + 1)
    ax.plot(rounds, [100 * a for a in [f["initial_test_accuracy"], *f["test_accuracy"]]],
            "o-", label=f"fleet of {f['boards']} ({f['split']})")
    if "centralised_test_accuracy" in f:
        ax.plot(rounds, [100 * a for a in [f["initial_test_accuracy"],
                                           *f["centralised_test_accuracy"]]],
                "s--", label="one board on all the data (same samples)")
    for m in f["missed"]:
        ax.axvline(m["round"], color="tab:red", alpha=0.25, lw=6)
    ax.set_title("global test accuracy per round" + (" (red: a board missed the round)"
                                                     if f["missed"] else ""))
    ax.set_xlabel("round")
    _integer_ticks(ax.xaxis)
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_png(fig, path)


def plot_bitwidths(f: dict, path: Path) -> None:
    plt = figure()
    names = list(f["final_bitwidths"])
    fig, axes = plt.subplots(len(names), 1, figsize=(7, 1.8 + 1.4 * len(names)), squeeze=False,
                             sharex=True)
    recs = f["round_records"]
    for k, (ax, name) in enumerate(zip(axes[:, 0], names)):
        for b in range(f["boards"]):
            pts = [(r["round"], r["boards"][str(b)]["bits"][k]) for r in recs
                   if str(b) in r["boards"]]
            if pts:
                ax.plot(*zip(*pts), ".-", alpha=0.5, lw=1, label=f"board{b}")
        g = [(r["round"], r["global_bits"][name]) for r in recs if r["global_bits"]]
        if g:
            ax.plot(*zip(*g), "k-", lw=2.5, alpha=0.7, label="global")
        ax.set_ylabel(f"{name}\nbits", fontsize=8)
        _integer_ticks(ax.yaxis)
        lo, hi = ax.get_ylim()
        ax.set_ylim(min(lo, round(lo) - 1), max(hi, round(hi) + 1))
        ax.grid(alpha=0.3)
    axes[0, 0].set_title("bitwidth per tensor after each round")
    axes[-1, 0].set_xlabel("round")
    _integer_ticks(axes[-1, 0].xaxis)
    if axes[0, 0].get_legend_handles_labels()[0]:  # a fleet whose every round was missed has none
        axes[0, 0].legend(fontsize=6, ncol=min(f["boards"] + 1, 5))
    save_png(fig, path)


def plot_link(f: dict, path: Path) -> None:
    plt = figure()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    recs = f["round_records"]
    rounds = [r["round"] for r in recs]
    width = 0.8 / max(f["boards"], 1)
    for b in range(f["boards"]):
        kb = [r["boards"].get(str(b), {}).get("wire_bytes", 0) / 1024 for r in recs]
        a1.bar(np.asarray(rounds) + (b - (f["boards"] - 1) / 2) * width, kb, width,
               label=f"board{b}")
    a1.set_title("bytes over each link (KB)")
    a1.set_xlabel("round")
    a1.legend(fontsize=6, ncol=2)
    a2.plot(rounds, [r["seconds"] for r in recs], "o-")
    a2.set_ylim(bottom=0)
    a2.set_title("seconds per round")
    a2.set_xlabel("round")
    for a in (a1, a2):
        a.grid(alpha=0.3)
        _integer_ticks(a.xaxis)
    save_png(fig, path)


def write_plots(f: dict, out: Path) -> list[str]:
    for name, fn in zip(FILES, (plot_accuracy, plot_bitwidths, plot_link)):
        fn(f, out / name)
    return list(FILES)
