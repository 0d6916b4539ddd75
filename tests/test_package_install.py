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
