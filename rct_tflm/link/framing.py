"""Frames on the wire (docs/protocol.md): COBS(type | seq | payload | crc16-LE) 0x00.

The CRC is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor) over
type, seq and payload — the same bitwise code as firmware/link/rct_crc16.c.
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_PAYLOAD_DEFAULT = 512


def _crc_table() -> list[int]:
    table = []
    for b in range(256):
        crc = b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_TABLE = _crc_table()


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[((crc >> 8) ^ b) & 0xFF]
    return crc


def cobs_encode(data: bytes) -> bytes:
    out = bytearray(b"\x00")
    code_at, code = 0, 1
    for b in data:
        if b == 0:
            out[code_at] = code
            code_at, code = len(out), 1
            out.append(0)
        else:
            out.append(b)
            code += 1
            if code == 0xFF:
                out[code_at] = code
                code_at, code = len(out), 1
                out.append(0)
    out[code_at] = code
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Raises ValueError on a malformed block (a zero byte or a block running past the end)."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        i += 1
        if code == 0 or i + code - 1 > n:
            raise ValueError("malformed COBS block")
        block = data[i:i + code - 1]
        if 0 in block:
            raise ValueError("zero byte inside COBS block")
        out += block
        i += code - 1
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


def encode_frame(msg_type: int, seq: int, payload: bytes = b"") -> bytes:
    raw = bytes([msg_type & 0xFF, seq & 0xFF]) + bytes(payload)
    crc = crc16(raw)
    return cobs_encode(raw + bytes([crc & 0xFF, crc >> 8])) + b"\x00"


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes


class FrameDecoder:
    """Incremental decoder: feed bytes, get complete valid frames; counts bad frames."""

    def __init__(self, max_frame: int = 64 * 1024) -> None:
        self._buf = bytearray()
        self.max_frame = max_frame
        self.bad_frames = 0

    def feed(self, data: bytes) -> list[Frame]:
        frames = []
        for b in data:
            if b != 0:
                if len(self._buf) <= self.max_frame:
                    self._buf.append(b)
                continue
            raw, self._buf = bytes(self._buf), bytearray()
            if not raw:
                continue
            frame = decode_frame(raw)
            if frame is None:
                self.bad_frames += 1
            else:
                frames.append(frame)
        return frames


def decode_frame(encoded: bytes) -> Frame | None:
    """One COBS-encoded frame without its delimiter -> Frame, or None if corrupt."""
    try:
        raw = cobs_decode(encoded)
    except ValueError:
        return None
    if len(raw) < 4 or crc16(raw[:-2]) != (raw[-2] | raw[-1] << 8):
        return None
    return Frame(raw[0], raw[1], raw[2:-2])
