"""`rct-tflm boards`, `build`, `flash` and `stream`: firmware, boards and the serial link."""
from __future__ import annotations

COMMANDS: list = []
