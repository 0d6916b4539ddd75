"""Render a model artefact into a C99 project (templates/ -> out dir), with its memory report.

The generated tree mirrors templates/: rct_model.h (API), rct_model.c (arena + schedules),
rct_config.h (hyper-parameters, sizes), rct_weights.h/.c (const tables), Makefile, plus
memory.json / memory.md (RAM and flash per buffer) and rct_generated.json (manifest: model hash,
trainable tensors in serialisation order, configuration). Output is written to a temporary
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
from ..errors import UserError
from ..fixedpoint import kernels as K
from ..fixedpoint.engine import EngineConfig, LoweredModel, Op, lower, weights_blob
from ..resources import firmware_dir, templates_dir
from .layout import Layout, build_layout
from .report import memory_report, write_memory_report

DEFAULT_RAM_BUDGET = 128 * 1024  # the default board's SRAM (qemu-stm32f405: 128 KB main SRAM)
OUTPUT_TEMPLATES = ("rct_model.h", "rct_model.c", "rct_config.h", "rct_weights.h", "rct_weights.c",
                    "Makefile")
ACT_C = {K.ACT_LINEAR: "RCT_ACT_LINEAR", K.ACT_RELU: "RCT_ACT_RELU", K.ACT_RELU6: "RCT_ACT_RELU6"}
ACC_C = {K.ACC32: "RCT_ACC32", K.ACC64: "RCT_ACC64"}
# State outside the arena (static structs in rct_model.c), bytes per trainable tensor and fixed.
STATE_BYTES_PER_TENSOR = 12 + 16 + 4 + 1  # rct_tensor_t, controller slot, last Gavg, bits cap
STATE_BYTES_FIXED = 64 + 24 + 8 + 24  # controller, hparams, prng, counters


def state_bytes(n_trainable: int) -> int:
    """RAM of the generated model's static state outside the arena."""
    return STATE_BYTES_FIXED + STATE_BYTES_PER_TENSOR * n_trainable


def c_ident(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def model_hash(m: LoweredModel, art: ModelArtefact) -> bytes:
    """SHA-256 identifying the model a firmware was generated for (HELLO's model hash):
    canonical JSON of the graph (layers, input shape and exponent, classes, trainable tensor
    names in order) followed by every frozen tensor's int8 values, in op order."""
    graph = {"layers": [l.to_json() for l in art.layers], "input_shape": list(art.input_shape),
             "input_exp": m.input_exp, "num_classes": art.num_classes, "trainable": m.trainable}
    h = hashlib.sha256(json.dumps(graph, sort_keys=True, separators=(",", ":")).encode())
    for op in m.ops:
        for tn in (op.kernel, op.bias):
            if tn and tn not in m.trainable:
                t = m.tensors[tn]
                h.update(bytes([t.bits & 0xFF, t.exp & 0xFF]))
                h.update(t.q.astype(np.int8).tobytes())
    return h.digest()


def _rows(values: np.ndarray, per_row: int = 16) -> list[str]:
    v = [str(int(x)) for x in values.reshape(-1)]
    return [", ".join(v[i:i + per_row]) for i in range(0, len(v), per_row)] or ["0"]


def _tensor_ref(m: LoweredModel, name: str | None) -> dict[str, Any]:
    if name is None:
        return {"data": "NULL", "bits": "8", "exp": "0", "k": None}
    t = m.tensors[name]
    if name in m.trainable:
        k = m.trainable.index(name)
        # trainable tensors live in int16_t whatever their bitwidth: `bits` names the container
        return {"data": f"s_t[{k}].data", "bits": "16", "exp": f"(int32_t)s_t[{k}].exp", "k": k}
    return {"data": f"(const void *)rct_w_{c_ident(name)}", "bits": str(t.bits), "exp": str(t.exp),
            "k": None}


def _op_dict(op: Op, m: LoweredModel, lay: Layout) -> dict[str, Any]:
    off = {b.name: b.offset for b in lay.buffers}
    i8 = lambda b: "x" if b is None else f"RCT_I8({off[b]}u)"  # noqa: E731
    i16 = lambda b: None if b is None else f"RCT_I16({off[b]}u)"  # noqa: E731
    d: dict[str, Any] = {
        "index": op.index, "name": op.name, "kind": op.kind, "in_shape": list(op.in_shape),
        "out_shape": list(op.out_shape), "x_exp": op.x_exp, "y_exp": op.y_exp,
        "x": i8(lay.in_of_op[op.index]), "y": i8(lay.act_of_op[op.index]),
        "in_size": op.in_size, "out_size": op.out_size, "act": ACT_C[op.act], "acc": ACC_C[op.acc],
        "needs_dx": op.needs_dx, "err_in": i16(lay.err_in[op.index]),
        "err_out": i16(lay.err_out[op.index]), "in_backward": op.index >= m.first_trainable,
        "w": _tensor_ref(m, op.kernel), "b": _tensor_ref(m, op.bias),
        "upper": op.upper, "mask": False, "shape": None,
        "arg": f"RCT_U8({off[lay.arg_of[op.index]]}u)" if lay.arg_of[op.index] else "NULL",
    }
    if op.kind in ("relu", "relu6"):
        d["fwd_upper"] = 127 if op.kind == "relu" else K.relu6_upper(op.x_exp)
        d["upper"] = K.common.act_upper(op.act, op.x_exp)
        d["mask"] = True
    elif op.kind in ("dense", "conv2d", "depthwise_conv2d"):
        d["mask"] = op.act != K.ACT_LINEAR and op.index not in lay.folds
    # a max-pool that applies the previous op's activation mask (layout.mask_folds)
    folded_by = {p: o for o, p in lay.folds.items()}
    d["pool_mask_y"], d["pool_mask_upper"] = "NULL", K.common.RELU_NO_UPPER
    if op.index in folded_by:
        d["pool_mask_y"] = d["y"]
        d["pool_mask_upper"] = m.ops[folded_by[op.index]].upper
    if op.shape is not None:
        d["shape"] = list(op.shape.as_tuple()[1:])
        d["positions"] = op.shape.positions
        d["out_c"] = op.shape.out_c
    return d


def device_values(op: Op, name: str, q: np.ndarray) -> np.ndarray:
    """A tensor's values in device order: dense kernels are stored [out][in] (rct.h)."""
    return q.T if op.kind == "dense" and name == op.kernel else q


def _tensor_tables(m: LoweredModel, lay: Layout) -> tuple[list[dict], list[dict]]:
    off = {b.name: b.offset for b in lay.buffers}
    frozen, trainable = [], []
    for op in m.ops:
        for tn in (op.kernel, op.bias):
            if tn is None:
                continue
            t = m.tensors[tn]
            dev = device_values(op, tn, t.q)
            base = {"name": tn, "shape": list(t.q.shape), "size": t.size, "bits": t.bits,
                    "exp": t.exp, "rows": _rows(dev)}
            if tn in m.trainable:
                # blob order is the artefact's (row-major); `cols` maps it to device order
                trainable.append({**base, "init_sym": f"rct_init_{c_ident(tn)}",
                                  "cols": int(t.q.shape[-1]) if dev is not t.q else 0,
                                  "offset": off[lay.weights[tn]], "bits_max": m.bits_max[tn]})
            else:
                frozen.append({**base, "sym": f"rct_w_{c_ident(tn)}"})
    return frozen, trainable


def generate(art: ModelArtefact, out: str | os.PathLike, cfg: EngineConfig | None = None,
             trainable_layers: int | None = None, frozen_layers: int | None = None,
             ram_budget: int | None = DEFAULT_RAM_BUDGET, artefact_name: str = "model") -> dict:
    """Generate the C project for `art` into directory `out`; returns the memory report.

    `ram_budget` (bytes, None: no limit, e.g. the host) bounds the model's RAM (arena + state);
    a model over it raises UserError before anything is written."""
    import jinja2  # only generation needs it

    cfg = cfg or EngineConfig()
    m = lower(art, cfg, trainable_layers, frozen_layers)
    lay = build_layout(m, cfg.max_batch)
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
            + "); train fewer layers (--trainable-layers), lower --max-batch or raise --ram-budget")
    ctx = {
        "artefact_name": artefact_name, "input_size": m.input_size, "num_classes": m.num_classes,
        "input_exp": m.input_exp, "max_batch": cfg.max_batch, "cfg": cfg, "cc": cfg.controller,
        "arena_size": lay.arena_size, "blob_bytes": blob_bytes,
        "ops": [_op_dict(op, m, lay) for op in m.ops], "frozen": frozen, "trainable": trainable,
        "logits": f"RCT_I8({lay.buffer(lay.act_of_op[-1]).offset}u)" if lay.act_of_op[-1] else "x",
        "logits_exp": m.ops[-1].y_exp, "err_logits": lay.buffer("err_logits").offset,
        "model_hash_bytes": [f"0x{b:02x}u" for b in mhash], "firmware_dir": str(firmware_dir()),
    }
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-gen-", dir=out.parent))
    try:
        for name in OUTPUT_TEMPLATES:
            (tmp / name).write_text(env.get_template(name + ".j2").render(**ctx))
        write_memory_report(report, tmp)
        manifest = {
            "format": "rct-tflm-generated", "version": 1, "artefact": artefact_name,
            "model_hash": mhash.hex(), "input_shape": list(m.input_shape), "input_exp": m.input_exp,
            "input_size": m.input_size, "num_classes": m.num_classes, "max_batch": cfg.max_batch,
            "trainable": [{"name": t["name"], "shape": t["shape"], "bits": t["bits"],
                           "exp": t["exp"], "bits_max": t["bits_max"]} for t in trainable],
            "frozen": [t["name"] for t in frozen], "weights_blob_bytes": blob_bytes,
            "arena_bytes": lay.arena_size,
            "accumulators": {op.name: ("int64" if op.acc == K.ACC64 else "int32")
                             for op in m.ops if op.kernel},
            "config": {"lr_shift": cfg.lr_shift, "seed": cfg.seed, "stochastic": cfg.stochastic,
                       "acc_policy": cfg.acc_policy, **{k: getattr(cfg.controller, k) for k in (
                           "bits_init", "bits_min", "bits_max", "t_min", "t_max", "sat_guard",
                           "period_samples", "enabled", "gavg_ref_samples")}},
        }
        (tmp / "rct_generated.json").write_text(json.dumps(manifest, indent=1))
        if out.exists():
            if not (out / "rct_generated.json").is_file() and any(out.iterdir()):
                raise UserError(f"--out {out} exists and is not a generated project; choose an "
                                f"empty or new directory")
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def load_manifest(gen_dir: str | os.PathLike) -> dict:
    p = Path(gen_dir) / "rct_generated.json"
    if not p.is_file():
        raise UserError(f"'{gen_dir}' is not a generated project (no rct_generated.json); run "
                        f"`rct-tflm generate` first")
    return json.loads(p.read_text())
