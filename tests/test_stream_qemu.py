"""End to end on emulated Cortex-M boards (QEMU): the same training stream ends with the same
weights_sha256 and bitwidth history on the golden model, the host C build, and the Cortex-M4
build on qemu-stm32f405 and qemu-mps2-an386 — and as `emulate --target golden` of the same run
(one definition of a training run); every QEMU board boots and speaks the protocol; a fault on
the board reaches the host as a clear DeviceFault."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import require_tools, run_cli
from rct_tflm.cli import main
from rct_tflm.emulator.qemu import QemuBoard
from rct_tflm.emulator.run import EmulateConfig, emulate_run
from rct_tflm.emulator.run import prepare as prepare_emulate
from rct_tflm.firmware_build import build_firmware
from rct_tflm.link import DeviceFault, Link, open_port
from rct_tflm.link import messages as m
from rct_tflm.stream.device_model import engine_config_from_manifest, find_manifest

pytestmark = [pytest.mark.qemu, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent
STUB = ROOT / "fixtures" / "stub_model"
TARGETS = ("golden", "host", "qemu-stm32f405", "qemu-mps2-an386")


@pytest.fixture(scope="module")
def setup(tmp_path_factory, digits_mlp_artefact, digits) -> Path:
    """The artefact, a data set of 1,100 training and 100 test digits (so the controller
    decides twice, at 512 and 1,024 samples), and the firmware for every target."""
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    d = tmp_path_factory.mktemp("e2e")
    digits_mlp_artefact.save(d / "model.rct")
    np.savez(d / "digits.npz", x_train=digits.x_train[:1100], y_train=digits.y_train[:1100],
             x_test=digits.x_test[:100], y_test=digits.y_test[:100])
    for b in TARGETS[1:]:
        main(["build", "--board", b, "--model", str(d / "model.rct"), "--out", str(d / b),
              "--period-samples", "512", "--lr", "0.0625", "--t-min", "0.2"])
    return d


def test_same_stream_same_weights_and_bitwidths_on_golden_host_and_cortex_m4(capsys, setup):
    results = {}
    for b in TARGETS:
        fw = setup / ("host" if b == "golden" else b)  # golden mirrors the host build's config
        code, out, err = run_cli(capsys, "stream", "--target", b, "--firmware", str(fw),
                                 "--model", str(setup / "model.rct"), "--data",
                                 f"npz:{setup / 'digits.npz'}", "--seed", "11",
                                 "--checkpoint-every", "0", "--out", str(setup / f"s-{b}"),
                                 "--no-progress", "--timeout", "5")
        assert code == 0, err
        results[b] = json.loads((setup / f"s-{b}" / "stream.json").read_text())
    ref = results["golden"]
    assert ref["samples"] == 1100 and ref["bitwidth_history"]["changes"]
    assert {c["sample"] for c in ref["bitwidth_history"]["changes"]} <= {512, 1024}
    for b, r in results.items():
        assert r["board"] == b
        assert r["weights_sha256"] == ref["weights_sha256"], b
        assert r["bitwidth_history"] == ref["bitwidth_history"], b
        assert r["device"] == {**ref["device"], "rx_errors": r["device"]["rx_errors"]}, b
        assert r["test_accuracy_after"] == ref["test_accuracy_after"], b
        assert r["board_golden_mismatches"] == 0, b  # INFER on the board == golden engine
    # the same run through emulate (the firmware's compiled configuration, no link at all)
    emu = emulate_run(prepare_emulate(EmulateConfig(
        target="golden", model=str(setup / "model.rct"), data=f"npz:{setup / 'digits.npz'}",
        epochs=1, seed=11, batch=1, engine=engine_config_from_manifest(
            find_manifest(setup / "host")))), None, progress=False)
    assert emu["samples"] == ref["samples"]
    assert emu["weights_sha256"] == ref["weights_sha256"]
    assert emu["bitwidth_history"] == ref["bitwidth_history"]
    assert emu["prng_counter"] == ref["device"]["prng_counter"]
    assert emu["test_accuracy_after"] == ref["test_accuracy_after"]


# -- the board ports with the stub model (a test double, tests/fixtures/stub_model) ---------
def stub_train(w: np.ndarray, x: np.ndarray, labels) -> None:
    """The stub's training rule (README.md): w[t][i] += x[(t*8+i) % 64] + label, int16."""
    for s, lab in enumerate(labels):
        for t in range(2):
            for i in range(8):
                w[t, i] = np.int16(np.int64(w[t, i]) + int(x[s, (t * 8 + i) % 64]) + int(lab))


@pytest.mark.parametrize("board", ["qemu-stm32f405", "qemu-mps2-an386", "qemu-mps2-an500"])
def test_every_qemu_board_boots_and_speaks_the_protocol(tmp_path, board):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    build_firmware(board, STUB, tmp_path / "fw")
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (40, 64)).astype(np.int8)
    y = rng.integers(0, 10, 40)
    with QemuBoard(board, tmp_path / "fw") as q:
        link = Link(open_port(q.url), q.url, timeout=5)
        h = link.hello(bytes(range(32)))
        assert (h.board, h.version, h.input_size) == (board, m.PROTO_VERSION, 64)
        assert h.capabilities & m.CAP_FAULT_REPORT and not h.capabilities & m.CAP_TEST_HOOKS
        link.reset(3)
        assert link.train(x, y) == 40
        blob = link.weights_read()
        link.close()
    w = np.array([[(3 + t * 8 + i) & 0x7F for i in range(8)] for t in range(2)], np.int16)
    stub_train(w, x, y)
    got = np.frombuffer(blob, "<i2").reshape(2, 9)[:, 1:]  # per tensor: bits|exp, 8 values
    assert np.array_equal(got, w)


@pytest.mark.parametrize("board", ["qemu-stm32f405", "qemu-mps2-an386"])
def test_a_fault_on_the_board_reaches_the_host_as_a_device_fault(tmp_path, board):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    build_firmware(board, STUB, tmp_path / "fw", defines={"RCT_TEST_HOOKS": 1})
    with QemuBoard(board, tmp_path / "fw") as q:
        link = Link(open_port(q.url), q.url, timeout=5)
        assert link.hello().capabilities & m.CAP_TEST_HOOKS
        with pytest.raises(DeviceFault) as e:
            link.fault_test()
        link.close()
    msg = str(e.value)
    # FAULT_TEST jumps into the never-executable system region; with PRIMASK set (the UART
    # driver's WFI wait) the MemManage fault escalates to HardFault, CFSR keeps the cause.
    assert f"the board at {q.url} crashed: HardFault at pc=0xfffffff0" in msg
    cfsr = int(msg.split("cfsr=0x")[1][:8], 16)
    assert cfsr & 0x1  # MMFSR.IACCVIOL: instruction access violation
    assert "firmware bug" in msg
