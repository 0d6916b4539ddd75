"""The per-layer memory table of a split and the RAM it needs on a board, item by item.

Each layer's row counts what it puts where: frozen parameters as int8 tables in flash,
trainable parameters in RAM as int16 (the storage of their maximum bitwidth, at most 16 bits),
and the arena buffers the lowered program gives it — its output activation (kept for the
backward where needed), the error w.r.t. its input, a max-pool's packed argmax mask. There are
no gradient buffers: every weight update is fused into its backward kernel (docs/numerics.md).
The arena places these buffers by lifetime (codegen/plan.py), so it is smaller than their sum.
Besides the model the firmware holds the stack, the link buffers, the staging buffer for large
samples and the app's statics (boards.firmware_ram): the plan counts all of them, so a plan
that fits links (`build` compares it with the ELF).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..boards import Board, firmware_ram
from ..link.messages import target_bytes_of
from ..codegen.layout import Layout
from ..program import Program

COLUMNS = ("flash", "weights", "activation", "error", "mask")


@dataclass
class LayerRow:
    name: str
    kind: str
    part: str  # "frozen" (int8, flash) or "trainable" (RCT, RAM)
    flash: int = 0  # frozen parameter tables (int8)
    weights: int = 0  # trainable parameters in RAM (int16)
    activation: int = 0  # the layer's output buffer (max_batch samples)
    error: int = 0  # the error w.r.t. its input (int16), trainable suffix only
    mask: int = 0  # a max-pool's packed argmax

    def as_dict(self) -> dict:
        return asdict(self)


def layer_rows(m: Program, lay: Layout) -> list[LayerRow]:
    """One row per layer of the program (plus the loss head's logit error)."""
    rows = [LayerRow(f.name, f.kind, "trainable" if f.index >= m.first_trainable else "frozen")
            for f in m.layers]
    by_layer = {f.name: rows[f.index] for f in m.layers}
    for t in m.table:
        n = 1
        for d in t.shape:
            n *= int(d)
        if t.trainable:
            by_layer[t.layer].weights += 2 * n
        else:
            by_layer[t.layer].flash += n
    for name, frozen in m.plans.items():  # a frozen .tflite part: its constant tables
        by_layer[name].flash += frozen.const_bytes
    loss = LayerRow("(loss)", "softmax_ce", "trainable")
    for b in lay.buffers:
        if b.kind == "weights":
            continue
        col = {"activation": "activation", "error": "error", "mask": "mask"}.get(b.kind)
        digits = b.name.lstrip("abcdefghijklmnopqrstuvwxyz_")
        row = rows[int(digits)] if digits.isdigit() and int(digits) < len(rows) else loss
        if col is not None:
            setattr(row, col, getattr(row, col) + b.size)
    return rows + [loss]


def ram_items(m: Program, lay: Layout, state: int, max_batch: int) -> dict[str, int]:
    """RAM by what holds it: the model's arena and state, then the firmware's own."""
    return {"arena": int(lay.arena_size), "state": int(state),
            **firmware_ram(m.input_size, max_batch, target_bytes_of(m.targets, m.target_size))}


def largest_buffers(lay: Layout, k: int = 3) -> str:
    top = sorted(lay.buffers, key=lambda b: -b.size)[:k]
    return ", ".join(f"{b.name} {b.size} B" for b in top)


def overflow_text(items: dict[str, int], limit: int, lay: Layout) -> str:
    """What overflows, largest first: 'arena 90000 B (act1 27648 B, ...) + stage 27648 B + ...'."""
    parts = []
    for k, v in sorted(items.items(), key=lambda kv: -kv[1]):
        if v:
            parts.append(f"{k} {v} B" + (f" ({largest_buffers(lay)})" if k == "arena" else ""))
    return f"{sum(items.values())} B > {limit} B: " + " + ".join(parts)


_LABELS = {"arena": "arena: the buffers above, shared by lifetime",
           "state": "model state (tensor descriptors, controller, PRNG)",
           "stack": "stack (reserved above .bss)",
           "link": "link buffers (receive, send raw + wire, response)",
           "stage": "sample staging buffer (large samples, SAMPLE_WRITE)",
           "app": "app and board statics"}


def format_layers(rows: list[dict]) -> list[str]:
    """The per-layer rows as an aligned text table (bytes; '-' for none)."""
    head = ("layer", "kind", "part", "flash B", "weights B", "act B", "error B", "mask B")
    body = [(r["name"], r["kind"], r["part"], *(str(r[c]) if r[c] else "-" for c in COLUMNS))
            for r in rows]
    total = ("total", "", "", *(str(sum(r[c] for r in rows)) for c in COLUMNS))
    table = [head, *body, total]
    w = [max(len(r[i]) for r in table) for i in range(len(head))]

    def line(r: tuple[str, ...]) -> str:
        return "  ".join(v.ljust(w[i]) if i < 3 else v.rjust(w[i]) for i, v in enumerate(r))
    rule = "  ".join("-" * x for x in w)
    return [line(head), rule, *(line(r) for r in body), rule, line(total)]


def format_ram(ram: dict, board: Board) -> list[str]:
    """The RAM items with their sum against the limit the plan was made for."""
    items = ram["items"]
    w = max(len(v) for v in _LABELS.values())
    lines = [f"{_LABELS[k].ljust(w)}  {items[k]:>8} B" for k in _LABELS if k in items]
    total, limit = ram["total"], ram["limit"]
    of = f"{limit} B" + ("" if limit == board.ram_bytes else f" (--ram-budget; board {board.ram_bytes} B)")
    lines.append(f"{'RAM total'.ljust(w)}  {total:>8} B of {of}, {100 * total / limit:.1f}%")
    return lines
