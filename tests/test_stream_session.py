"""The stream session (rct_tflm.stream): it trains exactly what the golden engine trains on
the documented sample order (the engine's controller re-keys the PRNG at each boundary, the
stream sends no per-boundary SET_HPARAMS); a run whose link dies resumes from its
checkpoint to the same weights as an uninterrupted run; `rct-tflm build` + `rct-tflm stream`
end to end on the host build; and every bad input exits 2 with a one-line message."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import require_tools, run_cli
from rct_tflm.artefact import ModelArtefact
from rct_tflm.cli import main
from rct_tflm.data import epoch_order
from rct_tflm.errors import UserError
from rct_tflm.fixedpoint import ControllerConfig
from rct_tflm.fixedpoint.config import EngineConfig, quantise_inputs
from rct_tflm.program import Engine
from rct_tflm.link import HostFirmware, Link, LinkError, open_port
from rct_tflm.link.faults import FaultyPort
from rct_tflm.stream import GoldenDevice, Schedule, StreamConfig, prepare, run_stream, segment_seed

CFG = EngineConfig(lr_shift=5, controller=ControllerConfig(period_samples=512,  # the build's defaults
                                                          gavg_ref_samples=32, t_max=2.0))


@pytest.fixture(scope="module")
def built(tmp_path_factory, digits_mlp_artefact) -> Path:
    """model.rct + the host build of its firmware (period 512), via `rct-tflm build`."""
    require_tools("gcc")
    d = tmp_path_factory.mktemp("stream")
    digits_mlp_artefact.save(d / "model.rct")
    main(["build", "--board", "host", "--model", str(d / "model.rct"), "--out", str(d / "fw"),
          "--period-samples", "512"])
    return d


def cfg_for(built: Path, out: Path, **kw) -> StreamConfig:
    return StreamConfig(**{"model": str(built / "model.rct"), "data": "digits", "out": str(out),
                           "seed": 5, "progress": False, **kw})


def golden_stream(built: Path, out: Path, art: ModelArtefact, **kw) -> dict:
    prep = prepare(cfg_for(built, out, **kw), str(built / "fw"))
    return run_stream(prep, Link(GoldenDevice(prep.dm.art, prep.dm.cfg), "golden"), "golden")


def test_the_stream_trains_what_the_golden_engine_trains(built, tmp_path, digits,
                                                         digits_mlp_artefact):
    """Same order (epoch_order), same steps, the engine left alone (its controller re-keys
    the PRNG per period): same weights, same decisions at the same samples."""
    r = golden_stream(built, tmp_path / "s", digits_mlp_artefact, epochs=2, seed=5,
                      lr_shift=4, checkpoint_every=0)
    x = quantise_inputs(digits.x_train, -7).reshape(len(digits.x_train), -1)
    eng = Engine.from_artefact(digits_mlp_artefact, replace(CFG, lr_shift=4, seed=5))
    n = len(x)
    order = np.concatenate([epoch_order(n, 5, 0), epoch_order(n, 5, 1)])
    for i in order:
        eng.train_step(x[i:i + 1], digits.y_train[i:i + 1])
    assert eng.rng.key == segment_seed(5, 2 * n // 512)
    assert r["device"]["prng_counter"] == eng.rng.counter
    assert r["samples"] == 2 * n
    assert r["weights_sha256"] == eng.weights_sha256()
    assert r["bitwidth_history"] == eng.bitwidth_history()
    assert len(r["bitwidth_history"]["changes"]) >= 2
    acc = float(np.mean(eng.predict(quantise_inputs(digits.x_test, -7).reshape(
        len(digits.x_test), -1)) == digits.y_test))
    assert r["test_accuracy_after"] == r["golden_test_accuracy_after"] == acc
    assert r["board_golden_mismatches"] == 0
    assert r["hparams"]["lr_shift"] == 4 and r["hparams"]["period_samples"] == 512


def test_schedule_frames_never_cross_a_period_and_keep_micro_batches_whole():
    s = Schedule(n_train=1000, epochs=3, seed=0, batch=4, period=512, per_frame=4)
    frames = s.frames()
    assert s.total == 3000 and frames[0] == (0, 4) and frames[-1][1] == 3000
    assert all(b - a <= 4 and (b - a) % 4 == 0 for a, b in frames)
    assert all(a // 512 == (b - 1) // 512 for a, b in frames)  # inside one period
    s7 = Schedule(n_train=1438, epochs=1, seed=0, batch=1, period=512, per_frame=7)
    assert (511, 512) in s7.frames() and (1023, 1024) in s7.frames()
    assert s7.frames(1024)[0] == (1024, 1031)
    assert s7.checkpoint_stride(2048) == 2048 and s7.checkpoint_stride(600) == 1024
    with pytest.raises(UserError, match="--batch-size 3 must divide the decision period"):
        Schedule(n_train=10, epochs=1, seed=0, batch=3, period=512, per_frame=6)


def test_a_run_whose_link_dies_resumes_from_its_checkpoint_to_the_same_weights(
        built, tmp_path, digits_mlp_artefact):
    ref = golden_stream(built, tmp_path / "ref", digits_mlp_artefact, epochs=2,
                        checkpoint_every=512)
    out = tmp_path / "run"
    cfg = cfg_for(built, out, epochs=2, checkpoint_every=512)
    prep = prepare(cfg, str(built / "fw"))
    with HostFirmware(built / "fw") as host:  # the link dies ~60% into the run
        port = FaultyPort(open_port(host.url, timeout=0.01), die_after_tx=140_000)
        with pytest.raises(LinkError, match=r"broke.*resume with --resume .*checkpoint.json"):
            run_stream(prep, Link(port, host.url, timeout=0.5), "host")
    ck = json.loads((out / "checkpoint.json").read_text())
    assert 0 < ck["samples_done"] < ref["samples"] and ck["samples_done"] % 512 == 0
    assert not (out / "stream.json").exists()  # nothing claims the run finished
    with pytest.raises(UserError, match="unfinished stream; resume it with --resume"):
        prepare(cfg, str(built / "fw"))
    # A new board process: everything it needs comes from the checkpoint.
    cfg = replace(cfg, resume=str(out / "checkpoint.json"))
    with HostFirmware(built / "fw") as host:
        r = run_stream(prepare(cfg, str(built / "fw")), Link(open_port(host.url), host.url),
                       "host")
    assert r["resumed_from"] == ck["samples_done"]
    assert r["weights_sha256"] == ref["weights_sha256"]
    assert r["bitwidth_history"] == ref["bitwidth_history"]
    assert r["test_accuracy_before"] == ref["test_accuracy_before"]
    assert r["test_accuracy_after"] == ref["test_accuracy_after"]
    assert json.loads((out / "stream.json").read_text())["weights_sha256"] == r["weights_sha256"]


def test_a_checkpoint_of_another_stream_is_refused(built, tmp_path, digits_mlp_artefact):
    golden_stream(built, tmp_path / "a", digits_mlp_artefact, checkpoint_every=512)
    ck = tmp_path / "a" / "checkpoint.json"
    with pytest.raises(UserError, match="made with seed=5, this run has seed=6"):
        golden_stream(built, tmp_path / "b", digits_mlp_artefact, seed=6, resume=str(ck))
    bad = tmp_path / "bad.json"
    d = json.loads(ck.read_text())
    d["weights_b64"] = d["weights_b64"][:-8] + "AAAAAAA="
    bad.write_text(json.dumps(d))
    with pytest.raises(UserError, match="do not match their checksum"):
        prepare(cfg_for(built, tmp_path / "c", resume=str(bad)), str(built / "fw"))
    with pytest.raises(UserError, match="is not a stream checkpoint"):
        prepare(cfg_for(built, tmp_path / "c", resume=str(built / "fw" / "build.json")),
                str(built / "fw"))


def test_build_and_stream_cli_on_the_host_build(capsys, built, tmp_path):
    out = tmp_path / "out"
    code, so, err = run_cli(capsys, "stream", "--target", "host", "--firmware",
                            str(built / "fw"), "--model", str(built / "model.rct"), "--out",
                            str(out), "--seed", "2", "--no-progress")
    assert code == 0, err
    assert "test accuracy" in so and "weights_sha256" in so and "overhead" in so
    s = json.loads((out / "stream.json").read_text())
    for k in ("test_accuracy_before", "test_accuracy_after", "weights_sha256",
              "bitwidth_history", "samples_per_s", "wire_bytes", "payload_bytes"):
        assert k in s
    assert 0 < s["payload_bytes"] < s["wire_bytes"]
    assert 0 < s["overhead_fraction"] <= 0.10  # 64-byte samples: the target
    for f in s["files"]:
        assert (out / f).stat().st_size > 0
    trained = ModelArtefact.load(out / "model.rct")
    from rct_tflm.fixedpoint.state import weights_sha256
    names = [n for n in Engine.from_artefact(trained).program.trainable]
    assert weights_sha256([trained.tensors[n] for n in names]) == s["weights_sha256"]
    assert trained.training["stream"]["weights_sha256"] == s["weights_sha256"]
    c = s["accuracy_curve"]  # one epoch: the start and the end
    assert c["samples"] == [0, s["samples"]]
    assert c["test_accuracy"] == [s["test_accuracy_before"], s["test_accuracy_after"]]
    n_test = sum(map(sum, s["confusion"]))
    assert sum(s["confusion"][k][k] for k in range(len(s["confusion"]))) == round(
        s["test_accuracy_after"] * n_test)
    # evaluating on the board along the way leaves the training alone
    code, _, err = run_cli(capsys, "stream", "--target", "host", "--firmware",
                           str(built / "fw"), "--model", str(built / "model.rct"), "--out",
                           str(tmp_path / "ev"), "--seed", "2", "--eval-every", "300",
                           "--no-progress")
    assert code == 0, err
    e = json.loads((tmp_path / "ev" / "stream.json").read_text())
    assert e["weights_sha256"] == s["weights_sha256"]
    at, f = e["accuracy_curve"]["samples"], e["samples_per_frame"]  # at the frame reaching it
    assert at[0] == 0 and 300 <= at[1] < 300 + f and 600 <= at[2] < 600 + f
    assert e["accuracy_curve"]["samples"][-1] == s["samples"]


@pytest.fixture(scope="module")
def other_split(built, tmp_path_factory, digits_mlp_artefact) -> Path:
    """The same network with only the last layer trainable: another model hash."""
    d = tmp_path_factory.mktemp("other")
    replace(digits_mlp_artefact, trainable={"dense1/kernel", "dense1/bias"}).save(d / "m.rct")
    return d / "m.rct"


def test_a_board_running_another_model_is_refused(capsys, built, tmp_path, other_split):
    with HostFirmware(built / "fw") as host:
        code, _, err = run_cli(capsys, "stream", "--port", host.url, "--model", str(other_split),
                               "--out", str(tmp_path / "o"), "--no-progress")
    assert code == 2 and "error: model mismatch: the board runs model" in err
    assert len(err.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def other_model(tmp_path_factory, digits) -> Path:
    """Another network (16 hidden units): its firmware manifest cannot match."""
    from conftest import float_digits_mlp
    from rct_tflm.emulator.floatref import quantise_artefact
    p = tmp_path_factory.mktemp("other16") / "m16.rct"
    quantise_artefact(float_digits_mlp(digits, hidden=16, epochs=1)).save(p)
    return p


@pytest.mark.parametrize("case", ["both", "neither", "real_board", "no_firmware", "bad_port",
                                  "silent_port", "fw_other_model", "batch", "period", "data",
                                  "epochs", "missing_model"])
def test_stream_bad_input_exits_2_with_the_fix(capsys, built, tmp_path, other_model, case):
    m, fw = str(built / "model.rct"), str(built / "fw")
    base = ["stream", "--model", m, "--out", str(tmp_path / "o"), "--no-progress"]
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(20)))
    args, msg = {
        "both": (["--port", "loop://", "--target", "host", "--firmware", fw],
                 "either --port URL"),
        "neither": ([], "either --port URL"),
        "real_board": (["--target", "nucleo-f411re", "--firmware", fw],
                       "Invalid value for '--target'"),
        "no_firmware": (["--target", "host"], "needs --firmware DIR"),
        "bad_port": (["--port", "/dev/ttyNOSUCH9"], "cannot open serial port"),
        "silent_port": (["--port", "loop://", "--timeout", "0.05"], "no answer from the board"),
        "fw_other_model": (["--target", "host", "--firmware", fw, "--model", str(other_model)],
                           "generated for model"),
        "batch": (["--target", "host", "--firmware", fw, "--batch-size", "2"],
                  "exceeds the firmware's micro-batch"),
        "period": (["--target", "host", "--firmware", fw, "--period-samples", "100"],
                   "--period-samples must be >= 512"),
        "data": (["--target", "host", "--firmware", fw, "--data", f"csv:{csv}"],
                 "takes inputs of shape (64,) (64 values), data set "),
        "epochs": (["--target", "host", "--firmware", fw, "--epochs", "0"], "--epochs must be"),
        "missing_model": (["--target", "host", "--firmware", fw, "--model", "nope.rct"],
                          "does not exist"),
    }[case]
    code, _, err = run_cli(capsys, *base, *args)
    assert code == 2 and msg in err, err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "stream.json").exists()


def test_micro_batches_train_the_same_on_the_host_build_and_the_golden_device(
        tmp_path, digits_mlp_artefact):
    require_tools("gcc")
    digits_mlp_artefact.save(tmp_path / "model.rct")
    main(["build", "--board", "host", "--model", str(tmp_path / "model.rct"), "--out",
          str(tmp_path / "fw"), "--batch-size", "4", "--period-samples", "512"])
    cfg = cfg_for(tmp_path, tmp_path / "h", batch=4, checkpoint_every=0)
    prep = prepare(cfg, str(tmp_path / "fw"))
    with HostFirmware(tmp_path / "fw") as host:
        r = run_stream(prep, Link(open_port(host.url), host.url), "host")
    g = golden_stream(tmp_path, tmp_path / "g", digits_mlp_artefact, batch=4,
                      checkpoint_every=0)
    assert r["samples_per_frame"] == 4 and r["samples"] == 1436  # 1,438 cut to whole batches
    assert r["weights_sha256"] == g["weights_sha256"]
    assert r["bitwidth_history"] == g["bitwidth_history"]
    assert r["device"] == g["device"]
