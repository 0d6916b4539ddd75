"""Message types and payload layouts of protocol version 1 (docs/protocol.md). Little-endian."""
from __future__ import annotations

import struct
from dataclasses import dataclass

PROTO_VERSION = 1

HELLO, TRAIN, INFER, STATS, WEIGHTS_READ, WEIGHTS_WRITE, SET_HPARAMS, RESET = range(1, 9)
FAULT_TEST = 0x7E
ACK, NAK, FAULT = 0x80, 0x81, 0x82
NAMES = {HELLO: "HELLO", TRAIN: "TRAIN", INFER: "INFER", STATS: "STATS",
         WEIGHTS_READ: "WEIGHTS_READ", WEIGHTS_WRITE: "WEIGHTS_WRITE", SET_HPARAMS: "SET_HPARAMS",
         RESET: "RESET", FAULT_TEST: "FAULT_TEST", ACK: "ACK", NAK: "NAK", FAULT: "FAULT"}
MUTATING = {TRAIN, WEIGHTS_WRITE, SET_HPARAMS, RESET}

NAK_CRC, NAK_TOO_LONG, NAK_UNKNOWN, NAK_BAD_LENGTH, NAK_BAD_ARG, NAK_MODEL = range(1, 7)
NAK_NAMES = {NAK_CRC: "crc", NAK_TOO_LONG: "too_long", NAK_UNKNOWN: "unknown_type",
             NAK_BAD_LENGTH: "bad_length", NAK_BAD_ARG: "bad_argument", NAK_MODEL: "model_error"}

CAP_TRAIN, CAP_INFER, CAP_WEIGHTS, CAP_FAULT_REPORT, CAP_TEST_HOOKS = 1, 2, 4, 8, 16

EXCEPTIONS = {3: "HardFault", 4: "MemManage", 5: "BusFault", 6: "UsageFault"}


@dataclass(frozen=True)
class Hello:
    version: int
    capabilities: int
    max_payload: int
    input_size: int
    num_classes: int
    num_trainable: int
    weights_size: int
    model_hash: bytes
    board: str

    @classmethod
    def unpack(cls, p: bytes) -> "Hello":
        v, caps, mp, ins, nc, nt, ws = struct.unpack_from("<BBHHHHI", p, 0)
        h = p[14:46]
        blen = p[46]
        return cls(v, caps, mp, ins, nc, nt, ws, bytes(h), p[47:47 + blen].decode("ascii", "replace"))


@dataclass(frozen=True)
class HParams:
    lr_shift: int
    t_min_q16: int
    t_max_q16: int
    sat_guard_ppm: int
    period_samples: int
    seed: int

    def pack(self) -> bytes:
        return struct.pack("<BiiIII", self.lr_shift, self.t_min_q16, self.t_max_q16,
                           self.sat_guard_ppm, self.period_samples, self.seed)


@dataclass
class Stats:
    bits: list[int]
    exp: list[int]
    gavg_q16: list[int]
    saturated: list[int]
    loss_q16: int
    samples: int
    steps: int
    decisions: int
    prng_counter: int
    rx_errors: int

    @classmethod
    def unpack(cls, p: bytes) -> "Stats":
        (t,) = struct.unpack_from("<H", p, 0)
        rows = [struct.unpack_from("<BbiI", p, 2 + 10 * i) for i in range(t)]
        tail = struct.unpack_from("<iIIIII", p, 2 + 10 * t)
        return cls([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                   [r[3] for r in rows], *tail)

    @property
    def loss(self) -> float:
        return self.loss_q16 / 65536.0


def fault_text(p: bytes) -> str:
    exc, pc, lr, psr, cfsr, hfsr, mmfar, bfar = struct.unpack_from("<BIIIIIII", p, 0)
    return (f"{EXCEPTIONS.get(exc, f'exception {exc}')} at pc=0x{pc:08x} lr=0x{lr:08x} "
            f"xpsr=0x{psr:08x} cfsr=0x{cfsr:08x} hfsr=0x{hfsr:08x} mmfar=0x{mmfar:08x} "
            f"bfar=0x{bfar:08x}")
