"""The README stays true: its generated tables match their sources (bench/*.json, the kind
registry, the board database), and its "your model on your board" walk-through runs as written."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_tools

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_generated_tables_are_up_to_date():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "readme_tables.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def _walkthrough() -> tuple[str, list[list[str]]]:
    model = re.search(r"```python\n(# my_cnn\.keras.*?)```", README, re.S)
    cmds = re.search(r"<!-- walkthrough -->\n```sh\n(.*?)```", README, re.S)
    assert model and cmds, "README lost its walk-through blocks"
    lines = [l.split("  #")[0] for l in cmds.group(1).splitlines() if l.strip()]
    return model.group(1), [shlex.split(l) for l in lines]


@pytest.mark.slow
def test_the_walkthrough_runs_as_written(tmp_path):
    """A new user's tf_keras CNN, from the README alone: train -> partition -> generate ->
    build -> emulate -> stream on QEMU -> report; the board ends with the golden weights."""
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    script, cmds = _walkthrough()
    (tmp_path / "make_model.py").write_text(script)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run([sys.executable, "make_model.py"], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    for argv in cmds:
        assert argv[0] == "rct-tflm", argv
        r = subprocess.run(argv + ["--no-progress"] * (argv[1] in ("train", "emulate", "stream")),
                           cwd=tmp_path, env=env, capture_output=True, text=True)
        assert r.returncode == 0, (argv, r.stdout[-1500:], r.stderr[-1500:])
    report = (tmp_path / "runs" / "report" / "report.md").read_text()
    assert "bit-identical" in report  # golden and the QEMU board agree
    import json
    golden = json.loads((tmp_path / "runs" / "golden" / "emulate.json").read_text())
    assert golden["test_accuracy_after"] > golden["test_accuracy_before"]  # the README's claim
