"""The partition plan (format `rct-tflm-plan`, version 1): the board, micro-batch and split a
model was partitioned for and what each part costs there. `rct-tflm partition` writes it into
the artefact (`partition` in model.json, docs/artefact.md); generate, build, profile, emulate and
stream read it back (rct_tflm.partition.target_for) so a firmware cannot disagree with its plan.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UserError
from .versioned import check as check_versioned

FORMAT = "rct-tflm-plan"
VERSION = 1
KEYS = ("board", "max_batch", "frozen_layers", "trainable_layers", "trainable_tensors",
        "bits_max", "frozen_flash_bytes", "trainable_params", "ram")


def new(**fields: Any) -> dict:
    missing = [k for k in KEYS if k not in fields]
    assert not missing, f"plan without {missing}"
    return {"format": FORMAT, "version": VERSION, **fields}


def check(d: Any, path: str | Path) -> dict | None:
    """The plan stored in artefact `path` (None: never partitioned), or a one-line UserError."""
    if d is None:
        return None
    if isinstance(d, dict) and "format" not in d and d.get("version") == 1:
        d = {"format": FORMAT, **d}  # the first plans carried only a version
    d = check_versioned(d, f"{path} (partition plan)", FORMAT, VERSION, "rct-tflm partition")
    missing = [k for k in KEYS if k not in d]
    if missing:
        raise UserError(f"corrupt partition plan in '{path}': no {', '.join(missing)}; "
                        f"re-partition it with `rct-tflm partition`")
    return d
