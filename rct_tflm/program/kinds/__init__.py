"""Layer kinds: one module each, discovered at import. Everything a stage asks of a kind is
asked here or of its module, so adding a kind edits no list and no switch anywhere else.

A kind module declares `KINDS` (the artefact kind names it handles) and, where they apply:

facts (defaults in the accessors below)
* `CONFIG`: the config keys an artefact layer of the kind carries (checked on load);
* `PARAMS`: its parameter roles, in Keras weight order (a parametric kind);
* `KERAS`: the Keras class names the importer turns into it (the first is the one messages name);
* `PASSES_EXPONENT`: it only selects, clips or reshapes, so its output keeps its input's
  exponent (the trainer requantises every other kind's output);
* `IDS`: the config key counting the integer ids it reads (a table lookup: the model input is
  ids, and a batch's gradient touches only the rows it read);
* `KERNEL_OUT_AXES`: how many trailing kernel axes index its output channel (depthwise: 2);
* `PER_CHANNEL`: tfmot's default 8-bit scheme quantises its kernel per output channel;
* `MLP`: its part in the float SGD reference (`"trained"` or `"skipped"`);
* `INPUTS`: how many tensors it reads (add: 2; its functions then take a list of inputs);
* `C_ROLES`: C functions of its kernels that no call invokes, by profiler category;
* `DEVICE_ONLY`: it runs in integer arithmetic only (a frozen `.tflite` part): no float
  reference, no Keras form; `C_HEADERS`: headers rct_model.c includes for its calls;
  `frozen_plan(art, layer)`: the lowered TFLite graph (Program.plans keeps it for the golden
  engine and for codegen, which prints it as rct_frozen.h/.c);

functions
* `macs(layer)`: multiply-accumulates of one sample's forward GEMM (a GEMM kind; its two
  backward GEMMs have as many);
* `float_forward(layer, x, p)`: the FP32 reference (numpy float64; p maps role -> array);
* `spec(config, in_shape)`: a numpy-built layer's config with Keras defaults and its output
  shape; `kernel_shape(config, in_shape, out_shape)` for a parametric one;
* `from_keras(k)`, `tf_forward(tf, layer, x, p, training, seed)`, `to_keras(L, layer, act)`:
  the trainer's side, with TensorFlow / Keras passed in (_tf.py);
* `shape(layer, facts, lowering)`, `forward(facts, lowering)`, `backward(facts, lowering)` and
  optionally `OUTPUT` ("new": its own output buffer, the default; "alias": a reshape of its
  input; "inplace": overwrites its input unless that is the caller's) and
  `absorbs_mask(prev, facts, nxt)`: its lowering onto the integer engine. A kind without them
  runs on the host only (TensorFlow); lower() refuses it with one line.

Any module may declare `KERNELS` (program/kernel.py); modules named `_*` hold what several
kinds share. A loss head is a module declaring `LOSS` (its `training.loss` name), `check(art,
lowering)` and `call(art, lowering, err)`: softmax_ce.py, mse.py.
"""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ...artefact import RECREATE
from ...errors import UserError
from ..kernel import Kernel
from ._tf import KerasLayer, Unsupported, act_name  # noqa: F401 (what the importer hands over)

if TYPE_CHECKING:
    from ...artefact import Layer, ModelArtefact


@lru_cache(maxsize=1)
def _registry() -> tuple[dict[str, ModuleType], dict[str, Kernel], dict[str, ModuleType]]:
    kinds: dict[str, ModuleType] = {}
    kernels: dict[str, Kernel] = {}
    losses: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "LOSS"):
            for name in (mod.LOSS, *getattr(mod, "ALIASES", ())):
                losses[name] = mod
        for k in getattr(mod, "KINDS", ()):
            assert k not in kinds, f"layer kind {k} declared twice"
            kinds[k] = mod
        for name, kern in getattr(mod, "KERNELS", {}).items():
            assert name not in kernels, f"kernel {name} declared twice"
            kernels[name] = kern
    return kinds, kernels, losses


def known() -> tuple[str, ...]:
    """Every layer kind an artefact may hold."""
    return tuple(sorted(_registry()[0]))


def supported() -> tuple[str, ...]:
    """The kinds the integer engine runs (those with a lowering)."""
    return tuple(k for k in known() if hasattr(_registry()[0][k], "forward"))


def kind(name: str) -> ModuleType | None:
    return _registry()[0].get(name)


def kernel(name: str) -> Kernel:
    return _registry()[1][name]


DEFAULT_LOSS = "softmax_ce"  # an artefact without training.loss is a classifier


def loss(name: str) -> ModuleType:
    """The loss head module named `name` (an artefact's `training.loss`, a Program's loss_kind)."""
    mods = _registry()[2]
    if name not in mods:
        raise UserError(f"the artefact's training.loss is {name!r}; the engine has "
                        f"{', '.join(sorted({m.LOSS for m in mods.values()}))}; {RECREATE}")
    return mods[name]


def _fact(name: str, attr: str, default: Any) -> Any:
    return getattr(kind(name), attr, default)  # an unknown kind has every default


def output_mode(name: str) -> str:
    return _fact(name, "OUTPUT", "new")


def arity(name: str) -> int:
    """How many tensors a layer of the kind reads (`INPUTS`; add: 2)."""
    return _fact(name, "INPUTS", 1)


def role_of(c_function: str) -> str | None:
    """The profiler's category of a C function of some kind's kernels."""
    for k in _registry()[1].values():
        if k.c_function == c_function:
            return k.role
    return next((m.C_ROLES[c_function] for m in set(_registry()[0].values())
                 if c_function in getattr(m, "C_ROLES", {})), None)


# -- facts, with their defaults ---------------------------------------------------------------
def config_keys(name: str) -> tuple[str, ...]:
    return _fact(name, "CONFIG", ())


def params(name: str) -> tuple[str, ...]:
    """Parameter roles of a kind; empty for a kind without parameters."""
    return _fact(name, "PARAMS", ())


def affine(name: str) -> bool:
    """act(x W + b) with a fused activation: a ReLU after it fuses into it, a
    BatchNormalization folds into W and b (the kinds whose config carries `activation`)."""
    return "activation" in config_keys(name)


def requantises(name: str) -> bool:
    return not _fact(name, "PASSES_EXPONENT", False)


def id_count(layer: "Layer") -> int | None:
    """How many integer ids the layer reads (None: it reads values, not ids)."""
    key = _fact(layer.kind, "IDS", None)
    return None if key is None else int(layer.config[key])


def kernel_out_axes(name: str) -> int:
    return _fact(name, "KERNEL_OUT_AXES", 1)


def per_channel(name: str) -> bool:
    return _fact(name, "PER_CHANNEL", False)


def mlp_role(name: str) -> str | None:
    return _fact(name, "MLP", None)


def gemm(name: str) -> bool:
    return hasattr(kind(name), "macs")


def macs(layer: "Layer") -> int:
    """One sample's forward GEMM MACs of the layer; 0 for a kind without a GEMM."""
    return kind(layer.kind).macs(layer) if gemm(layer.kind) else 0


def keras_classes() -> dict[str, str]:
    """Keras class name -> the kind it imports as (aliases included)."""
    return {c: k for k in known() for c in _fact(k, "KERAS", ())}


def keras_name(name: str) -> str | None:
    """The Keras class a kind is named by in messages (None: it has none)."""
    return next(iter(_fact(name, "KERAS", ())), None)


# -- the layer checks of a loaded artefact (rct_tflm.artefact knows no kinds) --------------------
def check(art: "ModelArtefact", what: str) -> None:
    """Every layer's kind is known and its config has the kind's keys; one-line UserError."""
    for l in art.layers:
        if kind(l.kind) is None:
            raise UserError(f"{what} has unknown layer kind '{l.kind}'; {RECREATE}")
        missing = [k for k in config_keys(l.kind) if k not in l.config]
        if missing:
            raise UserError(f"corrupt {what}: layer {l.name} ({l.kind}) has no config "
                            f"{', '.join(missing)}; {RECREATE}")


# -- what runs where (`rct-tflm layers`, the README's matrix) ------------------------------------
def support_matrix() -> list[dict[str, Any]]:
    """One row per layer kind: the Keras classes that import as it, and whether the trainer
    trains it (TensorFlow), the integer engine runs it frozen (forward) and trains through it
    on the device (backward; `params`: it has weights of its own to learn)."""
    rows = []
    for k in known():
        m = kind(k)
        rows.append({"kind": k, "keras": list(_fact(k, "KERAS", ())),
                     "host": hasattr(m, "tf_forward"), "frozen": hasattr(m, "forward"),
                     "trainable": hasattr(m, "backward"), "params": bool(params(k))})
    return rows
