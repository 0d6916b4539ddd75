"""The C sources and compiler flags every build of a generated model shares: the host emulator
(emulator/host.py), the stack analysis (codegen/stack.py), the firmware build and the tests. Low
level on purpose (resources only), so neither codegen nor the emulator imports the other."""
from __future__ import annotations

from pathlib import Path

from .resources import firmware_dir

STRICT_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-Wconversion", "-O2"]
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                  "-fno-omit-frame-pointer", "-g"]


def runtime_sources() -> list[Path]:
    """The hand-written C runtime compiled into every build (one public function per file)."""
    fw = firmware_dir()
    return sorted(p for sub in ("kernels", "runtime") for p in (fw / sub).glob("*.c"))


def runtime_include() -> Path:
    return firmware_dir() / "include"


def generated_sources(gen_dir: Path) -> list[Path]:
    """The generated model sources (not the optional host main under gen_dir/host/)."""
    return sorted(Path(gen_dir).glob("*.c"))
