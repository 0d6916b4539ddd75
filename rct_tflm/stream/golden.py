"""The firmware application in numpy: a device that speaks the link protocol on the golden engine.

`GoldenDevice` is a pyserial-like port (write / read / in_waiting / close). Bytes written to it
are decoded, dispatched exactly like firmware/app/rct_app_dispatch.c (same validation, NAK
reasons and texts, duplicate cache, boot seed 0, RESET restoring the compiled hyper-parameters)
and answered on the golden integer engine (rct_tflm.program.Engine). So the one stream
session drives the golden model, the host C build and a QEMU board through the same `Link`, and
their results can be compared integer by integer.
"""
from __future__ import annotations

import struct
import time
import zlib
from dataclasses import replace

import numpy as np

from ..artefact import ModelArtefact
from ..fixedpoint.controller import BitwidthController
from ..fixedpoint.config import EngineConfig
from ..program import Engine, Program, lower
from ..fixedpoint.prng import Rng
from ..fixedpoint.rounding import saturate
from ..link import messages as m
from ..link.framing import decode_frame, encode_frame

BOOT_SEED = 0  # = RCT_BOOT_SEED in firmware/app/main.c


def model_hash_of(model: Program, art: ModelArtefact) -> bytes:
    from ..codegen.render import model_hash  # the generator's definition (HELLO's model hash)
    return model_hash(model, art)


def compiled_hparams(cfg: EngineConfig, seed: int) -> m.HParams:
    """The hyper-parameters rct_model_init restores (rct_config.h of a tree generated with cfg)."""
    c = cfg.controller
    return m.HParams(cfg.lr_shift, c.t_min_q16, c.t_max_q16, c.sat_guard_ppm, c.period_samples,
                     seed & 0xFFFFFFFF)


class GoldenDevice:
    """The protocol endpoint of a board, running the golden engine (see module doc)."""

    name = "golden"

    def __init__(self, art: ModelArtefact, cfg: EngineConfig | None = None,
                 trainable_layers: int | None = None, frozen_layers: int | None = None,
                 board: str = "golden") -> None:
        self.base_cfg = cfg or EngineConfig()
        self.model = lower(art, self.base_cfg, trainable_layers, frozen_layers)
        self.model_hash = model_hash_of(self.model, art)
        self.board = board
        self.engine = Engine(self.model, self.base_cfg)
        mdl = self.model
        # a sample's target record (TRAIN) and the one INFER takes (a regression's targets)
        self.target_bytes = m.target_bytes_of(mdl.targets, mdl.target_size)
        self.infer_target_bytes = self.target_bytes if mdl.loss_kind == "mse" else 0
        self.max_payload = m.max_payload_for(mdl.input_size, self.target_bytes)
        # = RCT_APP_STAGE_BYTES: a micro-batch of large samples, written by SAMPLE_WRITE
        self.stage = bytearray(m.stage_bytes_for(mdl.input_size, self.base_cfg.max_batch,
                                                 self.target_bytes))
        self.stage_fill = 0
        raw = self.max_payload + 4
        self.max_wire = raw + raw // 254 + 2  # = RCT_LINK_MAX_WIRE, the receive buffer
        self.timeout = 0.05
        self._rx = bytearray()  # bytes towards the host
        self._buf = bytearray()  # the receiver's frame buffer (firmware: rct_link_rx_t)
        self._overflow = False
        self.rx_errors = 0
        self._last: tuple[int, int, int, bytes] | None = None  # duplicate cache: type, seq, msg, payload
        self._wr_pending: tuple[int, int] | None = None  # weights_write: (offset, low byte)
        self._boot()

    # -- the model API (rct_model.h) on the engine ----------------------------------------
    def _boot(self) -> None:
        self._model_init(BOOT_SEED)
        self._last = None
        self.session = 0

    def reboot(self) -> None:
        """A power cycle: RAM lost (model, session, duplicate cache, half-received frames)."""
        self._buf, self._overflow = bytearray(), False
        self.stage[:], self.stage_fill = bytes(len(self.stage)), 0
        self._boot()

    def _model_init(self, seed: int) -> None:
        self.engine.cfg = self.base_cfg
        self.engine.reset(seed)
        self.hp = compiled_hparams(self.base_cfg, seed)
        self.decisions_before = 0  # decisions of controllers replaced by set_hparams
        self.app_samples = 0
        self._wr_pending = None

    def _set_hparams(self, h: m.HParams) -> None:
        """rct_model_set_hparams: new values, PRNG (key = seed, counter 0), controller restart."""
        cc = replace(self.base_cfg.controller, t_min=h.t_min_q16 / 65536.0,
                     t_max=h.t_max_q16 / 65536.0, sat_guard=h.sat_guard_ppm / 1e6,
                     period_samples=h.period_samples)
        e = self.engine
        e.cfg = replace(self.base_cfg, lr_shift=h.lr_shift, controller=cc)
        e.rng = Rng(h.seed)
        self.decisions_before += len(e.ctrl.log)
        e.ctrl = BitwidthController(cc, list(self.model.trainable), dict(self.model.bits_max))
        self.hp = h

    def stats(self) -> m.Stats:
        e = self.engine
        ts = e.trainable_tensors()
        return m.Stats([t.bits for t in ts], [t.exp for t in ts],
                       [int(e.last_gavg[n]) for n in self.model.trainable],
                       [t.saturated_count() for t in ts], int(e.last_loss_q16), e.samples,
                       e.steps, self.decisions_before + len(e.ctrl.log), e.rng.counter,
                       self.rx_errors, self.session)

    def _locate(self, off: int) -> tuple[int, int]:
        for k, t in enumerate(self.engine.trainable_tensors()):
            n = 2 + 2 * t.size
            if off < n:
                return k, off
            off -= n
        raise IndexError(off)

    def _weights_write(self, off: int, data: bytes) -> bool:
        """rct_model_weights_write, byte by byte like the generated C (False = RCT_EWEIGHTS)."""
        ts = self.engine.trainable_tensors()
        names = self.model.trainable
        cap_all = self.base_cfg.controller.bits_max
        for i, b in enumerate(data):
            pos = off + i
            k, local = self._locate(pos)
            t = ts[k]
            if local == 0:
                if b < 2 or b > self.model.bits_max[names[k]] or b > cap_all:
                    return False
                t.bits = b
                t.q[...] = 0
            elif local == 1:
                t.exp = int(np.int8(np.uint8(b)))
            elif (local - 2) % 2 == 0:
                self._wr_pending = (pos, b)
            else:
                if self._wr_pending is None or self._wr_pending[0] != pos - 1:
                    return False
                v = int(np.int16(np.uint16(self._wr_pending[1] | (b << 8))))
                self._wr_pending = None
                if v != int(saturate(np.array([v]), t.bits)[0]):
                    return False
                t.q.reshape(-1)[(local - 2) // 2] = v
        return True

    # -- the application (firmware/app/rct_app_dispatch.c) --------------------------------
    def _send(self, msg: int, seq: int, payload: bytes = b"") -> None:
        self._rx += encode_frame(msg, seq, payload[:self.max_payload])

    def _nak(self, seq: int, reason: int, text: str) -> None:
        self._send(m.NAK, seq, bytes([reason]) + text.encode("ascii")[:79])

    def _nak_cached(self, t: int, seq: int, reason: int, text: str) -> None:
        self._nak(seq, reason, text)
        if t in m.MUTATING:
            self._last = None

    def _reply(self, t: int, seq: int, payload: bytes = b"") -> None:
        if t in m.MUTATING and len(payload) <= 8:
            self._last = (t, seq, m.ACK, payload)
        self._send(m.ACK, seq, payload)

    def _dispatch(self, t: int, seq: int, p: bytes) -> None:
        if self._last is not None and seq != self._last[1]:
            self._last = None
        if self._last is not None and t == self._last[0]:
            self._send(self._last[2], self._last[1], self._last[3])
            return
        handler = {m.HELLO: self._hello, m.TRAIN: self._train, m.INFER: self._infer,
                   m.STATS: self._stats, m.WEIGHTS_READ: self._weights_read_msg,
                   m.WEIGHTS_WRITE: self._weights_write_msg, m.SET_HPARAMS: self._set_hparams_msg,
                   m.RESET: self._reset, m.HPARAMS_GET: self._hparams_get,
                   m.DIGEST: self._digest}.get(t)
        if self.stage:
            handler = handler or {m.SAMPLE_WRITE: self._sample_write,
                                  m.TRAIN_STAGED: self._train_staged,
                                  m.INFER_STAGED: self._infer_staged}.get(t)
        if handler is None:
            self._nak(seq, m.NAK_UNKNOWN, "unknown message type")
        else:
            handler(t, seq, p)

    def _hello(self, t: int, seq: int, p: bytes) -> None:
        mdl = self.model
        self.session = struct.unpack_from("<I", p)[0] if len(p) >= 4 else 0
        caps = m.CAP_TRAIN | m.CAP_INFER | m.CAP_WEIGHTS | (m.CAP_STAGE if self.stage else 0)
        h = m.Hello(m.PROTO_VERSION, caps, self.max_payload, mdl.input_size, mdl.num_classes,
                    len(mdl.trainable), len(self.engine.weights_blob()), self.model_hash,
                    self.board, self.session, len(self.stage),
                    m.LOSS_MSE if mdl.loss_kind == "mse" else m.LOSS_SOFTMAX_CE, self.target_bytes,
                    self.infer_target_bytes)
        self._last = None
        self.stage_fill = 0
        self._send(m.ACK, seq, h.pack())

    def _train_header(self, t: int, seq: int, p: bytes) -> tuple[int, int] | None:
        if len(p) < 2:
            return self._nak_cached(t, seq, m.NAK_BAD_LENGTH, "train: missing batch/count header")
        batch, count = p[0], p[1]
        if batch == 0 or count == 0 or count % batch:
            return self._nak_cached(t, seq, m.NAK_BAD_ARG,
                                    "train: count must be a multiple of batch >= 1")
        if batch > self.base_cfg.max_batch:
            return self._nak_cached(t, seq, m.NAK_BAD_ARG, "train: batch > RCT_MODEL_MAX_BATCH")
        return batch, count

    def _targets(self, p: bytes, count: int, offset: int) -> np.ndarray | None:
        """count target records at p[offset:]: uint16 labels, int8 vectors, or None."""
        if self.model.targets == "labels":
            return np.frombuffer(p, "<u2", count, offset).astype(np.int64)
        if self.model.targets == "vector":
            return np.frombuffer(p, np.int8, count * self.target_bytes, offset) \
                .reshape(count, self.target_bytes)
        return None

    def _train_samples(self, t: int, seq: int, batch: int, x: np.ndarray,
                       targets: np.ndarray | None) -> None:
        if self.model.targets == "labels" and np.any(targets >= self.model.num_classes):
            return self._nak_cached(t, seq, m.NAK_BAD_ARG, "train: label >= number of classes")
        for s in range(0, len(x), batch):
            self.engine.train_step(x[s:s + batch], None if targets is None
                                   else targets[s:s + batch])
            self.app_samples += batch
        self._reply(t, seq, struct.pack(m.TRAIN_ACK, self.app_samples & 0xFFFFFFFF, self.session))

    def _train(self, t: int, seq: int, p: bytes) -> None:
        n_in = self.model.input_size
        head = self._train_header(t, seq, p)
        if head is None:
            return
        batch, count = head
        if len(p) != 2 + count * (n_in + self.target_bytes):
            return self._nak_cached(t, seq, m.NAK_BAD_LENGTH,
                                    "train: sample size != model input size")
        x = np.frombuffer(p, np.int8, count * n_in, 2).reshape(count, n_in)
        self._train_samples(t, seq, batch, x, self._targets(p, count, 2 + count * n_in))

    def _infer_samples(self, seq: int, logits: int, x: np.ndarray,
                       targets: np.ndarray | None = None) -> None:
        count, nc = len(x), self.model.num_classes
        if count * (4 + (4 * nc if logits else 0)) > self.max_payload:
            return self._nak(seq, m.NAK_BAD_ARG, "infer: response would exceed max payload")
        lg = self.engine.logits(x).astype(np.int32) if count else np.zeros((0, nc), np.int32)
        out = self.engine.predict(x, targets).astype("<i4").tobytes() if count else b""
        if logits:
            out += lg.astype("<i4").tobytes()
        self._send(m.ACK, seq, out)

    def _infer(self, t: int, seq: int, p: bytes) -> None:
        n_in = self.model.input_size
        if len(p) < 2:
            return self._nak(seq, m.NAK_BAD_LENGTH, "infer: missing count/flags header")
        count, logits = p[0], p[1] & 1
        if len(p) != 2 + count * (n_in + self.infer_target_bytes):
            return self._nak(seq, m.NAK_BAD_LENGTH, "infer: sample size != model input size")
        tg = self._targets(p, count, 2 + count * n_in) if self.infer_target_bytes else None
        self._infer_samples(seq, logits, np.frombuffer(p, np.int8, count * n_in, 2)
                            .reshape(count, n_in), tg)

    # staged samples (firmware: RCT_APP_STAGE_BYTES > 0)
    def _sample_write(self, t: int, seq: int, p: bytes) -> None:
        if len(p) < 4:
            return self._nak(seq, m.NAK_BAD_LENGTH, "sample_write: need offset u32 + data")
        (off,) = struct.unpack_from("<I", p)
        data = p[4:]
        if off > self.stage_fill or off > len(self.stage) or len(data) > len(self.stage) - off:
            return self._nak(seq, m.NAK_BAD_ARG, "sample_write: offset past the staged bytes")
        self.stage[off:off + len(data)] = data
        self.stage_fill = off + len(data)
        self._send(m.ACK, seq, struct.pack("<I", self.stage_fill))

    def _staged(self, count: int) -> np.ndarray:
        n_in = self.model.input_size
        return np.frombuffer(bytes(self.stage[:count * n_in]), np.int8).reshape(count, n_in)

    def _train_staged(self, t: int, seq: int, p: bytes) -> None:
        head = self._train_header(t, seq, p)
        if head is None:
            return
        batch, count = head
        if len(p) != 2 + count * self.target_bytes:
            return self._nak_cached(t, seq, m.NAK_BAD_LENGTH,
                                    "train_staged: need count target records")
        if self.stage_fill != count * self.model.input_size:
            return self._nak_cached(t, seq, m.NAK_BAD_LENGTH,
                                    "train_staged: staged bytes != count samples")
        self.stage_fill = 0
        self._train_samples(t, seq, batch, self._staged(count), self._targets(p, count, 2))

    def _infer_staged(self, t: int, seq: int, p: bytes) -> None:
        if len(p) < 2 or len(p) != 2 + p[0] * self.infer_target_bytes:
            return self._nak(seq, m.NAK_BAD_LENGTH, "infer_staged: need count/flags header")
        count, logits = p[0], p[1] & 1
        if self.stage_fill != count * self.model.input_size:
            return self._nak(seq, m.NAK_BAD_LENGTH, "infer_staged: staged bytes != count samples")
        tg = self._targets(p, count, 2) if self.infer_target_bytes else None
        self._infer_samples(seq, logits, self._staged(count), tg)

    def _stats(self, t: int, seq: int, p: bytes) -> None:
        self._send(m.ACK, seq, self.stats().pack())

    def _weights_read_msg(self, t: int, seq: int, p: bytes) -> None:
        if len(p) != 6:
            return self._nak(seq, m.NAK_BAD_LENGTH, "weights_read: need offset u32 + length u16")
        off, n = struct.unpack("<IH", p)
        blob = self.engine.weights_blob()
        if n > self.max_payload or off > len(blob) or n > len(blob) - off:
            return self._nak(seq, m.NAK_BAD_ARG, "weights_read: range outside the weights")
        self._send(m.ACK, seq, blob[off:off + n])

    def _weights_write_msg(self, t: int, seq: int, p: bytes) -> None:
        if len(p) < 4:
            return self._nak_cached(t, seq, m.NAK_BAD_LENGTH, "weights_write: need offset u32 + data")
        (off,) = struct.unpack_from("<I", p)
        data = p[4:]
        size = len(self.engine.weights_blob())
        if off > size or len(data) > size - off:
            return self._nak_cached(t, seq, m.NAK_BAD_ARG, "weights_write: range outside the weights")
        if not self._weights_write(off, data):
            return self._nak_cached(t, seq, m.NAK_MODEL, "weights_write: model rejected the data")
        self._reply(t, seq)

    def _set_hparams_msg(self, t: int, seq: int, p: bytes) -> None:
        if len(p) != struct.calcsize(m.HPARAMS_FMT):
            return self._nak_cached(t, seq, m.NAK_BAD_LENGTH, "set_hparams: need 21 bytes")
        h = m.HParams.unpack(p)
        if h.problem():
            return self._nak_cached(
                t, seq, m.NAK_BAD_ARG,
                "set_hparams: need lr_shift<=30, 0<2*t_min<t_max, sat<1e6, period>=512")
        self._set_hparams(h)
        self._reply(t, seq)

    def _reset(self, t: int, seq: int, p: bytes) -> None:
        if len(p) != 4:
            return self._nak_cached(t, seq, m.NAK_BAD_LENGTH, "reset: need seed u32")
        self._model_init(struct.unpack("<I", p)[0])
        self._reply(t, seq)

    def _digest(self, t: int, seq: int, p: bytes) -> None:
        if p:
            return self._nak(seq, m.NAK_BAD_LENGTH, "digest: takes no payload")
        crc = zlib.crc32(self.engine.weights_blob())
        self._send(m.ACK, seq, m.Digest(self.session, self.app_samples, crc).pack())

    def _hparams_get(self, t: int, seq: int, p: bytes) -> None:
        if p:
            return self._nak(seq, m.NAK_BAD_LENGTH, "hparams_get: takes no payload")
        self._send(m.ACK, seq, self.hp.pack())

    # -- the port (main.c's receive loop) ---------------------------------------------------
    def write(self, data: bytes) -> int:
        for b in bytes(data):
            if b != 0:
                if len(self._buf) < self.max_wire:
                    self._buf.append(b)
                else:
                    self._overflow = True
                continue
            raw, self._buf = bytes(self._buf), bytearray()
            if self._overflow:
                self._overflow = False
                self._too_long()
                continue
            if not raw:
                continue
            f = decode_frame(raw)
            if f is None:
                self.rx_errors += 1
                self._nak(0xFF, m.NAK_CRC, "crc")
            elif len(f.payload) > self.max_payload:
                self._too_long()
            else:
                self._dispatch(f.type, f.seq, f.payload)
        return len(data)

    def _too_long(self) -> None:
        self.rx_errors += 1
        self._nak(0xFF, m.NAK_TOO_LONG, "too long")

    @property
    def in_waiting(self) -> int:
        return len(self._rx)

    def read(self, n: int = 1) -> bytes:
        if not self._rx:
            time.sleep(min(self.timeout, 0.001))  # like a serial port's read timeout
            return b""
        out = bytes(self._rx[:n])
        del self._rx[:n]
        return out

    def close(self) -> None:
        pass
