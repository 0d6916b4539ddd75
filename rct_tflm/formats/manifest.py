"""The generated tree's manifest, `rct_generated.json` (format `rct-tflm-generated`, version 1):
what a generated C project holds — model hash, input and output facts, trainable tensors in
serialisation order with their bitwidth caps, frozen tensors, blob and arena sizes, the engine
configuration. Written by `rct-tflm generate`; read by the host build, the firmware build and
the stream (docs/codegen.md)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import UserError
from .atomic import write_json
from .versioned import check

FORMAT = "rct-tflm-generated"
VERSION = 1
NAME = "rct_generated.json"


def new(**fields: object) -> dict:
    return {"format": FORMAT, "version": VERSION, **fields}


def save(tree: str | os.PathLike, manifest: dict) -> Path:
    return write_json(Path(tree) / NAME, manifest)


def find(folder: str | os.PathLike) -> Path | None:
    """The manifest of a generated tree or of a build folder (its `model/` copy), or None."""
    d = Path(folder)
    for p in (d / NAME, d / "model" / NAME):
        if p.is_file():
            return p
    return None


def load(folder: str | os.PathLike) -> dict:
    p = find(folder)
    if p is None:
        raise UserError(f"'{folder}' is not a generated project (no {NAME}); run "
                        f"`rct-tflm generate` first")
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {p} ({type(e).__name__}); regenerate with "
                        f"`rct-tflm generate`") from None
    return check(d, p, FORMAT, VERSION, "rct-tflm generate")
