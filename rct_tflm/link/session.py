"""The host side of the protocol (docs/protocol.md): stop-and-wait requests with sequence
numbers, CRC-checked responses, retransmission on loss or corruption, and one typed helper per
message.

A request is retried (same seq, so the board recognises the duplicate and does not apply a
mutating request twice) when no valid response arrives in time, when the response arrives
corrupt, or when the board answers NAK(crc). A retransmission starts with an extra 0x00 so a
frame whose delimiter was lost on the wire cannot swallow it.
"""
from __future__ import annotations

import struct
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import UserError
from . import messages as m
from .framing import Frame, FrameDecoder, encode_frame

HELLO_TRY_S = 0.25  # first HELLOs are retried fast: bytes sent while the UART starts are lost


class LinkError(UserError):
    """The board did not answer, answered with a NAK, crashed or speaks another protocol."""


class NakError(LinkError):
    def __init__(self, msg_type: int, reason: int, text: str) -> None:
        self.msg_type, self.reason, self.text = msg_type, reason, text
        super().__init__(f"board refused {m.NAMES.get(msg_type, msg_type)}: "
                         f"{m.NAK_NAMES.get(reason, reason)} ({text})")


class DeviceFault(LinkError):
    """The board crashed and its fault handler reported the fault registers."""


@dataclass
class LinkCounters:
    tx_bytes: int = 0  # bytes written to the port (frames incl. COBS, CRC and delimiters)
    rx_bytes: int = 0
    tx_frames: int = 0
    rx_frames: int = 0  # valid frames received
    tx_payload: int = 0  # message payload bytes inside those frames
    rx_payload: int = 0
    retransmits: int = 0
    bad_frames: int = 0  # frames from the board that failed CRC/COBS

    @property
    def wire_bytes(self) -> int:
        return self.tx_bytes + self.rx_bytes

    @property
    def payload_bytes(self) -> int:
        return self.tx_payload + self.rx_payload

    def as_dict(self) -> dict:
        return {**asdict(self), "wire_bytes": self.wire_bytes, "payload_bytes": self.payload_bytes}


class Link:
    """One session with a board over a pyserial-like port (write, read, in_waiting, close)."""

    def __init__(self, port, url: str = "", timeout: float = 2.0, retries: int = 4) -> None:
        self.port, self.url = port, url or getattr(port, "name", None) or "?"
        self.timeout, self.retries = timeout, retries
        self.decoder = FrameDecoder()
        self.counters = LinkCounters()
        self._pending: list[Frame] = []
        self._seq = 0
        self.hello_info: m.Hello | None = None

    # -- transport -------------------------------------------------------------------------
    def _next_frame(self, deadline: float) -> Frame | str | None:
        """The next valid frame; "bad" when only corrupt frames arrived; None at the deadline."""
        while not self._pending:
            if time.monotonic() >= deadline:
                return None
            try:
                data = self.port.read(max(1, getattr(self.port, "in_waiting", 0) or 0))
            except OSError as e:  # serial.SerialException is an OSError
                raise self._broken(e) from None
            if data:
                self.counters.rx_bytes += len(data)
                before = self.decoder.bad_frames
                self._pending += self.decoder.feed(data)
                self.counters.bad_frames += self.decoder.bad_frames - before
                if self.decoder.bad_frames > before and not self._pending:
                    return "bad"
        f = self._pending.pop(0)
        self.counters.rx_frames += 1
        self.counters.rx_payload += len(f.payload)
        return f

    def request(self, msg_type: int, payload: bytes = b"", timeout: float | None = None,
                tries: int | None = None) -> bytes:
        """Send one request and return the ACK payload; retransmit on loss or corruption."""
        if msg_type in m.MUTATING and self.hello_info is None:
            self.hello()  # a session starts with HELLO: it clears the board's duplicate cache
        self._seq = (self._seq + 1) % 0xFF  # 0xFF is the board's "unknown seq" in NAK(crc)
        seq = self._seq
        frame = encode_frame(msg_type, seq, payload)
        timeout = self.timeout if timeout is None else timeout
        tries = self.retries + 1 if tries is None else tries
        for attempt in range(tries):
            wire = frame if attempt == 0 else b"\x00" + frame
            if attempt:
                self.counters.retransmits += 1
            try:
                self.port.write(wire)
            except OSError as e:
                raise self._broken(e) from None
            self.counters.tx_bytes += len(wire)
            self.counters.tx_frames += 1
            self.counters.tx_payload += len(payload)
            deadline = time.monotonic() + timeout
            while True:
                f = self._next_frame(deadline)
                if f is None or f == "bad":
                    break  # lost or corrupt response: retransmit (the board deduplicates)
                if f.type == m.FAULT:
                    raise DeviceFault(f"the board at {self.url} crashed: "
                                      f"{m.fault_text(f.payload)}; reset it and check the "
                                      f"firmware (this is a firmware bug, not a link error)")
                if f.type == m.NAK and f.payload[:1] == bytes([m.NAK_CRC]):
                    break  # our frame arrived corrupt: retransmit
                if f.seq != seq:
                    continue  # a stale response to an earlier request
                if f.type == m.ACK:
                    return f.payload
                if f.type == m.NAK:
                    raise NakError(msg_type, f.payload[0] if f.payload else 0,
                                   f.payload[1:].decode("ascii", "replace"))
                # anything else (e.g. our own frame echoed back) is not an answer
        raise LinkError(f"no answer from the board at {self.url} to {m.NAMES.get(msg_type, msg_type)} "
                        f"({tries} tries, {timeout:g} s each); check the port, that the "
                        f"firmware is running, and that nothing else holds the port")

    def _broken(self, e: OSError) -> LinkError:
        return LinkError(f"the link to the board at {self.url} broke ({e}); check the cable "
                         f"or that the emulator is still running")

    # -- messages --------------------------------------------------------------------------
    def hello(self, expected_hash: bytes | None = None) -> m.Hello:
        """Start the session (the board forgets its duplicate cache) and check the model."""
        total = self.timeout * (self.retries + 1)
        p = self.request(m.HELLO, timeout=min(HELLO_TRY_S, self.timeout),
                         tries=max(1, int(total / min(HELLO_TRY_S, self.timeout))))
        try:
            h = m.Hello.unpack(p)
        except ValueError as e:
            raise LinkError(f"the device at {self.url} does not speak the rct_tflm protocol "
                            f"({e}); check the port") from None
        if h.version != m.PROTO_VERSION:
            raise LinkError(f"the board speaks protocol version {h.version}, this rct_tflm "
                            f"speaks {m.PROTO_VERSION}; rebuild and flash the firmware with "
                            f"this rct_tflm (`rct-tflm build`)")
        problem = h.problem()
        if problem:
            raise LinkError(f"the board at {self.url} sent a bad HELLO ({problem}); rebuild "
                            f"the firmware with this rct_tflm (`rct-tflm build`)")
        if expected_hash is not None and bytes(expected_hash) != h.model_hash:
            raise LinkError(f"model mismatch: the board runs model {h.model_hash.hex()[:16]}…, "
                            f"--model is {bytes(expected_hash).hex()[:16]}…; build and flash "
                            f"the firmware for this model (`rct-tflm build --model ART`)")
        self.hello_info = h
        return h

    def _need_hello(self) -> m.Hello:
        if self.hello_info is None:
            self.hello()
        return self.hello_info

    def samples_per_frame(self, batch: int = 1) -> int:
        """Most samples one TRAIN frame carries: a multiple of `batch`, at most 255."""
        h = self._need_hello()
        per = min(255, (h.max_payload - 2) // (h.input_size + 1))
        per -= per % batch
        if per == 0:
            raise UserError(f"a micro-batch of {batch} samples does not fit one frame "
                            f"({h.max_payload} B payload, {h.input_size + 1} B per sample); "
                            f"use a smaller --batch")
        return per

    def train_frame(self, x: np.ndarray, labels: np.ndarray, batch: int = 1) -> int:
        """One TRAIN frame: len(labels) samples (a multiple of `batch`) in micro-batches of
        `batch`. Returns the board's count of samples trained since RESET."""
        labels = np.asarray(labels, dtype=np.uint8)
        x = np.ascontiguousarray(x, dtype=np.int8).reshape(len(labels), -1)
        payload = bytes([batch, len(labels)]) + x.tobytes() + labels.tobytes()
        return self._parse(lambda p: struct.unpack("<I", p)[0], self.request(m.TRAIN, payload),
                           "TRAIN")

    def train(self, x: np.ndarray, labels: np.ndarray, batch: int = 1) -> int:
        """Train on `x` (n, input_size) int8 in as few frames as fit; returns the board's count."""
        per = self.samples_per_frame(batch)
        done = 0
        for s in range(0, len(labels), per):
            done = self.train_frame(x[s:s + per], labels[s:s + per], batch)
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
            want = len(xs) * (1 + (4 * h.num_classes if logits else 0))
            if len(p) != want:
                raise self._bad("INFER", p, f"expected {want} B for {len(xs)} samples")
            c = np.frombuffer(p[:len(xs)], np.uint8)
            if c.size and int(c.max()) >= h.num_classes:
                raise self._bad("INFER", p, f"class {int(c.max())} of a {h.num_classes}-class "
                                            f"model")
            classes.append(c)
            if logits:
                lg.append(np.frombuffer(p[len(xs):], "<i4").reshape(len(xs), h.num_classes))
        cls = np.concatenate(classes).astype(np.int64) if classes else np.zeros(0, np.int64)
        return (cls, np.concatenate(lg)) if logits else cls

    def stats(self) -> m.Stats:
        h = self._need_hello()
        p = self.request(m.STATS)
        s = self._parse(m.Stats.unpack, p, "STATS")
        if len(s.bits) != h.num_trainable:
            raise self._bad("STATS", p, f"{len(s.bits)} tensors, HELLO said {h.num_trainable}")
        odd = [b for b in s.bits if not 2 <= b <= 16]  # the controller keeps bits in 2..16
        if odd:
            raise self._bad("STATS", p, f"bitwidth {odd[0]} outside 2..16")
        return s

    def hparams(self) -> m.HParams:
        p = self.request(m.HPARAMS_GET)
        hp = self._parse(m.HParams.unpack, p, "HPARAMS_GET")
        problem = hp.problem()  # values the board itself would refuse to be set to
        if problem:
            raise self._bad("HPARAMS_GET", p, problem)
        return hp

    def _bad(self, what: str, p: bytes, why: str) -> LinkError:
        return LinkError(f"the board at {self.url} answered {what} with {len(p)} bytes that do "
                         f"not fit ({why}); rebuild the firmware with this rct_tflm")

    def _parse(self, unpack, p: bytes, what: str):
        try:
            return unpack(p)
        except (struct.error, ValueError, TypeError) as e:
            raise LinkError(f"the board at {self.url} answered {what} with {len(p)} bytes that "
                            f"do not parse ({e}); rebuild the firmware with this rct_tflm") from None

    def weights_read(self) -> bytes:
        h = self._need_hello()
        out = bytearray()
        while len(out) < h.weights_size:
            n = min(h.max_payload, h.weights_size - len(out))
            p = self.request(m.WEIGHTS_READ, struct.pack("<IH", len(out), n))
            if len(p) != n:  # a short answer would loop forever (an empty one) or misalign
                raise self._bad("WEIGHTS_READ", p, f"asked for {n} B at offset {len(out)}")
            out += p
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
        problem = hp.problem()
        if problem:
            raise UserError(f"bad hyper-parameters: {problem}")
        self.request(m.SET_HPARAMS, hp.pack())

    def reset(self, seed: int) -> None:
        """Initial weights, PRNG key `seed` (counter 0), and the compiled default hparams."""
        self.request(m.RESET, struct.pack("<I", seed & 0xFFFFFFFF))

    def fault_test(self) -> None:
        """Provoke a fault (firmware built with RCT_TEST_HOOKS): raises DeviceFault."""
        h = self._need_hello()
        if not h.capabilities & m.CAP_TEST_HOOKS:
            raise UserError("the firmware has no test hooks; build it with RCT_TEST_HOOKS=1")
        self.request(m.FAULT_TEST, tries=1)

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> "Link":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
