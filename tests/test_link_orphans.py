"""Board processes end with their owner: SIGTERM or SIGKILL of `rct-tflm stream`,
`rct-tflm emulate --target` or `rct-tflm demo` takes the host build (and QEMU) down with it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, require_tools


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, argv[0]) of the live (not zombie) children of `pid`."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            argv0 = (d / "cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append((int(d.name), argv0))
    return out


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill_owner_and_check_board_dies(argv: list[str], board_exe: str, sig: int,
                                    start_s: float = 120) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    board = None
    cli = subprocess.Popen([sys.executable, "-m", "rct_tflm", *argv], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + start_s
        while board is None and time.monotonic() < deadline:
            assert cli.poll() is None, cli.stderr.read().decode()
            board = next((p for p, a in children(cli.pid) if a.endswith(board_exe)), None)
            time.sleep(0.05)
        assert board is not None, f"{board_exe} never started"
        time.sleep(0.3)  # let it get going (link open, training)
        os.kill(cli.pid, sig)
        cli.wait(timeout=10)
        deadline = time.monotonic() + 5
        while alive(board) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(board), f"{board_exe} (pid {board}) outlived its owner ({sig!r})"
        return cli.returncode
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
        cli.stderr.close()
        if board is not None and alive(board):  # a failed test leaves no orphan behind
            os.kill(board, signal.SIGKILL)


@pytest.fixture(scope="module")
def host_fw(tmp_path_factory, digits_mlp_artefact) -> Path:
    require_tools("gcc")
    from rct_tflm.cli import main
    d = tmp_path_factory.mktemp("orphans")
    digits_mlp_artefact.save(d / "model.rct")
    main(["build", "--board", "host", "--model", str(d / "model.rct"), "--out", str(d / "fw")])
    return d


def stream_argv(d: Path, board: str, fw: Path, out: Path) -> list[str]:
    return ["stream", "--target", board, "--firmware", str(fw), "--model", str(d / "model.rct"),
            "--epochs", "500", "--checkpoint-every", "0", "--no-progress", "--out", str(out)]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL],
                         ids=["SIGTERM", "SIGHUP", "SIGKILL"])
def test_stream_host_board_dies_with_the_cli(host_fw, tmp_path, sig):
    code = kill_owner_and_check_board_dies(
        stream_argv(host_fw, "host", host_fw / "fw", tmp_path / "o"), "/firmware", sig)
    if sig != signal.SIGKILL:  # a clean unwind (exit 128 + signal): no half-written --out
        assert code == 128 + sig
        assert not (tmp_path / "o" / "stream.json").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_emulate_host_board_dies_with_the_cli(host_fw, sig):
    kill_owner_and_check_board_dies(["emulate", "--target", "host", str(host_fw / "fw")],
                                    "/firmware", sig)


@pytest.mark.qemu
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("cmd", ["stream", "emulate"])
def test_qemu_dies_with_the_cli(host_fw, tmp_path, cmd, sig):
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    from rct_tflm.cli import main
    fw = host_fw / "qemu-fw"
    if not fw.exists():
        main(["build", "--board", "qemu-stm32f405", "--model", str(host_fw / "model.rct"),
              "--out", str(fw)])
    argv = (stream_argv(host_fw, "qemu-stm32f405", fw, tmp_path / "o") if cmd == "stream"
            else ["emulate", "--target", "qemu-stm32f405", str(fw)])
    kill_owner_and_check_board_dies(argv, "qemu-system-arm", sig)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_spawn_board_child_dies_with_its_owner(sig):
    """The mechanism itself, on a child that would not notice its owner's death (the host
    build also exits on the pty's EOF; QEMU does not): `sleep` spawned by a Python owner."""
    code = ("from rct_tflm.link.transport import spawn_board; import time; "
            "spawn_board(['sleep', '60']); time.sleep(60)")
    owner = subprocess.Popen([sys.executable, "-c", code],
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    child = None
    try:
        deadline = time.monotonic() + 20
        while child is None and time.monotonic() < deadline:
            child = next((p for p, a in children(owner.pid) if a == "sleep"), None)
            time.sleep(0.02)
        assert child is not None
        os.kill(owner.pid, sig)
        owner.wait(timeout=10)
        deadline = time.monotonic() + 5
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(child), f"sleep outlived its owner ({sig!r})"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        if child is not None and alive(child):
            os.kill(child, signal.SIGKILL)


@pytest.mark.qemu
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_demo_qemu_dies_with_the_cli(tmp_path, sig):
    """Stage 6 of `demo --quick` boots QEMU after about a minute of host stages."""
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    kill_owner_and_check_board_dies(["demo", "--quick", "--no-progress", "--out",
                                     str(tmp_path / "demo")], "qemu-system-arm", sig,
                                    start_s=600)
    if sig == signal.SIGTERM:  # unwound: --out absent, as before the run
        assert not (tmp_path / "demo").exists()
