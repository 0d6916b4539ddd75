"""The lowered program as data: layers, buffers, calls and the controller's tensor table.

One `Program` describes one training step (and the inference that is its forward half) of one
model: the golden engine executes it (program/golden.py), the C generator prints it
(codegen/render.py), the memory planner places its buffers (codegen/layout.py) and the profiler
attributes instruction counts to its calls. `to_json`/`from_json` are its on-disk form,
`program.json` in a generated tree (docs/program.md). Tensor *values* (`Program.tensors`) are
not written there: they are the artefact's (and rct_weights.c's); program.json names tensors.

Schedule steps, for L layers: the forward of layer i is step i, the loss is step L, the backward
of layer i is step 2L - i. Every call carries its step; a buffer's lifetime [first, last] is the
range of steps that write or read it (trainable tensors: the whole schedule).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import UserError
from ..fixedpoint.config import quantise_affine, quantise_inputs
from ..fixedpoint.kernels.shapes import ConvShape
from ..fixedpoint.qtensor import QTensor

FORMAT = "rct-tflm-program"
VERSION = 1
INPUT = "input"  # the caller's input buffer (not in the arena)
TARGETS = "targets"  # the caller's regression targets (int8, not in the arena)


@dataclass
class LayerFacts:
    """One artefact layer after its kind's shape rule (shapes per sample)."""
    index: int
    name: str
    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    x_exp: int
    y_exp: int
    act: int = 0  # fused activation (dense/conv) or the layer's own (relu/relu6), K.ACT_*
    kernel: str | None = None
    bias: str | None = None
    trainable: bool = False
    needs_dx: bool = False  # backward must produce the error w.r.t. the input
    acc: int = 0  # K.ACC32 / K.ACC64
    shape: ConvShape | None = None  # conv/pool geometry at n = 1
    fan_in: int = 0
    sources: list[int] | None = None  # producers' indices in a graph (-1: the input); None: chain

    @property
    def in_size(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def out_size(self) -> int:
        return int(np.prod(self.out_shape))

    def to_json(self) -> dict:
        d = asdict(self)
        d["in_shape"], d["out_shape"] = list(self.in_shape), list(self.out_shape)
        d["shape"] = None if self.shape is None else list(self.shape.as_tuple())
        return d

    @classmethod
    def from_json(cls, d: dict) -> "LayerFacts":
        d = dict(d)
        d["in_shape"], d["out_shape"] = tuple(d["in_shape"]), tuple(d["out_shape"])
        d["shape"] = None if d["shape"] is None else ConvShape(*d["shape"])
        return cls(**d)


@dataclass
class BufferSpec:
    """A buffer of the arena: `bytes` at the largest micro-batch, live over steps [first, last]."""
    name: str
    kind: str  # "activation", "mask", "error", "weights"
    dtype: str  # "int8", "int16", "uint8" (packed argmax)
    per_sample: int  # elements per sample (weights: elements of the tensor)
    bytes: int
    first: int
    last: int
    align: int = 4


@dataclass
class Call:
    """One kernel call: `kernel` names its numpy twin and its C printer (program/kinds/).
    `buffers` maps the kernel's buffer arguments to buffer names (INPUT: the caller's input,
    None: no buffer), `tensors` its tensor arguments to tensor names; `args` holds exponents,
    sizes, activation, accumulator and geometry; `ret` the runtime value its result sets
    ("e_exp", "dx_exp", or "gavg": the last Gavg of tensors["w"]); `macs` is per sample and
    nominal (the profiler's)."""
    kernel: str
    step: int
    layer: str | None
    buffers: dict[str, str | None] = field(default_factory=dict)
    tensors: dict[str, str | None] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)
    ret: str | None = None
    macs: int = 0


@dataclass
class TensorEntry:
    """A parameter tensor the program names; trainable ones form the controller's table."""
    name: str
    layer: str
    role: str  # "kernel" or "bias"
    shape: tuple[int, ...]
    bits: int
    exp: int
    trainable: bool
    bits_max: int  # the controller's cap (frozen: 8)
    out_major: bool  # stored transposed on the device (dense kernels [out][in])


@dataclass
class Program:
    layers: list[LayerFacts]
    buffers: list[BufferSpec]
    forward: list[Call]  # inference and the first half of a training step
    loss: Call
    backward: list[Call]  # backward-input, masks and updates, in order
    table: list[TensorEntry]  # every parameter tensor, layer order; trainable ones: the controller's
    input_shape: tuple[int, ...]
    input_exp: int
    num_classes: int
    output: str  # the buffer holding the logits (INPUT when the model has no layer output)
    output_exp: int
    max_batch: int
    first_trainable: int  # layer index of the first trainable layer
    config: dict[str, Any] = field(default_factory=dict)  # lr_shift, stochastic, acc_policy, seed
    # initial integer values (frozen ones int8): not in program.json (rct_weights.c holds them)
    tensors: dict[str, QTensor] = field(default_factory=dict, compare=False, repr=False)
    # lowered frozen .tflite parts by layer name (rct_frozen.c holds them on the device)
    plans: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # (scale, zero point) when the input is quantised as a .tflite's, else None: 2^input_exp
    input_affine: tuple[float, int] | None = None

    # -- facts -----------------------------------------------------------------------------------
    @property
    def input_size(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def trainable(self) -> list[str]:
        """Trainable tensor names in controller (and weights-blob) order."""
        return [t.name for t in self.table if t.trainable]

    @property
    def bits_max(self) -> dict[str, int]:
        return {t.name: t.bits_max for t in self.table if t.trainable}

    @property
    def steps(self) -> int:
        """Number of schedule steps (0..2L)."""
        return 2 * len(self.layers) + 1

    @property
    def loss_kind(self) -> str:
        """"softmax_ce" (classification: labels) or "mse" (targets: a vector or the input)."""
        return "mse" if self.loss.kernel == "mse_loss" else "softmax_ce"

    @property
    def targets(self) -> str:
        """What a training sample carries besides its input: "labels" (one class index),
        "vector" (regression: num_classes int8 values at target_exp) or "input" (autoencoder:
        the input is the target, nothing is sent)."""
        if self.loss_kind == "softmax_ce":
            return "labels"
        return "input" if self.loss.buffers["t"] == INPUT else "vector"

    @property
    def target_size(self) -> int:
        """Target values per sample the caller hands over: 1 label, m values, or 0."""
        return {"labels": 1, "vector": self.num_classes, "input": 0}[self.targets]

    @property
    def target_exp(self) -> int:
        """Exponent of the int8 targets (regression) or of the input (autoencoder)."""
        return int(self.loss.args.get("t_exp", 0))

    def tensor(self, name: str) -> TensorEntry:
        return next(t for t in self.table if t.name == name)

    def quantise_inputs(self, x: np.ndarray) -> np.ndarray:
        """Float samples as the device's int8 input, one row per sample."""
        x = np.asarray(x).reshape(len(x), -1)
        if self.input_affine is not None:
            return quantise_affine(x, *self.input_affine)
        return quantise_inputs(x, self.input_exp)

    def buffer(self, name: str) -> BufferSpec:
        return next(b for b in self.buffers if b.name == name)

    def calls(self) -> list[Call]:
        """A training step's calls in order (the controller is not a call of the program)."""
        return [*self.forward, self.loss, *self.backward]

    # -- on disk ---------------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "format": FORMAT, "version": VERSION,
            "input": {"shape": list(self.input_shape), "exp": self.input_exp,
                      "size": self.input_size,
                      **({"affine": list(self.input_affine)} if self.input_affine else {})},
            "output": {"buffer": self.output, "exp": self.output_exp,
                       "num_classes": self.num_classes},
            "max_batch": self.max_batch, "first_trainable": self.first_trainable,
            "config": dict(self.config),
            "layers": [l.to_json() for l in self.layers],
            "tensors": [{**asdict(t), "shape": list(t.shape)} for t in self.table],
            "buffers": [asdict(b) for b in self.buffers],
            "forward": [asdict(c) for c in self.forward],
            "loss": asdict(self.loss),
            "backward": [asdict(c) for c in self.backward],
        }

    @classmethod
    def from_json(cls, d: Any) -> "Program":
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise UserError(f"not an rct-tflm program (format {d.get('format') if isinstance(d, dict) else None!r},"
                            f" expected {FORMAT!r})")
        if d.get("version") != VERSION:
            raise UserError(f"program version {d.get('version')!r} is not supported (this rct-tflm "
                            f"reads version {VERSION}); regenerate it with `rct-tflm generate`")
        return cls(
            layers=[LayerFacts.from_json(l) for l in d["layers"]],
            buffers=[BufferSpec(**b) for b in d["buffers"]],
            forward=[Call(**c) for c in d["forward"]], loss=Call(**d["loss"]),
            backward=[Call(**c) for c in d["backward"]],
            table=[TensorEntry(**{**t, "shape": tuple(t["shape"])}) for t in d["tensors"]],
            input_shape=tuple(d["input"]["shape"]), input_exp=d["input"]["exp"],
            num_classes=d["output"]["num_classes"], output=d["output"]["buffer"],
            output_exp=d["output"]["exp"], max_batch=d["max_batch"],
            first_trainable=d["first_trainable"], config=dict(d["config"]),
            input_affine=tuple(d["input"]["affine"]) if "affine" in d["input"] else None)
