"""A damaged or missing link: lost and corrupted bytes in both directions are retransmitted
and nothing is applied twice (the training result equals a clean run's); a board that does not
answer times out with a clear message; a wrong port, a dead link."""
from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

from conftest import require_tools
from rct_tflm.errors import UserError
from rct_tflm.fixedpoint import ControllerConfig
from rct_tflm.fixedpoint.config import EngineConfig, quantise_inputs
from rct_tflm.link import HostFirmware, Link, LinkError, open_port
from rct_tflm.link import messages as m
from rct_tflm.link.faults import FaultyPort
from rct_tflm.link.framing import FrameDecoder
from rct_tflm.stream import GoldenDevice, StreamConfig, prepare, run_stream

CFG = EngineConfig(lr_shift=5, controller=ControllerConfig(period_samples=512))


@pytest.fixture(scope="module")
def fw(tmp_path_factory, digits_mlp_artefact):
    require_tools("gcc")
    from rct_tflm.codegen import generate
    from rct_tflm.firmware_build import build_firmware
    d = tmp_path_factory.mktemp("faults")
    digits_mlp_artefact.save(d / "model.rct")
    generate(digits_mlp_artefact, d / "gen", CFG)
    build_firmware("host", d / "gen", d / "fw")
    return d


def stream(fw, out, port, url: str, timeout: float = 0.2) -> dict:
    cfg = StreamConfig(model=str(fw / "model.rct"), data="digits", out=str(out), seed=5,
                       progress=False, checkpoint_every=0)
    prep = prepare(cfg, str(fw / "fw"))
    link = Link(port, url, timeout=timeout, retries=8)
    try:
        return run_stream(prep, link, url)
    finally:
        link.close()


def test_corrupted_and_lost_bytes_both_ways_are_recovered_exactly(fw, tmp_path,
                                                                  digits_mlp_artefact):
    clean = stream(fw, tmp_path / "clean", GoldenDevice(digits_mlp_artefact, CFG), "golden")
    with HostFirmware(fw / "fw") as host:
        port = FaultyPort(open_port(host.url, timeout=0.01), seed=1, drop=2e-4, corrupt=2e-4)
        r = stream(fw, tmp_path / "faulty", port, "host+faults")
    assert port.dropped > 10 and port.corrupted > 10  # the faults did happen, both kinds
    assert r["retransmits"] > 0
    assert r["weights_sha256"] == clean["weights_sha256"]  # nothing lost, nothing twice
    assert r["bitwidth_history"] == clean["bitwidth_history"]
    assert r["bitwidth_history"]["changes"]  # the controller decided during the run
    assert r["board_golden_mismatches"] == 0
    assert r["device"]["rx_errors"] > 0  # the board saw (and NAKed) damaged requests


class DropAcksOfFirstTries:
    """Loses the answer to the first try of every mutating request (a retransmission starts
    with an extra 0x00 and gets through)."""

    def __init__(self, port) -> None:
        self.port, self.dropping, self.dropped = port, False, 0

    def write(self, data: bytes) -> int:
        frames = FrameDecoder().feed(data)
        self.dropping = not data.startswith(b"\x00") and frames[0].type in m.MUTATING
        self.dropped += self.dropping
        return self.port.write(data)

    def read(self, n: int = 1) -> bytes:
        data = self.port.read(n)
        if self.dropping and data:
            if 0 in data:  # swallow up to and including this answer's delimiter
                self.dropping = False
                return data[data.index(0) + 1:]
            return b""
        return data

    @property
    def in_waiting(self) -> int:
        return self.port.in_waiting

    def close(self) -> None:
        self.port.close()


def test_a_lost_ack_makes_a_retransmission_the_board_does_not_apply_twice(fw, digits):
    x = quantise_inputs(digits.x_train[:21], -7).reshape(21, -1)
    y = digits.y_train[:21]
    with HostFirmware(fw / "fw") as host:
        port = DropAcksOfFirstTries(open_port(host.url, timeout=0.01))
        link = Link(port, host.url, timeout=0.2)
        link.hello()
        link.reset(1)
        assert link.train_frame(x[:7], y[:7]) == 7  # the cached ACK, not 14
        assert link.train_frame(x[7:14], y[7:14]) == 14
        assert link.train_frame(x[14:], y[14:]) == 21
        assert port.dropped == link.counters.retransmits == 4  # RESET and three TRAINs
        assert link.stats().samples == 21
        link.close()


def test_a_board_that_does_not_answer_times_out_clearly():
    # loop:// echoes our own frames back: bytes arrive, but never an answer.
    link = Link(open_port("loop://", timeout=0.01), "loop://", timeout=0.05, retries=1)
    t = time.monotonic()
    with pytest.raises(LinkError, match=r"no answer from the board at loop:// to HELLO .*tries"):
        link.hello()
    assert time.monotonic() - t < 2


def test_a_silent_socket_times_out_clearly():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    url = f"socket://127.0.0.1:{srv.getsockname()[1]}"
    held = []
    th = threading.Thread(target=lambda: held.append(srv.accept()), daemon=True)
    th.start()
    try:
        link = Link(open_port(url), url, timeout=0.05, retries=1)
        with pytest.raises(LinkError, match="no answer from the board at socket://"):
            link.reset(1)  # HELLO first: the session always starts with it
        link.close()
    finally:
        th.join(1)
        for conn, _ in held:
            conn.close()
        srv.close()


@pytest.mark.parametrize("url", ["/dev/ttyNOSUCH0", "socket://127.0.0.1:1", "nosuch://x"])
def test_a_wrong_port_is_named_with_the_fix(url):
    with pytest.raises(UserError, match=f"cannot open serial port '{url}'.*list_ports"):
        open_port(url)


def test_a_link_that_dies_is_a_link_error(digits_mlp_artefact):
    port = FaultyPort(GoldenDevice(digits_mlp_artefact, CFG), die_after_tx=100)
    link = Link(port, "golden", timeout=0.1)
    link.hello()
    with pytest.raises(LinkError, match="link to the board at golden broke"):
        link.train(np.zeros((7, 64), np.int8), np.zeros(7, np.int64))


def test_nak_crc_answers_garbage_and_the_next_request_goes_through(digits_mlp_artefact):
    dev = GoldenDevice(digits_mlp_artefact, CFG)
    dev.write(b"\x55" * 40 + b"\x00")  # line noise before the host speaks
    link = Link(dev, "golden", timeout=0.1)
    assert link.hello().version == m.PROTO_VERSION
    assert link.counters.retransmits == 1  # the stale NAK(crc) cost one retransmission
    assert link.stats().rx_errors == 1
