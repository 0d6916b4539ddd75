"""Print a lowered frozen TFLite graph (program/tflite_lower.py) as C: rct_frozen.h/.c, calls of
the rct_tfl_ kernels with const tables in flash and one static arena (templates/frozen/).

Every decision is the lowering's (multipliers, geometry, placement); this module only names
buffers (the caller's input and output, or an arena offset) and formats the constants.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..formats.atomic import write_text
from ..program.tflite_lower import FrozenCall, FrozenPlan, storage
from ..resources import firmware_dir, templates_dir

C_TYPES = {np.dtype(np.int8): "int8_t", np.dtype(np.int32): "int32_t"}
SOURCES = ("rct_frozen.h", "rct_frozen.c")


def _array(name: str, a: np.ndarray) -> dict:
    vals = [str(int(v)) for v in np.ravel(a)]
    lines = [", ".join(vals[i:i + 16]) for i in range(0, len(vals), 16)]
    return {"name": name, "ctype": C_TYPES[np.asarray(a).dtype], "count": max(1, len(vals)),
            "body": "    " + ",\n    ".join(lines) if lines else "    0"}


def _struct(ints: dict, keys: list[str]) -> str:
    return "{" + ", ".join(str(int(ints[k])) for k in keys) + "}"


CONV_SHAPE = ["in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w", "stride_h",
              "stride_w", "pad_top", "pad_left", "depth_multiplier"]
POOL = ["in_h", "in_w", "c", "out_h", "out_w", "k_h", "k_w", "stride_h", "stride_w", "pad_top",
        "pad_left", "act_min", "act_max"]
ADD = ["zp_a", "qm_a", "shift_a", "zp_b", "qm_b", "shift_b", "qm_out", "shift_out", "zp_out",
       "act_min", "act_max"]


def render_context(plan: FrozenPlan, source: str) -> dict:
    root = storage(plan.calls)
    end_root = root.get(plan.output, plan.output)

    def ptr(t: int) -> str:
        r = root.get(t, t)
        if r == plan.input:
            return "in"
        if r in (plan.output, end_root):
            return "out"
        return f"(arena + {plan.offsets[r]})"

    arrays, params, statements = [], [], []
    for k, c in enumerate(plan.calls):
        names = {}
        for role, a in c.consts.items():
            names[role] = f"{role}_{k}"
            arrays.append(_array(names[role], a))
        statements += _statement(c, k, names, params, ptr)
    if root.get(plan.output, plan.output) == plan.input:  # the graph only reshapes its input
        statements.append("memcpy(out, in, RCT_FROZEN_OUTPUT_SIZE);")
    return {"source": source, "calls": plan.calls, "arrays": arrays, "params": params,
            "statements": statements, "arena_bytes": plan.arena_bytes,
            "const_bytes": plan.const_bytes, "input_size": plan.input_size,
            "output_size": plan.output_size, "input_zp": plan.in_zero_point,
            "output_zp": plan.out_zero_point}


def _statement(c: FrozenCall, k: int, names: dict, params: list, ptr) -> list[str]:
    i = c.ints
    x, y = ptr(c.inputs[0]), ptr(c.output)
    bias = names.get("bias", "NULL")
    if c.kernel in ("tfl_conv2d", "tfl_depthwise_conv2d"):
        params.append({"ctype": "rct_tfl_conv_t", "name": f"p_{k}",
                       "init": "{{1, " + ", ".join(str(int(i[n])) for n in CONV_SHAPE) + "}, "
                       + ", ".join(str(int(i[n])) for n in ("dil_h", "dil_w", "zp_in", "zp_out",
                                                            "act_min", "act_max")) + "}"})
        return [f"rct_{c.kernel}({x}, {names['w']}, {bias}, {names['qm']}, "
                f"{names['shift']}, {y}, &p_{k});"]
    if c.kernel == "tfl_fully_connected":
        return [f"rct_tfl_fully_connected({x}, {names['w']}, {bias}, {names['qm']}, "
                f"{names['shift']}, {i['per_channel']}, {y}, {i['rows']}, {i['in']}, "
                f"{i['out']}, {i['zp_in']}, {i['zp_out']}, {i['act_min']}, {i['act_max']});"]
    if c.kernel == "tfl_add":
        params.append({"ctype": "rct_tfl_add_t", "name": f"p_{k}", "init": _struct(i, ADD)})
        return [f"rct_tfl_add({x}, {ptr(c.inputs[1])}, {y}, {i['count']}, &p_{k});"]
    if c.kernel in ("tfl_avgpool2d", "tfl_maxpool2d"):
        params.append({"ctype": "rct_tfl_pool_t", "name": f"p_{k}",
                       "init": "{1, " + _struct(i, POOL)[1:]})
        return [f"rct_{c.kernel}({x}, {y}, &p_{k});"]
    if c.kernel == "tfl_mean_hw":
        return [f"rct_tfl_mean_hw({x}, {y}, 1, {i['h']}, {i['w']}, {i['c']}, {i['zp_in']}, "
                f"{i['qm']}, {i['shift']}, {i['zp_out']});"]
    if c.kernel == "tfl_pad":
        return [f"rct_pad2d_forward({x}, {y}, 1, {i['h']}, {i['w']}, {i['c']}, {i['top']}, "
                f"{i['bottom']}, {i['left']}, {i['right']}, {i['value']});"]
    if c.kernel == "tfl_requantize":
        return [f"rct_tfl_requantize({x}, {y}, {i['count']}, {i['zp_in']}, {i['qm']}, "
                f"{i['shift']}, {i['zp_out']});"]
    if c.kernel == "tfl_reshape":
        return []  # a view: the next call reads the same bytes
    raise ValueError(c.kernel)


def render_frozen(plan: FrozenPlan, out: str | os.PathLike, source: str,
                  host_main: bool = False) -> list[Path]:
    """Write rct_frozen.h/.c (and host_main.c) into `out`; returns the C files to compile."""
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "frozen")),
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    ctx = render_context(plan, source)
    out = Path(out)
    names = [*SOURCES, *(["host_main.c"] if host_main else [])]
    for n in names:
        write_text(out / n, env.get_template(n + ".j2").render(**ctx))
    return [out / n for n in names if n.endswith(".c")]


def kernel_sources() -> list[Path]:
    """The hand-written C the frozen part links: the rct_tfl_ kernels, their rescaling and the
    padding kernel it shares with ZeroPadding2D."""
    fw = firmware_dir()
    return [*sorted((fw / "kernels").glob("rct_tfl_*.c")), fw / "kernels" / "rct_pad2d_forward.c",
            fw / "runtime" / "rct_tfl_mbqm.c"]
