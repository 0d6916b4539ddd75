"""Shared fixtures: data sets, toolchain availability and small numpy-only model artefacts.

Tests that need `../shared/datasets` skip with a reason naming the missing folder (CI has it);
everything else runs everywhere `make setup` has run.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (CI stays reproducible: a red run can be
# re-run and debugged); `HYPOTHESIS_PROFILE=explore` draws fresh random examples, 5x as many.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=500, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = (ROOT / ".." / "shared" / "datasets").resolve()


def shared_dataset(rel: str) -> Path:
    """Path of a data set under ../shared/datasets, or skip (with the reason) when absent."""
    p = SHARED_DATASETS / rel
    if not p.exists():
        pytest.skip(f"needs {p} (../shared/datasets beside the checkout, as in CI)")
    return p


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    return shared_dataset("mnist10k")


@pytest.fixture(scope="session")
def sms_path() -> Path:
    return shared_dataset("sms_spam/SMSSpamCollection")


def require_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `make setup` (installs gcc-arm-none-eabi "
                    f"and qemu-system-arm)")


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """`rct-tflm ARGS` in-process: (exit code, stdout, stderr)."""
    from rct_tflm.cli import main
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def emulate_golden_and_host(capsys, out: Path, *args: str) -> tuple[dict, dict]:
    """`rct-tflm emulate ARGS` on --target golden and on host (into out/golden, out/host); the
    two emulate.json records, for tests that compare them integer for integer."""
    import json
    require_tools("gcc")
    recs = []
    for target in ("golden", "host"):
        code, _, err = run_cli(capsys, "emulate", "--target", target, *args,
                               "--out", str(out / target), "--no-progress")
        assert code == 0, err
        recs.append(json.loads((out / target / "emulate.json").read_text()))
    return recs[0], recs[1]


@pytest.fixture(scope="session")
def digits():
    from rct_tflm.data import load_dataset
    return load_dataset("digits", 0)


def float_digits_mlp(digits, hidden: int = 32, epochs: int = 2, seed: int = 0):
    """A 64-hidden-10 MLP trained briefly with float SGD (numpy), act_exp calibrated; no TF."""
    from rct_tflm.emulator.floatref import calibrate_act_exps, mlp_artefact, sgd_mlp
    art = mlp_artefact([64, hidden, 10], seed=seed, input_exp=int(digits.preprocess["input_exp"]))
    x = digits.x_train.reshape(len(digits.x_train), -1)
    rng = np.random.default_rng(seed)
    w = None
    for _ in range(epochs):
        w = sgd_mlp(art, x, digits.y_train, 0.05, rng.permutation(len(x)), w)
    art.tensors.update(w)
    calibrate_act_exps(art, x)
    art.preprocess = dict(digits.preprocess)
    return art


@pytest.fixture(scope="session")
def digits_mlp_artefact(digits):
    """The digits 64-32-10 MLP as an 8-bit integer artefact (what `rct-tflm train` writes)."""
    from rct_tflm.emulator.floatref import quantise_artefact
    return quantise_artefact(float_digits_mlp(digits))


def stream_golden_host_board(capsys, model: str, data: str, out: Path, seed: int,
                             board: str = "qemu-mps2-an500") -> dict[str, dict]:
    """`model` built for the host and for `board`, then `data` streamed to golden, host and the
    board in QEMU: their stream.json records, by target."""
    import json
    for b in ("host", board):
        code, _, err = run_cli(capsys, "build", "--board", b, "--model", model, "--out",
                               str(out / f"fw-{b}"))
        assert code == 0, err
    res = {}
    for b in ("golden", "host", board):
        fw = out / ("fw-host" if b == "golden" else f"fw-{b}")  # golden mirrors the host build
        code, _, err = run_cli(capsys, "stream", "--target", b, "--firmware", str(fw), "--model",
                               model, "--data", data, "--seed", str(seed), "--checkpoint-every",
                               "0", "--out", str(out / f"s-{b}"), "--no-progress")
        assert code == 0, err
        res[b] = json.loads((out / f"s-{b}" / "stream.json").read_text())
    return res

