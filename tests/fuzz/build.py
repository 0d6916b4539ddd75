"""Build and run the libFuzzer harness of the firmware's frame receiver + protocol dispatch
(fuzz_link_dispatch.c) on a generated model tree, with ASan and UBSan (clang from Debian).

    python tests/fuzz/build.py --runs 1000000     # the documented long run (docs/testing.md)
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from rct_tflm.resources import firmware_dir  # noqa: E402
from rct_tflm.toolchain import generated_sources, runtime_include, runtime_sources  # noqa: E402

CORPUS = HERE / "corpus"  # one valid request of every type (make_corpus.py)
# The staged-sample messages are compiled in (a staging buffer of two 64-byte samples), so the
# fuzzer reaches SAMPLE_WRITE, TRAIN_STAGED and INFER_STAGED as well.
FLAGS = ["-std=c99", "-O1", "-g", "-fsanitize=fuzzer,address,undefined",
         "-fno-sanitize-recover=all", "-DRCT_APP_STAGE_BYTES=128u"]


def build(gen_dir: Path, out: Path) -> Path:
    """Compile the harness against the generated tree `gen_dir`; returns the executable."""
    fw = firmware_dir()
    app = [fw / "app" / "rct_app_dispatch.c", fw / "app" / "rct_app_stats.c"]
    srcs = [HERE / "fuzz_link_dispatch.c", *app, *sorted((fw / "link").glob("*.c")),
            *generated_sources(gen_dir), *runtime_sources()]
    incs = [gen_dir, runtime_include(), fw / "app", fw / "link"]
    exe = out / "fuzz_link_dispatch"
    cmd = ["clang", *FLAGS, *(f"-I{i}" for i in incs), *map(str, srcs), "-o", str(exe)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return exe


def run(exe: Path, corpus: Path, runs: int | None = None, seconds: int | None = None,
        seed: int = 1) -> tuple[int, int, str]:
    """Fuzz from a copy of `corpus`; returns (exit code, executions, libFuzzer's log tail)."""
    args = [str(exe), f"-seed={seed}", "-max_len=1200", "-timeout=10", "-rss_limit_mb=2048"]
    if runs is not None:
        args.append(f"-runs={runs}")
    if seconds is not None:
        args.append(f"-max_total_time={seconds}")
    work = Path(tempfile.mkdtemp(prefix="rct-fuzz-"))
    try:
        shutil.copytree(corpus, work / "corpus")
        r = subprocess.run([*args, str(work / "corpus")], capture_output=True, text=True,
                           cwd=work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    m = re.findall(r"Done (\d+) runs", r.stderr) or re.findall(r"#(\d+)\s", r.stderr)
    return r.returncode, int(m[-1]) if m else 0, r.stderr[-3000:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    from rct_tflm.codegen import generate
    from rct_tflm.emulator.floatref import mlp_artefact, quantise_artefact
    art = quantise_artefact(mlp_artefact([64, 32, 10]))
    for l in art.layers:
        l.act_exp = -4
    with tempfile.TemporaryDirectory() as d:
        generate(art, Path(d) / "gen")
        exe = build(Path(d) / "gen", Path(d))
        code, n, log = run(exe, CORPUS, runs=a.runs, seed=a.seed)
    print(log.strip().splitlines()[-1] if log.strip() else "")
    print(f"{n} executions, exit code {code} ({'no finding' if code == 0 else 'FINDING'})")
    sys.exit(code)


if __name__ == "__main__":
    main()
