"""The engine's configuration and the trainable state's serialisation: the numeric contract's
side of the golden engine (rct_tflm/program/golden.py executes a lowered program with it).

EngineConfig fixes the learning rate, seed, controller, rounding, micro-batch and accumulator
policy of a training run; weights_blob/weights_sha256 define the serialised trainable state
(rct_model_weights_read) and its hash; bitwidth_history the documented trajectory of the
controller's decisions; quantise_inputs the device's int8 input.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import UserError
from .controller import DEVICE_GAVG_REF_SAMPLES, DEVICE_T_MAX, ControllerConfig
from .qtensor import QTensor
from .rounding import qmax, qmin

ACC_POLICIES = ("int64", "cap")


@dataclass(frozen=True)
class EngineConfig:
    lr_shift: int = 5  # learning rate 2^-lr_shift
    seed: int = 0
    # the device's controller: Gavg accumulated over 32 samples (docs/numerics.md)
    controller: ControllerConfig = field(
        default_factory=lambda: ControllerConfig(gavg_ref_samples=DEVICE_GAVG_REF_SAMPLES,
                                                 t_max=DEVICE_T_MAX))
    stochastic: bool = True  # stochastic rounding of updates (False: nearest, the ablation)
    max_batch: int = 1  # largest micro-batch (buffers are sized for it)
    acc_policy: str = "int64"  # "int64": 64-bit accumulator where int32 could overflow; "cap": cap bits_max

    def __post_init__(self) -> None:
        if not 0 <= self.lr_shift <= 30:
            raise UserError(f"--lr-shift must be in 0..30 (learning rate 2^-N), got {self.lr_shift}")
        if not 1 <= self.max_batch <= 256:
            raise UserError(f"max batch must be in 1..256, got {self.max_batch}")
        if self.acc_policy not in ACC_POLICIES:
            raise UserError(f"accumulator policy must be one of {ACC_POLICIES}, got {self.acc_policy!r}")
        if not self.stochastic and self.controller.gavg_ref_samples:
            # round-to-nearest loses every update under half an LSB at each step, so the
            # per-step mean is the measure there (docs/numerics.md, "The Gavg statistic")
            object.__setattr__(self, "controller", replace(self.controller, gavg_ref_samples=0))


# -- trainable state: serialisation and hash ----------------------------------------------------
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


def quantise_inputs(x: np.ndarray, input_exp: int) -> np.ndarray:
    """Float inputs -> int8 at input_exp (round to nearest, saturate): the device's input."""
    v = np.floor(np.ldexp(np.asarray(x, np.float64), -int(input_exp)) + 0.5)
    return np.clip(v, qmin(8), qmax(8)).astype(np.int8)
