"""The protocol's messages (docs/protocol.md) on the host build of the firmware and on the
golden device: byte-identical answers to the same requests (good and bad), every NAK path with
nothing applied, duplicates answered from the cache, HELLO's model-hash and version checks,
and an unsolicited FAULT turned into a DeviceFault."""
from __future__ import annotations

import struct
from dataclasses import replace

import numpy as np
import pytest

import link_fakes
from conftest import require_tools
from rct_tflm.fixedpoint import ControllerConfig
from rct_tflm.fixedpoint.config import EngineConfig
from rct_tflm.link import DeviceFault, HostFirmware, Link, LinkError, NakError, open_port
from rct_tflm.link import messages as m
from rct_tflm.link.framing import Frame, FrameDecoder, encode_frame
from rct_tflm.stream import GoldenDevice

CFG = EngineConfig(lr_shift=5, controller=ControllerConfig(period_samples=512))


@pytest.fixture(scope="module")
def host_fw(tmp_path_factory, digits_mlp_artefact):
    require_tools("gcc")
    from rct_tflm.codegen import generate
    from rct_tflm.firmware_build import build_firmware
    d = tmp_path_factory.mktemp("proto")
    generate(digits_mlp_artefact, d / "gen", CFG)
    build_firmware("host", d / "gen", d / "fw")
    return d / "fw"


@pytest.fixture
def host_port(host_fw):
    with HostFirmware(host_fw) as fw:
        port = open_port(fw.url, timeout=0.02)
        yield port
        port.close()


def exchange(port, t: int, seq: int, payload: bytes, raw: bytes | None = None) -> Frame:
    """One request as raw bytes, the first frame that comes back."""
    import time
    port.write(raw if raw is not None else encode_frame(t, seq, payload))
    dec, deadline = FrameDecoder(), time.monotonic() + 5
    while time.monotonic() < deadline:
        got = dec.feed(port.read(max(1, port.in_waiting)))
        if got:
            assert len(got) == 1
            return got[0]
    raise AssertionError(f"no answer to type {t:#x}")


def sample_payload(x: np.ndarray, labels, batch: int = 1) -> bytes:
    return bytes([batch, len(labels)]) + np.asarray(x, np.int8).tobytes() + \
        np.asarray(labels, "<u2").tobytes()  # protocol 5: uint16 labels


def script(digits) -> list[tuple[str, int, bytes, bytes | None]]:
    """(what, type, payload, raw override) — good requests and every kind of bad one."""
    from rct_tflm.fixedpoint.config import quantise_inputs
    x = quantise_inputs(digits.x_train[:8], -7).reshape(8, -1)
    y = [int(v) for v in digits.y_train[:8]]
    hp = m.HParams(4, 6554, 32768, 5000, 512, 7)
    ok = sample_payload(x[:5], y[:5])
    return [
        ("hello", m.HELLO, struct.pack("<I", 0xC0FFEE), None),
        ("reset", m.RESET, struct.pack("<I", 7), None),
        ("hparams", m.HPARAMS_GET, b"", None),
        ("hparams: payload", m.HPARAMS_GET, b"\x00", None),
        ("set: period < 512", m.SET_HPARAMS, replace(hp, period_samples=100).pack(), None),
        ("set: t_max <= 2 t_min", m.SET_HPARAMS, replace(hp, t_max_q16=2 * 6554).pack(), None),
        ("set: lr_shift 31", m.SET_HPARAMS, replace(hp, lr_shift=31).pack(), None),
        ("set: short", m.SET_HPARAMS, hp.pack()[:20], None),
        ("set", m.SET_HPARAMS, hp.pack(), None),
        ("hparams after set", m.HPARAMS_GET, b"", None),
        ("train: sample 1 B short", m.TRAIN, ok[:-6] + ok[-5:], None),
        ("train: no header", m.TRAIN, b"\x01", None),
        ("train: label 10", m.TRAIN, sample_payload(x[:1], [10]), None),
        ("train: batch 0", m.TRAIN, sample_payload(x[:2], y[:2], batch=0), None),
        ("train: count % batch", m.TRAIN, bytes([2, 3]) + ok[2:2 + 3 * 64]
         + np.asarray(y[:3], "<u2").tobytes(), None),
        ("train: batch > max", m.TRAIN, sample_payload(x[:2], y[:2], batch=2), None),
        ("stats untouched", m.STATS, b"", None),
        ("train", m.TRAIN, ok, None),
        ("train: duplicate", m.TRAIN, ok, None),  # same seq: the cached ACK, not applied again
        ("stats", m.STATS, b"", None),
        ("digest", m.DIGEST, b"", None),
        ("digest: payload", m.DIGEST, b"\x00", None),
        ("infer", m.INFER, bytes([3, 1]) + x[5:8].tobytes(), None),
        ("infer: classes only", m.INFER, bytes([3, 0]) + x[5:8].tobytes(), None),
        ("infer: bad size", m.INFER, bytes([3, 0]) + x[5:8].tobytes()[:-1], None),
        ("read", m.WEIGHTS_READ, struct.pack("<IH", 0, 100), None),
        ("read: past the end", m.WEIGHTS_READ, struct.pack("<IH", 4800, 100), None),
        ("read: bad length", m.WEIGHTS_READ, b"\x00\x00\x00", None),
        ("write: bits 1", m.WEIGHTS_WRITE, struct.pack("<I", 0) + b"\x01", None),
        ("write: past the end", m.WEIGHTS_WRITE, struct.pack("<I", 5000) + b"\x08", None),
        ("write: no offset", m.WEIGHTS_WRITE, b"\x00", None),
        ("unknown type", 0x55, b"", None),
        ("fault test without hooks", m.FAULT_TEST, b"", None),
        ("too long", m.TRAIN, b"", encode_frame(m.TRAIN, 0, bytes(600))),
        ("garbage", m.TRAIN, b"", b"\x13\x37\x42\x00"),
    ]


def run_script(port, digits) -> list[tuple[str, Frame]]:
    out, seq = [], 0
    for what, t, p, raw in script(digits):
        if what != "train: duplicate":
            seq += 1
        out.append((what, exchange(port, t, seq, p, raw)))
    return out


def test_host_build_answers_exactly_like_the_golden_device(host_port, digits,
                                                           digits_mlp_artefact):
    c = run_script(host_port, digits)
    g = run_script(GoldenDevice(digits_mlp_artefact, CFG), digits)
    for (what, fc), (_, fg) in zip(c, g):
        if what == "hello":  # identical except the board name at the end
            hc, hg = m.Hello.unpack(fc.payload), m.Hello.unpack(fg.payload)
            assert replace(hc, board="") == replace(hg, board="") and hc.board == "host"
            assert hc.version == m.PROTO_VERSION
            continue
        assert (fc.type, fc.seq, fc.payload) == (fg.type, fg.seq, fg.payload), what


def test_every_bad_request_is_nacked_with_its_reason(digits, digits_mlp_artefact):
    got = dict(run_script(GoldenDevice(digits_mlp_artefact, CFG), digits))
    expect = {"hparams: payload": m.NAK_BAD_LENGTH, "set: period < 512": m.NAK_BAD_ARG,
              "set: t_max <= 2 t_min": m.NAK_BAD_ARG, "set: lr_shift 31": m.NAK_BAD_ARG,
              "set: short": m.NAK_BAD_LENGTH, "train: sample 1 B short": m.NAK_BAD_LENGTH,
              "train: no header": m.NAK_BAD_LENGTH, "train: label 10": m.NAK_BAD_ARG,
              "train: batch 0": m.NAK_BAD_ARG, "train: count % batch": m.NAK_BAD_ARG,
              "train: batch > max": m.NAK_BAD_ARG, "infer: bad size": m.NAK_BAD_LENGTH,
              "read: past the end": m.NAK_BAD_ARG, "read: bad length": m.NAK_BAD_LENGTH,
              "write: bits 1": m.NAK_MODEL, "write: past the end": m.NAK_BAD_ARG,
              "write: no offset": m.NAK_BAD_LENGTH, "unknown type": m.NAK_UNKNOWN,
              "fault test without hooks": m.NAK_UNKNOWN, "too long": m.NAK_TOO_LONG,
              "garbage": m.NAK_CRC, "digest: payload": m.NAK_BAD_LENGTH}
    for what, reason in expect.items():
        f = got[what]
        assert f.type == m.NAK and f.payload[0] == reason, what
        assert len(f.payload) > 1  # a reason text follows
    assert got["too long"].seq == got["garbage"].seq == 0xFF  # the request's seq is unknown
    assert m.Stats.unpack(got["stats untouched"].payload).samples == 0  # no bad TRAIN applied
    assert struct.unpack(m.TRAIN_ACK, got["train"].payload) == (5, 0xC0FFEE)  # and the session
    assert got["train: duplicate"].payload == got["train"].payload  # not applied twice
    assert m.Stats.unpack(got["stats"].payload).samples == 5
    assert m.Stats.unpack(got["stats"].payload).session == 0xC0FFEE
    d = m.Digest.unpack(got["digest"].payload)
    assert (d.session, d.samples) == (0xC0FFEE, 5)
    assert m.HParams.unpack(got["hparams after set"].payload) == m.HParams(4, 6554, 32768, 5000,
                                                                           512, 7)


def test_wrong_sample_size_is_refused_and_nothing_applied(host_port, digits):
    from rct_tflm.fixedpoint.config import quantise_inputs
    link = Link(host_port, "host", timeout=1)
    link.hello()
    link.reset(3)
    before = link.weights_read()
    x = quantise_inputs(digits.x_train[:4], -7).reshape(4, -1)
    with pytest.raises(NakError) as e:
        link.train_frame(x[:, :63], digits.y_train[:4])  # 63 values per sample, model takes 64
    assert e.value.reason == m.NAK_BAD_LENGTH and "sample size" in str(e.value)
    assert link.stats().samples == 0 and link.weights_read() == before
    assert link.train_frame(x, digits.y_train[:4]) == 4  # the link is still in step


def test_model_hash_mismatch_is_refused(host_port):
    link = Link(host_port, "host", timeout=1)
    h = link.hello()
    with pytest.raises(LinkError, match="model mismatch.*rct-tflm build"):
        link.hello(expected_hash=bytes(32))
    again = link.hello(expected_hash=h.model_hash)
    assert replace(again, session=0) == replace(h, session=0) and again.session != h.session


class _Scripted(link_fakes.CannedPort):
    """A device that answers every request with one canned frame (type, payload)."""

    def __init__(self, t: int, payload: bytes) -> None:
        super().__init__()
        self.t, self.payload = t, payload

    def answer(self, f):
        return encode_frame(self.t, 0 if self.t == m.FAULT else f.seq, self.payload)


def test_old_protocol_version_is_refused():
    h = m.Hello(1, 15, 512, 64, 10, 4, 4828, bytes(32), "old")
    with pytest.raises(LinkError, match="protocol version 1.*rebuild"):
        Link(_Scripted(m.ACK, h.pack()), "old").hello()


def test_a_device_of_another_protocol_is_refused():
    with pytest.raises(LinkError, match="does not speak the rct_tflm protocol"):
        Link(_Scripted(m.ACK, b"OK"), "modem").hello()


def test_fault_report_becomes_a_device_fault():
    p = struct.pack(m.FAULT_FMT, 6, 0x08000123, 0x08000201, 0x01000000, 0x00010000, 0, 0, 0)
    with pytest.raises(DeviceFault, match="UsageFault at pc=0x08000123.*cfsr=0x00010000"):
        Link(_Scripted(m.FAULT, p), "crashy").hello()


def test_a_sample_larger_than_512_bytes_gets_frames_that_hold_it(tmp_path):
    """784-pixel MNIST and the like: the firmware is built with RCT_LINK_MAX_PAYLOAD raised
    to one sample, and host build and golden device still agree."""
    require_tools("gcc")
    from rct_tflm.codegen import generate
    from rct_tflm.emulator.floatref import calibrate_act_exps, mlp_artefact, quantise_artefact
    from rct_tflm.firmware_build import build_firmware
    rng = np.random.default_rng(0)
    xf = rng.random((50, 600)).astype(np.float32)
    art = mlp_artefact([600, 8, 10], seed=0, input_exp=-7)
    calibrate_act_exps(art, xf)
    art = quantise_artefact(art)
    generate(art, tmp_path / "gen")
    build_firmware("host", tmp_path / "gen", tmp_path / "fw")
    x = rng.integers(0, 127, (3, 600)).astype(np.int8)
    y = np.array([1, 2, 3])
    out = []
    with HostFirmware(tmp_path / "fw") as fw:
        for port, name in ((open_port(fw.url), "host"), (GoldenDevice(art), "golden")):
            link = Link(port, name, timeout=2)
            h = link.hello()
            assert h.max_payload == m.max_payload_for(600) == 608
            assert link.samples_per_frame() == 1
            link.reset(1)
            assert link.train(x, y) == 3
            out.append((link.infer(x, logits=True)[1].tolist(), link.weights_read()))
            link.close()
    assert out[0] == out[1]
