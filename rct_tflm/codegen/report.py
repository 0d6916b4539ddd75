"""Memory report of a generated project: RAM (arena buffers + static state) and flash (tables).

Code size is not included (it depends on the compiler and the board); `rct-tflm build` reports
text/data/bss of the linked firmware.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..fixedpoint.config import EngineConfig

from ..program import Program
from .layout import Layout


def memory_report(m: Program, lay: Layout, frozen: list[dict], trainable: list[dict],
                  state_bytes: int, ram_budget: int | None, cfg: EngineConfig) -> dict:
    bufs = [{"name": b.name, "kind": b.kind, "bytes": b.size, "offset": b.offset,
             "live": [b.first, b.last]} for b in sorted(lay.buffers, key=lambda b: b.offset)]
    flash = ([{"name": t["name"], "kind": "frozen", "bytes": t["size"]} for t in frozen]
             + [{"name": t["name"], "kind": "trainable_init",  # int16 tables (rct_weights.c)
                 "bytes": 2 * t["size"]} for t in trainable])
    by_kind: dict[str, int] = {}
    for b in lay.buffers:
        by_kind[b.kind] = by_kind.get(b.kind, 0) + b.size
    return {
        "max_batch": cfg.max_batch,
        "ram": {"arena": lay.arena_size, "state": state_bytes, "total": lay.arena_size + state_bytes,
                "unshared": sum(b.size for b in lay.buffers) + state_bytes,
                "by_kind": by_kind, "budget": ram_budget, "buffers": bufs},
        "flash": {"tables": sum(f["bytes"] for f in flash), "tensors": flash,
                  "note": "tables only; code size comes from the linked firmware's size report"},
    }


def write_memory_report(report: dict, out_dir: Path) -> None:
    (out_dir / "memory.json").write_text(json.dumps(report, indent=1))
    r = report["ram"]
    lines = ["# Memory report", "",
             f"RAM for one training step (micro-batch {report['max_batch']}): **{r['total']} B** "
             f"= arena {r['arena']} B + static state {r['state']} B (budget "
             f"{'none' if r['budget'] is None else str(r['budget']) + ' B'}; "
             f"{r['unshared']} B without buffer sharing).", "",
             "| buffer | kind | bytes | offset | live steps |", "|---|---|---|---|---|"]
    lines += [f"| {b['name']} | {b['kind']} | {b['bytes']} | {b['offset']} | {b['live'][0]}..{b['live'][1]} |"
              for b in r["buffers"]]
    f = report["flash"]
    lines += ["", f"Flash tables: **{f['tables']} B** ({f['note']}).", "",
              "| tensor | kind | bytes |", "|---|---|---|"]
    lines += [f"| {t['name']} | {t['kind']} | {t['bytes']} |" for t in f["tensors"]]
    (out_dir / "memory.md").write_text("\n".join(lines) + "\n")
