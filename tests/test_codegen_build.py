"""The generated project builds strictly for the host and Cortex-M4, uses no heap and no floats,
and its memory report covers the static RAM the compiler actually allocates."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import require_tools
from rct_tflm.codegen import generate
from rct_tflm.toolchain import generated_sources, runtime_include, runtime_sources
from rct_tflm.fixedpoint import ControllerConfig
from rct_tflm.fixedpoint.config import EngineConfig

STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-Wconversion", "-Werror=double-promotion",
          "-Werror=float-conversion", "-O2"]
M4_HARD = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
M4_SOFT = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft"]
HEAP = {"malloc", "free", "calloc", "realloc", "aligned_alloc", "posix_memalign", "sbrk", "_sbrk"}
# libgcc soft-float helpers: any float/double operation compiled with -mfloat-abi=soft calls one
SOFT_FLOAT = re.compile(r"^__aeabi_(f|d|[iul]+2[fd]|[fd]2)|^__(add|sub|mul|div|neg)[sdt]f3$|"
                        r"^__(float|fix|extend|trunc)|^__(eq|ne|lt|le|gt|ge|unord|cmp)[sdt]f2$")


def compile_objects(gen: Path, cc: str, flags: list[str], out: Path,
                    sources: list[Path] | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    srcs = sources if sources is not None else generated_sources(gen) + runtime_sources()
    cmd = [cc, *flags, f"-I{gen}", f"-I{runtime_include()}", "-c", *map(str, srcs)]
    r = subprocess.run(cmd, cwd=out, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return sorted(out.glob("*.o"))


def undefined_symbols(nm: str, objs: list[Path]) -> set[str]:
    r = subprocess.run([nm, "-u", *map(str, objs)], capture_output=True, text=True, check=True)
    return {l.split()[-1] for l in r.stdout.splitlines() if l.strip() and not l.endswith(":")}


def sizes(objs: list[Path]) -> dict[str, tuple[int, int, int]]:
    r = subprocess.run(["arm-none-eabi-size", *map(str, objs)], capture_output=True, text=True,
                       check=True)
    out = {}
    for line in r.stdout.splitlines()[1:]:
        text, data, bss, *_, name = line.split()
        out[Path(name).name] = (int(text), int(data), int(bss))
    return out


@pytest.fixture(scope="module")
def projects(tmp_path_factory, digits, digits_mlp_artefact):
    """The digits MLP (batch 1) and the all-kernels CNN (micro-batch 4), generated."""
    from rct_tflm.emulator import zoo
    root = tmp_path_factory.mktemp("codegen")
    out = {}
    cfg = EngineConfig(controller=ControllerConfig(period_samples=512))
    out["mlp"] = (root / "mlp", generate(digits_mlp_artefact, root / "mlp", cfg))
    cnn = zoo.build("tiny_cnn", digits)
    out["cnn"] = (root / "cnn", generate(cnn, root / "cnn", EngineConfig(max_batch=4)))
    return out


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_strict_host_build_without_heap(projects, name, tmp_path):
    require_tools("gcc", "nm")
    gen, _ = projects[name]
    objs = compile_objects(gen, "gcc", STRICT + ["-fPIC"], tmp_path)
    assert len(objs) == len(generated_sources(gen)) + len(runtime_sources())
    heap = undefined_symbols("nm", objs) & HEAP
    assert not heap, f"heap functions referenced: {heap}"


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_strict_cortex_m4_build_without_heap_or_floats(projects, name, tmp_path):
    require_tools("arm-none-eabi-gcc", "arm-none-eabi-nm", "arm-none-eabi-size")
    gen, rep = projects[name]
    hard = compile_objects(gen, "arm-none-eabi-gcc", STRICT + M4_HARD, tmp_path / "hard")
    soft = compile_objects(gen, "arm-none-eabi-gcc", STRICT + M4_SOFT, tmp_path / "soft")
    und = undefined_symbols("arm-none-eabi-nm", hard + soft)
    assert not und & HEAP, f"heap functions referenced: {und & HEAP}"
    floats = sorted(s for s in und if SOFT_FLOAT.search(s))
    assert not floats, f"float operations in the engine (soft-float helpers): {floats}"
    # static RAM: only the generated model owns any, and the report covers it
    sz = sizes(hard)
    ram = {n: d + b for n, (_, d, b) in sz.items() if d + b}
    assert set(ram) == {"rct_model.o"}, ram
    assert rep["ram"]["arena"] <= ram["rct_model.o"] <= rep["ram"]["total"], (ram, rep["ram"])


def test_soft_float_detector_catches_a_float(tmp_path):
    """Negative control: the check above would see a single float operation."""
    require_tools("arm-none-eabi-gcc", "arm-none-eabi-nm")
    src = tmp_path / "f.c"
    src.write_text("#include <stdint.h>\nint32_t scale(int32_t v, int32_t k)\n"
                   "{ return (int32_t)((float)v * (float)k * 0.5f); }\n")
    objs = compile_objects(tmp_path, "arm-none-eabi-gcc", ["-std=c99", "-O2", *M4_SOFT],
                           tmp_path / "o", [src])
    assert any(SOFT_FLOAT.search(s) for s in undefined_symbols("arm-none-eabi-nm", objs))


def test_no_heap_calls_in_sources(projects):
    gen, _ = projects["cnn"]
    call = re.compile(r"\b(malloc|calloc|realloc|free)\s*\(")
    for p in generated_sources(gen) + runtime_sources() + sorted(gen.glob("*.h")):
        assert not call.search(p.read_text()), p


def test_training_step_ram_with_stack_under_8_kb(projects):
    """64-32-10 MLP: arena + static state (generator report) + the deepest call path of
    rct_model_train on Cortex-M4 (GCC call graph) stays under 8 KB."""
    require_tools("arm-none-eabi-gcc")
    from rct_tflm.codegen.stack import stack_usage
    gen, rep = projects["mlp"]
    st = stack_usage(gen)
    assert 0 < st["rct_model_train"] < 1024, st
    assert rep["ram"]["total"] + st["rct_model_train"] < 8 * 1024


def test_generated_makefile_builds_the_host_library(projects, tmp_path):
    require_tools("make", "gcc")
    gen, _ = projects["mlp"]
    work = tmp_path / "mk"
    shutil.copytree(gen, work)
    r = subprocess.run(["make", "-s", "-j2", "all"], cwd=work, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (work / "librct_model.so").is_file() and (work / "librct_model.a").is_file()


def test_the_generated_tree_stands_alone_with_make_and_cmake(projects, tmp_path):
    """Copied away from the checkout, the tree builds with its own runtime copy: make (library
    and the example), CMake for the host (the example runs) and for Cortex-M4."""
    require_tools("make", "gcc", "cmake", "arm-none-eabi-gcc")
    from rct_tflm.resources import firmware_dir
    gen, _ = projects["mlp"]
    work = tmp_path / "away"
    shutil.copytree(gen, work)
    for f in ("Makefile", "CMakeLists.txt"):
        assert str(firmware_dir()) not in (work / f).read_text()  # no path into the package

    def run(*cmd: str) -> str:
        r = subprocess.run(list(cmd), cwd=work, capture_output=True, text=True)
        assert r.returncode == 0, (cmd, r.stdout[-1500:], r.stderr[-1500:])
        return r.stdout

    assert "trained 32 steps" in run("make", "-s", "example")
    run("cmake", "-S", ".", "-B", "build-host")
    run("cmake", "--build", "build-host")
    assert "trained 32 steps" in run("./build-host/rct_model_example")
    run("cmake", "-S", ".", "-B", "build-m4", "-DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake")
    run("cmake", "--build", "build-m4")
    attrs = subprocess.run(["arm-none-eabi-readelf", "-A", str(work / "build-m4" / "librct_model.a")],
                           capture_output=True, text=True, check=True).stdout
    assert "Tag_CPU_name: \"7E-M\"" in attrs  # Cortex-M4 objects


def test_the_platformio_project_compiles_what_make_and_cmake_compile(projects):
    """platformio.ini (PlatformIO itself downloads its platforms, so it is not run here): its
    source filter selects the Makefile's sources plus the example, its include folders exist,
    and its board is the generated board's PlatformIO id."""
    import configparser
    from rct_tflm.boards import DEFAULT_BOARD, get_board
    gen, _ = projects["mlp"]
    ini = configparser.ConfigParser()
    ini.read(gen / "platformio.ini")
    assert ini["platformio"]["src_dir"] == "." and ini["platformio"]["default_envs"] == "native"
    picked: set[Path] = set()
    for rule in ini["env"]["build_src_filter"].split():
        sign, pattern = rule[0], rule[2:-1]
        hits = {q.relative_to(gen) for q in gen.glob(pattern) if q.is_file()}
        picked = picked | hits if sign == "+" else picked - hits
    make_srcs = {q.relative_to(gen) for q in [*gen.glob("*.c"), *gen.glob("rct_runtime/kernels/*.c"),
                                             *gen.glob("rct_runtime/runtime/*.c")]}
    assert picked == make_srcs | {Path("example/main.c")}
    for flag in ini["env"]["build_flags"].split():
        if flag.startswith("-I"):
            assert (gen / flag[2:]).is_dir(), flag
    board = json.loads((gen / "rct_generated.json").read_text())["board"] or DEFAULT_BOARD
    b = get_board(board) if get_board(board).platformio_board else get_board(DEFAULT_BOARD)
    env = ini[f"env:{b.name}"]
    assert env["platform"] == "ststm32" and env["board"] == b.platformio_board
    assert ini["env:native"]["platform"] == "native"


def test_manifest_and_report_agree(projects):
    gen, rep = projects["cnn"]
    man = json.loads((gen / "rct_generated.json").read_text())
    assert man["max_batch"] == 4 and man["arena_bytes"] == rep["ram"]["arena"]
    cfg = (gen / "rct_config.h").read_text()
    assert f"#define RCT_ARENA_BYTES        {rep['ram']['arena']}u" in cfg
    md = (gen / "memory.md").read_text()
    assert f"**{rep['ram']['total']} B**" in md
