"""What later stages build for: a partitioned artefact's plan, or flags for one never partitioned."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..artefact import ModelArtefact
from ..boards import DEFAULT_BOARD, HOST
from ..errors import UserError


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
