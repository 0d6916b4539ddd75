"""The host does not trust the board: every ACK field it reads is length- and range-checked,
and a malformed answer is a LinkError naming the message (never a hang or a bare ValueError)."""
from __future__ import annotations

import struct

import numpy as np
import pytest

import link_fakes
from rct_tflm.link import Link, LinkError
from rct_tflm.link import messages as m
from rct_tflm.link.framing import encode_frame

GOOD_HELLO = m.Hello(m.PROTO_VERSION, 7, 512, 4, 3, 2, 40, bytes(32), "fake")


def good_stats(t: int = 2) -> bytes:
    return m.Stats([8] * t, [-3] * t, [0] * t, [0] * t, 0, 0, 0, 0, 0, 0).pack()


class FakeBoard(link_fakes.FakeBoard):
    def __init__(self, answers: dict[int, bytes], hello: bytes = GOOD_HELLO.pack()) -> None:
        super().__init__(answers, hello)


def link(answers: dict[int, bytes], **kw) -> Link:
    return Link(FakeBoard(answers, **kw), "fake", timeout=0.1, retries=0)


@pytest.mark.parametrize("payload", [b"", b"\x01" * 10, b"\x01" * 41])
def test_a_short_or_long_weights_read_ack_is_refused_not_looped_on(payload):
    lk = link({m.WEIGHTS_READ: payload})
    with pytest.raises(LinkError, match=r"WEIGHTS_READ with \d+ bytes.*asked for 40 B"):
        lk.weights_read()
    assert lk.port.requests <= 2  # HELLO + one WEIGHTS_READ: no endless loop


def test_a_good_weights_read_still_reads():
    assert link({m.WEIGHTS_READ: bytes(range(40))}).weights_read() == bytes(range(40))


@pytest.mark.parametrize("payload,logits,why", [  # protocol 5: an i32 result per sample
    (b"", False, "expected 8 B"),
    (bytes(4), False, "expected 8 B"),
    (bytes(9), False, "expected 8 B"),
    (bytes(8) + bytes(8), True, "expected 32 B"),
    (struct.pack("<ii", 0, 3), False, "class 3 of a 3-class model"),
])
def test_a_malformed_infer_ack_is_a_link_error(payload, logits, why):
    with pytest.raises(LinkError, match=f"INFER with {len(payload)} bytes.*{why}"):
        link({m.INFER: payload}).infer(np.zeros((2, 4), np.int8), logits=logits)


def test_a_good_infer_still_parses():
    lg = np.arange(6, dtype="<i4")
    cls, out = link({m.INFER: struct.pack("<ii", 2, 1) + lg.tobytes()}).infer(
        np.zeros((2, 4), np.int8), True)
    assert cls.tolist() == [2, 1] and out.tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("payload,why", [
    (b"", "do not parse"),
    (good_stats()[:-1], "do not parse"),
    (good_stats() + b"\x00", "do not parse"),
    (good_stats(3), "3 tensors, HELLO said 2"),
    (m.Stats([8, 17], [0, 0], [0, 0], [0, 0], 0, 0, 0, 0, 0, 0).pack(), "bitwidth 17 outside"),
    (m.Stats([0, 8], [0, 0], [0, 0], [0, 0], 0, 0, 0, 0, 0, 0).pack(), "bitwidth 0 outside"),
])
def test_a_malformed_stats_ack_is_a_link_error(payload, why):
    with pytest.raises(LinkError, match=f"STATS with {len(payload)} bytes.*{why}"):
        link({m.STATS: payload}).stats()


@pytest.mark.parametrize("msg,call", [
    (m.TRAIN, lambda lk: lk.train(np.zeros((1, 4), np.int8), np.zeros(1, np.uint8))),
    (m.HPARAMS_GET, lambda lk: lk.hparams()),
])
@pytest.mark.parametrize("payload", [b"", b"\x00" * 3, b"\x00" * 30])
def test_a_wrong_length_fixed_size_ack_is_a_link_error(msg, call, payload):
    with pytest.raises(LinkError, match=f"{m.NAMES[msg]} with {len(payload)} bytes"):
        call(link({msg: payload}))


def test_hparams_the_board_would_refuse_are_a_link_error():
    bad = m.HParams(40, 6554, 32768, 5000, 1600, 0).pack()  # lr_shift 40
    with pytest.raises(LinkError, match="HPARAMS_GET with 21 bytes.*lr_shift must be in 0..30"):
        link({m.HPARAMS_GET: bad}).hparams()
    good = m.HParams(5, 6554, 32768, 5000, 1600, 0)
    assert link({m.HPARAMS_GET: good.pack()}).hparams() == good


@pytest.mark.parametrize("hello,match", [
    (GOOD_HELLO.pack()[:-14], "does not speak the rct_tflm protocol"),  # board name cut short
    (m.Hello(m.PROTO_VERSION, 7, 512, 0, 3, 2, 40, bytes(32), "x").pack(), "input_size 0"),
    (m.Hello(m.PROTO_VERSION, 7, 512, 4, 0, 2, 40, bytes(32), "x").pack(), "num_classes 0"),
    (m.Hello(m.PROTO_VERSION, 7, 3, 4, 3, 2, 40, bytes(32), "x").pack(), "max_payload 3 B"),
    (m.Hello(m.PROTO_VERSION, 7, 512, 4, 3, 60, 40, bytes(32), "x").pack(),
     "60 trainable tensors"),
])
def test_a_bad_hello_is_refused_before_it_is_used(hello, match):
    with pytest.raises(LinkError, match=match):
        link({}, hello=hello).hello()


def test_an_empty_nak_is_still_a_link_error():
    class NakBoard(FakeBoard):
        def answer(self, f):
            return super().answer(f) if f.type == m.HELLO else encode_frame(m.NAK, f.seq, b"")
    with pytest.raises(LinkError, match="board refused RESET"):
        Link(NakBoard({}), "fake", timeout=0.1, retries=0).reset(1)


def test_struct_layouts_match_the_fake():
    assert len(good_stats()) == 2 + 20 + 28 and struct.calcsize(m.HPARAMS_FMT) == 21


def test_an_answer_from_another_session_is_a_board_reset():
    from rct_tflm.link import BoardReset
    lk = link({m.STATS: good_stats(), m.TRAIN: struct.pack(m.TRAIN_ACK, 1, 0),
               m.DIGEST: m.Digest(0, 0, 0).pack()})
    for call in (lk.stats, lk.digest,
                 lambda: lk.train(np.zeros((1, 4), np.int8), np.zeros(1, np.uint8))):
        with pytest.raises(BoardReset, match="restarted: its .* answer carries session "
                                             "0x00000000"):
            call()
