"""`rct-tflm partition`, `report` and `demo`: the end-to-end story."""
from __future__ import annotations

COMMANDS: list = []
