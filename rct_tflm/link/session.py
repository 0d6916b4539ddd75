"""The host side of the protocol (docs/protocol.md): stop-and-wait requests with sequence
numbers, CRC-checked responses, retransmission on loss or corruption, and one typed helper per
message.

A request is retried (same seq, so the board recognises the duplicate and does not apply a
mutating request twice) when no valid response arrives in time, when the response arrives
corrupt, or when the board answers NAK(crc) — the last two at once, without waiting. A
retransmission starts with an extra 0x00 so a frame whose delimiter was lost on the wire cannot
swallow it. The wait adapts to the answer times measured (Karn's rule: first tries only), from
MIN_TIMEOUT_S up to `timeout`, doubling per retry. Requests that carry many bytes adapt their
size to the wire: the state-changing ones (TRAIN, WEIGHTS_WRITE) start small and double after
clean runs, halving when a request needed retries (a retransmission must repeat the same frame,
or the board could apply part of it twice); the reading ones (WEIGHTS_READ, INFER) start whole and
are re-asked smaller at once when a try fails.

A sample too large for one frame is staged (protocol version 4): SAMPLE_WRITE carries it in
chunks into the board's staging buffer (a micro-batch of samples), then TRAIN_STAGED (with the
labels) or INFER_STAGED uses it; `train` and `infer` do this by themselves when HELLO says so.

Every session carries a random nonce (HELLO); the board echoes it in TRAIN, STATS and DIGEST, so
a board that restarted (its nonce is 0 again) raises BoardReset on its very next answer.
"""
from __future__ import annotations

import secrets
import struct
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from ..errors import UserError
from . import messages as m
from .framing import Frame, FrameDecoder, encode_frame

HELLO_TRY_S = 0.25  # first HELLOs are retried fast: bytes sent while the UART starts are lost
MIN_TIMEOUT_S = 0.1  # the adaptive wait never goes below this (scheduler jitter of loaded hosts)
GROW_AFTER = 8  # clean requests before a shrunken request size doubles again


class LinkError(UserError):
    """The board did not answer, answered with a NAK, crashed or speaks another protocol."""


class NakError(LinkError):
    def __init__(self, msg_type: int, reason: int, text: str) -> None:
        self.msg_type, self.reason, self.text = msg_type, reason, text
        super().__init__(f"board refused {m.NAMES.get(msg_type, msg_type)}: "
                         f"{m.NAK_NAMES.get(reason, reason)} ({text})")


class DeviceFault(LinkError):
    """The board crashed and its fault handler reported the fault registers."""


class BoardReset(LinkError):
    """The board answered with another session nonce: it restarted and lost its RAM state."""


@dataclass
class Adaptive:
    """A request size that halves when a request needed retries and doubles back after
    GROW_AFTER clean ones (bytes for WEIGHTS_*, samples for TRAIN/INFER), within [low, high];
    it starts at `size` (0: high)."""
    low: int
    high: int
    size: int = 0
    clean: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        self.size = self.size or self.high

    def update(self, tries: int, step: int = 1) -> None:
        if tries > 1:
            self.size, self.clean = max(self.low, self.size // 2 // step * step or step), 0
        else:
            self.clean += 1
            if self.clean >= GROW_AFTER:
                self.size, self.clean = min(self.high, self.size * 2), 0


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
    naks_crc: int = 0  # our frames the board received corrupt
    timeouts: int = 0  # tries that got no valid answer in time

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
        self.session = 0  # this session's nonce (HELLO)
        self.rtt: float | None = None  # smoothed answer time of first tries, seconds
        self.last_tries = 0
        # request sizes that adapt to the wire (Adaptive), set by HELLO
        self.read_size = self.write_size = self.train_size = self.infer_size = None
        self.stage_size: Adaptive | None = None  # SAMPLE_WRITE chunk bytes

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

    def _wait(self, attempt: int) -> float:
        """How long to wait for an answer to try `attempt` (0-based)."""
        base = self.timeout if self.rtt is None else min(self.timeout, max(MIN_TIMEOUT_S,
                                                                             4 * self.rtt + 0.05))
        return min(self.timeout, base * 2 ** attempt)

    def request(self, msg_type: int, payload: bytes = b"", timeout: float | None = None,
                tries: int | None = None) -> bytes:
        """Send one request and return the ACK payload; retransmit on loss or corruption."""
        if msg_type in m.MUTATING and self.hello_info is None:
            self.hello()  # a session starts with HELLO: it clears the board's duplicate cache
        self._seq = (self._seq + 1) % 0xFF  # 0xFF is the board's "unknown seq" in NAK(crc)
        seq = self._seq
        frame = encode_frame(msg_type, seq, payload)
        tries = self.retries + 1 if tries is None else tries
        naks = bad = lost = 0
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
            sent = time.monotonic()
            deadline = sent + (self._wait(attempt) if timeout is None else timeout)
            while True:
                f = self._next_frame(deadline)
                if f is None:
                    lost += 1
                    self.counters.timeouts += 1
                    break  # lost request or response: retransmit (the board deduplicates)
                if f == "bad":
                    bad += 1
                    break  # a corrupt response: retransmit at once
                if f.type == m.FAULT:
                    raise DeviceFault(f"the board at {self.url} crashed: "
                                      f"{m.fault_text(f.payload)}; reset it and check the "
                                      f"firmware (this is a firmware bug, not a link error)")
                if f.type == m.NAK and f.payload[:1] == bytes([m.NAK_CRC]):
                    naks += 1
                    self.counters.naks_crc += 1
                    break  # our frame arrived corrupt: retransmit at once
                if f.seq != seq:
                    continue  # a stale response to an earlier request
                if f.type == m.ACK:
                    if attempt == 0 and timeout is None:  # Karn: only unambiguous samples
                        took = time.monotonic() - sent
                        self.rtt = took if self.rtt is None else 0.8 * self.rtt + 0.2 * took
                    self.last_tries = attempt + 1
                    return f.payload
                if f.type == m.NAK:
                    raise NakError(msg_type, f.payload[0] if f.payload else 0,
                                   f.payload[1:].decode("ascii", "replace"))
                # anything else (e.g. our own frame echoed back) is not an answer
        what = m.NAMES.get(msg_type, msg_type)
        if lost == tries:
            raise LinkError(f"no answer from the board at {self.url} to {what} ({tries} tries, "
                            f"up to {self.timeout:g} s each); check the port, that the firmware "
                            f"is running, and that nothing else holds the port")
        raise LinkError(f"no valid answer from the board at {self.url} to {what} in {tries} "
                        f"tries: {naks} NAKs for CRC errors, {bad} corrupt answers, {lost} "
                        f"timeouts; the wire is too noisy: raise --retries or fix the cabling")

    def _broken(self, e: OSError) -> LinkError:
        return LinkError(f"the link to the board at {self.url} broke ({e}); check the cable "
                         f"or that the emulator is still running")

    # -- messages --------------------------------------------------------------------------
    def hello(self, expected_hash: bytes | None = None) -> m.Hello:
        """Start the session (the board forgets its duplicate cache) and check the model."""
        total = self.timeout * (self.retries + 1)
        nonce = secrets.randbits(32) | 1  # never 0, the nonce of a board that just booted
        p = self.request(m.HELLO, struct.pack("<I", nonce),
                         timeout=min(HELLO_TRY_S, self.timeout),
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
        if h.session != nonce:
            raise LinkError(f"the board at {self.url} answered HELLO with session "
                            f"0x{h.session:08x}, not ours (0x{nonce:08x}); is another host "
                            f"talking to it?")
        if expected_hash is not None and bytes(expected_hash) != h.model_hash:
            raise LinkError(f"model mismatch: the board runs model {h.model_hash.hex()[:16]}…, "
                            f"--model is {bytes(expected_hash).hex()[:16]}…; build and flash "
                            f"the firmware for this model (`rct-tflm build --model ART`)")
        self.hello_info, self.session = h, nonce
        per = self._samples_per_frame(h, 1)
        self.read_size = Adaptive(16, h.max_payload)
        self.write_size = Adaptive(16, h.max_payload - 4, 64)
        self.train_size = Adaptive(1, max(per, 1), 1)
        self.infer_size = Adaptive(1, 255)
        self.stage_size = Adaptive(16, h.max_payload - 4, 64)
        return h

    @staticmethod
    def _staged(h: m.Hello) -> bool:
        """Samples go through the staging buffer: one does not fit a frame and the board has one."""
        return h.input_size + h.target_bytes > h.max_payload - 2 \
            and bool(h.capabilities & m.CAP_STAGE) \
            and h.stage_bytes >= h.input_size

    def _stage(self, x: np.ndarray) -> None:
        """SAMPLE_WRITE the rows of x into the staging buffer from offset 0, in adaptive chunks
        (a retransmitted chunk rewrites the same bytes: harmless)."""
        data = np.ascontiguousarray(x, dtype=np.int8).tobytes()
        off = 0
        while off < len(data):
            n = self.stage_size.size
            p = self.request(m.SAMPLE_WRITE, struct.pack("<I", off) + data[off:off + n])
            filled = self._parse(lambda q: struct.unpack("<I", q)[0], p, "SAMPLE_WRITE")
            if filled != off + len(data[off:off + n]):
                raise self._bad("SAMPLE_WRITE", p, f"staged {filled} B, expected "
                                                   f"{off + len(data[off:off + n])}")
            self.stage_size.update(self.last_tries)
            off += n

    def _samples_per_stage(self, h: m.Hello, batch: int) -> int:
        per = min(255, h.stage_bytes // h.input_size,
                  (h.max_payload - 2) // max(1, h.target_bytes))  # records fit TRAIN_STAGED
        per -= per % batch
        if per == 0:
            raise UserError(f"a micro-batch of {batch} samples does not fit the board's staging "
                            f"buffer ({h.stage_bytes} B, {h.input_size} B per sample); use a "
                            f"smaller --batch-size or build for it (`partition --batch-size`)")
        return per

    def _shrinking(self, msg_type: int, payload_for: Callable[[int], bytes], size: Adaptive,
                   want: int) -> tuple[int, bytes]:
        """A reading request for `n <= want` units, asked again smaller whenever a try fails
        (new seq: nothing changes state); at the smallest size it gets the whole retry budget.
        Returns (n, answer)."""
        while True:
            n = min(size.size, want)
            shrinkable = n > size.low
            try:
                p = self.request(msg_type, payload_for(n), tries=2 if shrinkable else None)
            except (NakError, DeviceFault):
                raise
            except LinkError:
                if not shrinkable:
                    raise
                size.update(2)
                continue
            size.update(self.last_tries)
            return n, p

    def _same_session(self, what: str, session: int) -> None:
        if session != self.session:
            raise BoardReset(f"the board at {self.url} restarted: its {what} answer carries "
                             f"session 0x{session:08x}, this session is 0x{self.session:08x}")

    def _need_hello(self) -> m.Hello:
        if self.hello_info is None:
            self.hello()
        return self.hello_info

    @staticmethod
    def _samples_per_frame(h: m.Hello, batch: int) -> int:
        per = min(255, (h.max_payload - 2) // (h.input_size + h.target_bytes))
        return per - per % batch

    def samples_per_frame(self, batch: int = 1) -> int:
        """Most samples one TRAIN (or TRAIN_STAGED) carries: a multiple of `batch`, <= 255."""
        h = self._need_hello()
        if self._staged(h):
            return self._samples_per_stage(h, batch)
        per = self._samples_per_frame(h, batch)
        if per == 0:
            raise UserError(f"a micro-batch of {batch} samples does not fit one frame "
                            f"({h.max_payload} B payload, {h.input_size + h.target_bytes} B per "
                            f"sample); "
                            f"use a smaller --batch-size")
        return per

    def _records(self, h: m.Hello, targets: np.ndarray | None, n: int, infer: bool = False
                 ) -> bytes:
        """The target records of n samples (protocol 5): uint16 LE labels, int8 vectors, or
        none (an autoencoder; INFER: none unless the model is a regression)."""
        size = h.infer_target_bytes if infer else h.target_bytes
        if size == 0:
            return b""
        if targets is None:
            raise UserError("this board's model trains on targets (labels or a regression "
                            "vector per sample); give data with y")
        if h.loss == m.LOSS_SOFTMAX_CE:
            return np.asarray(targets).astype("<u2").reshape(n).tobytes()
        t = np.ascontiguousarray(targets, np.int8).reshape(n, -1)
        if t.shape[1] != size:
            raise UserError(f"the board's model takes {size} target values per sample, the data "
                            f"has {t.shape[1]}")
        return t.tobytes()

    def train_frame(self, x: np.ndarray, labels: np.ndarray | None, batch: int = 1) -> int:
        """One TRAIN frame: len(x) samples (a multiple of `batch`) in micro-batches of `batch`,
        with their targets (labels, int8 regression vectors, or None for an autoencoder).
        Returns the board's count of samples trained since RESET."""
        h = self._need_hello()
        x = np.ascontiguousarray(x, dtype=np.int8).reshape(len(x), -1)
        rec = self._records(h, labels, len(x))
        if self._staged(h):
            self._stage(x)
            msg, payload = m.TRAIN_STAGED, bytes([batch, len(x)]) + rec
        else:
            msg, payload = m.TRAIN, bytes([batch, len(x)]) + x.tobytes() + rec
        done, session = self._parse(lambda p: struct.unpack(m.TRAIN_ACK, p),
                                    self.request(msg, payload), "TRAIN")
        self._same_session("TRAIN", session)
        return done

    def train(self, x: np.ndarray, labels: np.ndarray | None, batch: int = 1) -> int:
        """Train on `x` (n, input_size) int8 with their targets (see train_frame) in frames of an
        adaptive size (whole micro-batches, fewer samples while tries fail); returns the
        board's count."""
        self._need_hello()
        size = self.train_size
        size.high = self.samples_per_frame(batch)
        size.size = min(max(size.size - size.size % batch, batch), size.high)
        done, s = 0, 0
        while s < len(x):
            n = size.size
            done = self.train_frame(x[s:s + n], None if labels is None else labels[s:s + n],
                                    batch)
            size.update(self.last_tries, batch)
            s += n
        return done

    def infer(self, x: np.ndarray, logits: bool = False, targets: np.ndarray | None = None):
        """Per row of `x` the class, or an MSE model's Q16.16 score (a regression model needs
        its `targets`); with logits=True also the (n, outputs) int32 outputs."""
        h = self._need_hello()
        x = np.ascontiguousarray(x, dtype=np.int8).reshape(-1, h.input_size)
        if h.infer_target_bytes and targets is None:
            raise UserError("the board's model is a regression: its scores need the targets")
        tg = None if not h.infer_target_bytes else \
            np.ascontiguousarray(targets, np.int8).reshape(len(x), -1)
        rec = lambda a, b: b"" if tg is None else self._records(h, tg[a:b], b - a, True)  # noqa: E731
        staged = self._staged(h)
        per_sample = max(0 if staged else h.input_size + h.infer_target_bytes,
                         4 + (4 * h.num_classes if logits else 0))
        size = self.infer_size
        size.high = max(1, min(255, (h.max_payload - 2) // per_sample))
        if staged:
            size.high = min(size.high, self._samples_per_stage(h, 1))
        size.size = min(size.size, size.high)
        classes, lg = [], []
        s = 0
        while s < len(x):
            if staged:
                n = min(size.size, len(x) - s)
                self._stage(x[s:s + n])
                p = self.request(m.INFER_STAGED, bytes([n, int(logits)]) + rec(s, s + n))
            else:
                n, p = self._shrinking(m.INFER, lambda k: bytes([k, int(logits)])
                                       + x[s:s + k].tobytes() + rec(s, s + k), size, len(x) - s)
            xs = x[s:s + n]
            s += n
            want = len(xs) * (4 + (4 * h.num_classes if logits else 0))
            if len(p) != want:
                raise self._bad("INFER", p, f"expected {want} B for {len(xs)} samples")
            c = np.frombuffer(p[:4 * len(xs)], "<i4")
            if h.loss == m.LOSS_SOFTMAX_CE and c.size and not 0 <= int(c.min()) <= int(c.max()) \
                    < h.num_classes:
                raise self._bad("INFER", p, f"class {int(c.max())} of a {h.num_classes}-class "
                                            f"model")
            classes.append(c)
            if logits:
                lg.append(np.frombuffer(p[4 * len(xs):], "<i4").reshape(len(xs), h.num_classes))
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
        self._same_session("STATS", s.session)
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

    def digest(self) -> m.Digest:
        """The board's session, samples since RESET and CRC-32 of the weights it holds."""
        self._need_hello()
        d = self._parse(m.Digest.unpack, self.request(m.DIGEST), "DIGEST")
        self._same_session("DIGEST", d.session)
        return d

    def weights_read(self) -> bytes:
        h = self._need_hello()
        out = bytearray()
        while len(out) < h.weights_size:
            n, p = self._shrinking(m.WEIGHTS_READ, lambda k: struct.pack("<IH", len(out), k),
                                   self.read_size, h.weights_size - len(out))
            if len(p) != n:  # a short answer would loop forever (an empty one) or misalign
                raise self._bad("WEIGHTS_READ", p, f"asked for {n} B at offset {len(out)}")
            out += p
        return bytes(out)

    def weights_write(self, data: bytes) -> None:
        h = self._need_hello()
        if len(data) != h.weights_size:
            raise UserError(f"checkpoint holds {len(data)} B of weights, the board's model needs "
                            f"{h.weights_size} B; use a checkpoint of this model")
        off = 0
        while off < len(data):
            n = self.write_size.size
            self.request(m.WEIGHTS_WRITE, struct.pack("<I", off) + data[off:off + n])
            self.write_size.update(self.last_tries)
            off += n

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
