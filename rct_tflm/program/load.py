"""Loading a model artefact for a stage: `ModelArtefact.load` checks the file (format, version,
tensors), then the kind registry checks its layers (a known kind, the kind's config keys).
rct_tflm.artefact sits below the program and knows no kinds, so every stage loads through here
and a corrupt or unknown-kind `.rct` still fails in one line."""
from __future__ import annotations

import os
from pathlib import Path

from ..artefact import ModelArtefact
from . import kinds


def load_artefact(path: str | os.PathLike) -> ModelArtefact:
    art = ModelArtefact.load(path)
    kinds.check(art, f"model artefact '{Path(path)}'")
    return art
