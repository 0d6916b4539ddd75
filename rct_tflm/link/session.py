"""The host side of the protocol: stop-and-wait requests with sequence numbers, CRC-checked
responses, retransmission on timeout or NAK(crc), and typed helpers per message."""
from __future__ import annotations

import struct
import time
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from . import messages as m
from .framing import FrameDecoder, encode_frame


class LinkError(UserError):
    """The board did not answer, answered with a NAK, or crashed."""


class NakError(LinkError):
    def __init__(self, msg_type: int, reason: int, text: str) -> None:
        self.reason, self.text = reason, text
        super().__init__(f"board refused {m.NAMES.get(msg_type, msg_type)}: "
                         f"{m.NAK_NAMES.get(reason, reason)} ({text})")


class DeviceFault(LinkError):
    pass


@dataclass
class LinkCounters:
    tx_bytes: int = 0
    rx_bytes: int = 0
    tx_frames: int = 0
    rx_frames: int = 0
    retransmits: int = 0
    bad_frames: int = 0  # frames from the board that failed CRC/COBS

    @property
    def wire_bytes(self) -> int:
        return self.tx_bytes + self.rx_bytes


class Link:
    """One session with a board over a pyserial-like port (write, read, in_waiting)."""

    def __init__(self, port, url: str = "", timeout: float = 2.0, retries: int = 4) -> None:
        self.port, self.url = port, url or getattr(port, "name", "?") or "?"
        self.timeout, self.retries = timeout, retries
        self.decoder = FrameDecoder()
        self.counters = LinkCounters()
        self._pending: list = []
        self._seq = 0
        self.hello_info: m.Hello | None = None

    # -- transport -------------------------------------------------------------------------
    def _next_frame(self, deadline: float):
        while not self._pending:
            if time.monotonic() >= deadline:
                return None
            data = self.port.read(max(1, getattr(self.port, "in_waiting", 0) or 0))
            if data:
                self.counters.rx_bytes += len(data)
                before = self.decoder.bad_frames
                self._pending += self.decoder.feed(data)
                self.counters.bad_frames += self.decoder.bad_frames - before
                if self.decoder.bad_frames > before and not self._pending:
                    return "bad"
        self.counters.rx_frames += 1
        return self._pending.pop(0)

    def request(self, msg_type: int, payload: bytes = b"", timeout: float | None = None) -> bytes:
        """Send one request, return the ACK payload; retransmit on loss or corruption."""
        self._seq = (self._seq + 1) % 0xFF  # 0xFF is the board's "unknown seq" in NAK(crc)
        seq = self._seq
        frame = encode_frame(msg_type, seq, payload)
        timeout = self.timeout if timeout is None else timeout
        for attempt in range(self.retries + 1):
            if attempt:
                self.counters.retransmits += 1
            self.port.write(frame)
            self.counters.tx_bytes += len(frame)
            self.counters.tx_frames += 1
            deadline = time.monotonic() + timeout
            while True:
                f = self._next_frame(deadline)
                if f is None or f == "bad":
                    break  # lost or corrupt response: retransmit (the board deduplicates)
                if f.type == m.FAULT:
                    raise DeviceFault(f"board at {self.url} crashed: {m.fault_text(f.payload)}")
                if f.type == m.NAK and f.payload[:1] == bytes([m.NAK_CRC]):
                    break  # our frame arrived corrupt: retransmit
                if f.seq != seq:
                    continue  # a stale response to an earlier attempt
                if f.type == m.ACK:
                    return f.payload
                if f.type == m.NAK:
                    raise NakError(msg_type, f.payload[0],
                                   f.payload[1:].decode("ascii", "replace"))
        raise LinkError(f"no answer from the board at {self.url} to {m.NAMES[msg_type]} "
                        f"({self.retries + 1} tries, {timeout:g} s each); check the port and "
                        f"that the firmware is running")

    # -- messages --------------------------------------------------------------------------
    def hello(self, expected_hash: bytes | None = None) -> m.Hello:
        h = m.Hello.unpack(self.request(m.HELLO))
        if h.version != m.PROTO_VERSION:
            raise LinkError(f"board speaks protocol version {h.version}, this rct_tflm speaks "
                            f"{m.PROTO_VERSION}; rebuild the firmware with this rct_tflm")
        if expected_hash is not None and bytes(expected_hash) != h.model_hash:
            raise LinkError(f"model mismatch: the board runs model {h.model_hash.hex()[:16]}…, "
                            f"--model is {bytes(expected_hash).hex()[:16]}…; rebuild and flash "
                            f"the firmware for this model (`rct-tflm build`)")
        self.hello_info = h
        return h

    def _need_hello(self) -> m.Hello:
        if self.hello_info is None:
            self.hello()
        return self.hello_info

    def samples_per_frame(self) -> int:
        h = self._need_hello()
        return max(1, min(255, (h.max_payload - 2) // (h.input_size + 1)))

    def train(self, x: np.ndarray, labels: np.ndarray, batch: int = 1) -> int:
        """Train on `x` (n, input_size) int8 in micro-batches of `batch`; returns samples done."""
        x = np.ascontiguousarray(x, dtype=np.int8).reshape(len(labels), -1)
        labels = np.asarray(labels, dtype=np.uint8)
        per = (self.samples_per_frame() // batch) * batch
        if per == 0:
            raise UserError(f"micro-batch {batch} does not fit one frame "
                            f"({self.hello_info.max_payload} B payload)")
        done = 0
        for s in range(0, len(labels), per):
            xs, ys = x[s:s + per], labels[s:s + per]
            payload = bytes([batch, len(ys)]) + xs.tobytes() + ys.tobytes()
            (done,) = struct.unpack("<I", self.request(m.TRAIN, payload))
        return done

    def infer(self, x: np.ndarray, logits: bool = False):
        """Class per row of `x`; with logits=True also the (n, classes) int32 logits."""
        h = self._need_hello()
        x = np.ascontiguousarray(x, dtype=np.int8).reshape(-1, h.input_size)
        per_sample = max(h.input_size, 1 + (4 * h.num_classes if logits else 0))
        per = max(1, min(255, (h.max_payload - 2) // per_sample))
        classes, lg = [], []
        for s in range(0, len(x), per):
            xs = x[s:s + per]
            p = self.request(m.INFER, bytes([len(xs), int(logits)]) + xs.tobytes())
            classes.append(np.frombuffer(p[:len(xs)], np.uint8))
            if logits:
                lg.append(np.frombuffer(p[len(xs):], "<i4").reshape(len(xs), h.num_classes))
        cls = np.concatenate(classes).astype(np.int64) if classes else np.zeros(0, np.int64)
        return (cls, np.concatenate(lg)) if logits else cls

    def stats(self) -> m.Stats:
        return m.Stats.unpack(self.request(m.STATS))

    def weights_read(self) -> bytes:
        h = self._need_hello()
        chunk = h.max_payload
        out = bytearray()
        while len(out) < h.weights_size:
            n = min(chunk, h.weights_size - len(out))
            out += self.request(m.WEIGHTS_READ, struct.pack("<IH", len(out), n))
        return bytes(out)

    def weights_write(self, data: bytes) -> None:
        h = self._need_hello()
        if len(data) != h.weights_size:
            raise UserError(f"checkpoint holds {len(data)} B of weights, the board's model needs "
                            f"{h.weights_size} B; use a checkpoint of this model")
        chunk = h.max_payload - 4
        for off in range(0, len(data), chunk):
            self.request(m.WEIGHTS_WRITE, struct.pack("<I", off) + data[off:off + chunk])

    def set_hparams(self, hp: m.HParams) -> None:
        self.request(m.SET_HPARAMS, hp.pack())

    def reset(self, seed: int) -> None:
        self.request(m.RESET, struct.pack("<I", seed & 0xFFFFFFFF))

    def close(self) -> None:
        self.port.close()
