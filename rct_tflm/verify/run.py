"""`rct-tflm verify`: a frozen int8 `.tflite` part on a target vs the tflite-micro interpreter.

Targets: `golden` (the lowered plan on the numpy twins, and every layer of the graph compared
with tflite-micro's tensors), `host` (the generated C, rct_frozen.c + the rct_tfl_ kernels,
built with gcc and ASan/UBSan, fed the samples over a pipe) and the QEMU boards (the same C in
the verification app, firmware/verify/, built for the board and fed over its UART; the ELF and
its size report stay in --out/firmware). verify.json holds `compared`,
`mismatches` (samples whose output differs), `max_abs_diff`, the first mismatching samples and,
on golden, the first layer that differs.
"""
from __future__ import annotations

import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..formats import results
from ..formats.tflite_model import read_tflite
from ..program.tflite_graph import quantize_input
from ..program.tflite_lower import lower_tflite
from .tflm_reference import compare_graph, compare_outputs, tflm_tensors

TARGETS = ("golden", "host", "qemu-stm32f405", "qemu-mps2-an386", "qemu-mps2-an500")
RESULT = "verify.json"
HOST_FLAGS = ["-O1", "-std=c99", "-Wall", "-Wextra", "-Werror", "-Wconversion",
              "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]


@dataclass
class VerifyConfig:
    model: str
    data: str  # random:N, or a data spec (rct_tflm.data.load_dataset) shaped like the input
    target: str
    out: str
    samples: int = 500
    seed: int = 0


def samples(cfg: VerifyConfig, model) -> np.ndarray:
    from ..program.tflite_graph import body
    shape = model.tensors[body(model)[1]].shape[1:]
    if cfg.data.startswith("random:"):
        try:
            n = int(cfg.data.split(":", 1)[1])
        except ValueError:
            raise UserError(f"--data {cfg.data}: give random:N with N samples") from None
        return np.random.default_rng(cfg.seed).integers(-128, 128, (min(n, cfg.samples), *shape),
                                                         dtype=np.int8)
    from ..data import load_dataset
    d = load_dataset(cfg.data, cfg.seed)
    x = np.concatenate([d.x_test, d.x_train])[:cfg.samples]
    if int(np.prod(x.shape[1:])) != int(np.prod(shape)):
        raise UserError(f"data set '{cfg.data}' has samples of shape {x.shape[1:]}, the model "
                        f"takes {shape}; give data shaped like its input, or random:N")
    return quantize_input(model, x.reshape(len(x), *shape))


def _host_outputs(plan, x: np.ndarray, model_path: str) -> np.ndarray:
    import shutil

    from ..codegen.tflite_frozen import kernel_sources, render_frozen
    from ..resources import firmware_dir
    if shutil.which("gcc") is None:
        raise UserError("--target host needs gcc: install it (`make setup` does) or verify on "
                        "--target golden")
    with tempfile.TemporaryDirectory(prefix="rct-verify-") as t:
        d = Path(t)
        srcs = render_frozen(plan, d, Path(model_path).name, host_main=True)
        exe = d / "frozen"
        r = subprocess.run(["gcc", *HOST_FLAGS, "-I", str(firmware_dir() / "include"), "-I",
                            str(d), *map(str, srcs), *map(str, kernel_sources()), "-o",
                            str(exe)], capture_output=True, text=True)
        if r.returncode:
            raise UserError(f"the host build of the frozen part failed: "
                            f"{(r.stderr or r.stdout).strip().splitlines()[-1:]}; this is a bug "
                            f"in rct_tflm's code generator, please report it")
        run = subprocess.run([str(exe)], input=struct.pack("<I", len(x)) + x.tobytes(),
                             capture_output=True, timeout=600)
        if run.returncode:
            raise UserError(f"the host build of the frozen part crashed: "
                            f"{run.stderr.decode(errors='replace').strip()[-300:]}")
    return np.frombuffer(run.stdout, np.int8).reshape(len(x), -1)


def run_verify(cfg: VerifyConfig) -> dict:
    if cfg.target not in TARGETS:
        raise UserError(f"--target {cfg.target}: verify runs on {', '.join(TARGETS)}")
    if cfg.samples < 1:
        raise UserError(f"--samples must be >= 1, got {cfg.samples}")
    model = read_tflite(cfg.model)
    plan = lower_tflite(model)
    x = samples(cfg, model)
    if cfg.target == "golden":
        r = compare_graph(model, x)  # the result and every layer vs tflite-micro
    else:
        if cfg.target == "host":
            ours, extra = _host_outputs(plan, x, cfg.model), {}
        else:
            from .qemu import qemu_outputs
            ours, size = qemu_outputs(plan, x, cfg.target, Path(cfg.model).name,
                                      Path(cfg.out) / "firmware")
            extra = {"size": size}
        r = {**compare_outputs(ours, tflm_tensors(model, x, [plan.output])[plan.output]),
             **extra}
    r.update({"target": cfg.target, "model": str(cfg.model), "data": cfg.data,
              "reference": "tflite-micro interpreter (reference kernels)",
              "calls": len(plan.calls), "arena_bytes": plan.arena_bytes,
              "const_bytes": plan.const_bytes})
    results.save(Path(cfg.out) / RESULT, r)
    return results.stamp(RESULT, r)
