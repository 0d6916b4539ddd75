"""The model artefact: the one on-disk format every stage reads and writes (docs/artefact.md).

A `.rct` file is a zip archive holding

* `model.json` — format name and version, the layer graph (layers in topological order; a
  layer reads the previous one unless its `inputs` name its producers: residual graphs),
  per-tensor metadata (shape, dtype, exponent, bitwidth, trainable), preprocessing, training record and,
  once partitioned, the partition plan;
* `tensors/<name>.npy` — one array per tensor: int32 integers for quantised tensors (real value
  = q * 2**exp), float32 for float ones (FP32 / QAT baselines).

Writes are atomic (temp file + rename). Loading checks everything it can without knowing the
layer kinds and raises `UserError` with a one-line message for a missing, corrupt or
incompatible file; the kinds and their config keys are checked one layer up, by the kind
registry (`rct_tflm.program.load_artefact`, which every stage loads through).
This module imports numpy only.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UserError
from .formats import plan as plan_format
from .formats.atomic import atomic_path
from .formats.tflite_model import is_tflite
from .fixedpoint.qtensor import QTensor
from .fixedpoint.rounding import qmax, qmin

FORMAT = "rct-tflm-model"
VERSION = 1

# What a refusal tells the user to do.
RECREATE = "re-create it with `rct-tflm train`"
ACTIVATIONS = ("linear", "relu", "relu6")
MODEL_INPUT = "@input"  # in a layer's `inputs`: the model's input (no layer is named so by Keras)


@dataclass
class Layer:
    name: str
    kind: str
    config: dict[str, Any]
    input_shape: tuple[int, ...]  # per sample, no batch axis
    output_shape: tuple[int, ...]
    params: dict[str, str] = field(default_factory=dict)  # role ("kernel", "bias") -> tensor name
    act_exp: int | None = None  # output activation exponent (8-bit), once calibrated
    # producers (layer names or MODEL_INPUT) of a layer in a graph; None: the previous layer
    inputs: list[str] | None = None

    def to_json(self) -> dict:
        d = {"name": self.name, "kind": self.kind, "config": self.config,
             "input_shape": list(self.input_shape), "output_shape": list(self.output_shape),
             "params": self.params, "act_exp": self.act_exp}
        if self.inputs is not None:  # a chain's JSON (and model hash) stays what it was
            d["inputs"] = list(self.inputs)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Layer":
        inputs = d.get("inputs")
        return cls(d["name"], d["kind"], dict(d["config"]), tuple(d["input_shape"]),
                   tuple(d["output_shape"]), dict(d.get("params", {})), d.get("act_exp"),
                   None if inputs is None else [str(i) for i in inputs])


Tensor = QTensor | np.ndarray  # int tensor with exponent/bitwidth, or a float32 array


@dataclass
class ModelArtefact:
    layers: list[Layer]
    tensors: dict[str, Tensor]
    input_shape: tuple[int, ...]
    num_classes: int
    trainable: set[str] = field(default_factory=set)  # tensor names trained on the device side
    preprocess: dict[str, Any] = field(default_factory=dict)  # how raw data becomes the input
    training: dict[str, Any] = field(default_factory=dict)  # method, seed, history summary
    partition: dict[str, Any] | None = None  # filled by `rct-tflm partition`
    # files a layer's config names (a frozen part imported from a .tflite: its flatbuffer)
    files: dict[str, bytes] = field(default_factory=dict)

    # -- queries ---------------------------------------------------------------------------
    def layer(self, name: str) -> Layer:
        for l in self.layers:
            if l.name == name:
                return l
        raise KeyError(name)

    def param_layers(self) -> list[Layer]:
        return [l for l in self.layers if l.params]

    # -- the graph (layers are in topological order) ----------------------------------------
    def sources(self, i: int) -> list[int]:
        """Indices of the layers layer i reads (-1: the model input)."""
        l = self.layers[i]
        if l.inputs is None:
            return [i - 1]
        pos = {x.name: j for j, x in enumerate(self.layers)}
        return [-1 if s == MODEL_INPUT else pos[s] for s in l.inputs]

    def consumers(self) -> dict[int, list[int]]:
        """Layer index (-1: the model input) -> the layers that read its output, in order."""
        out: dict[int, list[int]] = {i: [] for i in range(-1, len(self.layers))}
        for i in range(len(self.layers)):
            for s in self.sources(i):
                out[s].append(i)
        return out

    def is_chain(self) -> bool:
        return all(self.sources(i) == [i - 1] for i in range(len(self.layers)))

    def run_graph(self, x: Any, fn: Any) -> list[Any]:
        """Every layer's output: fn(layer, x) in layer order, x its input (a list of the
        inputs for a layer reading several). The executors of every stage walk this."""
        outs: list[Any] = []
        for i, l in enumerate(self.layers):
            ins = [x if s < 0 else outs[s] for s in self.sources(i)]
            outs.append(fn(l, ins[0] if len(ins) == 1 else ins))
        return outs

    def bitwidths(self) -> dict[str, int]:
        """Bitwidth of every integer tensor, by tensor name."""
        return {n: t.bits for n, t in self.tensors.items() if isinstance(t, QTensor)}

    def float_weights(self, name: str) -> np.ndarray:
        t = self.tensors[name]
        return t.to_float() if isinstance(t, QTensor) else np.asarray(t, dtype=np.float32)

    # -- persistence -----------------------------------------------------------------------
    def to_json(self) -> dict:
        meta = {}
        for n, t in self.tensors.items():
            if isinstance(t, QTensor):
                meta[n] = {"dtype": "int", "shape": list(t.q.shape), "exp": t.exp, "bits": t.bits}
            else:
                meta[n] = {"dtype": "float32", "shape": list(np.shape(t))}
            meta[n]["trainable"] = n in self.trainable
        return {"format": FORMAT, "version": VERSION, "input_shape": list(self.input_shape),
                "num_classes": self.num_classes, "layers": [l.to_json() for l in self.layers],
                "tensors": meta, "preprocess": self.preprocess, "training": self.training,
                "partition": self.partition,
                **({"files": {n: hashlib.sha256(b).hexdigest() for n, b in self.files.items()}}
                   if self.files else {})}

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically: a crash never leaves a half-written artefact at `path`."""
        path = Path(path)
        with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("model.json", json.dumps(self.to_json(), indent=1))
            for n, t in self.tensors.items():
                arr = t.q.astype(np.int32) if isinstance(t, QTensor) else np.asarray(t, np.float32)
                buf = io.BytesIO()
                np.save(buf, arr, allow_pickle=False)
                z.writestr(f"tensors/{n}.npy", buf.getvalue())
            for n, b in self.files.items():
                z.writestr(f"files/{n}", b)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ModelArtefact":
        path = Path(path)
        fix = RECREATE
        if path.is_dir():  # a run folder (`train --out DIR`, `emulate --out DIR`) holds model.rct
            if not (path / "model.rct").is_file():
                raise UserError(f"folder '{path}' holds no model.rct; give the .rct file or a "
                                f"folder written by `rct-tflm train --out`")
            path = path / "model.rct"
        if not path.is_file():
            raise UserError(f"model artefact '{path}' does not exist; {fix}")
        if is_tflite(path):
            raise UserError(f"'{path}' is a .tflite model, not an artefact: partition it "
                            f"first (`rct-tflm partition --model {path} --board BOARD "
                            f"--out DIR`), then give DIR/model.rct")
        try:
            with zipfile.ZipFile(path) as z:
                meta = json.loads(z.read("model.json"))
                if meta.get("format") != FORMAT:
                    raise UserError(f"'{path}' is not an rct_tflm model artefact; {fix}")
                if meta.get("version") != VERSION:
                    raise UserError(f"'{path}' has artefact version {meta.get('version')}, this "
                                    f"rct_tflm reads version {VERSION}; {fix}")
                tensors: dict[str, Tensor] = {}
                trainable = set()
                for n, m in meta["tensors"].items():
                    arr = np.load(io.BytesIO(z.read(f"tensors/{n}.npy")), allow_pickle=False)
                    if list(arr.shape) != m["shape"]:
                        raise UserError(f"corrupt model artefact '{path}': tensor {n} has shape "
                                        f"{list(arr.shape)}, metadata says {m['shape']}; {fix}")
                    if m["dtype"] == "int":
                        bits = int(m["bits"])
                        if arr.size and (arr.min() < qmin(bits) or arr.max() > qmax(bits)):
                            raise UserError(f"corrupt model artefact '{path}': tensor {n} exceeds "
                                            f"its {bits}-bit range; {fix}")
                        tensors[n] = QTensor(arr.astype(np.int32), int(m["exp"]), bits)
                    else:
                        if not np.all(np.isfinite(arr)):
                            raise UserError(f"corrupt model artefact '{path}': tensor {n} holds "
                                            f"NaN/inf; {fix}")
                        tensors[n] = arr.astype(np.float32)
                    if m.get("trainable"):
                        trainable.add(n)
                layers = [Layer.from_json(d) for d in meta["layers"]]
                files = {n: z.read(f"files/{n}") for n in meta.get("files", {})}
                bad = [n for n, b in files.items()
                       if hashlib.sha256(b).hexdigest() != meta["files"][n]]
                if bad:
                    raise UserError(f"corrupt model artefact '{path}': file {bad[0]} does not "
                                    f"match its SHA-256; {fix}")
        except UserError:
            raise
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, json.JSONDecodeError) as e:
            raise UserError(f"corrupt model artefact '{path}' ({type(e).__name__}: {e}); {fix}") from None
        seen = {MODEL_INPUT}
        for l in layers:
            for t in l.params.values():
                if t not in tensors:
                    raise UserError(f"corrupt model artefact '{path}': layer {l.name} needs "
                                    f"missing tensor {t}; {fix}")
            bad = [s for s in (l.inputs or []) if s not in seen]
            if bad or l.inputs == []:
                raise UserError(f"corrupt model artefact '{path}': layer {l.name} reads "
                                f"{bad or 'nothing'}, not an earlier layer; {fix}")
            seen.add(l.name)
        return cls(layers, tensors, tuple(meta["input_shape"]), int(meta["num_classes"]),
                   trainable, meta.get("preprocess", {}), meta.get("training", {}),
                   plan_format.check(meta.get("partition"), path), files)


def known_classes(art: "ModelArtefact") -> list[int] | None:
    """Classes the model was trained on before deployment (`rct-tflm train` records them);
    None when unknown or when it saw every class (then there is no known/new split)."""
    seen = art.training.get("classes_seen")
    if not seen or len(seen) >= art.num_classes:
        return None
    return [int(c) for c in seen]
