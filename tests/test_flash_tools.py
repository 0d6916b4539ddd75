"""`rct-tflm flash`: there is no hardware here, so this pins the exact command each tool gets
and every error path (QEMU board, missing image, tool missing, no probe, unknown target,
other failures), with stand-in tools on PATH."""
from __future__ import annotations

import json
import os
import shlex
import stat
import sys
import types
from pathlib import Path

import pytest

from conftest import run_cli
from rct_tflm.boards import BOARDS
from rct_tflm.errors import UserError
from rct_tflm.flash import flash, flash_command

REAL = [n for n, b in BOARDS.items() if not b.is_qemu]


@pytest.fixture
def fw(tmp_path) -> Path:
    d = tmp_path / "fw"
    d.mkdir()
    for ext in ("elf", "bin", "hex"):
        (d / f"firmware.{ext}").write_bytes(b"\x00")
    return d


@pytest.fixture
def fake_path(tmp_path, monkeypatch) -> Path:
    """A PATH holding only stand-in tools (plus what a shell script needs)."""
    d = tmp_path / "bin"
    d.mkdir()
    monkeypatch.setenv("PATH", f"{d}:/usr/bin:/bin")
    return d


def fake_tool(bindir: Path, name: str, output: str, code: int) -> Path:
    log = bindir / f"{name}.args"
    p = bindir / name
    p.write_text(f"#!/bin/sh\necho \"$@\" > {log}\necho {shlex.quote(output)}\nexit {code}\n")
    p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return log


@pytest.mark.parametrize("name", REAL)
def test_each_tool_gets_the_exact_command(fw, name):
    b = BOARDS[name]
    assert flash_command(b, fw, "pyocd") == ["pyocd", "flash", "-t", b.pyocd_target,
                                             str(fw / "firmware.hex")]
    assert flash_command(b, fw, "st-flash") == ["st-flash", "--reset", "write",
                                                str(fw / "firmware.bin"), "0x08000000"]
    assert flash_command(b, fw / "firmware.elf", "openocd") == [
        "openocd", "-f", f"board/{b.openocd_config}", "-c",
        f"program {fw / 'firmware.elf'} verify reset exit"]


def test_dry_run_prints_the_command_and_defaults_to_pyocd(capsys, fw, fake_path):
    code, out, _ = run_cli(capsys, "flash", "--board", "nucleo-f411re", str(fw), "--dry-run")
    assert code == 0
    assert out.strip() == f"pyocd flash -t stm32f411retx {fw / 'firmware.hex'}"


def test_the_first_installed_tool_is_used(capsys, fw, fake_path):
    log = fake_tool(fake_path, "openocd", "** Programming Finished **", 0)
    code, out, err = run_cli(capsys, "flash", "--board", "nucleo-l476rg", str(fw))
    assert code == 0, err
    assert "flashed nucleo-l476rg" in out
    assert log.read_text().split() == ["-f", "board/st_nucleo_l4.cfg", "-c", "program",
                                       str(fw / "firmware.elf"), "verify", "reset", "exit"]


@pytest.mark.parametrize("tool,output,msg", [
    ("pyocd", "0000500 C No connected debug probes", "no debug probe found for nucleo-f411re"),
    ("st-flash", "Couldn't find any ST-Link devices", "no debug probe found"),
    ("openocd", "Error: open failed", "no debug probe found"),
    ("pyocd", "Target type 'stm32f411retx' not recognized.", "pyocd pack install stm32f411re"),
    ("st-flash", "Flash written and verified! jolly good! (not really: bad crc)",
     "flashing failed"),
])
def test_tool_failures_become_one_clear_line(capsys, fw, fake_path, tool, output, msg):
    fake_tool(fake_path, tool, output, 1)
    code, _, err = run_cli(capsys, "flash", "--board", "nucleo-f411re", str(fw), "--tool", tool)
    assert code == 2 and msg in err, err
    assert err.startswith("error: ")


def test_errors_before_anything_runs(fw, fake_path, tmp_path):
    with pytest.raises(UserError, match="QEMU board and is not flashed.*rct-tflm emulate"):
        flash("qemu-stm32f405", fw)
    with pytest.raises(UserError, match="unknown board 'nucleo-nope'"):
        flash("nucleo-nope", fw)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="empty/firmware.hex' does not exist; build it"):
        flash("nucleo-f411re", tmp_path / "empty", dry_run=True)
    with pytest.raises(UserError, match="flash tool 'st-flash' is not installed.*stlink-tools"):
        flash("nucleo-f411re", fw, tool="st-flash")
    with pytest.raises(UserError, match="no flashing tool found: install pyOCD"):
        flash("nucleo-f411re", fw)
    with pytest.raises(UserError, match="unknown flash tool 'jlink'"):
        flash("nucleo-f411re", fw, tool="jlink")


def test_an_image_file_picks_its_siblings_by_tool(fw):
    b = BOARDS["nucleo-f446re"]
    assert flash_command(b, fw / "firmware.elf", "pyocd")[-1] == str(fw / "firmware.hex")
    assert flash_command(b, fw / "firmware.hex", "st-flash")[3] == str(fw / "firmware.bin")
    assert os.path.basename(flash_command(b, fw, "openocd")[-1].split()[1]) == "firmware.elf"


def _built(fw: Path, board: str) -> Path:
    (fw / "build.json").write_text(json.dumps({"board": board, "elf": "firmware.elf"}))
    return fw


def test_the_board_comes_from_build_json_and_a_mismatch_is_refused(capsys, fw, fake_path):
    _built(fw, "nucleo-f446re")
    code, out, _ = run_cli(capsys, "flash", str(fw), "--dry-run")
    assert code == 0 and out.split()[:4] == ["pyocd", "flash", "-t", "stm32f446retx"]
    code, out, _ = run_cli(capsys, "flash", str(fw / "firmware.hex"), "--dry-run")
    assert code == 0 and "stm32f446retx" in out  # an image inside the build folder too
    code, _, err = run_cli(capsys, "flash", "--board", "nucleo-l476rg", str(fw), "--dry-run")
    assert code == 2
    assert "built for nucleo-f446re, not nucleo-l476rg" in err and len(err.splitlines()) == 1
    (fw / "build.json").unlink()
    code, _, err = run_cli(capsys, "flash", str(fw), "--dry-run")
    assert code == 2 and "give --board" in err


def test_probe_selection_reaches_every_tool(fw):
    b = BOARDS["nucleo-f411re"]
    assert flash_command(b, fw, "pyocd", "066DFF")[4:6] == ["-u", "066DFF"]
    assert flash_command(b, fw, "st-flash", "066DFF")[1:3] == ["--serial", "066DFF"]
    assert flash_command(b, fw, "openocd", "066DFF")[3:5] == ["-c", "adapter serial 066DFF"]


class _FakeSession:
    def __init__(self, log):
        self.log = log
        self.board = types.SimpleNamespace(target=types.SimpleNamespace(
            reset=lambda: log.append("reset")))

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.log.append("closed")


def _fake_pyocd(monkeypatch, session_factory, program_error=None):
    """pyOCD's API as rct_tflm uses it (helpers.ConnectHelper, file_programmer.FileProgrammer)."""
    log: list = []

    class ConnectHelper:
        @staticmethod
        def session_with_chosen_probe(**kw):
            log.append(("connect", kw))
            return session_factory(log)

    class FileProgrammer:
        def __init__(self, session):
            pass

        def program(self, path):
            if program_error:
                raise program_error
            log.append(("program", path))

    mods = {"pyocd": types.ModuleType("pyocd"), "pyocd.core": types.ModuleType("pyocd.core"),
            "pyocd.core.helpers": types.ModuleType("pyocd.core.helpers"),
            "pyocd.flash": types.ModuleType("pyocd.flash"),
            "pyocd.flash.file_programmer": types.ModuleType("pyocd.flash.file_programmer")}
    mods["pyocd.core.helpers"].ConnectHelper = ConnectHelper
    mods["pyocd.flash.file_programmer"].FileProgrammer = FileProgrammer
    for name, m in mods.items():
        monkeypatch.setitem(sys.modules, name, m)
    monkeypatch.setattr("rct_tflm.flash.pyocd_api_available", lambda: True)
    return log


def test_pyocd_python_api_programs_the_chosen_probe(monkeypatch, fw, fake_path):
    log = _fake_pyocd(monkeypatch, _FakeSession)
    flash("nucleo-f411re", fw, probe="066DFF")
    connect = log[0][1]
    assert connect["unique_id"] == "066DFF" and connect["target_override"] == "stm32f411retx"
    assert log[1:] == [("program", str(fw / "firmware.hex")), "reset", "closed"]


@pytest.mark.parametrize("factory,error,msg", [
    (lambda log: None, None, "no debug probe found for nucleo-f411re"),
    (_FakeSession, RuntimeError("Target type 'stm32f411retx' not recognized"),
     "pyocd pack install stm32f411re"),
    (_FakeSession, RuntimeError("flash algo failed"), "flashing failed"),
])
def test_pyocd_api_failures_are_one_clear_line(monkeypatch, fw, fake_path, factory, error, msg):
    _fake_pyocd(monkeypatch, factory, error)
    with pytest.raises(UserError, match=msg):
        flash("nucleo-f411re", fw)
