"""The configuration of a training run on the integer engine, and the device's int8 input.

EngineConfig fixes the learning rate, seed, controller, rounding, micro-batch and accumulator
policy of a run (the golden engine, rct_tflm/program/golden.py, and the generated C alike);
quantise_inputs turns float samples into what the device receives.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import UserError
from .controller import DEVICE_GAVG_REF_SAMPLES, DEVICE_T_MAX, ControllerConfig
from .rounding import qmax, qmin

ACC_POLICIES = ("int64", "cap")
LR_SHIFT_MAX = 30  # learning rates 2^-30 .. 1 (the protocol's SET_HPARAMS bound too)


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
        if not 0 <= self.lr_shift <= LR_SHIFT_MAX:
            raise UserError(f"learning rate 2^-{self.lr_shift} is outside 2^-{LR_SHIFT_MAX} .. 1 "
                            f"(--lr)")
        if not 1 <= self.max_batch <= 256:
            raise UserError(f"max batch must be in 1..256, got {self.max_batch}")
        if self.acc_policy not in ACC_POLICIES:
            raise UserError(f"accumulator policy must be one of {ACC_POLICIES}, got {self.acc_policy!r}")
        if not self.stochastic and self.controller.gavg_ref_samples:
            # round-to-nearest loses every update under half an LSB at each step, so the
            # per-step mean is the measure there (docs/numerics.md, "The Gavg statistic")
            object.__setattr__(self, "controller", replace(self.controller, gavg_ref_samples=0))


def quantise_affine(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Float inputs -> int8 as a .tflite's input (AffineQuantize: round(x / s) + zp in float32,
    saturate): the device's input when its first layer is a frozen .tflite part."""
    q = np.round(np.asarray(x, np.float32) / np.float32(scale)).astype(np.int64) + int(zero_point)
    return np.clip(q, qmin(8), qmax(8)).astype(np.int8)


def quantise_inputs(x: np.ndarray, input_exp: int) -> np.ndarray:
    """Float inputs -> int8 at input_exp (round to nearest, saturate): the device's input."""
    v = np.floor(np.ldexp(np.asarray(x, np.float64), -int(input_exp)) + 0.5)
    return np.clip(v, qmin(8), qmax(8)).astype(np.int8)
