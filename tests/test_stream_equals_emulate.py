"""One definition of a training run: `emulate --target golden|host` and `stream --target
golden|host` on the same model, data, seed, epochs, micro-batch, lr_shift and period end with
the same weights_sha256, bitwidth history, PRNG position and test accuracy. The PRNG re-keying
at period boundaries is part of the numeric contract (the controller does it), so the stream
sends nothing extra at a boundary and every path draws the same words."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import require_tools
from rct_tflm.cli import main
from rct_tflm.emulator.run import EmulateConfig, emulate_run
from rct_tflm.emulator.run import prepare as prepare_emulate
from rct_tflm.link import HostFirmware, Link, open_port
from rct_tflm.stream import GoldenDevice, StreamConfig, prepare, run_stream, segment_seed
from rct_tflm.stream.device_model import engine_config_from_manifest, find_manifest

SEED, EPOCHS, N_TRAIN = 11, 2, 1099  # not a multiple of 4: the run ends on whole micro-batches


@pytest.fixture(scope="module")
def setup(tmp_path_factory, digits_mlp_artefact, digits) -> Path:
    """model.rct, 1,099 training / 100 test digits, and the host firmware (micro-batch 4,
    period 512, lr 2^-4, T_min 0.2: the controller decides inside the run)."""
    require_tools("gcc")
    d = tmp_path_factory.mktemp("same-run")
    digits_mlp_artefact.save(d / "model.rct")
    np.savez(d / "digits.npz", x_train=digits.x_train[:N_TRAIN], y_train=digits.y_train[:N_TRAIN],
             x_test=digits.x_test[:100], y_test=digits.y_test[:100])
    main(["build", "--board", "host", "--model", str(d / "model.rct"), "--out", str(d / "fw"),
          "--batch-size", "4", "--period-samples", "512", "--lr", "0.0625", "--t-min", "0.2"])
    return d


def emulate(setup: Path, target: str, batch: int) -> dict:
    """An emulate run with the firmware's compiled configuration (the stream's hparams)."""
    eng = engine_config_from_manifest(find_manifest(setup / "fw"))
    cfg = EmulateConfig(target=target, model=str(setup / "model.rct"),
                        data=f"npz:{setup / 'digits.npz'}", epochs=EPOCHS, seed=SEED, batch=batch,
                        engine=eng, build_dir=str(setup / f"emu-{target}-{batch}"))
    return emulate_run(prepare_emulate(cfg), None, progress=False)


def stream(setup: Path, board: str, batch: int) -> dict:
    cfg = StreamConfig(model=str(setup / "model.rct"), data=f"npz:{setup / 'digits.npz'}",
                       out=str(setup / f"s-{board}-{batch}"), epochs=EPOCHS, seed=SEED,
                       batch=batch, checkpoint_every=0, progress=False)
    prep = prepare(cfg, str(setup / "fw"))
    if board == "golden":
        return run_stream(prep, Link(GoldenDevice(prep.dm.art, prep.dm.cfg), "golden"), "golden")
    with HostFirmware(setup / "fw") as host:
        return run_stream(prep, Link(open_port(host.url), host.url), "host")


@pytest.mark.parametrize("batch", [1, 4])
def test_emulate_and_stream_train_the_same_weights(setup, batch):
    runs = {f"emulate-{t}": emulate(setup, t, batch) for t in ("golden", "host")}
    runs.update({f"stream-{b}": stream(setup, b, batch) for b in ("golden", "host")})
    ref = runs["emulate-golden"]
    assert ref["samples"] == EPOCHS * N_TRAIN - EPOCHS * N_TRAIN % batch
    assert ref["engine"]["lr_shift"] == 4
    changes = ref["bitwidth_history"]["changes"]
    assert changes and {c["sample"] for c in changes} <= {512, 1024, 1536, 2048}
    for name, r in runs.items():
        assert r["samples"] == ref["samples"], name
        assert r["weights_sha256"] == ref["weights_sha256"], name
        assert r["bitwidth_history"] == ref["bitwidth_history"], name
        assert r["test_accuracy_after"] == ref["test_accuracy_after"], name
        counter = r["device"]["prng_counter"] if name.startswith("stream") else r["prng_counter"]
        assert counter == ref["prng_counter"] > 0, name
    for b in ("golden", "host"):
        s = runs[f"stream-{b}"]
        assert s["hparams"]["period_samples"] == 512 and s["board_golden_mismatches"] == 0


def test_a_board_seeded_with_a_segment_key_continues_the_run(setup):
    """What resume relies on: after boundary k the training state is the weights + bitwidths
    and the PRNG at (segment_seed(seed, k), 0), so a fresh board given RESET, SET_HPARAMS with
    that key and the weights continues bit-exactly (through the next boundary's decisions)."""
    prep = prepare(StreamConfig(model=str(setup / "model.rct"), data=f"npz:{setup / 'digits.npz'}",
                                out=str(setup / "unused"), seed=SEED, progress=False),
                   str(setup / "fw"))
    x, y = np.concatenate([prep.x_train] * 2)[:1536], np.concatenate([prep.y_train] * 2)[:1536]
    whole, fresh = (GoldenDevice(prep.dm.art, prep.dm.cfg) for _ in range(2))
    a, b = Link(whole, "whole"), Link(fresh, "fresh")
    a.hello(prep.dm.hash)
    a.reset(SEED)
    a.train(x[:1024], y[:1024])
    assert whole.engine.rng.state() == (segment_seed(SEED, 2), 0)
    b.hello(prep.dm.hash)
    b.reset(SEED)
    b.set_hparams(replace(b.hparams(), seed=segment_seed(SEED, 2)))
    b.weights_write(a.weights_read())
    a.train(x[1024:], y[1024:])
    b.train(x[1024:], y[1024:])
    assert a.weights_read() == b.weights_read()
    assert whole.engine.rng.state() == fresh.engine.rng.state() == (segment_seed(SEED, 3), 0)
    sa, sb = a.stats(), b.stats()
    assert (sa.bits, sa.exp, sa.prng_counter) == (sb.bits, sb.exp, sb.prng_counter)
