"""Fuzzing in CI: the firmware's frame receiver and protocol dispatch under libFuzzer with ASan
and UBSan for 30 seconds from the seed corpus (tests/fuzz/; the long run: docs/testing.md), and
the host-side parsers under hypothesis: any bytes are a clean refusal, never a crash or a hang."""
from __future__ import annotations

import shutil
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import link_fakes
from rct_tflm.link import Link, LinkError
from rct_tflm.link import messages as m
from rct_tflm.link.framing import FrameDecoder

sys.path.insert(0, str(Path(__file__).parent / "fuzz"))
import build as fuzz  # noqa: E402  (tests/fuzz/build.py)


@pytest.mark.slow
def test_libfuzzer_smoke_finds_nothing_in_30_seconds(tmp_path, digits_mlp_artefact):
    if shutil.which("clang") is None:
        pytest.fail("clang not found: run `make setup` (installs clang for libFuzzer)")
    from rct_tflm.codegen import generate
    generate(digits_mlp_artefact, tmp_path / "gen")
    exe = fuzz.build(tmp_path / "gen", tmp_path)
    code, runs, log = fuzz.run(exe, fuzz.CORPUS, seconds=30)
    assert code == 0, log
    assert runs > 10_000, log  # it really ran (about 3,000 per second on a loaded 2-core box)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_are_parsed_or_refused(p):
    for parse in (m.Hello.unpack, m.Stats.unpack, m.Digest.unpack, m.HParams.unpack):
        try:
            parse(p)
        except (ValueError, struct.error):
            pass
    FrameDecoder().feed(p)  # bad frames are counted, never raised


def _replying(payload: bytes) -> link_fakes.FakeBoard:
    """A board ACKing every request with `payload`, its HELLO a whole one echoing the nonce."""
    hello = m.Hello(m.PROTO_VERSION, 7, 512, 4, 3, 2, 40, bytes(32), "fz").pack()
    return link_fakes.FakeBoard({t: payload for t in m.NAMES if t != m.HELLO}, hello)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=80))
def test_any_ack_is_a_result_or_a_link_error(p):
    import numpy as np
    link = Link(_replying(p), "fz", timeout=0.05, retries=0)
    for call in (link.stats, link.digest, link.hparams, link.weights_read,
                 lambda: link.infer(np.zeros((2, 4), np.int8)),
                 lambda: link.train(np.zeros((1, 4), np.int8), np.zeros(1, np.uint8))):
        try:
            call()
        except LinkError:
            pass
