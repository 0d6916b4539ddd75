"""Partition a trained model for a board: a frozen int8 prefix (flash) and a trainable RCT suffix (RAM).

For now the split is fixed by the user (the last K parametric layers train, or all but the first
K); by default only the classifier head trains, the usual on-device transfer-learning set-up. The
plan records what each part costs on the board and is stored in the artefact (`partition`), whose
tensors become exactly what the device holds: frozen tensors as int8, trainable ones at their RCT
bitwidth (docs/artefact.md). A memory-budgeted search for the split comes later.

Numpy only: no TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .artefact import ModelArtefact
from .boards import DEFAULT_BOARD, HOST, firmware_ram_bytes, get_board
from .codegen.layout import build_layout
from .codegen.render import state_bytes
from .errors import UserError
from .fixedpoint.config import EngineConfig
from .formats import plan as plan_format
from .program import kinds, lower



def partition(art: ModelArtefact, board: str = DEFAULT_BOARD, trainable_layers: int | None = None,
              frozen_layers: int | None = None, cfg: EngineConfig | None = None) -> ModelArtefact:
    """A copy of `art` split for `board`; raises UserError when the trainable part cannot fit."""
    b = get_board(board)
    cfg = cfg or EngineConfig()
    if trainable_layers is None and frozen_layers is None:
        trainable_layers = 1
    m = lower(art, cfg, trainable_layers, frozen_layers)
    lay = build_layout(m)
    state = state_bytes(len(m.trainable))
    ram_model = lay.arena_size + state
    ram_budget = b.model_ram_budget(m.input_size)
    reserve = firmware_ram_bytes(m.input_size)
    frozen_names = [n for n in m.tensors if n not in m.trainable]
    flash_frozen = sum(m.tensors[n].size for n in frozen_names)  # int8
    by_kind: dict[str, int] = {}
    for buf in lay.buffers:
        by_kind[buf.kind] = by_kind.get(buf.kind, 0) + buf.size
    param_layers = [l for l in art.layers if kinds.params(l.kind)]
    train_set = set(m.trainable)
    plan = plan_format.new(
        board=b.name, max_batch=cfg.max_batch,
        frozen_layers=[l.name for l in param_layers if not set(l.params.values()) & train_set],
        trainable_layers=[l.name for l in param_layers if set(l.params.values()) & train_set],
        trainable_tensors=list(m.trainable),
        bits_max={n: int(v) for n, v in m.bits_max.items()},
        frozen_flash_bytes=int(flash_frozen),
        trainable_params=int(sum(m.tensors[n].size for n in m.trainable)),
        ram={"arena": int(lay.arena_size), "state": int(state), "model_total": int(ram_model),
             "by_kind": {k: int(v) for k, v in by_kind.items()},
             "firmware_reserve": reserve, "board_ram": b.ram_bytes})
    if ram_model > ram_budget:
        raise UserError(
            f"the trainable part needs {ram_model} B of RAM, {b.name} has {ram_budget} B left for "
            f"the model ({b.ram_kb} KB minus {reserve} B for stack, link buffers sized for "
            f"{m.input_size}-byte samples and app state); "
            f"train fewer layers (--trainable-layers) or pick a bigger board")
    if flash_frozen > b.flash_bytes:
        raise UserError(f"the frozen part needs {flash_frozen} B of flash, {b.name} has "
                        f"{b.flash_bytes} B; pick a bigger board")
    out = ModelArtefact(list(art.layers), {n: t.copy() for n, t in m.tensors.items()},
                        art.input_shape, art.num_classes, set(m.trainable), dict(art.preprocess),
                        dict(art.training), plan)
    return out


def plan_table(plan: dict[str, Any]) -> str:
    """The plan as a short text table for the terminal."""
    r = plan["ram"]
    rows = [("board", plan["board"]),
            ("frozen layers (int8, flash)", ", ".join(plan["frozen_layers"]) or "-"),
            ("trainable layers (RCT, RAM)", ", ".join(plan["trainable_layers"])),
            ("frozen tables", f"{plan['frozen_flash_bytes']} B flash"),
            ("trainable parameters", f"{plan['trainable_params']}"),
            ("RAM for a training step", f"{r['model_total']} B (arena {r['arena']} B + state "
                                        f"{r['state']} B) of {r['board_ram']} B"),
            ("micro-batch", str(plan["max_batch"]))]
    w = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(w)}  {v}" for k, v in rows)



@dataclass(frozen=True)
class Target:
    """What later stages build for: the plan's board, micro-batch and split, or the flags'
    (with their defaults) for an artefact that was never partitioned."""
    board: str  # a board name or boards.HOST
    max_batch: int
    trainable_layers: int | None  # None: the artefact's trainable set
    frozen_layers: int | None
    planned: bool


def _agree(flag: str, given: Any, planned: Any, name: str, redo: str) -> None:
    if given is not None and given != planned:
        raise UserError(f"{flag} {given} contradicts the partition plan of {name} ({planned}); "
                        f"drop {flag} or re-partition: rct-tflm partition {redo}")


def target_for(art: ModelArtefact, board: str | None = None, max_batch: int | None = None,
               trainable_layers: int | None = None, frozen_layers: int | None = None,
               name: str = "the model") -> Target:
    """The board, micro-batch and split a stage uses for `art`: its plan's when it has one (a
    flag that says otherwise is an error naming both; `--board host`, the host build of the
    same firmware, always goes), else the flags or their defaults."""
    plan = art.partition
    if not plan:
        return Target(board or DEFAULT_BOARD, max_batch or 1, trainable_layers, frozen_layers,
                      False)
    name = Path(name).name
    if board != HOST:
        _agree("--board", board, plan["board"], name, f"--board {board}")
    _agree("--batch-size", max_batch, plan["max_batch"], name, f"--batch-size {max_batch}")
    _agree("--trainable-layers", trainable_layers, len(plan["trainable_layers"]), name,
           f"--trainable-layers {trainable_layers}")
    _agree("--frozen-layers", frozen_layers, len(plan["frozen_layers"]), name,
           f"--frozen-layers {frozen_layers}")
    return Target(board or plan["board"], int(plan["max_batch"]), None, None, True)
