"""Build and drive the C kernel test harness (tests/kernel_harness/harness.c) on a target.

Targets (`TARGETS`):
  host             host gcc, strict flags + -fsanitize=address,undefined, stdin/stdout pipes;
                   a sanitizer report kills the process and the next call fails with its stderr.
  qemu-stm32f405   arm-none-eabi-gcc for the Cortex-M4F board port (QEMU netduinoplus2, USART1),
  qemu-mps2-an386  ... and for MPS2 AN386 (CMSDK UART0); QEMU's serial0 is a local TCP socket.

The Cortex-M images link the firmware's own board port (firmware/boards/<board>/board.c,
common/startup.c, fault.c, uart_<driver>.c, linker.ld) with harness_io_uart.c. Each target is
built once (a content-addressed cache in the temp dir, shared by the xdist workers) and kept
running per test process: a call writes
one request frame and reads one response frame (format in harness.c). The harness announces
itself with a READY frame first (netduinoplus2 drops bytes sent before its USART is enabled).
"""
from __future__ import annotations

import atexit
import fcntl
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rct_tflm.link.transport import stop_process

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
HERE = Path(__file__).resolve().parent
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-Wconversion"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
MAGIC_REQ, MAGIC_RSP, MAGIC_READY = 0x51544352, 0x41544352, 0x48544352
PROTO_VERSION = 1
TYPES = {np.dtype(np.int8): 1, np.dtype(np.int16): 2, np.dtype(np.int32): 4,
         np.dtype(np.int64): 8, np.dtype(np.uint8): 0x101, np.dtype(np.uint32): 0x104}
DTYPES = {v: k for k, v in TYPES.items()}
STATUS = {1: "bad op or arguments", 2: "request does not fit the harness pool (make the case "
          "smaller or raise HARNESS_POOL_BYTES for this target)"}
CALL_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Target:
    name: str
    pool_bytes: int  # HARNESS_POOL_BYTES: the static request/response pool
    board: str | None = None  # rct_tflm.boards name (None: host)
    example_share: float = 1.0  # fraction of the host's hypothesis examples run here
    fast: bool = False  # built with RCT_FAST_KERNELS (the Cortex-M4 DSP paths)

    @property
    def is_qemu(self) -> bool:
        return self.board is not None


# netduinoplus2 has 128 KB of RAM: 96 KB of pool leaves ~27 KB for the rest and the stack.
TARGETS = {t.name: t for t in [
    Target("host", 2 << 20),
    Target("qemu-stm32f405", 96 << 10, "qemu-stm32f405", 0.75, fast=True),  # DSP kernels
    Target("qemu-mps2-an386", 1 << 20, "qemu-mps2-an386", 0.75),
]}


class HarnessError(RuntimeError):
    pass


def firmware_sources() -> list[Path]:
    return sorted((FIRMWARE / "kernels").glob("*.c")) + sorted((FIRMWARE / "runtime").glob("*.c"))


BUILD_CACHE = Path(tempfile.gettempdir()) / "rct-kernel-harness-builds"
CACHE_KEEP = 3  # builds kept per name (older ones are pruned when a new one is made)


def _cached_build(name: str, cmd: list[str], out: Path, inputs: list[Path]) -> Path:
    """Runs the build command `cmd` (which writes `out`) once per distinct command and input
    content, shared by the xdist workers and later runs: a cache directory named by the hash,
    filled under a lock and published by an atomic rename."""
    h = hashlib.sha256(repr(cmd).encode())
    for p in sorted(set(inputs)):
        h.update(str(p).encode() + b"\0" + p.read_bytes())
    final = BUILD_CACHE / f"{name}-{h.hexdigest()[:20]}"
    if (final / out.name).is_file():
        return final / out.name
    BUILD_CACHE.mkdir(parents=True, exist_ok=True)
    with open(BUILD_CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / out.name).is_file():
            tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=BUILD_CACHE))
            try:
                _run([str(tmp / out.name) if a == str(out) else a for a in cmd])
                shutil.rmtree(final, ignore_errors=True)
                os.replace(tmp, final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            old = sorted(BUILD_CACHE.glob(f"{name}-*"), key=lambda p: p.stat().st_mtime)
            for p in old[:-CACHE_KEEP]:
                shutil.rmtree(p, ignore_errors=True)
    return final / out.name


def _tree(*dirs: Path) -> list[Path]:
    """The C sources, headers and linker scripts of `dirs` (what a build depends on)."""
    return [p for d in dirs for p in d.iterdir() if p.suffix in (".c", ".h", ".ld")]


def _run(cmd: list[str]) -> None:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        raise HarnessError(f"{cmd[0]} not found: run `make setup` (installs gcc-arm-none-eabi "
                           f"and qemu-system-arm)") from None
    if r.returncode != 0:
        raise HarnessError(f"harness build failed:\n{' '.join(cmd)}\n{r.stderr[-4000:]}")


OUT = Path("/OUT")  # placeholder for the build directory in cached commands


def compile_harness(sanitize: bool = True) -> Path:
    """Host build: strict flags, ASan + UBSan."""
    exe = OUT / "kernel_harness"
    cmd = ["gcc", *STRICT, "-O1", "-g", *(SANITIZE if sanitize else []),
           f"-DHARNESS_POOL_BYTES={TARGETS['host'].pool_bytes}u", f"-I{FIRMWARE / 'include'}",
           f"-I{HERE}", *map(str, firmware_sources()), str(HERE / "harness.c"),
           str(HERE / "harness_io_stdio.c"), "-o", str(exe)]
    return _cached_build("host" + ("-asan" if sanitize else ""), cmd, exe,
                         _tree(FIRMWARE / "include", FIRMWARE / "kernels", FIRMWARE / "runtime",
                               HERE))


def compile_harness_arm(target: Target) -> Path:
    """Cortex-M build: the harness + kernels + the firmware's board port for `target.board`."""
    from rct_tflm.boards import get_board
    board = get_board(target.board)
    boards = FIRMWARE / "boards"
    common = boards / "common"
    link = FIRMWARE / "link"
    srcs = [*firmware_sources(), HERE / "harness.c", HERE / "harness_io_uart.c",
            boards / board.name / "board.c", common / "startup.c", common / "fault.c",
            common / f"uart_{board.uart_driver}.c",
            # fault.c reports a crash as a link FAULT frame: the driver decodes it
            link / "rct_link_send.c", link / "rct_crc16.c", link / "rct_cobs_encode.c"]
    elf = OUT / f"kernel_harness-{board.name}.elf"
    cmd = ["arm-none-eabi-gcc", *board.cpu_flags(), *STRICT, "-O2", "-g", "-ffunction-sections",
          "-fdata-sections", f"-DHARNESS_POOL_BYTES={target.pool_bytes}u",
          *(["-DRCT_FAST_KERNELS"] if target.fast else []),
          f"-I{FIRMWARE / 'include'}", f"-I{HERE}", f"-I{link}", f"-I{common}",
          *map(str, srcs), "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
          f"-T{boards / board.name / 'linker.ld'}", f"-L{common}", "-Wl,--gc-sections",
          "-o", str(elf)]
    return _cached_build(board.name, cmd, elf,
                         _tree(FIRMWARE / "include", FIRMWARE / "kernels", FIRMWARE / "runtime",
                               HERE, link, common, boards / board.name))


def encode_request(op: int, ints, arrays) -> bytes:
    parts = [struct.pack("<III", MAGIC_REQ, op, len(ints)),
             struct.pack(f"<{len(ints)}q", *[int(v) for v in ints]),
             struct.pack("<I", len(arrays))]
    for a in arrays:
        a = np.ascontiguousarray(a)
        parts.append(struct.pack("<II", TYPES[a.dtype], a.size))
        parts.append(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
    return b"".join(parts)


class Harness:
    """A running harness; `call(op, ints, arrays)` -> (ints, arrays). Subclasses move bytes."""

    target: Target
    pool_bytes: int = 0
    long_bytes: int = 0

    def _send(self, data: bytes) -> None:
        raise NotImplementedError

    def _recv(self, n: int) -> bytes:
        raise NotImplementedError

    def _died(self, why: str) -> HarnessError:
        raise NotImplementedError

    def _handshake(self) -> None:
        magic, version, pool, long_bytes, ptr_bytes = struct.unpack("<5I", self._recv(20))
        if magic != MAGIC_READY or version != PROTO_VERSION:
            raise self._died(f"bad READY frame (magic {magic:#x}, version {version})")
        self.pool_bytes, self.long_bytes, self.ptr_bytes = pool, long_bytes, ptr_bytes

    def call(self, op: int, ints, arrays=()) -> tuple[list[int], list[np.ndarray]]:
        self._send(encode_request(op, ints, arrays))
        magic, status, n_ints = struct.unpack("<III", self._recv(12))
        if magic != MAGIC_RSP:
            raise self._died(f"bad response magic {magic:#x}")
        out_ints = list(struct.unpack(f"<{n_ints}q", self._recv(8 * n_ints)))
        (n_arr,) = struct.unpack("<I", self._recv(4))
        out = []
        for _ in range(n_arr):
            t, count = struct.unpack("<II", self._recv(8))
            dt = DTYPES[t]
            out.append(np.frombuffer(self._recv(count * dt.itemsize),
                                     dtype=dt.newbyteorder("<")).astype(dt))
        if status != 0:
            raise HarnessError(f"{self.target.name}: harness rejected op {op}: "
                               f"{STATUS.get(status, status)}")
        return out_ints, out

    def close(self) -> None:
        raise NotImplementedError


class HostHarness(Harness):
    """The sanitized host executable behind stdin/stdout pipes."""

    def __init__(self, exe: Path) -> None:
        self.target = TARGETS["host"]
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
                   UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
        self.proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self._err = bytearray()
        threading.Thread(target=self._drain, daemon=True).start()
        self._handshake()

    def _drain(self) -> None:
        for chunk in iter(lambda: self.proc.stderr.read1(4096), b""):
            self._err += chunk

    def _send(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # the read below reports the death with the sanitizer's stderr

    def _recv(self, n: int) -> bytes:
        data = self.proc.stdout.read(n)
        if data is None or len(data) != n:
            raise self._died("end of output")
        return data

    def _died(self, why: str) -> HarnessError:
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        return HarnessError(f"host harness failed ({why}, rc={self.proc.returncode}):\n"
                            f"{self._err.decode(errors='replace')}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)


class QemuHarness(Harness):
    """The Cortex-M image on a QEMU machine; serial0 on a local TCP socket (server, wait=on:
    the guest starts only once we are connected, so nothing it sends is lost). TCP_NODELAY on
    QEMU's side, or Nagle + delayed ACK add ~40 ms to every small response. No semihosting."""

    def __init__(self, target: Target, elf: Path, attempts: int = 3) -> None:
        from rct_tflm.boards import get_board
        from rct_tflm.emulator.qemu import QEMU, free_port
        self.target = target
        machine = get_board(target.board).qemu_machine
        if shutil.which(QEMU) is None:
            raise HarnessError(f"{QEMU} not found: run `make setup` (installs qemu-system-arm)")
        for _ in range(attempts):
            port = free_port()
            self.proc = subprocess.Popen(
                [QEMU, "-M", machine, "-display", "none", "-monitor", "none", "-nodefaults",
                 "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on",
                 "-kernel", str(elf)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self.sock = self._connect(port)
            if self.sock is not None:
                break
            self.proc.kill()  # port taken or QEMU failed: try another port
            self.proc.wait()
        else:
            raise self._died("QEMU did not open its serial socket")
        self.sock.settimeout(CALL_TIMEOUT_S)
        self._handshake()

    def _connect(self, port: int) -> socket.socket | None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return s
            except OSError:
                time.sleep(0.02)
        return None

    def _send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise self._died(f"send failed: {e}") from None

    def _recv(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except socket.timeout:
                raise self._died(f"no answer within {CALL_TIMEOUT_S:.0f} s") from None
            if not chunk:
                raise self._died("QEMU closed the serial socket")
            buf += chunk
        return bytes(buf)

    def _died(self, why: str) -> HarnessError:
        """Explain a broken exchange: a fault report from fault.c, QEMU's stderr, or the bytes."""
        from rct_tflm.link.framing import FrameDecoder
        from rct_tflm.link.messages import FAULT, fault_text
        extra = b""
        if getattr(self, "sock", None) is not None:
            self.sock.settimeout(0.5)
            try:
                while len(extra) < 4096:
                    chunk = self.sock.recv(4096)
                    if not chunk:
                        break
                    extra += chunk
            except OSError:
                pass
        detail = [f"{self.target.name}: harness failed ({why})"]
        for f in FrameDecoder().feed(extra):
            if f.type == FAULT:
                detail.append(f"guest crashed: {fault_text(f.payload)}")
        if extra:
            detail.append(f"trailing bytes: {extra[:64].hex()}")
        if self.proc.poll() is not None:
            detail.append(f"QEMU exited {self.proc.returncode}: "
                          f"{self.proc.stderr.read().decode(errors='replace')[-1000:]}")
        return HarnessError("\n".join(detail))

    def close(self) -> None:
        if getattr(self, "sock", None) is not None:
            self.sock.close()
        if self.proc.poll() is None:
            stop_process(self.proc)
        self.proc.stderr.close()


_CACHE: dict[str, Harness] = {}


def get_harness(target: str = "host") -> Harness:
    """The per-process harness of `target`, built and started on first use."""
    if target not in _CACHE:
        t = TARGETS[target]
        h = QemuHarness(t, compile_harness_arm(t)) if t.is_qemu else HostHarness(compile_harness())
        atexit.register(h.close)
        _CACHE[target] = h
    return _CACHE[target]
