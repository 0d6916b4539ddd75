"""On-device training over the serial link: the stream session and its golden device.

`prepare` + `open_target` + `run_stream` are what `rct-tflm stream` (and the demo) run;
`GoldenDevice` is the firmware application on the numpy golden engine (docs/protocol.md).
"""
from .golden import GoldenDevice
from .schedule import Schedule, segment_seed
from .session import StreamConfig, prepare, run_stream
from .target import GOLDEN, open_target

__all__ = ["GoldenDevice", "Schedule", "segment_seed", "StreamConfig", "prepare", "run_stream",
           "GOLDEN", "open_target"]
