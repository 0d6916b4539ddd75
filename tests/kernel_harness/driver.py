"""Build and drive the C kernel test harness (tests/kernel_harness/harness.c).

The harness is built once per test process (xdist worker) in a private temp dir with host gcc,
the strict flags and -fsanitize=address,undefined, then kept running: each call writes one
request frame to its stdin and reads one response frame (format in harness.c). A sanitizer
report kills the process, and the next call fails with its stderr.
"""
from __future__ import annotations

import atexit
import os
import shutil
import struct
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
HERE = Path(__file__).resolve().parent
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-Wconversion"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
MAGIC_REQ, MAGIC_RSP = 0x51544352, 0x41544352
TYPES = {np.dtype(np.int8): 1, np.dtype(np.int16): 2, np.dtype(np.int32): 4,
         np.dtype(np.int64): 8, np.dtype(np.uint8): 0x101, np.dtype(np.uint32): 0x104}
DTYPES = {v: k for k, v in TYPES.items()}


def firmware_sources() -> list[Path]:
    return sorted((FIRMWARE / "kernels").glob("*.c")) + sorted((FIRMWARE / "runtime").glob("*.c"))


def compile_harness(out_dir: Path, sanitize: bool = True) -> Path:
    exe = out_dir / "kernel_harness"
    cmd = ["gcc", *STRICT, "-O1", "-g", *(SANITIZE if sanitize else []),
           f"-I{FIRMWARE / 'include'}", f"-I{HERE}", *map(str, firmware_sources()),
           str(HERE / "harness.c"), str(HERE / "harness_io_stdio.c"), "-o", str(exe)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return exe


class HarnessError(RuntimeError):
    pass


class Harness:
    """A running harness process; `call(op, ints, arrays)` -> (ints, arrays)."""

    def __init__(self, exe: Path) -> None:
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
                   UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
        self.proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self._err = bytearray()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for chunk in iter(lambda: self.proc.stderr.read1(4096), b""):
            self._err += chunk

    def _read(self, n: int) -> bytes:
        data = self.proc.stdout.read(n)
        if data is None or len(data) != n:
            self.proc.wait(timeout=10)
            raise HarnessError(f"harness died (rc={self.proc.returncode}):\n{self._err.decode(errors='replace')}")
        return data

    def call(self, op: int, ints: list[int], arrays: list[np.ndarray] = ()) -> tuple[list[int], list[np.ndarray]]:
        parts = [struct.pack("<III", MAGIC_REQ, op, len(ints)),
                 struct.pack(f"<{len(ints)}q", *[int(v) for v in ints]),
                 struct.pack("<I", len(arrays))]
        for a in arrays:
            a = np.ascontiguousarray(a)
            parts.append(struct.pack("<II", TYPES[a.dtype], a.size))
            parts.append(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
        try:
            self.proc.stdin.write(b"".join(parts))
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        magic, status, n_ints = struct.unpack("<III", self._read(12))
        if magic != MAGIC_RSP:
            raise HarnessError(f"bad response magic {magic:#x}")
        out_ints = list(struct.unpack(f"<{n_ints}q", self._read(8 * n_ints)))
        (n_arr,) = struct.unpack("<I", self._read(4))
        out = []
        for _ in range(n_arr):
            t, count = struct.unpack("<II", self._read(8))
            dt = DTYPES[t]
            out.append(np.frombuffer(self._read(count * dt.itemsize), dtype=dt.newbyteorder("<")).astype(dt))
        if status != 0:
            raise HarnessError(f"harness rejected op {op} (status {status})")
        return out_ints, out

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)


_CACHE: dict[str, Harness] = {}


def get_harness() -> Harness:
    """The per-process sanitized harness, built on first use."""
    if "h" not in _CACHE:
        d = Path(tempfile.mkdtemp(prefix="rct-kernel-harness-"))
        atexit.register(shutil.rmtree, d, True)
        h = Harness(compile_harness(d))
        atexit.register(h.close)
        _CACHE["h"] = h
    return _CACHE["h"]
