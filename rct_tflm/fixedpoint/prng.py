"""The contract's deterministic PRNG: a counter-based 32-bit hash stream.

A sequential generator (xorshift32) cannot be vectorised in numpy, and the golden model must
draw one number per weight per step. A counter-based stream can: draw number `c` of a stream
with key `k` is

    draw(c) = mix32(mix32(c) + k)        (all arithmetic mod 2**32)

where `mix32` is the "lowbias32" integer hash (C. Wellons, hash-prospector):

    x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16

The stream state is (key, counter); each draw increments the counter by one (mod 2**32). The C
runtime (`firmware/runtime/rct_prng.c`) implements exactly this, so a stream drawn in numpy and
in C gives the same 32-bit words in the same order.

Re-keying (`rekey`): key <- (key + REKEY_STRIDE) mod 2**32, counter <- 0. The bitwidth
controller re-keys at every decision-period boundary, so the PRNG state at a boundary is a
function of the seed and the boundary's index alone (segment k's key is seed + k * REKEY_STRIDE):
weights + bitwidths at a boundary are then the complete training state, which a board whose
counter cannot be written resumes from with one seed.
"""
from __future__ import annotations

import numpy as np

M1 = np.uint32(0x7FEB352D)
M2 = np.uint32(0x846CA68B)
REKEY_STRIDE = 0x9E3779B9  # 2^32 / golden ratio, odd: consecutive segment keys far apart


def mix32(x: np.ndarray) -> np.ndarray:
    """lowbias32 on a uint32 array (wrapping arithmetic)."""
    x = np.asarray(x, dtype=np.uint32).copy()
    x ^= x >> np.uint32(16)
    x *= M1
    x ^= x >> np.uint32(15)
    x *= M2
    x ^= x >> np.uint32(16)
    return x


class Rng:
    """Counter-based stream of uint32 words; `state` is (key, counter), both uint32."""

    def __init__(self, seed: int, counter: int = 0) -> None:
        self.key = int(seed) & 0xFFFFFFFF
        self.counter = int(counter) & 0xFFFFFFFF

    def next_u32(self, n: int) -> np.ndarray:
        """The next `n` words of the stream, as uint32, in draw order."""
        c = (np.arange(n, dtype=np.uint64) + np.uint64(self.counter)) & np.uint64(0xFFFFFFFF)
        self.counter = (self.counter + n) & 0xFFFFFFFF
        return mix32(mix32(c.astype(np.uint32)) + np.uint32(self.key))

    def uniform(self, n: int) -> np.ndarray:
        """n floats u = word / 2**32 in [0, 1) (float64, exact)."""
        return self.next_u32(n).astype(np.float64) * 2.0**-32

    def rekey(self, times: int = 1) -> None:
        """Start the next segment `times` times over: key += times * REKEY_STRIDE, counter = 0."""
        self.key = (self.key + int(times) * REKEY_STRIDE) & 0xFFFFFFFF
        self.counter = 0

    def state(self) -> tuple[int, int]:
        return self.key, self.counter

    def __repr__(self) -> str:
        return f"Rng(key=0x{self.key:08x}, counter={self.counter})"
