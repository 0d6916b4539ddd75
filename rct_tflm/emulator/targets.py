"""The two integer training targets behind one interface: the numpy golden engine and the
generated C built for the host (a shared library driven through ctypes).

Both take int8 inputs and their targets (uint16 labels, int8 regression vectors, or None for an
autoencoder), train one step on n samples, predict classes (an MSE model: scores), and hand
back the trainable tensors (in the documented `weights_sha256` order) and every bitwidth change
as (sample count after the step, tensor, bits, exp) — the raw material of `bitwidth_history`.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ..artefact import ModelArtefact
from ..errors import UserError
from ..fixedpoint.config import EngineConfig
from ..fixedpoint.state import bitwidth_history, parse_weights_blob
from ..fixedpoint.qtensor import QTensor
from ..program import Engine, Program, lower

TARGETS = ("golden", "host")


class GoldenTarget:
    """rct_tflm.program.Engine (numpy)."""

    name = "golden"

    def __init__(self, art: ModelArtefact, cfg: EngineConfig, trainable_layers: int | None = None,
                 frozen_layers: int | None = None) -> None:
        self.model: Program = lower(art, cfg, trainable_layers, frozen_layers)
        self.engine = Engine(self.model, cfg)

    def train(self, x: np.ndarray, targets: np.ndarray | None) -> int:
        """One step; returns the summed loss (Q16.16) of its samples."""
        return self.engine.train_step(x, targets).loss_q16_sum

    def predict(self, x: np.ndarray, targets: np.ndarray | None = None) -> np.ndarray:
        return self.engine.predict(x, targets)

    def trainable_tensors(self) -> list[QTensor]:
        return self.engine.trainable_tensors()

    def changes(self) -> list[tuple[int, str, int, int]]:
        return [(d.sample, d.tensor, d.bits_after, d.exp_after) for d in self.engine.ctrl.log]

    def prng_counter(self) -> int:
        return self.engine.rng.counter

    def close(self) -> None:
        pass


def asan_loaded() -> bool:
    """True when the AddressSanitizer runtime is mapped into this process (LD_PRELOAD)."""
    try:
        return "libasan" in Path("/proc/self/maps").read_text()
    except OSError:
        return False


def asan_preload_hint() -> str:
    return ("LD_PRELOAD=\"$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)\" "
            "ASAN_OPTIONS=detect_leaks=0 rct-tflm emulate ...")


def sanitizer_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a Python child process that loads -fsanitize=address,undefined builds
    through ctypes: the ASan runtime must come first (LD_PRELOAD), libstdc++ too (numpy/scipy
    throw C++ exceptions, whose ASan interceptor needs it at start-up), leak checks off (the
    interpreter itself never frees some memory), and any finding aborts the process."""
    import shutil
    import subprocess

    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None:
        raise UserError(f"host C compiler '{cc}' not found; install gcc (`make setup`) or set CC")
    libs = [subprocess.run([cc, f"-print-file-name={n}"], capture_output=True, text=True,
                           check=True).stdout.strip() for n in ("libasan.so", "libstdc++.so")]
    out = dict(os.environ if env is None else env)
    out["LD_PRELOAD"] = " ".join(libs)
    out["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1"
    out["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return out


class HostTarget:
    """The generated C project compiled with host gcc as a shared library (HostModel).

    Bit changes are not reported by the C API; they are read from rct_model_get_stats after
    every step (the controller changes each tensor at most once per step)."""

    name = "host"

    def __init__(self, art: ModelArtefact, cfg: EngineConfig, trainable_layers: int | None = None,
                 frozen_layers: int | None = None, build_dir: str | os.PathLike | None = None,
                 sanitize: bool = False) -> None:
        from ..codegen.render import generate, load_manifest
        from .host import HostModel, build_host
        if sanitize and not asan_loaded():
            raise UserError("--sanitize builds with -fsanitize=address,undefined, whose runtime "
                            "must be loaded first: run as " + asan_preload_hint())
        self.model = lower(art, cfg, trainable_layers, frozen_layers)
        self._tmp = None if build_dir is not None else tempfile.TemporaryDirectory(prefix="rct-host-")
        root = Path(build_dir if build_dir is not None else self._tmp.name)
        gen = root / "generated"
        generate(art, gen, cfg, trainable_layers, frozen_layers, ram_budget=None)
        self.library = build_host(gen, root / "build", kind="lib", sanitize=sanitize)
        self.hm = HostModel(self.library, load_manifest(gen))
        self.hm.init(cfg.seed)
        self._bits = {n: (t.bits, t.exp) for n, t in self.model.tensors.items()
                      if n in self.model.trainable}
        self._changes: list[tuple[int, str, int, int]] = []
        self._prng = 0

    def train(self, x: np.ndarray, targets: np.ndarray | None) -> int:
        rc = self.hm.train(x, targets)
        if rc != 0:
            raise RuntimeError(f"rct_model_train returned {rc}")
        st = self.hm.stats()
        for name in self.model.trainable:  # registration order, like the controller's log
            t = st["tensors"][name]
            now = (t["bits"], t["exp"])
            if now != self._bits[name]:
                self._changes.append((st["samples"], name, now[0], now[1]))
                self._bits[name] = now
        self._prng = st["prng_counter"]
        return int(st["loss_q16"])

    def predict(self, x: np.ndarray, targets: np.ndarray | None = None) -> np.ndarray:
        return self.hm.predict(x, targets)

    def trainable_tensors(self) -> list[QTensor]:
        like = [self.model.tensors[n] for n in self.model.trainable]
        return parse_weights_blob(self.hm.weights_blob(), like)

    def changes(self) -> list[tuple[int, str, int, int]]:
        return list(self._changes)

    def prng_counter(self) -> int:
        return self._prng

    def close(self) -> None:
        self.hm.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def make_target(name: str, art: ModelArtefact, cfg: EngineConfig,
                trainable_layers: int | None = None, frozen_layers: int | None = None,
                build_dir: str | os.PathLike | None = None, sanitize: bool = False):
    if name == "golden":
        if sanitize:
            raise UserError("--sanitize applies to --target host only")
        return GoldenTarget(art, cfg, trainable_layers, frozen_layers)
    if name == "host":
        return HostTarget(art, cfg, trainable_layers, frozen_layers, build_dir, sanitize)
    raise UserError(f"unknown target '{name}'; use one of {', '.join(TARGETS)}")


def history_of(target) -> dict:
    """The documented bitwidth_history of a target's run so far."""
    m = target.model
    return bitwidth_history(m.tensors, m.trainable, target.changes())
