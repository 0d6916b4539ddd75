"""A frozen part on an emulated Cortex-M board: the verification app (firmware/verify/) built
for the board, booted in QEMU, fed one sample at a time over its UART."""
from __future__ import annotations

import struct
import tempfile
import time
from pathlib import Path

import numpy as np

from ..codegen.tflite_frozen import render_frozen
from ..emulator.qemu import QemuBoard
from ..errors import UserError
from ..firmware_build import build_frozen_verifier
from ..link import open_port

READY = 0x56544352  # "RCTV"
ANSWER_TIMEOUT_S = 120.0  # one sample, emulated: a MobileNet on a loaded host takes seconds


def _read(port, n: int, deadline: float, what: str) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        if time.monotonic() > deadline:
            raise UserError(f"the board sent {len(buf)} of {n} bytes of {what} in time; the "
                            f"verification app is not answering (see its build in --out)")
        buf += port.read(n - len(buf))
    return bytes(buf)


def qemu_outputs(plan, x: np.ndarray, board: str, source: str, keep: Path | None = None
                 ) -> tuple[np.ndarray, dict]:
    """The board's outputs for int8 samples `x` and the build's size report."""
    with tempfile.TemporaryDirectory(prefix="rct-verify-qemu-") as t:
        d = Path(t)
        render_frozen(plan, d / "gen", source)
        build = build_frozen_verifier(board, d / "gen", keep or d / "fw")
        elf = (keep or d / "fw") / build["elf"]
        with QemuBoard(board, elf) as q:
            port = open_port(q.url, timeout=0.05)
            try:
                hdr = _read(port, 12, time.monotonic() + 20, "READY")
                magic, n_in, n_out = struct.unpack("<III", hdr)
                if magic != READY or n_in != plan.input_size or n_out != plan.output_size:
                    raise UserError(f"the verification app on {board} announced "
                                    f"0x{magic:08x} {n_in}->{n_out}, expected "
                                    f"{plan.input_size}->{plan.output_size}")
                out = []
                for s in range(len(x)):
                    port.write(np.ascontiguousarray(x[s]).tobytes())
                    out.append(_read(port, n_out, time.monotonic() + ANSWER_TIMEOUT_S,
                                     f"sample {s}'s output"))
            finally:
                port.close()
    y = np.frombuffer(b"".join(out), np.int8).reshape(len(x), -1)
    return y, build["size"]
