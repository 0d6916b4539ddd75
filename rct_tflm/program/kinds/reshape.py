"""flatten / dropout: no kernel; the output is the input's buffer (NHWC row-major is already
flat, and dropout is the identity on the device)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...errors import UserError
from ..model import Call, LayerFacts

if TYPE_CHECKING:
    from ...artefact import Layer
    from ..lower import Lowering

KINDS = ("flatten", "dropout")
OUTPUT = "alias"


def shape(l: "Layer", f: LayerFacts, low: "Lowering") -> None:
    if l.kind == "flatten" and int(np.prod(l.input_shape)) != int(np.prod(l.output_shape)):
        raise UserError(f"layer {l.name}: flatten changes the size; corrupt artefact")


def forward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return []


def backward(f: LayerFacts, low: "Lowering") -> list[Call]:
    return []
