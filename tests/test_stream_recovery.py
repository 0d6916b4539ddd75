"""Checkpoints that are right or absent, and exactly-once training through board resets: a board
that restarts at any point of a checkpoint (before its STATS, its WEIGHTS_READ or its DIGEST)
is detected by its session nonce, no checkpoint of the wrong weights is written, and the run
either recovers inside itself (--max-resets) or stops with the last good checkpoint, from which a
resumed run ends with the uninterrupted run's weights. Through a noisy wire with resets
(`--inject-faults`) the host build and QEMU end bit-identical to the clean run."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import require_tools, run_cli
from rct_tflm.cli import main
from rct_tflm.errors import UserError
from rct_tflm.link import Link, LinkError
from rct_tflm.link import messages as m
from rct_tflm.link.faults import FaultSpec
from rct_tflm.link.framing import decode_frame
from rct_tflm.stream import GoldenDevice, StreamConfig, prepare, run_stream


@pytest.fixture(scope="module")
def built(tmp_path_factory, digits_mlp_artefact, digits) -> Path:
    """model.rct, 1,100 training digits (two checkpoints at period 512), the host build."""
    require_tools("gcc")
    d = tmp_path_factory.mktemp("recovery")
    digits_mlp_artefact.save(d / "model.rct")
    np.savez(d / "digits.npz", x_train=digits.x_train[:1100], y_train=digits.y_train[:1100],
             x_test=digits.x_test[:100], y_test=digits.y_test[:100])
    main(["build", "--board", "host", "--model", str(d / "model.rct"), "--out", str(d / "fw"),
          "--period-samples", "512"])
    return d


def cfg(built: Path, out: Path, **kw) -> StreamConfig:
    return StreamConfig(**{"model": str(built / "model.rct"), "data": f"npz:{built}/digits.npz",
                           "out": str(out), "seed": 5, "progress": False,
                           "checkpoint_every": 512, **kw})


class RebootBefore:
    """The golden device, power-cycled once right before the first `msg` request that comes
    when it has trained `after` samples or more (a reboot at the worst moment)."""

    def __init__(self, dev: GoldenDevice, msg: int, after: int) -> None:
        self.dev, self.msg, self.after, self.done = dev, msg, after, False

    def write(self, data: bytes) -> int:
        f = decode_frame(bytes(data).strip(b"\x00"))
        if (not self.done and f is not None and f.type == self.msg
                and self.dev.app_samples >= self.after):
            self.done = True
            self.dev.reboot()
        return self.dev.write(data)

    def __getattr__(self, name):
        return getattr(self.dev, name)


def golden(built: Path, out: Path, port_for=lambda dev: dev, **kw) -> dict:
    prep = prepare(cfg(built, out, **kw), str(built / "fw"))
    dev = GoldenDevice(prep.dm.art, prep.dm.cfg)
    return run_stream(prep, Link(port_for(dev), "golden"), "golden")


@pytest.fixture(scope="module")
def clean(built, tmp_path_factory) -> dict:
    return golden(built, tmp_path_factory.mktemp("clean") / "s")


@pytest.mark.parametrize("msg", [m.STATS, m.WEIGHTS_READ, m.DIGEST])
def test_a_reboot_at_a_checkpoint_writes_no_wrong_checkpoint(built, tmp_path, clean, msg):
    out = tmp_path / "s"
    with pytest.raises(LinkError, match="restarted.*0 resets recovered already|restarted.*"
                                        "--max-resets"):
        golden(built, out, lambda dev: RebootBefore(dev, msg, 1024), max_resets=0)
    ck = json.loads((out / "checkpoint.json").read_text())
    assert ck["samples_done"] == 512  # the last good one stays; none of the wrong weights
    resumed = golden(built, tmp_path / "r", resume=str(out / "checkpoint.json"))
    assert resumed["weights_sha256"] == clean["weights_sha256"]
    assert resumed["bitwidth_history"] == clean["bitwidth_history"]


@pytest.mark.parametrize("msg,after", [(m.STATS, 512), (m.WEIGHTS_READ, 1024), (m.TRAIN, 700),
                                       (m.DIGEST, 512), (m.INFER, 1100)])  # 1100: the final check
def test_a_reboot_is_recovered_inside_the_run(built, tmp_path, clean, msg, after):
    r = golden(built, tmp_path / "s", lambda dev: RebootBefore(dev, msg, after))
    assert r["board_resets"] == 1
    assert r["weights_sha256"] == clean["weights_sha256"]
    assert r["bitwidth_history"] == clean["bitwidth_history"]


def test_a_resumed_checkpoint_is_verified_on_the_board(built, tmp_path, clean):
    out = tmp_path / "s"
    with pytest.raises(LinkError):
        golden(built, out, lambda dev: RebootBefore(dev, m.STATS, 1024), max_resets=0)

    class Forgetful(GoldenDevice):  # a board that acknowledges WEIGHTS_WRITE and drops it
        def _weights_write(self, off: int, data: bytes) -> bool:
            return True

    prep = prepare(cfg(built, tmp_path / "r", resume=str(out / "checkpoint.json")),
                   str(built / "fw"))
    with pytest.raises(LinkError, match="did not keep the checkpoint's weights"):
        run_stream(prep, Link(Forgetful(prep.dm.art, prep.dm.cfg), "golden"), "golden")


def test_fault_spec_parses_and_refuses():
    assert FaultSpec.parse("flip=0.01,drop=0.02,dup=0.01,stall=0.5,resets=3,seed=7") == \
        FaultSpec(0.01, 0.02, 0.01, 0.5, 3, 7)
    for bad, msg in (("flip", "bad item 'flip'"), ("jitter=1", "bad item 'jitter=1'"),
                     ("drop=1.5", "drop=1.5 must be in"), ("resets=x", "bad item")):
        with pytest.raises(UserError, match=msg):
            FaultSpec.parse(bad)


def test_resets_need_a_board_rct_tflm_started(capsys, built, tmp_path):
    code, _, err = run_cli(capsys, "stream", "--port", "socket://127.0.0.1:9", "--model",
                           str(built / "model.rct"), "--out", str(tmp_path / "s"),
                           "--inject-faults", "resets=1")
    assert code == 2 and "cannot be reset from here" in err


NOISY = "flip=0.01,drop=0.01,resets=3,seed=4"  # the target: 1 % flips, 1 % drops, 3 resets


@pytest.mark.slow
@pytest.mark.parametrize("board", ["host", "qemu-stm32f405"])
def test_a_noisy_wire_with_resets_ends_with_the_clean_weights(capsys, built, tmp_path, clean,
                                                              board):
    fw = built / "fw"
    if board != "host":
        require_tools("arm-none-eabi-gcc", "qemu-system-arm")
        fw = tmp_path / "fw"
        main(["build", "--board", board, "--model", str(built / "model.rct"), "--out", str(fw),
              "--period-samples", "512"])
    code, out, err = run_cli(capsys, "stream", "--target", board, "--firmware", str(fw),
                             "--model", str(built / "model.rct"), "--data",
                             f"npz:{built}/digits.npz", "--out", str(tmp_path / "s"),
                             "--seed", "5", "--checkpoint-every", "512", "--retries", "30",
                             "--inject-faults", NOISY, "--no-progress")
    assert code == 0, err
    r = json.loads((tmp_path / "s" / "stream.json").read_text())
    assert r["weights_sha256"] == clean["weights_sha256"]
    assert r["board_resets"] == 3 and r["faults_injected"]["board_resets"] == 3
    assert r["faults_injected"]["bits_flipped"] > 1000 and r["faults_injected"]["frames_dropped"] > 10
    assert "3 board resets recovered" in out


def test_a_reboot_while_restoring_is_recovered_too(built, tmp_path, clean):
    class Twice(RebootBefore):  # reboots before a TRAIN, then again before the restore's DIGEST
        def write(self, data: bytes) -> int:
            f = decode_frame(bytes(data).strip(b"\x00"))
            if not self.done and f is not None and f.type == m.TRAIN and self.dev.app_samples >= 700:
                self.done, self.next = True, True
                self.dev.reboot()
            elif getattr(self, "next", False) and f is not None and f.type == m.DIGEST:
                self.next = False
                self.dev.reboot()
            return self.dev.write(data)
    r = golden(built, tmp_path / "s", lambda dev: Twice(dev, m.TRAIN, 700))
    assert r["board_resets"] == 2 and r["weights_sha256"] == clean["weights_sha256"]
