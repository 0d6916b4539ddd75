"""The lowered program: one training step of one model as data (docs/program.md).

`lower()` builds it from a model artefact (program/lower.py, one module per layer kind in
program/kinds/); the golden engine executes it (program/golden.py); the C generator prints it
and the memory planner places its buffers (rct_tflm/codegen); `Program.to_json/from_json` is
its on-disk form (program.json in a generated tree).
"""
from .golden import Engine, State, StepResult
from .lower import lower, select_trainable
from .model import FORMAT, INPUT, VERSION, BufferSpec, Call, LayerFacts, Program, TensorEntry

__all__ = ["Engine", "State", "StepResult", "lower", "select_trainable", "FORMAT", "INPUT",
           "VERSION", "BufferSpec", "Call", "LayerFacts", "Program", "TensorEntry"]
