"""The model as a firmware holds it: artefact + generation config -> lowered model and hash.

A firmware's model is fixed by the artefact and by the EngineConfig it was generated with
(trainable split, compiled hyper-parameters, accumulator policy, micro-batch). A generated tree
records both in `rct_generated.json`; `rct-tflm build` copies the tree into the build folder as
`model/`. Without one (a bare `--port`), the artefact's own split and the default config are
assumed — the board's HELLO model hash then tells whether that was right.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..artefact import ModelArtefact
from ..errors import UserError
from ..formats import manifest as manifest_format
from ..fixedpoint import ControllerConfig
from ..fixedpoint.config import EngineConfig
from ..fixedpoint.state import parse_weights_blob

# (a manifest without gavg_ref_samples predates it: its firmware uses the per-step mean, 0)
from ..program import Engine, Program, lower
CONTROLLER_KEYS = ("bits_init", "bits_min", "bits_max", "t_min", "t_max", "sat_guard",
                   "period_samples", "enabled", "gavg_ref_samples")


@dataclass
class DeviceModel:
    art: ModelArtefact  # with the device's trainable split
    cfg: EngineConfig  # the generation config (the compiled defaults)
    model: Program
    hash: bytes

    def engine_with(self, blob: bytes) -> Engine:
        """A golden engine holding the trainable state `blob` (WEIGHTS_READ format)."""
        e = Engine(self.model, self.cfg)
        for name, t in zip(self.model.trainable, parse_weights_blob(blob, e.trainable_tensors())):
            e.t[name] = t
        return e

    def artefact_with(self, blob: bytes, record: dict | None = None) -> ModelArtefact:
        """The artefact with its trainable tensors replaced by `blob` (the trained model)."""
        e = self.engine_with(blob)
        tensors = dict(self.art.tensors)
        for name in self.model.trainable:
            t = e.t[name].copy()
            t.q = t.q.reshape(np.shape(self.art.tensors[name].q))
            tensors[name] = t
        training = dict(self.art.training)
        if record:
            training["stream"] = record
        return replace(self.art, tensors=tensors, training=training)


def engine_config_from_manifest(man: dict) -> EngineConfig:
    c = man.get("config", {})
    try:
        cc = ControllerConfig(**{k: c[k] for k in CONTROLLER_KEYS if k in c})
        return EngineConfig(lr_shift=int(c.get("lr_shift", 5)), seed=int(c.get("seed", 0)),
                            controller=cc, stochastic=bool(c.get("stochastic", True)),
                            max_batch=int(man.get("max_batch", 1)),
                            acc_policy=str(c.get("acc_policy", "int64")))
    except (ValueError, TypeError) as e:
        raise UserError(f"generated model manifest has a bad config ({e}); regenerate the "
                        f"firmware with `rct-tflm build --model ART`") from None


def find_manifest(firmware: str | Path | None) -> dict | None:
    """rct_generated.json of a build folder (`model/`), a generated tree, or None."""
    if firmware is None:
        return None
    d = Path(firmware)
    if d.is_file():
        d = d.parent
    return manifest_format.load(d) if manifest_format.find(d) is not None else None


def device_model(art: ModelArtefact, manifest: dict | None = None,
                 cfg: EngineConfig | None = None) -> DeviceModel:
    """The model a firmware generated from `art` holds (see module doc)."""
    from ..codegen.render import model_hash

    if manifest is not None:
        names = [t["name"] for t in manifest.get("trainable", [])]
        missing = [n for n in names if n not in art.tensors]
        if missing:
            raise UserError(f"the firmware was generated for another model (tensors {missing} "
                            f"are not in --model); pass the artefact it was built from")
        art = replace(art, trainable=set(names))
        cfg = cfg or engine_config_from_manifest(manifest)
    cfg = cfg or EngineConfig()
    model = lower(art, cfg)
    h = model_hash(model, art)
    if manifest is not None and manifest.get("model_hash") not in (None, h.hex()):
        raise UserError(f"the firmware was generated for model {manifest['model_hash'][:16]}…, "
                        f"--model is {h.hex()[:16]}…; pass the artefact it was built from or "
                        f"rebuild (`rct-tflm build --model ART`)")
    return DeviceModel(art, cfg, model, h)
