"""Render a model artefact into a C99 project (templates/ -> out dir), with its memory report.

The artefact is lowered to a program (rct_tflm/program) and printed: every call becomes its C
statement here (its kind module's printer, with buffers, tensors and shapes named by CNames),
so the templates only place statements. The generated tree mirrors templates/: rct_model.h
(API), rct_model.c (arena + the program's calls), rct_config.h (hyper-parameters, sizes),
rct_weights.h/.c (const tables), a Makefile, CMakeLists.txt with a Cortex-M toolchain file and
example/main.c; the runtime it needs is copied into rct_runtime/, so the tree builds away from
this package. Plus memory.json / memory.md (RAM and flash per buffer), program.json (the
program, docs/program.md) and rct_generated.json (manifest: model hash, trainable tensors in
serialisation order, configuration). Output is written to a temporary
directory and moved into place, so a failed generation leaves nothing half-written.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..artefact import ModelArtefact
from ..boards import DEFAULT_BOARD, HOST, get_board
from ..errors import UserError
from ..fixedpoint import kernels as K
from ..fixedpoint.config import EngineConfig
from ..fixedpoint.state import weights_blob
from ..formats import manifest as manifest_format
from ..formats.atomic import write_json
from ..program import INPUT, Call, Program, TensorEntry, kinds, lower
from ..resources import firmware_dir, templates_dir
from .c_layout import state_bytes
from .layout import Layout, build_layout
from .report import memory_report, write_memory_report
from .tflite_frozen import render_frozen

OUTPUT_TEMPLATES = ("rct_model.h", "rct_model.c", "rct_config.h", "rct_weights.h", "rct_weights.c",
                    "Makefile", "CMakeLists.txt", "cmake/arm-none-eabi.cmake", "platformio.ini",
                    "example/main.c")
RUNTIME_DIR = "rct_runtime"  # the hand-written runtime, copied so the tree builds anywhere
RUNTIME_PARTS = ("kernels", "runtime", "include")
def c_ident(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def model_hash(m: Program, art: ModelArtefact) -> bytes:
    """SHA-256 identifying the model a firmware was generated for (HELLO's model hash):
    canonical JSON of the graph (layers, input shape and exponent, classes, trainable tensor
    names in order; an MSE head's loss, targets and target exponent; a .tflite input's scale
    and zero point) followed by the SHA-256 of every file it holds (a frozen .tflite part) and
    every frozen tensor's int8 values, in layer order."""
    graph = {"layers": [l.to_json() for l in art.layers], "input_shape": list(art.input_shape),
             "input_exp": m.input_exp, "num_classes": art.num_classes, "trainable": m.trainable,
             **({"input_affine": list(m.input_affine)} if m.input_affine else {})}
    if m.loss_kind != "softmax_ce":  # a classifier's hash stays what it was before MSE heads
        graph["loss"] = {"kind": m.loss_kind, "targets": m.targets, "t_exp": m.target_exp}
    h = hashlib.sha256(json.dumps(graph, sort_keys=True, separators=(",", ":")).encode())
    for n in sorted(art.files):  # a frozen .tflite part: its flatbuffer
        h.update(hashlib.sha256(art.files[n]).digest())
    for tn in _layer_tensors(m):
        if tn not in m.trainable:
            t = m.tensors[tn]
            h.update(bytes([t.bits & 0xFF, t.exp & 0xFF]))
            h.update(t.q.astype(np.int8).tobytes())
    return h.digest()


def _layer_tensors(m: Program) -> list[str]:
    """Parameter tensors in layer order, kernel before bias."""
    return [tn for f in m.layers for tn in (f.kernel, f.bias) if tn]


def _rows(values: np.ndarray, per_row: int = 16) -> list[str]:
    v = [str(int(x)) for x in values.reshape(-1)]
    return [", ".join(v[i:i + per_row]) for i in range(0, len(v), per_row)] or ["0"]


class CNames:
    """The C expressions of a program's buffers, tensors and shapes (program.kernel.CContext)."""

    _PTR = {"int8": "RCT_I8", "int16": "RCT_I16", "uint8": "RCT_U8"}

    def __init__(self, m: Program, lay: Layout) -> None:
        self.m = m
        self.off = {b.name: b.offset for b in lay.buffers}
        self.dtype = {b.name: b.dtype for b in m.buffers}

    def buf(self, name: str | None) -> str:
        if name is None:
            return "NULL"
        if name == INPUT:
            return "x"
        return f"{self._PTR[self.dtype[name]]}({self.off[name]}u)"

    def tensor(self, name: str | None) -> dict[str, Any]:
        if name is None:
            return {"data": "NULL", "bits": "8", "exp": "0", "k": None}
        if name in self.m.trainable:
            k = self.m.trainable.index(name)
            # trainable tensors live in int16_t whatever their bitwidth: `bits` names the container
            return {"data": f"s_t[{k}].data", "bits": "16", "exp": f"(int32_t)s_t[{k}].exp", "k": k}
        t = self.m.tensors[name]
        return {"data": f"(const void *)rct_w_{c_ident(name)}", "bits": str(t.bits),
                "exp": str(t.exp), "k": None}

    def shape(self, layer: int) -> str:
        return f"s_shape{layer}"


def c_statements(calls: list[Call], cx: CNames) -> list[str]:
    """Each call as its C statement(s), after a comment naming its layer, kind and kernel."""
    kind = {f.name: f.kind for f in cx.m.layers}
    out = []
    for c in calls:
        where = f"{c.layer} ({kind[c.layer]})" if c.layer else "loss"
        out.append(f"    /* {where}: {c.kernel} */\n" + kinds.kernel(c.kernel).c(c, cx))
    return out


def device_values(entry: TensorEntry, q: np.ndarray) -> np.ndarray:
    """A tensor's values in device order: dense kernels are stored [out][in] (rct.h)."""
    return q.T if entry.out_major else q


def _tensor_tables(m: Program, lay: Layout) -> tuple[list[dict], list[dict]]:
    off = {b.name: b.offset for b in lay.buffers}
    frozen, trainable = [], []
    for tn in _layer_tensors(m):
        t, e = m.tensors[tn], m.tensor(tn)
        dev = device_values(e, t.q)
        base = {"name": tn, "shape": list(t.q.shape), "size": t.size, "bits": t.bits,
                "exp": t.exp, "rows": _rows(dev)}
        if e.trainable:
            # blob order is the artefact's (row-major); `cols` maps it to device order
            trainable.append({**base, "init_sym": f"rct_init_{c_ident(tn)}",
                              "cols": int(t.q.shape[-1]) if dev is not t.q else 0,
                              "offset": off["w_" + tn.replace("/", "_")],
                              "bits_max": e.bits_max})
        else:
            frozen.append({**base, "sym": f"rct_w_{c_ident(tn)}"})
    return frozen, trainable


def generate(art: ModelArtefact, out: str | os.PathLike, cfg: EngineConfig | None = None,
             trainable_layers: int | None = None, frozen_layers: int | None = None,
             ram_budget: int | None = None, artefact_name: str = "model",
             board: str | None = None) -> dict:
    """Generate the C project for `art` into directory `out`; returns the memory report.

    `ram_budget` (bytes, None: no limit, e.g. the host) bounds the model's RAM (arena + state):
    boards.model_ram_budget, what the board leaves beside the firmware. A model over it raises
    UserError before anything is written. `board`, the one it is generated for, goes into the
    manifest (a later `build --generated` defaults to it)."""
    import jinja2  # only generation needs it

    cfg = cfg or EngineConfig()
    m = lower(art, cfg, trainable_layers, frozen_layers)
    lay = build_layout(m)
    frozen, trainable = _tensor_tables(m, lay)
    mhash = model_hash(m, art)
    blob_bytes = len(weights_blob([m.tensors[n] for n in m.trainable]))
    report = memory_report(m, lay, frozen, trainable, state_bytes(len(m.trainable)), ram_budget,
                           cfg)
    if ram_budget is not None and report["ram"]["total"] > ram_budget:
        big = sorted(report["ram"]["buffers"], key=lambda b: -b["bytes"])[:3]
        raise UserError(
            f"the trainable part needs {report['ram']['total']} B of RAM, over the budget of "
            f"{ram_budget} B (largest: " + ", ".join(f"{b['name']} {b['bytes']} B" for b in big)
            + "); train fewer layers (--trainable-layers), lower --batch-size or raise --ram-budget")
    cx = CNames(m, lay)
    ctx = {
        "artefact_name": artefact_name, "input_size": m.input_size, "num_classes": m.num_classes,
        "input_exp": m.input_exp, "max_batch": cfg.max_batch, "cfg": cfg, "cc": cfg.controller,
        "arena_size": lay.arena_size, "blob_bytes": blob_bytes,
        "shapes": [{"name": f.name, "sym": cx.shape(f.index), "dims": list(f.shape.as_tuple()[1:])}
                   for f in m.layers if f.shape is not None],
        "forward": c_statements(m.forward, cx), "loss": c_statements([m.loss], cx)[0],
        "backward": c_statements(m.backward, cx), "frozen": frozen, "trainable": trainable,
        # exponents of errors waiting at a residual skip (program/error_flow.py)
        "registers": sorted({c.args["reg"] for c in m.backward if "reg" in c.args}),
        "logits": cx.buf(m.output),
        # headers of the generated parts some kinds call (a frozen .tflite: rct_frozen.h)
        "includes": sorted({h for f in m.layers for h in getattr(kinds.kind(f.kind), "C_HEADERS", ())}),
        # the loss head's parts of the API: target type, target check, infer's result
        "loss_mse": int(m.loss_kind == "mse"),
        **kinds.loss(m.loss_kind).c_api(m, cx.buf(m.output)),
        "model_hash_bytes": [f"0x{b:02x}u" for b in mhash],
        **_toolchain_facts(board),
    }
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-gen-", dir=out.parent))
    try:
        for name in OUTPUT_TEMPLATES:
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(env.get_template(name + ".j2").render(**ctx))
        for part in RUNTIME_PARTS:
            shutil.copytree(firmware_dir() / part, tmp / RUNTIME_DIR / part)
        for name, plan in m.plans.items():  # a frozen .tflite part, printed as rct_frozen.h/.c
            render_frozen(plan, tmp, str(art.layer(name).config["file"]))
        write_memory_report(report, tmp)
        write_json(tmp / "program.json", m.to_json())
        manifest = manifest_format.new(
            artefact=artefact_name, board=board,
            model_hash=mhash.hex(), input_shape=list(m.input_shape), input_exp=m.input_exp,
            input_size=m.input_size, num_classes=m.num_classes, max_batch=cfg.max_batch,
            loss=m.loss_kind, targets=m.targets, target_size=m.target_size,
            trainable=[{"name": t["name"], "shape": t["shape"], "bits": t["bits"],
                        "exp": t["exp"], "bits_max": t["bits_max"]} for t in trainable],
            frozen=[t["name"] for t in frozen], weights_blob_bytes=blob_bytes,
            arena_bytes=lay.arena_size,
            accumulators={f.name: ("int64" if f.acc == K.ACC64 else "int32")
                          for f in m.layers if f.kernel},
            config={"lr_shift": cfg.lr_shift, "seed": cfg.seed, "stochastic": cfg.stochastic,
                    "acc_policy": cfg.acc_policy, **{k: getattr(cfg.controller, k) for k in (
                        "bits_init", "bits_min", "bits_max", "t_min", "t_max", "sat_guard",
                        "period_samples", "enabled", "gavg_ref_samples")}},
        )
        manifest_format.save(tmp, manifest)
        if out.exists():
            if not (out / manifest_format.NAME).is_file() and any(out.iterdir()):
                raise UserError(f"--out {out} exists and is not a generated project; choose an "
                                f"empty or new directory")
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def _toolchain_facts(board: str | None) -> dict[str, str]:
    """The core and compiler flags the tree's CMake toolchain file names and the PlatformIO
    board id: the board it is generated for, or the default board's (host trees get a Cortex-M
    file all the same; a board PlatformIO does not know, such as the MPS2, too)."""
    b = get_board(board if board not in (None, HOST) else DEFAULT_BOARD)
    pio = b if b.platformio_board else get_board(DEFAULT_BOARD)
    return {"board": b.name, "core": b.core, "cpu_flags": " ".join(b.cpu_flags()),
            "pio_board": pio.platformio_board, "pio_env": pio.name, "pio_core": pio.core}


def load_manifest(gen_dir: str | os.PathLike) -> dict:
    """The manifest of a generated tree (formats/manifest.py: version-checked)."""
    return manifest_format.load(gen_dir)
