"""Start-up cost: the numeric contract, artefact, energy model, data loaders and the CLI's help
and argument checks never import TensorFlow (~3 s); only training does."""
from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = ("import sys\n{body}\n"
         "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
         "('tensorflow', 'tf_keras', 'keras', 'tensorflow_model_optimization'))\n"
         "print('HEAVY', [m for m in bad if '.' not in m])\n")


def _heavy_modules(body: str) -> str:
    p = subprocess.run([sys.executable, "-c", PROBE.format(body=body)], capture_output=True,
                       text=True, timeout=120)
    line = [l for l in p.stdout.splitlines() if l.startswith("HEAVY")]
    assert line, p.stdout + p.stderr
    return line[0]


LIGHT = ["rct_tflm.fixedpoint", "rct_tflm.artefact", "rct_tflm.energy", "rct_tflm.data",
         "rct_tflm.trainer.models", "rct_tflm.trainer", "rct_tflm.trainer.runner", "rct_tflm.trainer.keras_import",
         "rct_tflm.report.compare", "rct_tflm.report.train_plots", "rct_tflm.cli"]


def test_imports_do_not_load_tensorflow():
    assert _heavy_modules("\n".join(f"import {m}" for m in LIGHT)) == "HEAVY []"


def test_cli_help_and_input_checks_do_not_load_tensorflow():
    calls = [["--help"], ["train", "--help"], ["compare", "--help"],
             ["train", "--data", "cifar", "--out", "/nonexistent/x"],
             ["train", "--method", "sgd", "--out", "/nonexistent/x"],
             ["compare", "--model", "resnet", "--out", "/nonexistent/x"]]
    body = ("from rct_tflm.cli import main\n"
            f"for argv in {calls!r}:\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass")
    assert _heavy_modules(body) == "HEAVY []"


def test_the_probe_sees_tensorflow_when_it_is_imported():
    assert "'tensorflow'" in _heavy_modules("import rct_tflm.trainer.trainer")


@pytest.mark.parametrize("blocked", ["tensorflow", "tf_keras"])
def test_training_without_tensorflow_says_what_to_install_in_one_line(tmp_path, blocked):
    code = (f"import sys\nsys.modules[{blocked!r}] = None\n"
            "from rct_tflm.cli import main\n"
            f"main(['train', '--data', 'digits', '--epochs', '1', '--out', {str(tmp_path / 'run')!r}])")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert p.returncode != 0 and len(lines) == 1, p.stderr
    assert blocked in lines[0] and "pip install" in lines[0] and "rct_tflm[train]" in lines[0]
    assert not (tmp_path / "run").exists()
