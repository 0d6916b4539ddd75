"""Host emulator: the generated project + firmware/ sources built with host gcc.

`build_host` compiles a generated tree (from `rct-tflm generate`) together with the hand-written
runtime (`firmware/kernels`, `firmware/runtime`, header `firmware/include/rct.h`) either as a
shared library (driven from Python through ctypes by `HostModel`) or as a program (H5's
serial-protocol main passed in `extra_sources`). Builds are cached in `out_dir` by a hash of
every source's content and the flags, so a second build of the same tree is free.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import UserError
from ..formats.atomic import atomic_path
from ..toolchain import (SANITIZE_FLAGS, STRICT_FLAGS, generated_sources, runtime_include,
                         runtime_sources)

def _cc() -> str:
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None:
        raise UserError(f"host C compiler '{cc}' not found; install gcc (`make setup`) or set CC")
    return cc


def build_host(gen_dir: str | os.PathLike, out_dir: str | os.PathLike, kind: str = "lib",
               extra_sources: Sequence[str | os.PathLike] = (), sanitize: bool = False,
               extra_flags: Sequence[str] = ()) -> Path:
    """Build the generated project for the host; returns the path of the .so or the program.

    kind="lib": a shared library exporting the rct_model_* API; kind="program": an executable
    whose `main` comes from `extra_sources`. The result is cached under `out_dir` by content hash.
    """
    if kind not in ("lib", "program"):
        raise ValueError(f"kind must be 'lib' or 'program', got {kind!r}")
    gen_dir = Path(gen_dir)
    if not (gen_dir / "rct_model.h").is_file():
        raise UserError(f"'{gen_dir}' is not a generated project (no rct_model.h); run "
                        f"`rct-tflm generate --model ART --out {gen_dir}` first")
    srcs = generated_sources(gen_dir) + runtime_sources() + [Path(s) for s in extra_sources]
    headers = sorted(gen_dir.glob("*.h")) + sorted(runtime_include().glob("*.h"))
    flags = list(STRICT_FLAGS) + (SANITIZE_FLAGS if sanitize else []) + list(extra_flags)
    if kind == "lib":
        flags += ["-shared", "-fPIC"]
    cc = _cc()
    h = hashlib.sha256()
    h.update(" ".join([cc, kind] + flags).encode())
    for p in srcs + headers:
        h.update(str(p.name).encode())
        h.update(p.read_bytes())
    key = h.hexdigest()[:16]
    out_dir = Path(out_dir)
    name = f"rct_model_{key}.so" if kind == "lib" else f"rct_model_{key}"
    target = out_dir / name
    if target.is_file():
        return target
    with atomic_path(target, 0o755) as tmp:
        cmd = [cc, *flags, f"-I{gen_dir}", f"-I{runtime_include()}", *map(str, srcs), "-o", str(tmp)]
        if kind == "program" or sanitize:
            cmd.append("-lm")
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"host build failed:\n{' '.join(cmd)}\n{res.stderr[-4000:]}")
    return target


# -- ctypes driver ------------------------------------------------------------------------------
class HParams(ctypes.Structure):
    """rct_hparams_t (templates/rct_model.h.j2)."""
    _fields_ = [("lr_shift", ctypes.c_int32), ("t_min_q16", ctypes.c_int32),
                ("t_max_q16", ctypes.c_int32), ("sat_guard_ppm", ctypes.c_uint32),
                ("period_samples", ctypes.c_uint32), ("seed", ctypes.c_uint32)]


class TensorStats(ctypes.Structure):
    _fields_ = [("bits", ctypes.c_int32), ("exp", ctypes.c_int32), ("gavg_q16", ctypes.c_int32),
                ("saturated", ctypes.c_uint32)]


def _stats_struct(n_trainable: int) -> type:
    class Stats(ctypes.Structure):
        """rct_stats_t for a model with n_trainable tensors."""
        _fields_ = [("samples", ctypes.c_uint32), ("steps", ctypes.c_uint32),
                    ("decisions", ctypes.c_uint32), ("loss_q16", ctypes.c_int32),
                    ("prng_counter", ctypes.c_uint32), ("tensors", TensorStats * n_trainable)]
    return Stats


class HostModel:
    """The generated model as a host shared library, driven through the rct_model API."""

    def __init__(self, so_path: str | os.PathLike, manifest: dict) -> None:
        self.lib = ctypes.CDLL(str(so_path))
        self.man = manifest
        self.names = [t["name"] for t in manifest["trainable"]]
        self.input_size = int(manifest["input_size"])
        self.num_classes = int(manifest["num_classes"])
        self.max_batch = int(manifest["max_batch"])
        # a manifest from before MSE heads is a classifier's
        self.targets = manifest.get("targets", "labels")
        self.target_size = int(manifest.get("target_size", 1))
        self.target_dtype = np.uint16 if self.targets == "labels" else np.int8
        self._Stats = _stats_struct(len(self.names))
        L = self.lib
        L.rct_model_init.argtypes = [ctypes.c_uint32]
        L.rct_model_train.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint16]
        L.rct_model_infer.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        L.rct_model_infer.restype = ctypes.c_int32
        L.rct_model_set_hparams.argtypes = [ctypes.POINTER(HParams)]
        L.rct_model_get_hparams.argtypes = [ctypes.POINTER(HParams)]
        L.rct_model_get_stats.argtypes = [ctypes.POINTER(self._Stats)]
        L.rct_model_weights_size.restype = ctypes.c_uint32
        L.rct_model_weights_read.argtypes = [ctypes.c_uint32, ctypes.c_void_p, ctypes.c_uint32]
        L.rct_model_weights_write.argtypes = [ctypes.c_uint32, ctypes.c_void_p, ctypes.c_uint32]

    def close(self) -> None:
        """Unload the library. The loader recognises libraries by device and inode, so a
        deleted .so left loaded could be handed back for a later build whose file reuses the
        inode; unloading first avoids that. The object is unusable afterwards."""
        import _ctypes
        if getattr(self, "lib", None) is not None:
            _ctypes.dlclose(self.lib._handle)
            self.lib = None

    @classmethod
    def build(cls, gen_dir: str | os.PathLike, out_dir: str | os.PathLike) -> "HostModel":
        from ..codegen.render import load_manifest
        return cls(build_host(gen_dir, out_dir, kind="lib"), load_manifest(gen_dir))

    def init(self, seed: int) -> None:
        self.lib.rct_model_init(seed & 0xFFFFFFFF)

    def _targets(self, targets: np.ndarray | None, n: int) -> np.ndarray | None:
        """The targets as rct_target_t values (labels uint16, regression int8; none: None)."""
        if self.target_size == 0:
            return None
        t = np.ascontiguousarray(targets, self.target_dtype).reshape(-1)
        if t.size != n * self.target_size:
            raise ValueError(f"{t.size} target values for {n} samples of {self.target_size}")
        return t

    def train(self, x: np.ndarray, targets: np.ndarray | None) -> int:
        x = np.ascontiguousarray(x, np.int8).reshape(-1)
        n = x.size // self.input_size
        if x.size != n * self.input_size:
            raise ValueError(f"{x.size} input values for samples of {self.input_size}")
        t = self._targets(targets, n)
        return int(self.lib.rct_model_train(x.ctypes.data, None if t is None else t.ctypes.data,
                                            n))

    def infer(self, x: np.ndarray, target: np.ndarray | None = None) -> tuple[int, np.ndarray]:
        """(the class, or an MSE model's Q16.16 score; the outputs) of one sample."""
        x = np.ascontiguousarray(x, np.int8).reshape(-1)
        logits = np.zeros(self.num_classes, np.int32)
        t = None if target is None else self._targets(target, 1)
        r = int(self.lib.rct_model_infer(x.ctypes.data, None if t is None else t.ctypes.data,
                                         logits.ctypes.data))
        return r, logits

    def predict(self, x: np.ndarray, targets: np.ndarray | None = None) -> np.ndarray:
        x = np.asarray(x, np.int8).reshape(len(x), -1)
        return np.array([self.infer(row, None if targets is None else targets[i])[0]
                         for i, row in enumerate(x)], dtype=np.int64)

    def stats(self) -> dict:
        s = self._Stats()
        self.lib.rct_model_get_stats(ctypes.byref(s))
        return {"samples": s.samples, "steps": s.steps, "decisions": s.decisions,
                "loss_q16": s.loss_q16, "prng_counter": s.prng_counter,
                "tensors": {n: {"bits": t.bits, "exp": t.exp, "gavg_q16": t.gavg_q16,
                                "saturated": t.saturated} for n, t in zip(self.names, s.tensors)}}

    def set_hparams(self, **kw: int) -> None:
        h = HParams()
        self.lib.rct_model_get_hparams(ctypes.byref(h))
        for k, v in kw.items():
            setattr(h, k, int(v))
        self.lib.rct_model_set_hparams(ctypes.byref(h))

    def weights_blob(self) -> bytes:
        n = int(self.lib.rct_model_weights_size())
        buf = ctypes.create_string_buffer(n)
        if self.lib.rct_model_weights_read(0, buf, n) != 0:
            raise RuntimeError("rct_model_weights_read failed")
        return buf.raw

    def weights_write(self, blob: bytes, off: int = 0) -> int:
        buf = ctypes.create_string_buffer(blob, len(blob))
        return int(self.lib.rct_model_weights_write(off, buf, len(blob)))
