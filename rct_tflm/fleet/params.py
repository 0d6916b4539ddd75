"""The global model as Flower carries it: integer arrays only, never a float.

Per trainable tensor, in the model's order, two arrays: the Q-format values (int32, the tensor's
shape) and [bits, exp] (int32). They round-trip exactly with the weights blob a board reads and
writes (fixedpoint/state.py), so the server, every client and the board hold the same integers.
"""
from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..fixedpoint.qtensor import QTensor
from ..fixedpoint.state import parse_weights_blob, weights_blob


def to_arrays(tensors: list[QTensor]) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for t in tensors:
        out += [np.asarray(t.q, dtype=np.int32), np.array([t.bits, t.exp], dtype=np.int32)]
    return out


def from_arrays(arrays: list[np.ndarray], like: list[QTensor]) -> list[QTensor]:
    """QTensors shaped like `like` (the model's trainable tensors); a mismatch is a UserError."""
    if len(arrays) != 2 * len(like):
        raise UserError(f"the global model has {len(arrays) // 2} tensors, this model has "
                        f"{len(like)}; every board must run the same model")
    out = []
    for k, t in enumerate(like):
        q, meta = np.asarray(arrays[2 * k]), np.asarray(arrays[2 * k + 1])
        if q.shape != t.q.shape or meta.shape != (2,) or not np.issubdtype(q.dtype, np.integer):
            raise UserError(f"global tensor {k} is {q.dtype}{q.shape}, the model's is "
                            f"int{t.q.shape}; every board must run the same model")
        out.append(QTensor(q.astype(np.int32), int(meta[1]), int(meta[0]), t.out_major))
    return out


def blob_to_arrays(blob: bytes, like: list[QTensor]) -> list[np.ndarray]:
    return to_arrays(parse_weights_blob(blob, like))


def arrays_to_blob(arrays: list[np.ndarray], like: list[QTensor]) -> bytes:
    return weights_blob(from_arrays(arrays, like))
