"""The lowered program: one training step of one model as data (docs/program.md).

`lower()` builds it from a model artefact (program/lower.py, one module per layer kind in
program/kinds/); the golden engine executes it (program/golden.py); the C generator prints it
and the memory planner places its buffers (rct_tflm/codegen); `Program.to_json/from_json` is
its on-disk form (program.json in a generated tree). `load_artefact` is how the stages read a
model artefact: the file's checks, then the kinds' (program/load.py).
"""
from .golden import Engine, State, StepResult
from .load import load_artefact
from .lower import lower, select_trainable
from .model import FORMAT, INPUT, TARGETS, VERSION, BufferSpec, Call, LayerFacts, Program, TensorEntry

__all__ = ["Engine", "State", "StepResult", "load_artefact", "lower", "select_trainable", "FORMAT", "INPUT",
           "TARGETS", "VERSION", "BufferSpec", "Call", "LayerFacts", "Program", "TensorEntry"]
