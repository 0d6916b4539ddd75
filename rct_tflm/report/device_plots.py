"""PNG plots of training after deployment, for `rct-tflm report` (matplotlib, Agg).

* device_accuracy.png  test accuracy over the samples trained on the device, one line per run
                       (emulate runs carry a curve; a stream run its before/after points), with
                       the known / new classes split when the model shipped knowing only some
* confusion.png        the final confusion matrix of one run (counts, rows = true class)
* memory.png           RAM and flash of a built firmware, by what holds them
"""
from __future__ import annotations

from pathlib import Path

from .train_plots import figure, save_png


def plot_device_accuracy(runs: list[tuple[str, dict]], path: Path) -> None:
    """runs: (name, emulate.json or stream.json record)."""
    plt = figure()
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for i, (name, r) in enumerate(runs):
        color = f"C{i % 10}"
        c = r.get("accuracy_curve") or {"samples": [0, int(r.get("samples") or 0)],
                                        "test_accuracy": [r.get("test_accuracy_before") or 0,
                                                          r.get("test_accuracy_after") or 0]}
        ax.plot(c["samples"], [100 * a for a in c["test_accuracy"]], color=color, marker="o",
                ms=3, label=f"{name}: all classes")
        if "known_accuracy" in c:
            ax.plot(c["samples"], [100 * a for a in c["known_accuracy"]], color=color, ls="--",
                    lw=1, label=f"{name}: known {r.get('classes_known')}")
            ax.plot(c["samples"], [100 * a for a in c["new_accuracy"]], color=color, ls=":",
                    lw=1, label=f"{name}: new")
    ax.set_xlabel("samples trained on the device")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("training after deployment")
    save_png(fig, path)


def plot_confusion(name: str, counts: list[list[int]], path: Path) -> None:
    plt = figure()
    n = len(counts)
    fig, ax = plt.subplots(figsize=(0.45 * n + 2.2, 0.45 * n + 1.6))
    im = ax.imshow(counts, cmap="Blues")
    top = max((max(row) for row in counts), default=0)
    for t in range(n):
        for p in range(n):
            if counts[t][p]:
                ax.text(p, t, str(counts[t][p]), ha="center", va="center", fontsize=7,
                        color="white" if counts[t][p] > top / 2 else "black")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"confusion after training ({name})", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    save_png(fig, path)


def memory_parts(size: dict, memory: dict | None) -> dict[str, dict[str, int]]:
    """RAM and flash of a firmware (build.json's size) split by holder, bytes; the model's
    arena and state from its memory report (memory.json) when there is one."""
    stack = max(0, size["ram_used"] - size["data"] - size["bss"])
    ram: dict[str, int] = {}
    flash: dict[str, int] = {}
    static = size["data"] + size["bss"]
    code = size["text"] + size["data"]
    if memory:
        for kind, b in sorted(memory["ram"].get("by_kind", {}).items()):
            ram[f"model {kind}"] = int(b)
        ram["model state"] = int(memory["ram"].get("state", 0))
        tensors = memory.get("flash", {}).get("tensors", [])
        for kind in sorted({t["kind"] for t in tensors}):
            flash[f"{kind.replace('_', ' ')} weights"] = sum(t["bytes"] for t in tensors
                                                             if t["kind"] == kind)
    ram["runtime, link and app"] = max(0, static - sum(ram.values()))
    ram["stack (reserved)"] = stack
    flash["code and other tables"] = max(0, code - sum(flash.values()))
    return {"RAM": ram, "flash": flash}


def plot_memory(name: str, size: dict, memory: dict | None, path: Path) -> None:
    parts = memory_parts(size, memory)
    plt = figure()
    fig, axes = plt.subplots(2, 1, figsize=(8, 3.2))
    for ax, (what, p), total in zip(axes, parts.items(), (size["ram_total"], size["flash_total"])):
        left = 0
        for i, (label, b) in enumerate(p.items()):
            ax.barh(0, b, left=left, color=f"C{i}", label=f"{label} {b:,} B")
            left += b
        ax.set_xlim(0, max(left * 1.05, 1))
        ax.set_yticks([])
        ax.set_title(f"{what}: {left:,} B of {total:,} B ({100 * left / total:.1f}%)", fontsize=9,
                     loc="left")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        ax.set_xlabel("bytes", fontsize=8)
    fig.suptitle(f"firmware memory ({name})", fontsize=10)
    fig.tight_layout()
    save_png(fig, path)
