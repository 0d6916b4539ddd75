"""PNG plots of one `emulate` run from its emulate.json record (matplotlib, Agg backend).

* bitwidths.png  bits of every trainable tensor over the samples trained (a step per change;
                 kernels solid, biases dashed)
* curves.png     training loss (moving mean, Q16.16 loss / 2^16) and test accuracy over samples
                 (with the known / new classes split when the model shipped knowing only some)
"""
from __future__ import annotations

from pathlib import Path

from ..report.train_plots import figure, plot_bitwidth_history, save_png


def plot_bitwidths(rec: dict, path: Path) -> None:
    n = len(rec["bitwidth_history"]["changes"])
    plot_bitwidth_history(rec["bitwidth_history"], rec["samples"],
                          f"bitwidth per tensor ({rec['target']}, {n} changes)", path)


def _classes(cs: list[int]) -> str:
    """[0, 1, 2, 3, 4] -> "0-4"; otherwise a comma list."""
    if cs == list(range(cs[0], cs[-1] + 1)) and len(cs) > 2:
        return f"{cs[0]}-{cs[-1]}"
    return ",".join(map(str, cs))


def plot_curves(rec: dict, path: Path) -> None:
    plt = figure()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    lc = rec["loss_curve"]
    a1.plot(lc["samples"], lc["loss"], color="tab:red")
    a1.set_xlabel("training samples")
    mse = rec.get("loss") == "mse"
    a1.set_ylabel("mean squared error (moving mean)" if mse else "cross-entropy (moving mean)")
    a1.grid(alpha=0.3)
    ac = rec["accuracy_curve"]
    a2.plot(ac["samples"], [100 * a for a in ac["test_accuracy"]], marker="o", ms=3, label="all")
    if "known_accuracy" in ac:
        a2.plot(ac["samples"], [100 * a for a in ac["known_accuracy"]], ls="--", marker=".",
                label=f"known classes {_classes(rec['classes_known'])}")
        a2.plot(ac["samples"], [100 * a for a in ac["new_accuracy"]], ls=":", marker=".",
                label="new classes")
        a2.legend(fontsize=8)
    a2.set_xlabel("training samples")
    a2.set_ylabel("test ROC AUC of the score (%)" if mse else "test accuracy (%)")
    a2.grid(alpha=0.3)
    if mse:
        fig.suptitle(f"emulate {rec['target']} (MSE): mean test score "
                     f"{rec['test_score_mean_before']:.4f} \u2192 {rec['test_score_mean_after']:.4f}")
        save_png(fig, path)
        return
    fig.suptitle(f"emulate {rec['target']}: {100 * rec['test_accuracy_before']:.1f}% \u2192 "
                 f"{100 * rec['test_accuracy_after']:.1f}%")
    save_png(fig, path)
