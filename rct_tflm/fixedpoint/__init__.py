"""The numeric contract (golden model): numpy only, never imports TensorFlow.

See docs/numerics.md for the exact definitions that the C runtime reproduces bit for bit.
"""
from .controller import BitwidthController, ControllerConfig, Decision
from .prng import Rng, mix32
from .qtensor import QTensor, container_bits, exponent_for
from .rounding import (qmax, qmin, requantize, round_nearest_float, round_stochastic_float,
                       saturate, shift_round_nearest, shift_round_stochastic)
from .grid_update import GAVG_FRAC_BITS, apply_update, gavg_q16

__all__ = [
    "BitwidthController", "ControllerConfig", "Decision", "Rng", "mix32", "QTensor",
    "container_bits", "exponent_for", "qmax", "qmin", "requantize", "round_nearest_float",
    "round_stochastic_float", "saturate", "shift_round_nearest", "shift_round_stochastic",
    "GAVG_FRAC_BITS", "apply_update", "gavg_q16",
]
