"""Build the firmware for a board: the app + link + board port + a generated model tree.

`build_firmware(board, model_dir, out)` compiles with arm-none-eabi-gcc (or host gcc for the
`host` pseudo-board), writes firmware.elf/.bin/.hex (host: an executable `firmware`), a linker
map and `size.json` (text/data/bss against the board's flash and RAM), and raises UserError with
the numbers when the image does not fit. The output directory appears complete or not at all.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from math import prod
from typing import TYPE_CHECKING

from .boards import HOST, STACK_BYTES, Board, get_board, model_ram_budget
from .errors import UserError
from .formats import manifest as manifest_format
from .formats import results
from .link.messages import DEFAULT_MAX_PAYLOAD, max_payload_for, stage_bytes_for, target_bytes_of
from .link.transport import BAUD
from .resources import firmware_dir

if TYPE_CHECKING:
    from .artefact import ModelArtefact
    from .fixedpoint.config import EngineConfig

ARM_GCC = "arm-none-eabi-gcc"
COMMON_CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections"]


@dataclass
class SizeReport:
    board: str
    text: int
    data: int
    bss: int
    flash_used: int  # text + data (initialisers live in flash)
    ram_used: int  # data + bss + reserved stack
    flash_total: int
    ram_total: int

    @property
    def fits(self) -> bool:
        return self.flash_used <= self.flash_total and self.ram_used <= self.ram_total

    def text_report(self) -> str:
        return (f"{self.board}: text {self.text} B, data {self.data} B, bss {self.bss} B | "
                f"flash {self.flash_used}/{self.flash_total} B "
                f"({100 * self.flash_used / self.flash_total:.1f}%), RAM {self.ram_used}/"
                f"{self.ram_total} B ({100 * self.ram_used / self.ram_total:.1f}%, incl. "
                f"{STACK_BYTES} B stack)")


def _model_root(model_dir: Path) -> Path:
    """The folder holding rct_model.h: `model_dir` itself or (a build folder) one below it."""
    if (model_dir / "rct_model.h").is_file():
        return model_dir
    found = sorted(model_dir.rglob("rct_model.h"))
    if not found:
        raise UserError(f"'{model_dir}' holds no rct_model.h; generate it with "
                        f"`rct-tflm generate --model ART --out DIR`")
    return found[0].parent


def _build_record(firmware: str | Path) -> tuple[Path, dict] | None:
    """build.json of a build folder (or of the folder of an image inside one), or None."""
    fw = Path(firmware)
    for d in (fw, fw.parent) if fw.is_dir() else (fw.parent,):
        p = d / "build.json"
        if p.is_file():
            try:
                rec = json.loads(p.read_text())
            except (OSError, ValueError):
                rec = None
            if not isinstance(rec, dict) or "board" not in rec:
                raise UserError(f"'{p}' is not a build record (no board); rebuild with "
                                f"`rct-tflm build`")
            return p, rec
    return None


def built_for(firmware: str | Path) -> str | None:
    """The board a build folder (or an image inside one) was built for, from its build.json."""
    found = _build_record(firmware)
    return str(found[1]["board"]) if found else None


def check_built_for(firmware: str | Path, board: str, what: str) -> None:
    """UserError when `firmware` (its build.json) was built for another board than `board`;
    `what` is what the command would do with it ("boot it", "stream with")."""
    built = built_for(firmware) if Path(firmware).exists() else None
    if built is not None and built != board:
        raise UserError(f"{firmware} was built for {built}, not {board}; {what} --target {built} "
                        f"or rebuild with `rct-tflm build --board {board}`")


def built_baud(firmware: str | Path) -> int | None:
    """The UART bit rate a build folder's firmware was built with (build.json), or None."""
    found = _build_record(firmware)
    baud = found[1].get("baud") if found else None
    return int(baud) if isinstance(baud, int) else None


def generated_for(model_dir: str | os.PathLike, board: str | None) -> str | None:
    """The board a generated tree was generated for (its manifest), checked against --board
    (`host`, the host build of the same firmware, always goes); None when neither names one."""
    if not Path(model_dir).is_dir():
        return board  # build_firmware names the missing folder
    planned = manifest_format.load(_model_root(Path(model_dir))).get("board")
    if board is not None and planned is not None and board not in (planned, HOST):
        raise UserError(f"--board {board} contradicts '{model_dir}', generated for {planned}; "
                        f"drop --board or regenerate: rct-tflm generate --board {board}")
    return board or planned


def _link_defines(model_dir: Path) -> list[str]:
    """Frames big enough for one training sample of this model, or a staging buffer for a
    micro-batch of large samples (docs/protocol.md)."""
    man = manifest_format.load(_model_root(model_dir))
    tb = target_bytes_of(man.get("targets", "labels"), int(man.get("target_size", 1)))
    n = max_payload_for(int(man["input_size"]), tb)
    stage = stage_bytes_for(int(man["input_size"]), int(man.get("max_batch", 1)), tb)
    return ([] if n == DEFAULT_MAX_PAYLOAD else [f"-DRCT_LINK_MAX_PAYLOAD={n}u"]) + \
        ([f"-DRCT_APP_STAGE_BYTES={stage}u"] if stage else [])


def _model_sources(model_dir: Path) -> tuple[list[Path], list[Path]]:
    """C files and include dirs of a generated model tree plus the hand-written runtime."""
    model_dir = _model_root(model_dir)
    srcs = sorted(model_dir.glob("*.c"))  # not host/: H4's optional host main lives there
    incs = [model_dir]
    have = {p.name for p in srcs}
    fw = firmware_dir()
    for sub in ("kernels", "runtime"):  # H3's runtime, unless the tree ships its own copy
        srcs += sorted(p for p in (fw / sub).glob("*.c") if p.name not in have)
    if (fw / "include").is_dir():
        incs.append(fw / "include")
    return srcs, incs


def _app_sources() -> tuple[list[Path], list[Path]]:
    fw = firmware_dir()
    srcs = sorted((fw / "app").glob("*.c")) + sorted((fw / "link").glob("*.c"))
    return srcs, [fw / "app", fw / "link"]


def _board_sources(board: Board) -> tuple[list[Path], list[Path]]:
    bdir = firmware_dir() / "boards"
    common = bdir / "common"
    srcs = [bdir / board.name / "board.c", common / "startup.c", common / "fault.c",
            common / f"uart_{board.uart_driver}.c"]
    return srcs, [common]


def _run(cmd: list[str], what: str) -> subprocess.CompletedProcess:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        raise UserError(f"{cmd[0]} not found; install it (`make setup` installs "
                        f"gcc-arm-none-eabi) or put it on PATH") from None
    if r.returncode != 0:
        err = (r.stderr or r.stdout).strip()
        if "overflowed" in err or "RAM overflow" in err:
            lines = [l for l in err.splitlines() if "overflow" in l]
            raise UserError(f"{what} does not fit the board: {lines[0].strip()}; partition the "
                            f"model for it first (`rct-tflm partition --board B` picks the deepest "
                            f"split that fits, or names what overflows) or pick a bigger board")
        raise UserError(f"{what} failed:\n{err[-3000:]}")
    return r


def _size(elf: Path, board: Board) -> SizeReport:
    out = _run(["arm-none-eabi-size", "-B", str(elf)], "size").stdout.splitlines()[1].split()
    text, data, bss = (int(v) for v in out[:3])
    return SizeReport(board.name, text, data, bss, text + data, data + bss + STACK_BYTES,
                      board.flash_bytes, board.ram_bytes)


def build_firmware(board_name: str, model_dir: str | os.PathLike, out: str | os.PathLike,
                   defines: dict[str, str | int] | None = None,
                   flash_budget: int | None = None, ram_budget: int | None = None,
                   kernels: str = "auto", baud: int = BAUD) -> dict:
    """Compile and link; returns the manifest written to `out/build.json`.

    `flash_budget`/`ram_budget` (bytes) tighten the board's limits (e.g. 64 KB / 20 KB);
    `kernels` is a boards.KERNEL_SETS name (the host build is always portable C); `baud` is the
    UART's bit rate (recorded in build.json; the host build's pty has none)."""
    model_dir, out = Path(model_dir), Path(out)
    if not model_dir.is_dir():
        raise UserError(f"model directory '{model_dir}' does not exist; create it with "
                        f"`rct-tflm generate --model ART --out DIR`")
    msrc, minc = _model_sources(model_dir)
    asrc, ainc = _app_sources()
    if not 1200 <= int(baud) <= 4_000_000:
        raise UserError(f"--baud must be in 1200..4000000 bit/s, got {baud}")
    dflags = _link_defines(model_dir) + [f"-D{k}={v}" for k, v in (defines or {}).items()]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-build-", dir=out.parent))
    try:
        if board_name == HOST:
            manifest = _build_host(msrc + asrc, minc + ainc, dflags, tmp)
        else:
            board = get_board(board_name)
            manifest = _build_arm(board, msrc + asrc, minc + ainc,
                                  dflags + board.kernel_flags(kernels)
                                  + [f"-DRCT_UART_BAUD={int(baud)}u"], tmp, flash_budget,
                                  ram_budget, _model_root(model_dir))
            manifest["kernels"] = board.kernel_set(kernels)
            manifest["baud"] = int(baud)
        # The model tree travels with the image: `rct-tflm stream --firmware DIR` reads its
        # manifest (trainable split, compiled hyper-parameters) to mirror the board exactly.
        shutil.copytree(_model_root(model_dir), tmp / "model",
                        ignore=shutil.ignore_patterns("build", "*.o", "host"))
        manifest["model_dir"] = "model"
        results.save(tmp / "build.json", manifest)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def build_artefact(board_name: str, art: "ModelArtefact", out: str | os.PathLike,
                   cfg: "EngineConfig", trainable_layers: int | None = None,
                   frozen_layers: int | None = None, ram_budget: int | None = None,
                   flash_budget: int | None = None, defines: dict[str, str | int] | None = None,
                   artefact_name: str = "model", kernels: str = "auto",
                   baud: int = BAUD) -> dict:
    """Generate the model's C tree (rct_tflm.codegen) and build it for the board in one go.

    `ram_budget` limits the whole image (default: the plan's --ram-budget, else the board's
    RAM); the generator gets what the firmware leaves of it for the model
    (boards.model_ram_budget), as `partition` did."""
    from .codegen import generate
    planned_limit = (art.partition or {}).get("ram", {}).get("limit")
    if ram_budget is None and planned_limit and board_name == (art.partition or {}).get("board") \
            and planned_limit < get_board(board_name).ram_bytes:
        ram_budget = int(planned_limit)  # partition --ram-budget: the image keeps to it
    model_budget = model_ram_budget(board_name, prod(art.input_shape), ram_budget, cfg.max_batch)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    gen = Path(tempfile.mkdtemp(prefix=f".{out.name}.gen-", dir=out.parent))
    try:
        generate(art, gen / "model", cfg, trainable_layers, frozen_layers,
                 ram_budget=model_budget, artefact_name=artefact_name, board=board_name)
        return build_firmware(board_name, gen / "model", out, defines, flash_budget, ram_budget,
                              kernels, baud)
    finally:
        shutil.rmtree(gen, ignore_errors=True)


def _build_host(srcs: list[Path], incs: list[Path], dflags: list[str], tmp: Path) -> dict:
    board_c = firmware_dir() / "boards" / "host" / "board.c"
    cmd = (["gcc", "-O2", *COMMON_CFLAGS, "-D_POSIX_C_SOURCE=200809L", *dflags]
           + [f"-I{i}" for i in incs] + [str(s) for s in srcs + [board_c]]
           + ["-Wl,--gc-sections", "-o", str(tmp / "firmware"), "-lm"])
    _run(cmd, "host build")
    return {"board": HOST, "executable": "firmware", "cmd": cmd}


def _build_arm(board: Board, srcs: list[Path], incs: list[Path], dflags: list[str], tmp: Path,
               flash_budget: int | None, ram_budget: int | None,
               model_root: Path | None = None) -> dict:
    bsrc, binc = _board_sources(board)
    elf = tmp / "firmware.elf"
    ld = firmware_dir() / "boards" / board.name / "linker.ld"
    ci = tmp / "callgraph"  # GCC's per-file call graphs: the stack bound (memory_check)
    ci.mkdir(exist_ok=True)
    cmd = ([ARM_GCC, *board.cpu_flags(), "-Os", "-g", *COMMON_CFLAGS, "-DRCT_FAULT_REPORT=1",
            "-fcallgraph-info=su", "-dumpdir", f"{ci}/", *dflags]
           + [f"-I{i}" for i in incs + binc] + [str(s) for s in srcs + bsrc]
           + ["-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", f"-T{ld}",
              f"-L{firmware_dir() / 'boards' / 'common'}", "-Wl,--gc-sections",
              f"-Wl,-Map={tmp / 'firmware.map'}", "-o", str(elf)])
    _run(cmd, f"firmware build for {board.name}")
    _run(["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(tmp / "firmware.bin")], "objcopy")
    _run(["arm-none-eabi-objcopy", "-O", "ihex", str(elf), str(tmp / "firmware.hex")], "objcopy")
    size = _size(elf, board)
    if flash_budget:
        size.flash_total = min(size.flash_total, int(flash_budget))
    if ram_budget:
        size.ram_total = min(size.ram_total, int(ram_budget))
    if not size.fits:
        raise UserError(f"firmware does not fit: {size.text_report()}; partition the model for "
                        f"this budget first (`rct-tflm partition --board B --ram-budget N` picks "
                        f"the deepest split that fits) or pick a bigger board")
    memory = _measured_vs_planned(elf, ci, model_root, board) if model_root else None
    shutil.rmtree(ci)
    (tmp / "size.json").write_text(json.dumps({**asdict(size), "memory": memory}, indent=1))
    return {"board": board.name, "elf": "firmware.elf", "bin": "firmware.bin",
            "hex": "firmware.hex", "size": asdict(size), "size_text": size.text_report(),
            "memory": memory, "cmd": cmd}


def _measured_vs_planned(elf: Path, ci: Path, model_root: Path, board: Board) -> dict | None:
    """The image's memory against the model tree's plan (memory_check); UserError beyond the
    margin. None for a hand-written tree without a plan (no memory.json, e.g. a test double)."""
    from . import memory_check
    man = manifest_format.load(model_root)
    if not (model_root / "memory.json").exists():
        return None
    try:
        plan = json.loads((model_root / "memory.json").read_text())
    except (OSError, ValueError):
        raise UserError(f"'{model_root}' has an unreadable memory.json; regenerate it with "
                        f"`rct-tflm generate`") from None
    planned = memory_check.planned_items(
        plan, int(man["input_size"]), int(man.get("max_batch", 1)),
        target_bytes_of(man.get("targets", "labels"), int(man.get("target_size", 1))))
    rec = memory_check.compare(planned, memory_check.elf_memory(elf),
                               memory_check.stack_bound(ci), int(plan["flash"]["tables"]))
    memory_check.check(rec, board.name)
    return rec


def build_frozen_verifier(board_name: str, frozen_dir: str | os.PathLike,
                          out: str | os.PathLike) -> dict:
    """The verification app of a frozen part (firmware/verify/rct_verify_main.c + the generated
    rct_frozen.c + the rct_tfl_ kernels) linked for a Cortex-M board into `out`; build.json's
    fields (ELF, size report). `rct-tflm verify --target qemu-*` boots it."""
    fw = firmware_dir()
    frozen_dir, out = Path(frozen_dir), Path(out)
    link = fw / "link"
    from .codegen.tflite_frozen import kernel_sources
    srcs = [frozen_dir / "rct_frozen.c", fw / "verify" / "rct_verify_main.c", *kernel_sources(),
            # fault.c reports a crash as a link FAULT frame
            link / "rct_link_send.c", link / "rct_crc16.c", link / "rct_cobs_encode.c"]
    out.mkdir(parents=True, exist_ok=True)
    return _build_arm(get_board(board_name), srcs, [frozen_dir, fw / "include", link], [], out,
                      None, None)
