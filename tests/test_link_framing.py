"""Framing (docs/protocol.md): COBS and CRC-16/CCITT-FALSE, Python and the firmware's C.

Property tests (hypothesis): COBS round trip and zero-freedom, frame round trip, the
incremental decoder in arbitrary chunks, resynchronisation after garbage, and the C
implementation (firmware/link, compiled into a shared library) equal to the Python one.
"""
from __future__ import annotations

import ctypes
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rct_tflm.link.framing import (FrameDecoder, cobs_decode, cobs_encode, crc16, decode_frame,
                                   encode_frame)
from rct_tflm.resources import firmware_dir

payloads = st.binary(max_size=700)


def test_crc16_ccitt_false_check_value():
    # The catalogue check value of CRC-16/CCITT-FALSE (a.k.a. CRC-16/IBM-3740).
    assert crc16(b"123456789") == 0x29B1
    assert crc16(b"") == 0xFFFF


def test_cobs_known_vectors():
    # Vectors from Cheshire & Baker's COBS paper / the usual test set.
    assert cobs_encode(b"\x00") == b"\x01\x01"
    assert cobs_encode(b"\x00\x00") == b"\x01\x01\x01"
    assert cobs_encode(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
    assert cobs_encode(b"\x11\x00\x00\x00") == b"\x02\x11\x01\x01\x01"
    run = bytes(range(1, 255))  # 254 non-zero bytes: one full block
    assert cobs_encode(run) == b"\xff" + run + b"\x01"


@given(payloads)
def test_cobs_round_trip_and_no_zero(data):
    enc = cobs_encode(data)
    assert 0 not in enc
    assert len(enc) <= len(data) + len(data) // 254 + 1
    assert cobs_decode(enc) == data


@given(st.integers(0, 255), st.integers(0, 255), payloads)
def test_frame_round_trip(t, seq, payload):
    wire = encode_frame(t, seq, payload)
    assert wire.endswith(b"\x00") and 0 not in wire[:-1]
    f = decode_frame(wire[:-1])
    assert (f.type, f.seq, f.payload) == (t, seq, payload)


@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255), payloads), max_size=6),
       st.data())
def test_decoder_in_arbitrary_chunks(frames, data):
    wire = b"".join(encode_frame(*f) for f in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    dec, got = FrameDecoder(), []
    for a, b in zip([0] + cuts, cuts + [len(wire)]):
        got += dec.feed(wire[a:b])
    assert [(f.type, f.seq, f.payload) for f in got] == frames
    assert dec.bad_frames == 0


@given(st.binary(max_size=300), st.integers(0, 255), st.integers(0, 255), payloads)
def test_decoder_resyncs_after_garbage(garbage, t, seq, payload):
    """Whatever noise precedes it, the first frame after a delimiter is decoded intact."""
    dec = FrameDecoder()
    dec.feed(garbage)
    got = dec.feed(b"\x00" + encode_frame(t, seq, payload))
    assert got and (got[-1].type, got[-1].seq, got[-1].payload) == (t, seq, payload)


@given(st.integers(0, 255), st.integers(0, 255), payloads, st.data())
def test_crc_rejects_any_corrupted_byte(t, seq, payload, data):
    """CRC-16 catches every error burst of <= 16 bits: one damaged byte of type, seq,
    payload or CRC is always refused (the host then retransmits)."""
    raw = bytearray(cobs_decode(encode_frame(t, seq, payload)[:-1]))
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    assert decode_frame(cobs_encode(bytes(raw))) is None


# -- the firmware's C framing against the Python framing -------------------------------------
@pytest.fixture(scope="module")
def clink(tmp_path_factory):
    d = tmp_path_factory.mktemp("clink")
    so = d / "liblink.so"
    fw = firmware_dir() / "link"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", "-shared", "-fPIC",
                    f"-I{fw}", str(fw / "rct_crc16.c"), str(fw / "rct_cobs_encode.c"),
                    str(fw / "rct_cobs_decode.c"), "-o", str(so)], check=True)
    lib = ctypes.CDLL(str(so))
    lib.rct_crc16.restype = ctypes.c_uint16
    lib.rct_cobs_encode.restype = ctypes.c_size_t
    lib.rct_cobs_decode.restype = ctypes.c_size_t
    return lib


@settings(max_examples=200)
@given(payloads)
def test_c_framing_equals_python(clink, data):
    n = len(data)
    out = ctypes.create_string_buffer(n + n // 254 + 2)
    k = clink.rct_cobs_encode(data, ctypes.c_size_t(n), out)
    assert out.raw[:k] == cobs_encode(data)
    assert clink.rct_crc16(data, ctypes.c_size_t(n)) == crc16(data)
    back = ctypes.create_string_buffer(max(n, 1))
    m = clink.rct_cobs_decode(out.raw[:k], ctypes.c_size_t(k), back)
    assert back.raw[:m] == data


@given(st.binary(min_size=1, max_size=300))
def test_c_decoder_agrees_on_malformed_input(clink, enc):
    """Whatever bytes arrive, C and Python agree on valid/malformed and on the result."""
    back = ctypes.create_string_buffer(len(enc))
    m = clink.rct_cobs_decode(enc, ctypes.c_size_t(len(enc)), back)
    try:
        want = cobs_decode(enc)
    except ValueError:
        want = None
    got = None if m == ctypes.c_size_t(-1).value else back.raw[:m]
    assert got == want
