"""The `ck` fixture (C kernels on one target) and the integer comparison every kernel test uses.

Test modules import `ck` and `run_cases`; the fixture is parametrised over the targets, so the
same test body runs on the host build (ASan/UBSan) and on each QEMU Cortex-M board. QEMU
variants are marked `qemu` and `slow`. Hypothesis runs inside the test (`run_cases`) so the
number of examples can follow the target: QEMU moves every byte through an emulated UART.

Set RCT_KERNEL_TALLY=<file> to append, per test process, one JSON line per (target, kernel):
examples run, integers compared and integers that differed (see docs/testing.md).
"""
from __future__ import annotations

import atexit
import json
import os
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings

from .driver import TARGETS, get_harness
from .twins import CKernels

_TALLY: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])


def _dump_tally() -> None:
    path = os.environ.get("RCT_KERNEL_TALLY")
    if not path or not _TALLY:
        return
    with open(path, "a") as fh:
        for (target, kernel), (ex, n, diff) in sorted(_TALLY.items()):
            fh.write(json.dumps({"target": target, "kernel": kernel, "examples": ex,
                                 "integers": n, "differing": diff}) + "\n")


atexit.register(_dump_tally)


def _params():
    out = []
    for name, t in TARGETS.items():
        marks = [pytest.mark.qemu, pytest.mark.slow] if t.is_qemu else []
        out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.fixture(scope="module", params=_params())
def ck(request) -> CKernels:
    return CKernels(get_harness(request.param))


def n_examples(ck: CKernels, host: int) -> int:
    """Drawn examples on ck's target: its example_share of the host's count, at least 4."""
    return max(4, round(host * TARGETS[ck.target].example_share))


def run_cases(ck: CKernels, strategy, host_examples: int, examples=()):
    """Decorator: run the decorated body on `strategy` now, explicit `examples` first, then
    n_examples(ck, host_examples) drawn ones."""
    def deco(body):
        f = given(strategy)(body)
        for e in reversed(examples):
            f = example(e)(f)
        settings(max_examples=n_examples(ck, host_examples), deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])(f)()
        return body
    return deco


class Compare:
    """Integer-by-integer comparison of one example of `kernel` on `target`, tallied."""

    def __init__(self, target: str, kernel: str) -> None:
        self.key = (target, kernel)
        _TALLY[self.key][0] += 1

    def eq(self, c_value, golden, what: str = "") -> None:
        a = np.asarray(c_value, dtype=np.int64)
        b = np.asarray(golden, dtype=np.int64)
        assert a.shape == b.shape, f"{self.key} {what}: shape C {a.shape} != golden {b.shape}"
        bad = np.flatnonzero(a.ravel() != b.ravel())
        _TALLY[self.key][1] += int(a.size)
        _TALLY[self.key][2] += int(bad.size)
        if bad.size:
            first = ", ".join(f"[{i}] C {a.ravel()[i]} golden {b.ravel()[i]}" for i in bad[:5])
            raise AssertionError(f"{self.key[1]} on {self.key[0]} {what}: {bad.size} of {a.size} "
                                 f"integers differ: {first}")


def compare(ck: CKernels, kernel: str) -> Compare:
    return Compare(ck.target, kernel)
