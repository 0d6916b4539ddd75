"""The trainable state outside the engine: its serialisation (the weights blob every board reads
and writes, rct_model_weights_read), its hash (weights_sha256, the bit-exactness check of every
stage) and the documented trajectory of the controller's decisions (bitwidth_history).
"""
from __future__ import annotations

import hashlib

import numpy as np

from .qtensor import QTensor


def weights_blob(tensors: list[QTensor]) -> bytes:
    """The serialised trainable state (rct_model_weights_read): per tensor, in order, one byte
    bits, one byte exp (int8), then the values as int16 little-endian, row-major."""
    out = bytearray()
    for t in tensors:
        out += bytes([t.bits & 0xFF, t.exp & 0xFF])
        out += t.q.astype("<i2").tobytes()
    return bytes(out)


def parse_weights_blob(blob: bytes, like: list[QTensor]) -> list[QTensor]:
    """Inverse of weights_blob for tensors shaped like `like`."""
    out, off = [], 0
    for t in like:
        bits, exp = blob[off], int(np.int8(np.uint8(blob[off + 1])))
        q = np.frombuffer(blob, "<i2", t.size, off + 2).astype(np.int32).reshape(t.q.shape)
        out.append(QTensor(q.copy(), exp, bits, t.out_major))
        off += 2 + 2 * t.size
    return out


def weights_sha256(tensors: list[QTensor]) -> str:
    """SHA-256 over every trainable tensor, in order, as int16 little-endian row-major values."""
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.q.astype("<i2").tobytes())
    return h.hexdigest()


ACTION_BY_DELTA = {(1, -1): "add_low", (-1, 1): "drop_low", (1, 0): "add_high"}


def bitwidth_history(initial: dict[str, QTensor], names: list[str],
                     changes: list[tuple[int, str, int, int]]) -> dict:
    """The documented bitwidth_history: initial (bits, exp) per tensor and every change, in order
    (sample count after the step that triggered it, tensor, action, bits, exp)."""
    cur = {n: (initial[n].bits, initial[n].exp) for n in names}
    out = []
    for sample, name, bits, exp in changes:
        b0, e0 = cur[name]
        out.append({"sample": int(sample), "tensor": name,
                    "action": ACTION_BY_DELTA.get((bits - b0, exp - e0), "set"),
                    "bits": int(bits), "exp": int(exp)})
        cur[name] = (bits, exp)
    return {"initial": {n: {"bits": initial[n].bits, "exp": initial[n].exp} for n in names},
            "changes": out, "final": {n: {"bits": b, "exp": e} for n, (b, e) in cur.items()}}
