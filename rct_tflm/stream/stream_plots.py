"""PNG plots of one stream from its stream.json dict (matplotlib, Agg).

* stream_bitwidths.png  bits per trainable tensor over streamed samples (biases dashed)
* stream_loss.png       the board's training loss (last step at each STATS poll, and its mean)
* stream_link.png       link throughput: samples/s and wire KB/s between polls
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..report.train_plots import figure, plot_bitwidth_history, save_png

FILES = ("stream_bitwidths.png", "stream_loss.png", "stream_link.png")


def plot_bitwidths(s: dict, path: Path) -> None:
    plot_bitwidth_history(s["bitwidth_history"], max(int(s["samples"]), 1),
                          f"bitwidth per tensor on {s['target']} (decision every "
                          f"{s['hparams']['period_samples']} samples)", path)


def plot_loss(s: dict, path: Path) -> None:
    plt = figure()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    tr = np.asarray(s["loss_trace"], dtype=float).reshape(-1, 2)
    if len(tr):
        ax.plot(tr[:, 0], tr[:, 1], ".", ms=3, alpha=0.4, label="last step at each poll")
        k = len(tr) // 10
        if k >= 2:
            ma = np.convolve(tr[:, 1], np.ones(k) / k, mode="valid")
            ax.plot(tr[k - 1:, 0], ma, lw=2, label=f"mean of {k} polls")
        ax.legend(fontsize=7)
    ax.set_title(f"training loss on {s['target']} (test accuracy "
                 f"{100 * s['test_accuracy_before']:.1f}% -> {100 * s['test_accuracy_after']:.1f}%)")
    ax.set_xlabel("samples streamed")
    ax.set_ylabel("cross-entropy")
    ax.grid(alpha=0.3)
    save_png(fig, path)


def plot_link(s: dict, path: Path) -> None:
    plt = figure()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    tr = np.asarray(s["throughput_trace"], dtype=float).reshape(-1, 3)  # t, samples, wire bytes
    if len(tr) >= 2:
        dt = np.diff(tr[:, 0])
        ok = dt > 0
        t_mid = tr[1:, 0][ok]
        ax.plot(t_mid, np.diff(tr[:, 1])[ok] / dt[ok], lw=1.5, label="samples/s")
        ax2 = ax.twinx()
        ax2.plot(t_mid, np.diff(tr[:, 2])[ok] / dt[ok] / 1024, lw=1, color="tab:orange",
                 label="wire KB/s")
        ax2.set_ylabel("wire KB/s")
        ax2.legend(fontsize=7, loc="lower right")
        ax.legend(fontsize=7, loc="lower left")
    ax.set_title(f"link throughput on {s['target']}: {s['samples_per_s']:.0f} samples/s, "
                 f"overhead {100 * s['overhead_fraction']:.1f}% of wire bytes")
    ax.set_xlabel("seconds")
    ax.set_ylabel("samples/s")
    ax.grid(alpha=0.3)
    save_png(fig, path)


def write_plots(s: dict, out: Path) -> list[str]:
    for fn, name in zip((plot_bitwidths, plot_loss, plot_link), FILES):
        fn(s, out / name)
    return list(FILES)
