"""Large samples over the link (protocol version 4): a sample too large for one frame is staged
by SAMPLE_WRITE chunks into the firmware's one staging buffer and then trained on
(TRAIN_STAGED) or inferred (INFER_STAGED). The host C build and the golden device answer the
same requests byte for byte, NAK the same misuse, and train to the golden engine's weights."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from conftest import require_tools
from rct_tflm.boards import firmware_ram
from rct_tflm.fixedpoint.config import EngineConfig
from rct_tflm.link import HostFirmware, Link, open_port
from rct_tflm.link import messages as m
from rct_tflm.program import Engine
from rct_tflm.stream import GoldenDevice

IN = 3 * 1024  # int8 inputs per sample: staged (a TRAIN frame would exceed 1 KB)
CFG = EngineConfig(lr_shift=5, max_batch=2)


@pytest.fixture(scope="module")
def big_art():
    from rct_tflm.emulator.floatref import mlp_artefact, quantise_artefact
    art = quantise_artefact(mlp_artefact([IN, 8, 4]))
    for l in art.layers:
        l.act_exp = -4
    return art


@pytest.fixture(scope="module")
def host_fw(tmp_path_factory, big_art):
    require_tools("gcc")
    from rct_tflm.codegen import generate
    from rct_tflm.firmware_build import build_firmware
    d = tmp_path_factory.mktemp("staged")
    generate(big_art, d / "gen", CFG)
    build_firmware("host", d / "gen", d / "fw")
    return d / "fw"


def data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r = np.random.default_rng(seed)
    return r.integers(-128, 128, (n, IN), dtype=np.int8), r.integers(0, 4, n).astype(np.uint8)


def test_large_samples_are_staged_and_the_link_buffers_stay_small():
    assert m.stages_samples(IN) and not m.stages_samples(600)
    assert m.max_payload_for(IN) == m.DEFAULT_MAX_PAYLOAD
    assert m.stage_bytes_for(IN, 2) == 2 * IN and m.stage_bytes_for(600, 2) == 0
    fw = firmware_ram(27648, 1)  # a 96x96x3 image: one staged copy, not four
    assert fw["stage"] == 27648 and fw["link"] < 2500


def run(port, x, labels, batch: int) -> tuple[str, np.ndarray, np.ndarray]:
    link = Link(port, timeout=2.0)
    h = link.hello()
    assert h.stage_bytes == 2 * IN and h.capabilities & m.CAP_STAGE
    link.reset(7)
    link.train(x, labels, batch)
    cls, lg = link.infer(x[:3], logits=True)
    return link.weights_read().hex(), cls, lg


@pytest.mark.parametrize("batch", [1, 2])
def test_staged_training_on_host_c_equals_the_golden_engine(host_fw, big_art, batch):
    x, y = data(6)
    eng = Engine.from_artefact(big_art, CFG)
    eng.reset(7)
    for s in range(0, len(y), batch):
        eng.train_step(x[s:s + batch], y[s:s + batch].astype(np.int64))
    gold = run(GoldenDevice(big_art, CFG), x, y, batch)
    assert gold[0] == eng.weights_blob().hex()
    with HostFirmware(host_fw) as fw:
        port = open_port(fw.url, timeout=0.02)
        try:
            host = run(port, x, y, batch)
        finally:
            port.close()
    assert host[0] == gold[0]
    assert np.array_equal(host[1], gold[1]) and np.array_equal(host[2], gold[2])
    assert np.array_equal(gold[1], np.argmax(eng.logits(x[:3]), axis=1))


def answers(port) -> list[bytes]:
    """Raw answers to a script of staging requests, good and bad."""
    from test_link_protocol import exchange
    x, y = data(2, 1)
    sample = x[0].tobytes()

    def chunks(start: int, end: int) -> list[tuple[int, bytes]]:
        return [(m.SAMPLE_WRITE, struct.pack("<I", o) + sample[o:min(o + 500, end)])
                for o in range(start, end, 500)]

    script = [
        (m.HELLO, struct.pack("<I", 5)),
        (m.TRAIN_STAGED, bytes([1, 1, 0, 0])),  # nothing staged (protocol 5: u16 labels)
        (m.SAMPLE_WRITE, struct.pack("<I", 8) + b"\x01"),  # past the staged bytes
        *chunks(0, IN),
        (m.SAMPLE_WRITE, struct.pack("<I", 3000) + sample[3000:]),  # a retransmission
        (m.SAMPLE_WRITE, struct.pack("<I", 2 * IN - 4) + b"\x00" * 8),  # past the buffer
        (m.INFER_STAGED, bytes([1, 1])),
        (m.INFER_STAGED, bytes([2, 0])),  # only one sample staged
        (m.TRAIN_STAGED, bytes([1, 1, 9, 0])),  # label out of range (empties the stage)
        *chunks(0, 1000),
        (m.TRAIN_STAGED, bytes([1, 1]) + struct.pack("<H", int(y[0]))),  # not a whole sample
        *chunks(1000, IN),
        (m.TRAIN_STAGED, bytes([1, 1]) + struct.pack("<H", int(y[0]))),
        (m.TRAIN_STAGED, bytes([1, 1]) + struct.pack("<H", int(y[0]))),  # same seq: the cached answer
        (m.TRAIN_STAGED, bytes([1, 1]) + struct.pack("<H", int(y[0]))),  # nothing staged any more
        (m.DIGEST, b""),
    ]
    dup = len(script) - 3
    out = []
    for i, (t, p) in enumerate(script):
        seq = (i - 1 if i == dup else i) & 0xFF
        f = exchange(port, t, seq, p)
        out.append(bytes([f.type, f.seq]) + f.payload)
    return out


def test_host_c_and_golden_answer_staging_requests_byte_for_byte(host_fw, big_art):
    gold = answers(GoldenDevice(big_art, CFG))
    with HostFirmware(host_fw) as fw:
        port = open_port(fw.url, timeout=0.02)
        try:
            host = answers(port)
        finally:
            port.close()
    golden_hello, host_hello = m.Hello.unpack(gold[0][2:]), m.Hello.unpack(host[0][2:])
    assert golden_hello.stage_bytes == host_hello.stage_bytes == 2 * IN
    assert host[1:] == gold[1:]  # HELLO differs in the board name only
    naks = [i for i, a in enumerate(gold) if a[0] == m.NAK]
    n = len(gold)
    assert naks == [1, 2, 11, 13, 14, 17, n - 2]  # the misuse above, nothing else
    assert gold[n - 4][0] == m.ACK and gold[n - 3] == gold[n - 4]  # answered from the cache
