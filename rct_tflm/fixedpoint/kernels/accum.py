"""Forward accumulator policy: when may a layer accumulate in int32?

The largest product of a `bits`-bit weight and an int8 activation is
(-2^(bits-1)) * (-128) = 2^(bits+6). An int32 accumulator of `fan_in` such terms (partial sums
included) cannot overflow iff fan_in * 2^(bits+6) <= 2^31 - 1. The generator calls
`needs_int64(fan_in, bits_max)` per layer and passes RCT_ACC64 where it is true (or caps the
tensor's bits_max at `max_safe_bits(fan_in)`). The bias is added in int64 after the sum.
"""
from __future__ import annotations

ACC32, ACC64 = 0, 1
INT32_MAX = (1 << 31) - 1


def worst_case_sum(fan_in: int, bits: int) -> int:
    """Largest |partial sum| of fan_in products of bits-bit weights and int8 activations."""
    return int(fan_in) * (1 << (int(bits) + 6))


def needs_int64(fan_in: int, bits_max: int) -> bool:
    """True when an int32 accumulator could overflow for some weights/inputs of that range."""
    return worst_case_sum(fan_in, bits_max) > INT32_MAX


def max_safe_bits(fan_in: int) -> int:
    """Largest weight bitwidth (<= 16) whose int32 accumulation over fan_in cannot overflow.

    E.g. 16 up to fan-in 511, 15 up to 1023, 14 up to 2047; 0 if not even 2 bits are safe.
    """
    for bits in range(16, 1, -1):
        if not needs_int64(fan_in, bits):
            return bits
    return 0
