"""Message types and payload layouts of protocol version 5 (docs/protocol.md). Little-endian.

Mirrors firmware/link/rct_link.h and firmware/app/rct_app.h; docs/protocol.md is the spec.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

PROTO_VERSION = 5  # 3: the host's session nonce echoed in HELLO, TRAIN and STATS; DIGEST
# 4: large samples are staged (SAMPLE_WRITE in chunks, then TRAIN_STAGED / INFER_STAGED)
# 5: a sample's target record is a uint16 label (up to 65,535 classes), an MSE model's int8
#    target vector or nothing (autoencoder); INFER answers an i32 per sample (the class or the
#    MSE score) and takes a regression model's targets; HELLO ends with loss, target bytes

(HELLO, TRAIN, INFER, STATS, WEIGHTS_READ, WEIGHTS_WRITE, SET_HPARAMS, RESET, HPARAMS_GET,
 DIGEST, SAMPLE_WRITE, TRAIN_STAGED, INFER_STAGED) = range(1, 14)
FAULT_TEST = 0x7E
ACK, NAK, FAULT = 0x80, 0x81, 0x82
NAMES = {HELLO: "HELLO", TRAIN: "TRAIN", INFER: "INFER", STATS: "STATS",
         WEIGHTS_READ: "WEIGHTS_READ", WEIGHTS_WRITE: "WEIGHTS_WRITE", SET_HPARAMS: "SET_HPARAMS",
         RESET: "RESET", HPARAMS_GET: "HPARAMS_GET", DIGEST: "DIGEST", SAMPLE_WRITE: "SAMPLE_WRITE",
         TRAIN_STAGED: "TRAIN_STAGED", INFER_STAGED: "INFER_STAGED", FAULT_TEST: "FAULT_TEST",
         ACK: "ACK",
         NAK: "NAK", FAULT: "FAULT"}
MUTATING = {TRAIN, WEIGHTS_WRITE, SET_HPARAMS, RESET, TRAIN_STAGED}

NAK_CRC, NAK_TOO_LONG, NAK_UNKNOWN, NAK_BAD_LENGTH, NAK_BAD_ARG, NAK_MODEL = range(1, 7)
NAK_NAMES = {NAK_CRC: "crc", NAK_TOO_LONG: "too_long", NAK_UNKNOWN: "unknown_type",
             NAK_BAD_LENGTH: "bad_length", NAK_BAD_ARG: "bad_argument", NAK_MODEL: "model_error"}

LOSS_SOFTMAX_CE, LOSS_MSE = 0, 1  # HELLO's loss head (RCT_MODEL_LOSS_MSE)
LOSSES = {LOSS_SOFTMAX_CE: "softmax_ce", LOSS_MSE: "mse"}
LABEL_BYTES = 2  # a classifier's target record: the uint16 label

CAP_TRAIN, CAP_INFER, CAP_WEIGHTS, CAP_FAULT_REPORT, CAP_TEST_HOOKS, CAP_STAGE = 1, 2, 4, 8, 16, 32

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
    session: int = 0  # the nonce of the HELLO request, echoed (version 3)
    stage_bytes: int = 0  # the sample staging buffer (version 4; 0: samples travel whole)
    loss: int = LOSS_SOFTMAX_CE  # version 5: the loss head (LOSS_*)
    target_bytes: int = 2  # version 5: bytes of a TRAIN sample's target record
    infer_target_bytes: int = 0  # version 5: of an INFER sample's (a regression model's targets)

    _FMT = "<BBHHHHI"  # 14 bytes, then the 32-byte hash, u8 name length, name, u32 session,
    # u32 stage_bytes, u8 loss, u16 target_bytes, u16 infer_target_bytes

    def pack(self) -> bytes:
        name = self.board.encode("ascii")[:80]
        return (struct.pack(self._FMT, self.version, self.capabilities, self.max_payload,
                            self.input_size, self.num_classes, self.num_trainable,
                            self.weights_size) + bytes(self.model_hash) + bytes([len(name)]) + name
                + struct.pack("<IIBHH", self.session, self.stage_bytes, self.loss,
                              self.target_bytes, self.infer_target_bytes))

    @classmethod
    def unpack(cls, p: bytes) -> "Hello":
        """Raises ValueError on a payload too short to be a HELLO of any version."""
        if len(p) < 47:
            raise ValueError(f"HELLO payload of {len(p)} B (need >= 47)")
        v, caps, mp, ins, nc, nt, ws = struct.unpack_from(cls._FMT, p, 0)
        if len(p) < 47 + p[46]:  # a name cut short (later versions may append fields)
            raise ValueError(f"HELLO payload of {len(p)} B with a {p[46]}-byte board name "
                             f"(need {47 + p[46]})")
        name = p[47:47 + p[46]].decode("ascii", "replace")
        end = 47 + p[46]
        session = struct.unpack_from("<I", p, end)[0] if len(p) >= end + 4 else 0
        stage = struct.unpack_from("<I", p, end + 4)[0] if len(p) >= end + 8 else 0
        loss, tb, itb = struct.unpack_from("<BHH", p, end + 8) if len(p) >= end + 13 \
            else (LOSS_SOFTMAX_CE, 1, 0)  # before version 5: uint8 labels
        return cls(v, caps, mp, ins, nc, nt, ws, bytes(p[14:46]), name, session, stage, loss,
                   tb, itb)

    def problem(self) -> str | None:
        """Why these fields cannot describe a working board (None if they can)."""
        if not 1 <= self.input_size or not 1 <= self.num_classes or self.loss not in LOSSES:
            return f"input_size {self.input_size}, num_classes {self.num_classes}"
        if self.max_payload < 16:  # WEIGHTS_WRITE needs 4 B of offset plus data
            return f"max_payload {self.max_payload} B"
        if self.num_trainable > (self.max_payload - 30) // 10:
            return f"{self.num_trainable} trainable tensors do not fit one STATS answer"
        return None


DEFAULT_MAX_PAYLOAD = 512  # RCT_LINK_MAX_PAYLOAD unless the model needs more


# A sample whose TRAIN frame would exceed this is staged instead: the firmware keeps 512-byte
# frames and one staging buffer of max_batch samples that SAMPLE_WRITE fills in chunks, rather
# than four link buffers (receive, send raw and wire, response) each holding a whole sample.
STAGE_ABOVE = 1024


def target_bytes_of(targets: str, target_size: int) -> int:
    """Bytes of a TRAIN sample's target record for a model whose program has these `targets`
    ("labels": a uint16; "vector": target_size int8 values; "input": none)."""
    return LABEL_BYTES if targets == "labels" else int(target_size)


def stages_samples(input_size: int, target_bytes: int = LABEL_BYTES) -> bool:
    """Whether a firmware for `input_size`-byte samples receives them staged (SAMPLE_WRITE)."""
    return 2 + int(input_size) + int(target_bytes) > STAGE_ABOVE


def max_payload_for(input_size: int, target_bytes: int = LABEL_BYTES) -> int:
    """The frame payload limit a firmware is built with (`RCT_LINK_MAX_PAYLOAD`): 512 B, or
    enough for one TRAIN sample (2-byte header + inputs + target record) rounded up to 16 B;
    512 B again when samples are staged (the target records of a staged micro-batch travel in
    TRAIN_STAGED: a regression's must fit 512 B)."""
    if stages_samples(input_size, target_bytes):
        return DEFAULT_MAX_PAYLOAD
    return max(DEFAULT_MAX_PAYLOAD, -(-(2 + int(input_size) + int(target_bytes)) // 16) * 16)


def stage_bytes_for(input_size: int, max_batch: int, target_bytes: int = LABEL_BYTES) -> int:
    """The staging buffer a firmware holds (`RCT_APP_STAGE_BYTES`): a micro-batch of samples
    when they are staged, else none."""
    return int(max_batch) * int(input_size) if stages_samples(input_size, target_bytes) else 0


HPARAMS_FMT = "<BiiIII"  # 21 bytes
MIN_PERIOD_SAMPLES = 512  # = rct_tflm.fixedpoint.controller.MIN_PERIOD_SAMPLES (firmware checks it)


@dataclass(frozen=True)
class HParams:
    lr_shift: int
    t_min_q16: int
    t_max_q16: int
    sat_guard_ppm: int
    period_samples: int
    seed: int

    def pack(self) -> bytes:
        return struct.pack(HPARAMS_FMT, self.lr_shift, self.t_min_q16, self.t_max_q16,
                           self.sat_guard_ppm, self.period_samples, self.seed & 0xFFFFFFFF)

    @classmethod
    def unpack(cls, p: bytes) -> "HParams":
        return cls(*struct.unpack(HPARAMS_FMT, p))

    def problem(self) -> str | None:
        """Why the firmware would NAK these values (None if it accepts them)."""
        if not 0 <= self.lr_shift <= 30:
            return f"lr_shift must be in 0..30, got {self.lr_shift}"
        if not (self.t_min_q16 > 0 and self.t_max_q16 > 2 * self.t_min_q16):
            return (f"thresholds need 0 < T_min and T_max > 2*T_min, got T_min="
                    f"{self.t_min_q16 / 65536:g} T_max={self.t_max_q16 / 65536:g}")
        if not 0 <= self.sat_guard_ppm < 1_000_000:
            return f"saturation guard must be below 1e6 ppm, got {self.sat_guard_ppm}"
        if self.period_samples < MIN_PERIOD_SAMPLES:
            return f"period_samples must be >= {MIN_PERIOD_SAMPLES}, got {self.period_samples}"
        return None


STATS_ROW = "<BbiI"  # per trainable tensor: bits, exp, gavg_q16, saturated (10 bytes)
STATS_TAIL = "<iIIIIII"  # loss_q16, samples, steps, decisions, prng_counter, rx_errors, session
STATS_TAIL_BYTES = struct.calcsize(STATS_TAIL)  # 28


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
    session: int = 0

    def pack(self) -> bytes:
        out = struct.pack("<H", len(self.bits))
        for row in zip(self.bits, self.exp, self.gavg_q16, self.saturated):
            out += struct.pack(STATS_ROW, *row)
        return out + struct.pack(STATS_TAIL, self.loss_q16, self.samples, self.steps,
                                 self.decisions, self.prng_counter, self.rx_errors, self.session)

    @classmethod
    def unpack(cls, p: bytes) -> "Stats":
        (t,) = struct.unpack_from("<H", p, 0)
        if len(p) != 2 + 10 * t + STATS_TAIL_BYTES:
            raise ValueError(f"{t} tensors need {2 + 10 * t + STATS_TAIL_BYTES} B")
        rows = [struct.unpack_from(STATS_ROW, p, 2 + 10 * i) for i in range(t)]
        tail = struct.unpack_from(STATS_TAIL, p, 2 + 10 * t)
        return cls([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                   [r[3] for r in rows], *tail)

    @property
    def loss(self) -> float:
        return self.loss_q16 / 65536.0


TRAIN_ACK = "<II"  # samples trained since RESET, session


@dataclass(frozen=True)
class Digest:
    """DIGEST's answer: the session, samples since RESET and zlib.crc32 of the weights blob."""
    session: int
    samples: int
    weights_crc32: int

    _FMT = "<III"

    def pack(self) -> bytes:
        return struct.pack(self._FMT, self.session, self.samples, self.weights_crc32)

    @classmethod
    def unpack(cls, p: bytes) -> "Digest":
        return cls(*struct.unpack(cls._FMT, p))


FAULT_FMT = "<BIIIIIII"  # exception number, pc, lr, xpsr, cfsr, hfsr, mmfar, bfar (29 bytes)


def fault_text(p: bytes) -> str:
    if len(p) < struct.calcsize(FAULT_FMT):
        return f"fault report of {len(p)} B (truncated)"
    exc, pc, lr, psr, cfsr, hfsr, mmfar, bfar = struct.unpack_from(FAULT_FMT, p, 0)
    return (f"{EXCEPTIONS.get(exc, f'exception {exc}')} at pc=0x{pc:08x} lr=0x{lr:08x} "
            f"xpsr=0x{psr:08x} cfsr=0x{cfsr:08x} hfsr=0x{hfsr:08x} mmfar=0x{mmfar:08x} "
            f"bfar=0x{bfar:08x}")
