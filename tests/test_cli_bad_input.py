"""Bad input is one line: `error: ...` naming the problem and its fix, exit code 2, no traceback
and nothing written — for --out paths that cannot be written, NaN/inf in float options, and
click's own usage errors (missing, unknown or malformed options)."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli

DIR_OUT = ["train", "compare", "partition", "generate", "emulate", "build", "stream", "fleet",
           "verify", "report", "demo", "profile", "anomaly"]
READ_ONLY = Path("/sys/rct-tflm-out")  # refuses new files even for root (tests run as root)


def one_line_error(code: int, out: str, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and "Usage:" not in err
    for n in needles:
        assert n in lines[0], err


@pytest.fixture
def a_file(tmp_path) -> Path:
    f = tmp_path / "a_file"
    f.write_text("not a folder")
    return f


@pytest.mark.parametrize("cmd", DIR_OUT)
def test_out_naming_an_existing_file(capsys, a_file, cmd):
    one_line_error(*run_cli(capsys, cmd, "--out", str(a_file)), "is not a folder",
                   "give a folder path")
    assert a_file.read_text() == "not a folder"


def test_every_out_is_a_folder_and_checked_here():
    """One meaning of --out: a folder, for every command that has one (all listed above)."""
    from rct_tflm.cli import cli
    with_out = sorted(n for n, c in cli.commands.items()
                      if any("--out" in p.opts for p in c.params))
    assert with_out == sorted(DIR_OUT)


@pytest.mark.parametrize("cmd", DIR_OUT)
def test_out_under_a_file_is_impossible(capsys, a_file, cmd):
    one_line_error(*run_cli(capsys, cmd, "--out", str(a_file / "sub" / "out")),
                   f"{a_file} is a file", "choose a path under a folder")
    assert a_file.read_text() == "not a folder"


@pytest.mark.parametrize("cmd", DIR_OUT)
def test_out_on_a_read_only_filesystem(capsys, cmd):
    if not Path("/sys").is_dir():
        pytest.skip("needs /sys (Linux)")
    one_line_error(*run_cli(capsys, cmd, "--out", str(READ_ONLY)), "is not writable",
                   "choose a writable path")
    assert not READ_ONLY.exists()


@pytest.mark.parametrize("cmd", DIR_OUT)
def test_out_in_an_unwritable_folder_monkeypatched(capsys, tmp_path, monkeypatch, cmd):
    """A chmod 0o555 folder as a non-root user would see it (root ignores the bits)."""
    import tempfile
    ro = tmp_path / "ro"
    ro.mkdir()
    real = tempfile.TemporaryFile

    def refuse(*a, dir=None, **kw):
        if dir is not None and Path(dir) == ro:
            raise PermissionError(13, "Permission denied")
        return real(*a, dir=dir, **kw)
    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    one_line_error(*run_cli(capsys, cmd, "--out", str(ro / "out")), "is not writable",
                   "Permission denied")
    assert list(ro.iterdir()) == []


@pytest.fixture
def model(tmp_path, digits_mlp_artefact) -> Path:
    p = tmp_path / "model.rct"
    digits_mlp_artefact.save(p)
    return p


@pytest.mark.parametrize("cmd", ["build", "generate", "partition", "stream"])
def test_a_write_refused_mid_run_is_still_one_line(capsys, monkeypatch, model, cmd):
    """The early check passed (e.g. the mount turned read-only): the OSError of the first
    write becomes one line naming the path."""
    import rct_tflm.cli.options as options
    monkeypatch.setattr(options, "check_out", lambda *a, **kw: None)
    args = {"build": ["--board", "host", "--model", str(model)],
            "generate": ["--model", str(model)],
            "partition": ["--model", str(model)],
            "stream": ["--target", "golden", "--model", str(model), "--no-progress"]}[cmd]
    one_line_error(*run_cli(capsys, cmd, *args, "--out", str(READ_ONLY)), str(READ_ONLY)[:4])
    assert not READ_ONLY.exists()


FLOAT_OPTS = [(c, o) for c in ["train", "compare", "generate", "emulate", "build", "profile"]
              for o in ["--t-min", "--t-max", "--sat-guard"]] + \
             [("train", "--lr"), ("compare", "--lr"), ("stream", "--timeout")]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("cmd,opt", FLOAT_OPTS)
def test_nan_and_inf_are_refused_in_every_float_option(capsys, cmd, opt, value):
    one_line_error(*run_cli(capsys, cmd, opt, value), f"'{opt}'", "not a finite number",
                   f"rct-tflm {cmd} --help")


@pytest.mark.parametrize("args,needle", [
    (["build"], "Missing option '--out'"),
    (["stream", "--out", "o"], "Missing option '--model'"),
    (["train", "--bogus"], "No such option"),
    (["build", "--kernels", "turbo"], "Invalid value for '--kernels'"),
    (["train", "--epochs", "many"], "Invalid value for '--epochs'"),
    (["stream", "--timeout", "soon"], "is not a number"),
    (["no-such-command"], "No such command"),
    (["boards", "extra-arg"], "unexpected extra argument"),
])
def test_click_usage_errors_are_one_house_line(capsys, args, needle):
    one_line_error(*run_cli(capsys, *args), needle, "--help`")
