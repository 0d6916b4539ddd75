"""Golden (numpy) and host (generated C under ASan + UBSan) train to the same integers: same
weights_sha256, same bitwidth history (with controller decisions inside the run), same PRNG
position and test accuracies — for the numpy MLP, the Keras-shaped MLP with a leading Flatten,
a CNN with conv, depthwise, max/avg-pool and ReLU6 trained in micro-batches of 4, and a
residual net (identity skip, strided projection, Add, global pooling: errors summed at the skip).

The sanitized shared library is loaded by ctypes in a child Python whose environment preloads
the ASan runtime (rct_tflm.emulator.targets.sanitizer_env); a control library with a planted
out-of-bounds write and a signed overflow shows that both sanitizers are live there."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_tools
from rct_tflm.emulator import zoo
from rct_tflm.emulator.run import EmulateConfig, emulate_run, prepare
from rct_tflm.emulator.targets import sanitizer_env
from rct_tflm.fixedpoint import ControllerConfig
from rct_tflm.fixedpoint.config import EngineConfig

# name, batch, steps, lr_shift, gavg_ref_samples. Period 512 samples: the MLPs (batch 1) decide
# at 512 and 1024, the CNN (4 x 500 samples) at 512, 1024 and 1536. Gavg per 32 samples (the
# engine's default) on two of them, the per-step mean (the host trainer's rule) on one.
JOBS = [("numpy_mlp", 1, 1100, 4, 32), ("keras_mlp", 1, 1100, 4, 0), ("tiny_cnn", 4, 500, 6, 32),
        ("resnet_tiny", 4, 300, 6, 32)]

DRIVER = r"""
import json, sys
from rct_tflm.emulator.run import EmulateConfig, emulate_run, prepare
from rct_tflm.emulator.targets import asan_loaded
from rct_tflm.fixedpoint import ControllerConfig
from rct_tflm.fixedpoint.config import EngineConfig
jobs = json.load(open(sys.argv[1]))
assert asan_loaded()
out = {}
for j in jobs:
    cfg = EmulateConfig(target="host", model=j["model"], data="digits", epochs=10, seed=j["seed"],
                        batch=j["batch"], max_samples=j["batch"] * j["steps"],
                        eval_every=j["batch"] * j["steps"] // 2,
                        engine=EngineConfig(lr_shift=j["lr_shift"],
                                            controller=ControllerConfig(
                                                period_samples=512,
                                                gavg_ref_samples=j["ref"])),
                        sanitize=True, build_dir=j["build_dir"])
    out[j["name"]] = emulate_run(prepare(cfg), None, progress=False)
json.dump(out, open(sys.argv[2], "w"))
"""


def config(target: str, model: str, batch: int, steps: int, lr_shift: int,
           ref: int) -> EmulateConfig:
    return EmulateConfig(target=target, model=model, data="digits", epochs=10, seed=7, batch=batch,
                         max_samples=batch * steps, eval_every=batch * steps // 2,
                         engine=EngineConfig(lr_shift=lr_shift,
                                             controller=ControllerConfig(period_samples=512,
                                                                         gavg_ref_samples=ref)))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, digits, digits_mlp_artefact):
    """Golden records (in process) and sanitized host records (one child process)."""
    require_tools("gcc")
    root = tmp_path_factory.mktemp("bitexact")
    arts = {"numpy_mlp": digits_mlp_artefact, "keras_mlp": zoo.build("mlp", digits, seed=1),
            "tiny_cnn": zoo.build("tiny_cnn", digits, seed=2),
            "resnet_tiny": zoo.build("resnet_tiny", digits, seed=3)}
    jobs, golden = [], {}
    for name, batch, steps, lr, ref in JOBS:
        path = root / f"{name}.rct"
        arts[name].save(path)
        cfg = config("golden", str(path), batch, steps, lr, ref)
        golden[name] = emulate_run(prepare(cfg), None, progress=False)
        jobs.append({"name": name, "model": str(path), "batch": batch, "steps": steps,
                     "lr_shift": lr, "ref": ref, "seed": 7, "build_dir": str(root / name)})
    (root / "jobs.json").write_text(json.dumps(jobs))
    r = subprocess.run([sys.executable, "-c", DRIVER, str(root / "jobs.json"),
                        str(root / "host.json")], env=sanitizer_env(), capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-4000:]
    host = json.loads((root / "host.json").read_text())
    return golden, host, root


@pytest.mark.slow
@pytest.mark.parametrize("name", [j[0] for j in JOBS])
def test_golden_and_sanitized_host_agree(runs, name):
    golden, host, root = runs
    g, h = golden[name], host[name]
    batch, steps = next((j[1], j[2]) for j in JOBS if j[0] == name)
    assert g["samples"] == h["samples"] == batch * steps
    assert g["steps"] == h["steps"] >= steps  # an epoch's last micro-batch may be short
    assert g["bitwidth_history"]["changes"], "the controller made no decision: nothing compared"
    assert h["weights_sha256"] == g["weights_sha256"]
    assert h["bitwidth_history"] == g["bitwidth_history"]
    assert h["prng_counter"] == g["prng_counter"] > 0
    assert h["accuracy_curve"] == g["accuracy_curve"]
    assert h["final_bitwidths"] == g["final_bitwidths"]
    # the library that ran really was the sanitized build
    so = next((root / name / "build").glob("rct_model_*.so"))
    syms = subprocess.run(["nm", "-D", str(so)], capture_output=True, text=True, check=True).stdout
    assert "__asan_report" in syms and "__ubsan_handle" in syms


CONTROL = r"""
#include <stdint.h>
static int8_t buf[4];
int8_t *volatile where = buf; /* hides the bounds from UBSan: only ASan can see the overflow */
int32_t poke(int32_t i) { where[i] = 1; return buf[0]; }
int32_t add(int32_t a, int32_t b) { return a + b; }
"""


@pytest.mark.slow
@pytest.mark.parametrize("call, finding", [("poke(7)", "global-buffer-overflow"),
                                           ("add(2147483647, 1)", "signed integer overflow")])
def test_sanitizers_are_live_in_the_child(tmp_path, call, finding):
    require_tools("gcc")
    from rct_tflm.toolchain import SANITIZE_FLAGS
    (tmp_path / "c.c").write_text(CONTROL)
    so = tmp_path / "c.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", *SANITIZE_FLAGS, str(tmp_path / "c.c"), "-o",
                    str(so)], check=True)
    fn, args = call.split("(")
    code = (f"import ctypes; lib = ctypes.CDLL({str(so)!r}); "
            f"print(lib.{fn}({args.rstrip(')')}))")
    ok = subprocess.run([sys.executable, "-c", code.replace(call, "poke(0)" if fn == "poke" else
                                                            "add(1, 2)")],
                        env=sanitizer_env(), capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr[-2000:]
    bad = subprocess.run([sys.executable, "-c", code], env=sanitizer_env(), capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode != 0 and finding in bad.stderr, bad.stderr[-2000:]
