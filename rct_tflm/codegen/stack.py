"""Worst-case stack depth of the generated API, from GCC's call graph (-fcallgraph-info=su).

The memory report counts static RAM (arena + state); the stack a call needs comes on top.
`stack_usage` compiles the generated project with the runtime for a target (default Cortex-M4,
-Os like the firmware build) with `-fcallgraph-info=su`, reads every per-file graph (frame
size per function, call edges) and returns the deepest path below each API entry point. The
runtime has no recursion and no function pointers, so the graph is complete; calls into libgcc
or libc (64-bit division, memset/memcpy) have no frame in it and are charged LIB_FRAME bytes.
"""
from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from ..boards import DEFAULT_BOARD, get_board
from ..errors import UserError

ARM_FLAGS = [*get_board(DEFAULT_BOARD).cpu_flags(), "-Os"]  # the default board's core
LIB_FRAME = 64  # bytes charged to a library leaf (libgcc __aeabi_ldivmod, memset, ...)
ENTRY_POINTS = ("rct_model_train", "rct_model_infer", "rct_model_init")
_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "[^"]*?\\n[^"]*?\\n(\d+) bytes \((static|dynamic[^)]*)\)"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


def parse_callgraph(texts: list[str]) -> tuple[dict[str, int], dict[str, set[str]], set[str]]:
    """Frames (bytes), call edges and dynamically sized frames from .ci files."""
    frames: dict[str, int] = {}
    edges: dict[str, set[str]] = {}
    dynamic: set[str] = set()
    for t in texts:
        for name, size, kind in _NODE.findall(t):
            frames[name] = int(size)
            if kind not in ("static", "dynamic,bounded"):  # bounded: the size is an upper bound
                dynamic.add(name)
        for a, b in _EDGE.findall(t):
            edges.setdefault(a, set()).add(b)
    return frames, edges, dynamic


def deepest(fn: str, frames: dict[str, int], edges: dict[str, set[str]],
            _stack: tuple[str, ...] = ()) -> int:
    """Largest sum of frames along any call path from fn (library leaves: LIB_FRAME)."""
    if fn in _stack:
        raise ValueError(f"recursion through {fn}: no static stack bound")
    if fn not in frames:
        return LIB_FRAME
    below = [deepest(c, frames, edges, _stack + (fn,)) for c in edges.get(fn, ())]
    return frames[fn] + max(below, default=0)


def stack_usage(gen_dir: str | Path, cc: str = "arm-none-eabi-gcc",
                flags: list[str] | None = None) -> dict[str, int]:
    """Worst-case stack bytes of each API entry point of the generated project in gen_dir."""
    from ..toolchain import generated_sources, runtime_include, runtime_sources
    gen_dir = Path(gen_dir).resolve()
    srcs = generated_sources(gen_dir) + runtime_sources()
    with tempfile.TemporaryDirectory(prefix="rct-stack-") as tmp:
        for i, s in enumerate(srcs):
            obj = Path(tmp) / f"{i:03d}_{s.stem}.o"
            cmd = [cc, "-std=c99", *(ARM_FLAGS if flags is None else flags), f"-I{gen_dir}",
                   f"-I{runtime_include()}", "-fcallgraph-info=su", "-c", str(s), "-o", str(obj)]
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
            except FileNotFoundError:
                raise UserError(f"{cc} not found; install gcc-arm-none-eabi (`make setup`)") from None
            if r.returncode != 0:
                raise RuntimeError(f"stack analysis compile failed: {' '.join(cmd)}\n{r.stderr}")
        frames, edges, dynamic = parse_callgraph([p.read_text() for p in Path(tmp).glob("*.ci")])
    if dynamic:
        raise ValueError(f"unbounded stack frames in {sorted(dynamic)}")
    return {fn: deepest(fn, frames, edges) for fn in ENTRY_POINTS}
