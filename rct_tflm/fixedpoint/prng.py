"""The contract's deterministic PRNG: a counter-based 32-bit hash stream.

A sequential generator (xorshift32) cannot be vectorised in numpy, and the golden model must
draw one number per weight per step. A counter-based stream can: draw number `c` of a stream
with key `k` is

    draw(c) = mix32(mix32(k) + c)        (all arithmetic mod 2**32)

One hash per word: a kernel computes base = mix32(k) once per call, then each word costs one
mix32 of `base + c` (about six Cortex-M instructions).

where `mix32` is the "lowbias32" integer hash (C. Wellons, hash-prospector):

    x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16

The stream state is (key, counter); each draw increments the counter by one (mod 2**32). The C
runtime (`firmware/runtime/rct_prng.c`, `rct_mix32` in rct.h) implements exactly this, so a
stream drawn in numpy and in C gives the same 32-bit words in the same order.

Stochastic rounding consumes 16-bit uniforms, two per word (`next_u16`): element k of a block
that starts at counter c0 takes the low half of word c0 + k//2 when k is even, the high half
when k is odd; a block of n elements advances the counter by ceil(n / 2). An element's uniform
depends only on its position, so a C kernel may compute it in any order (or skip an element
whose update is known to be zero) and still match.

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
        return mix32(c.astype(np.uint32) + mix32(np.uint32(self.key)))

    def next_u16(self, n: int) -> np.ndarray:
        """n 16-bit uniforms (as uint32) from the next ceil(n/2) words: low half, then high."""
        w = self.next_u32((n + 1) // 2)
        halves = np.stack([w & np.uint32(0xFFFF), w >> np.uint32(16)], axis=1)
        return halves.reshape(-1)[:n]

    def uniform(self, n: int) -> np.ndarray:
        """n floats u = u16 / 2**16 in [0, 1) (float64, exact), from next_u16."""
        return self.next_u16(n).astype(np.float64) * 2.0**-16

    def rekey(self, times: int = 1) -> None:
        """Start the next segment `times` times over: key += times * REKEY_STRIDE, counter = 0."""
        self.key = (self.key + int(times) * REKEY_STRIDE) & 0xFFFFFFFF
        self.counter = 0

    def state(self) -> tuple[int, int]:
        return self.key, self.counter

    def __repr__(self) -> str:
        return f"Rng(key=0x{self.key:08x}, counter={self.counter})"


def draws_u16(rng: Rng, shape: tuple[int, ...], out_major: bool = False) -> np.ndarray:
    """One 16-bit uniform per element of a tensor of `shape`, as int64, in the tensor's device
    order: row-major, or (out_major) with the last axis first — a dense kernel [in, out] is
    stored [out][in] on the device, and its elements draw in that order."""
    size = int(np.prod(shape))
    u = rng.next_u16(size).astype(np.int64)
    if out_major and len(shape) >= 2:
        return u.reshape(shape[-1], size // shape[-1]).T.reshape(shape)
    return u.reshape(shape)
