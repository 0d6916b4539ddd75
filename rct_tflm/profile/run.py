"""Profile a built firmware: every kernel call of a training step and of an inference, counted
in the emulator, attributed to the program's layers, and checked against the golden engine.

The firmware is run through its own API (rct_model_init / train / infer / weights_read) on
the same samples as the golden engine (rct_tflm.program.Engine built from the
firmware's own manifest, rct_tflm.stream.device_model); after the steps, the trainable state
the firmware serialises must equal the golden engine's blob byte for byte and its logits the
golden logits, or the profile is refused: a profile of wrong code is worthless.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..boards import DEFAULT_BOARD, HOST, Board, get_board
from ..errors import UserError
from ..program import Engine
from ..resources import firmware_dir
from ..stream.device_model import DeviceModel, device_model, find_manifest
from .costs import core_costs
from .elf import ElfImage
from .machine import Machine
from .program import infer_calls, kind_of, match, train_calls
from .trace import BlockCounter, KernelTracer, Trace

FORMAT, VERSION = "rct-tflm-profile", 1
MODEL_SOURCE = "rct_model.c"  # the generated code whose calls are kernel calls


def require_emulator() -> None:
    """The profiler's packages (requirements.txt), or a one-line error naming them."""
    import importlib.util
    missing = [p for p in ("unicorn", "elftools", "capstone") if importlib.util.find_spec(p) is None]
    if missing:
        raise UserError(f"the profiler needs {', '.join(missing)}: `pip install unicorn==2.1.4 "
                        f"pyelftools==0.33 capstone==5.0.9` (or `make setup`)")


def cortex_m_board(name: str) -> Board:
    """The board, or a one-line error when it has no Cortex-M core to emulate."""
    require_emulator()
    if name == HOST:
        raise UserError("board 'host' has no Cortex-M core to count instructions on; profile a "
                        f"Cortex-M board, e.g. --board {DEFAULT_BOARD} (see `rct-tflm boards`)")
    b = get_board(name)
    if not b.core.startswith("cortex-m"):
        raise UserError(f"board '{name}' has core {b.core}, not a Cortex-M; the profiler "
                        f"emulates Cortex-M cores only")
    core_costs(b.core)
    return b


def clock_hz(board: Board) -> float | None:
    """The core clock from the board database's clock text ('HSI 16 MHz' -> 16e6)."""
    m = re.search(r"(\d+(?:\.\d+)?)\s*MHz", board.clock)
    return float(m.group(1)) * 1e6 if m else None


def public_kernels() -> list[str]:
    """Public functions of firmware/include/rct.h (not its static inline helpers)."""
    hdr = (firmware_dir() / "include" / "rct.h").read_text()
    return sorted(set(re.findall(r"^(?!static)[A-Za-z_][\w \*]*?\b(rct_\w+)\s*\(", hdr, re.M)))


def build(art: Any, board: Board, fw: Path, cfg: Any, trainable_layers: int | None = None,
          frozen_layers: int | None = None, kernels: str = "auto",
          name: str = "model") -> dict:
    from ..firmware_build import build_artefact
    return build_artefact(board.name, art, fw, cfg, trainable_layers, frozen_layers,
                          artefact_name=name, kernels=kernels)


@dataclass
class Firmware:
    """A built firmware loaded into the emulator, with its golden twin."""
    dm: DeviceModel
    board: Board
    elf: ElfImage
    m: Machine
    tracer: KernelTracer

    @classmethod
    def load(cls, fw: Path, art: Any, board: Board) -> "Firmware":
        dm = device_model(art, find_manifest(fw))
        elf = ElfImage(fw / "firmware.elf")
        m = Machine(elf, board.core)
        ranges = elf.source_ranges(MODEL_SOURCE)
        if not ranges:
            raise UserError(f"{fw}/firmware.elf has no debug info for {MODEL_SOURCE}; build it "
                            f"with `rct-tflm build` (which compiles with -g)")
        kern = {elf.functions[n].addr: n for n in public_kernels() if n in elf.functions}
        return cls(dm, board, elf, m, KernelTracer(BlockCounter(m, core_costs(board.core)), kern,
                                                   ranges))

    def call(self, func: str, *args: int, traced: bool = False) -> tuple[int, Trace | None, int]:
        r0, stack = self.m.call(func, args, self.tracer.install if traced else None)
        return r0, (self.tracer.trace if traced else None), stack

    def weights_blob(self) -> bytes:
        n, _, _ = self.call("rct_model_weights_size")
        buf = self.m.alloc(n)
        rc, _, _ = self.call("rct_model_weights_read", 0, buf, n)
        if rc != 0:
            raise UserError(f"rct_model_weights_read failed on the emulated firmware (code {rc})")
        return self.m.read(buf, n)


def synthetic_samples(input_size: int, classes: int, n: int, seed: int) -> tuple[np.ndarray,
                                                                                 np.ndarray]:
    """Seeded int8 inputs and labels (counts depend on values only through data-dependent
    branches such as saturation; pass real data for representative numbers)."""
    rng = np.random.default_rng(seed)
    return (rng.integers(-128, 128, (n, input_size), dtype=np.int64).astype(np.int8),
            rng.integers(0, classes, n).astype(np.uint8))


def _calls(trace: Trace, expected: list, phase: str) -> list[dict]:
    out = []
    for i, (c, e) in enumerate(zip(trace.calls, match([c.name for c in trace.calls], expected))):
        macs = e.macs if e else 0
        out.append({"phase": phase, "index": i, "name": c.name, "kind": kind_of(c.name),
                    "layer": e.layer if e else None, "instructions": c.instructions,
                    "macs": macs,
                    "macs_per_instruction": round(macs / c.instructions, 4) if c.instructions else 0.0,
                    "est_cycles": round(c.cycles)})
    return out


def _mismatch(fw_blob: bytes, gold_blob: bytes, dm: DeviceModel, steps: int) -> str:
    if len(fw_blob) != len(gold_blob):
        return (f"the firmware's weights blob has {len(fw_blob)} bytes, the golden engine's "
                f"{len(gold_blob)}")
    k = next(i for i, (a, b) in enumerate(zip(fw_blob, gold_blob)) if a != b)
    off = 0
    for name in dm.model.trainable:
        size = 2 + 2 * dm.model.tensors[name].size
        if k < off + size:
            return (f"after {steps} steps the firmware's weights differ from the golden engine's "
                    f"(tensor {name}, blob byte {k}); the firmware does not implement the "
                    f"numeric contract, so its profile is not reported")
        off += size
    return f"the weights differ at blob byte {k}"


def profile_firmware(fw: Path, art: Any, board: Board, x: np.ndarray | None = None,
                     y: np.ndarray | None = None, steps: int = 4, boundary: bool = False,
                     seed: int = 0) -> dict:
    """Profile `steps` training steps (batch 1) and one inference of the firmware built in
    `fw`; with `boundary`, train on (unprofiled, still checked) up to the controller's first
    period boundary and profile that step too. Returns the profile record (docs/profile.md)."""
    if steps < 1:
        raise UserError(f"--steps must be >= 1, got {steps}")
    f = Firmware.load(fw, art, board)
    dm = f.dm
    if dm.model.loss_kind != "softmax_ce":
        raise UserError("profile drives a classifier's training steps (uint16 labels); this "
                        "model has an MSE head: measure it with `rct-tflm emulate`")
    size, classes = dm.model.input_size, dm.model.num_classes
    if x is None or y is None:
        x, y = synthetic_samples(size, classes, max(steps, 64), seed)
    x = np.asarray(x, np.int8).reshape(len(x), -1)
    if x.shape[1] != size:
        raise UserError(f"the samples have {x.shape[1]} inputs, the model {size}")
    gold = Engine(dm.model, dm.cfg)
    gold.reset(seed)
    rc, _, _ = f.call("rct_model_init", seed)
    if rc != 0:
        raise UserError(f"rct_model_init failed on the emulated firmware (code {rc})")
    xa, la = f.m.alloc(size), f.m.alloc(8)
    exp_train, exp_infer = train_calls(dm.model), infer_calls(dm.model)
    stack = 0

    def step(i: int, traced: bool) -> Trace | None:
        nonlocal stack
        xi, yi = x[i % len(x)], int(y[i % len(y)])
        f.m.uc.mem_write(xa, xi.tobytes())
        f.m.uc.mem_write(la, int(yi).to_bytes(2, "little"))  # a uint16 label
        rc, tr, st = f.call("rct_model_train", xa, la, 1, traced=traced)
        if rc != 0:
            raise UserError(f"rct_model_train returned {rc} on the emulated firmware")
        gold.train_step(xi[None], np.array([yi]))
        stack = max(stack, st)
        return tr

    traces = [step(i, True) for i in range(steps)]
    done = steps
    bstep = None
    period = dm.cfg.controller.period_samples
    if boundary and done < period:
        while done < period - 1:
            step(done, False)
            done += 1
        bstep = step(done, True)
        done += 1
    fw_blob, gold_blob = f.weights_blob(), gold.weights_blob()
    if fw_blob != gold_blob:
        raise UserError(_mismatch(fw_blob, gold_blob, dm, done))
    logits = f.m.alloc(4 * classes)
    f.m.uc.mem_write(xa, x[0].tobytes())
    am, itr, st = f.call("rct_model_infer", xa, 0, logits, traced=True)  # no target: NULL
    stack = max(stack, st)
    fw_logits = np.frombuffer(f.m.read(logits, 4 * classes), "<i4")
    g_logits = gold.logits(x[:1])[0].astype(np.int32)
    if not np.array_equal(fw_logits, g_logits) or am != int(np.argmax(g_logits)):
        raise UserError("the firmware's inference logits differ from the golden engine's; the "
                        "profile is not reported")
    first = traces[0]
    kernels = _calls(first, exp_train, "train") + _calls(itr, exp_infer, "infer")
    rec_boundary = None
    if bstep is not None:
        adv = [c for c in _calls(bstep, exp_train, "boundary") if c["name"] ==
               "rct_controller_advance"]
        for c in adv:
            c["kind"] = "period-boundary"
        kernels += adv
        rec_boundary = {"step": done, "period_samples": period, "instructions": bstep.instructions,
                        "advance_instructions": sum(c["instructions"] for c in adv)}
    hz = clock_hz(board)
    sizes = f.elf.static_sizes()
    ms = (lambda cyc: round(1e3 * cyc / hz, 4)) if hz else (lambda cyc: None)
    rec = {
        "format": FORMAT, "version": VERSION, "board": board.name, "core": board.core,
        "clock_hz": hz, "kernels_impl": None, "seed": seed, "steps_profiled": steps,
        "steps_total": done,
        "counting": "unicorn translation-block hook; every instruction of an executed block "
                    "counts, IT-skipped included (docs/profile.md)",
        "golden_check": {"steps": done, "weights_equal": True, "logits_equal": True,
                         "weights_sha256": gold.weights_sha256()},
        "kernels": kernels,
        "train_step_instructions": first.instructions,
        "train_glue_instructions": first.glue_instructions,
        "train_step_instructions_per_step": [t.instructions for t in traces],
        "inference_instructions": itr.instructions,
        "inference_glue_instructions": itr.glue_instructions,
        "train_step_macs": sum(k["macs"] for k in kernels if k["phase"] == "train"),
        "inference_macs": sum(k["macs"] for k in kernels if k["phase"] == "infer"),
        "train_step_est_cycles": round(first.cycles), "train_step_est_ms": ms(first.cycles),
        "inference_est_cycles": round(itr.cycles), "inference_est_ms": ms(itr.cycles),
        "boundary": rec_boundary,
        "ram_bytes": sizes["ram_bytes"], "flash_bytes": sizes["flash_bytes"],
        "stack_bytes": stack, "sections": {k: sizes[k] for k in ("text", "data", "bss")},
        "by_kind": {ph: by_kind(kernels, ph) for ph in ("train", "infer")},
    }
    f.elf.close()
    return rec


def by_kind(kernels: list[dict], phase: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for k in kernels:
        if k["phase"] == phase:
            out[k["kind"]] = out.get(k["kind"], 0) + k["instructions"]
    return out
