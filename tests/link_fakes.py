"""Fake boards behind a pyserial-like port for the host-side link tests: each decodes the
requests written to it and queues one canned answer per request."""
from __future__ import annotations

from rct_tflm.link import messages as m
from rct_tflm.link.framing import Frame, FrameDecoder, encode_frame


class CannedPort:
    """Answers every request frame with `answer(frame)` (encoded frames, possibly none)."""

    def __init__(self) -> None:
        self.out, self.dec, self.in_waiting = bytearray(), FrameDecoder(), 0
        self.requests = 0

    def answer(self, f: Frame) -> bytes:
        raise NotImplementedError

    def write(self, data: bytes) -> int:
        for f in self.dec.feed(data):
            self.requests += 1
            self.out += self.answer(f)
        self.in_waiting = len(self.out)
        return len(data)

    def read(self, n: int = 1) -> bytes:
        b = bytes(self.out[:n])
        del self.out[:n]
        self.in_waiting = len(self.out)
        return b

    def close(self) -> None:
        pass


class FakeBoard(CannedPort):
    """ACKs HELLO with `hello` (echoing the request's session nonce, as boards do, when it is a
    whole HELLO) and every other request with `answers[type]` (empty when absent)."""

    def __init__(self, answers: dict[int, bytes], hello: bytes) -> None:
        super().__init__()
        self.answers = {m.HELLO: hello, **answers}

    def answer(self, f: Frame) -> bytes:
        ans = self.answers.get(f.type, b"")
        end = 47 + ans[46] if f.type == m.HELLO and len(ans) > 46 else 0
        if end and len(ans) >= end + 4:  # the session nonce follows the board name
            ans = ans[:end] + f.payload[:4] + ans[end + 4:]
        return encode_frame(m.ACK, f.seq, ans)
