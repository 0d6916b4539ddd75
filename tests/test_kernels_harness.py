"""The kernel harness itself on every target: it runs the code it claims to (32-bit `long` on
Cortex-M), reports requests that do not fit its pool or name no kernel, and keeps serving."""
import numpy as np
import pytest

from kernel_harness.driver import TARGETS, HarnessError, get_harness
from kernel_harness.targets import ck  # noqa: F401  (ck is a fixture)
from kernel_harness.twins import CKernels
from rct_tflm.fixedpoint import Rng


def test_target_identity(ck):
    h = ck.h
    assert h.pool_bytes == TARGETS[ck.target].pool_bytes
    if TARGETS[ck.target].is_qemu:
        assert (h.long_bytes, h.ptr_bytes) == (4, 4)  # ILP32: really the Cortex-M image
    else:
        assert (h.long_bytes, h.ptr_bytes) == (8, 8)


def test_pool_exhaustion_and_bad_op_are_reported(ck):
    too_many = ck.h.pool_bytes // 4 + 1  # the u32 output alone exceeds the pool
    with pytest.raises(HarnessError, match="does not fit the harness pool"):
        ck.prng(1, 0, too_many)
    with pytest.raises(HarnessError, match="bad op"):
        ck.h.call(999, [])
    words, counter = ck.prng(1, 0, 3)  # still serving, and nothing half-done leaked
    assert list(words) == list(Rng(1, 0).next_u32(3)) and counter == 3


def test_oversized_input_array_is_skipped():
    """An input array larger than the pool is read to its end and refused (host only: over an
    emulated UART the transfer alone would take minutes; the output-side overflow above runs on
    every target)."""
    ck = CKernels(get_harness("host"))
    big = np.zeros(ck.h.pool_bytes + 64, np.int8)
    with pytest.raises(HarnessError, match="does not fit the harness pool"):
        ck.argmax_i8(big)
    assert ck.argmax_i8(np.array([1, 5, 5, -3], np.int8)) == 1
