"""Flash a firmware image onto a real board through its debug probe.

pyOCD is the default (`pyocd flash -t <target> firmware.hex`); st-flash (`st-flash --reset write
firmware.bin 0x08000000`) and OpenOCD (`openocd -f board/<cfg> -c "program ... verify reset
exit"`) are used when installed and pyOCD is not, or when asked for with `tool`.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from .boards import Board, get_board
from .errors import UserError

TOOLS = ("pyocd", "st-flash", "openocd")
# What each tool prints when no probe (or no board behind it) answers, lower-cased.
_NO_PROBE = ("no connected debug probe", "no available debug probe", "no probe",
             "couldn't find any st-link", "no st-link", "unable to find", "open failed",
             "libusb_open() failed", "no device found", "failed to connect to target")
_NO_TARGET = ("not recognized", "unknown target")  # pyOCD without the part's CMSIS pack


def _image(firmware: Path, suffix: str) -> Path:
    if firmware.is_dir():
        img = firmware / f"firmware{suffix}"
    elif firmware.suffix == suffix:
        img = firmware
    else:
        img = firmware.with_suffix(suffix)
    if not img.is_file():
        raise UserError(f"firmware image '{img}' does not exist; build it with "
                        f"`rct-tflm build --board BOARD --model ART --out DIR`")
    return img


def flash_command(board: Board, firmware: str | Path, tool: str) -> list[str]:
    fw = Path(firmware)
    if tool == "pyocd":
        return ["pyocd", "flash", "-t", str(board.pyocd_target), str(_image(fw, ".hex"))]
    if tool == "st-flash":
        return ["st-flash", "--reset", "write", str(_image(fw, ".bin")), f"0x{board.flash_base:08x}"]
    if tool == "openocd":
        elf = _image(fw, ".elf")
        return ["openocd", "-f", f"board/{board.openocd_config}", "-c",
                f"program {elf} verify reset exit"]
    raise UserError(f"unknown flash tool '{tool}'; use one of {', '.join(TOOLS)}")


def pick_tool(requested: str | None, dry_run: bool) -> str:
    if requested:
        if requested not in TOOLS:
            raise UserError(f"unknown flash tool '{requested}'; use one of {', '.join(TOOLS)}")
        if not dry_run and shutil.which(requested) is None:
            raise UserError(f"flash tool '{requested}' is not installed; "
                            f"{_install_hint(requested)}")
        return requested
    for t in TOOLS:
        if shutil.which(t):
            return t
    if dry_run:
        return "pyocd"
    raise UserError("no flashing tool found: install pyOCD (`pip install pyocd`), st-flash "
                    "(`apt install stlink-tools`) or OpenOCD (`apt install openocd`)")


def _install_hint(tool: str) -> str:
    return {"pyocd": "`pip install pyocd`", "st-flash": "`apt install stlink-tools`",
            "openocd": "`apt install openocd`"}[tool]


def flash(board_name: str, firmware: str | Path, tool: str | None = None,
          dry_run: bool = False) -> list[str]:
    """Flash (or with dry_run only return) the command; raises UserError on every failure."""
    board = get_board(board_name)
    if board.is_qemu:
        raise UserError(f"'{board.name}' is a QEMU board and is not flashed; boot the firmware "
                        f"with `rct-tflm emulate --board {board.name} FIRMWARE`")
    cmd = flash_command(board, firmware, pick_tool(tool, dry_run))
    if dry_run:
        return cmd
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise UserError(f"flashing did not finish in 300 s ({shlex.join(cmd)}); unplug and "
                        f"replug the board and try again") from None
    except OSError as e:
        raise UserError(f"cannot run {cmd[0]} ({e}); {_install_hint(cmd[0])}") from None
    if r.returncode != 0:
        out = (r.stdout + r.stderr).strip()
        if cmd[0] == "pyocd" and any(s in out.lower() for s in _NO_TARGET):
            raise UserError(f"pyOCD does not know the target {board.pyocd_target}: install its "
                            f"support pack with `pyocd pack install {board.pyocd_pack}` "
                            f"({shlex.join(cmd)})")
        if any(s in out.lower() for s in _NO_PROBE):
            raise UserError(f"no debug probe found for {board.name}: connect the board's "
                            f"ST-LINK USB port and check udev permissions ({shlex.join(cmd)})")
        raise UserError(f"flashing failed ({shlex.join(cmd)}):\n{out[-1500:]}")
    return cmd
