"""Partition a trained model for a board: a frozen int8 prefix (flash) and a trainable RCT suffix
(RAM), with a per-layer memory table of what the split costs there.

split.py chooses (or checks) the split and writes the plan into a copy of the artefact
(`partition`), whose tensors become exactly what the device holds: frozen tensors as int8,
trainable ones at their RCT bitwidth (docs/artefact.md). memory_table.py is the table;
target.py is how later stages read a plan back.
"""
from __future__ import annotations

from typing import Any

from ..boards import get_board
from .memory_table import format_layers, format_ram
from .split import partition
from .target import Target, target_for

__all__ = ["partition", "plan_table", "target_for", "Target"]


def plan_table(plan: dict[str, Any]) -> str:
    """The plan for the terminal and plan.txt: the split, the per-layer table, the RAM items."""
    r = plan["ram"]
    rows = [("board", plan["board"]),
            ("split", plan.get("split", "given")),
            ("frozen layers (int8, flash)", ", ".join(plan["frozen_layers"]) or "-"),
            ("trainable layers (RCT, RAM)", ", ".join(plan["trainable_layers"])),
            ("frozen tables", f"{plan['frozen_flash_bytes']} B flash"),
            ("trainable parameters", f"{plan['trainable_params']}"),
            ("RAM for a training step", f"{r['model_total']} B (arena {r['arena']} B + state "
                                        f"{r['state']} B) of {r['board_ram']} B"),
            ("micro-batch", str(plan["max_batch"]))]
    w = max(len(k) for k, _ in rows)
    out = [f"{k.ljust(w)}  {v}" for k, v in rows]
    if "layers" in plan:  # plans written before the table have none
        out += ["", *format_layers(plan["layers"])]
    if "items" in r:
        out += ["", *format_ram(r, get_board(plan["board"]))]
    return "\n".join(out)
