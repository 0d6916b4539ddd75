"""Layer kinds: one module each, discovered at import (adding a kind edits no list here).

A kind module declares `KINDS` (the artefact kind names it handles) and implements
`shape(layer, facts, low)` (its shape rule and validation), `forward(facts, low)` and
`backward(facts, low)` (its calls), and optionally `OUTPUT` ("new": its own output buffer,
the default; "alias": a reshape of its input; "inplace": overwrites its input unless that is
the caller's) and `absorbs_mask(prev, facts, nxt)` (its backward applies the previous layer's
activation mask). Any module may declare `KERNELS` (program/kernel.py); modules named `_*`
hold what several kinds share.
"""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from types import ModuleType

from ..kernel import Kernel


@lru_cache(maxsize=1)
def _registry() -> tuple[dict[str, ModuleType], dict[str, Kernel]]:
    kinds: dict[str, ModuleType] = {}
    kernels: dict[str, Kernel] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        mod = importlib.import_module(f"{__name__}.{info.name}")
        for k in getattr(mod, "KINDS", ()):
            assert k not in kinds, f"layer kind {k} declared twice"
            kinds[k] = mod
        for name, kern in getattr(mod, "KERNELS", {}).items():
            assert name not in kernels, f"kernel {name} declared twice"
            kernels[name] = kern
    return kinds, kernels


def supported() -> tuple[str, ...]:
    return tuple(sorted(_registry()[0]))


def kind(name: str) -> ModuleType | None:
    return _registry()[0].get(name)


def kernel(name: str) -> Kernel:
    return _registry()[1][name]


def output_mode(name: str) -> str:
    return getattr(_registry()[0][name], "OUTPUT", "new")


def role_of(c_function: str) -> str | None:
    """The profiler's category of a C function some kernel of the program calls."""
    return next((k.role for k in _registry()[1].values() if k.c_function == c_function), None)
