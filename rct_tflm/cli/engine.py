"""`rct-tflm generate` and `rct-tflm emulate`: the integer engine on the host."""
from __future__ import annotations

COMMANDS: list = []
