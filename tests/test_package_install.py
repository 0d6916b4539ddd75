"""`pip install .` (not only editable) ships the package with its templates/ and firmware/ trees."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_regular_install_ships_data_trees(tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(REPO)], check=True, cwd=tmp_path)
    pkg = target / "rct_tflm"
    for tree in ("templates", "firmware"):
        src_files = {p.relative_to(REPO / tree) for p in (REPO / tree).rglob("*") if p.is_file()
                     and "__pycache__" not in p.parts}
        shipped = {p.relative_to(pkg / tree) for p in (pkg / tree).rglob("*") if p.is_file()}
        assert src_files <= shipped, f"{tree}: not shipped: {sorted(src_files - shipped)[:5]}"
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", "from rct_tflm.resources import templates_dir, "
                          "firmware_dir; print(templates_dir()); print(firmware_dir())"],
                         env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert all(line.startswith(str(target)) for line in out.stdout.split())


def test_cli_help_and_unknown_command() -> None:
    ok = subprocess.run([sys.executable, "-m", "rct_tflm", "--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and "Usage" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "rct_tflm", "no-such-command"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "no-such-command" in bad.stderr


def test_without_tensorflow_train_says_what_to_install_in_one_line(tmp_path: Path) -> None:
    """An install without the `train` extra: `train` ends with one line naming the extra (exit
    2, no traceback); commands that need no TensorFlow still run."""
    block = ("import sys; sys.modules['tensorflow'] = None; from rct_tflm.cli import main; "
             "main(sys.argv[1:])")
    r = subprocess.run([sys.executable, "-c", block, "train", "--out", str(tmp_path / "t"),
                        "--epochs", "1"], capture_output=True, text=True, cwd=tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr[-2000:]
    assert "training needs tensorflow, which is not installed" in lines[0]
    assert "pip install 'rct_tflm[train]'" in lines[0]
    ok = subprocess.run([sys.executable, "-c", block, "boards"], capture_output=True, text=True,
                        cwd=tmp_path)
    assert ok.returncode == 0 and "qemu-stm32f405" in ok.stdout, ok.stderr[-2000:]
    assert not (tmp_path / "t").exists()
