"""PNG plots of one `emulate` run from its emulate.json record (matplotlib, Agg backend).

* bitwidths.png  bits of every trainable tensor over the samples trained (a step per change;
                 kernels solid, biases dashed)
* curves.png     training loss (moving mean, Q16.16 loss / 2^16) and test accuracy over samples
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any


def _plt() -> Any:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig: Any, path: Path) -> None:
    """Atomic PNG write (temp file + rename)."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
        _plt().close(fig)


def bit_steps(hist: dict, total: int) -> dict[str, tuple[list[int], list[int]]]:
    """Per tensor the (samples, bits) corners of its step curve from 0 to `total` samples."""
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


def plot_bitwidths(rec: dict, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for name, (xs, ys) in bit_steps(rec["bitwidth_history"], rec["samples"]).items():
        ax.plot(xs, ys, ls="--" if name.endswith("bias") else "-", label=name)
    from matplotlib.ticker import MaxNLocator
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("training samples")
    ax.set_ylabel("bits")
    ax.set_title(f"bitwidth per tensor ({rec['target']}, {len(rec['bitwidth_history']['changes'])} "
                 f"changes)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_curves(rec: dict, path: Path) -> None:
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    lc = rec["loss_curve"]
    a1.plot(lc["samples"], lc["loss"], color="tab:red")
    a1.set_xlabel("training samples")
    a1.set_ylabel("cross-entropy (moving mean)")
    a1.grid(alpha=0.3)
    ac = rec["accuracy_curve"]
    a2.plot(ac["samples"], [100 * a for a in ac["test_accuracy"]], marker="o", ms=3)
    a2.set_xlabel("training samples")
    a2.set_ylabel("test accuracy (%)")
    a2.grid(alpha=0.3)
    fig.suptitle(f"emulate {rec['target']}: {100 * rec['test_accuracy_before']:.1f}% -> "
                 f"{100 * rec['test_accuracy_after']:.1f}%")
    _save(fig, path)
