"""Flash a firmware image onto a real board through its debug probe.

pyOCD is the default: through its Python API when the package is installed (`pip install
'rct_tflm[flash]'`), else its command line (`pyocd flash -t <target> firmware.hex`); st-flash
(`st-flash --reset write firmware.bin 0x08000000`) and OpenOCD (`openocd -f board/<cfg> -c
"program ... verify reset exit"`) are used when installed and pyOCD is not, or when asked for
with `tool`. The board comes from the build folder's build.json (a firmware built for one board
is never written to another); `probe` picks one probe by its unique id when several are attached.
"""
from __future__ import annotations

import importlib.util
import shlex
import shutil
import subprocess
from pathlib import Path

from .boards import Board, get_board
from .errors import UserError
from .firmware_build import built_for

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


def flash_command(board: Board, firmware: str | Path, tool: str, probe: str | None = None
                  ) -> list[str]:
    fw = Path(firmware)
    if tool == "pyocd":
        return ["pyocd", "flash", "-t", str(board.pyocd_target), *(["-u", probe] if probe else []),
                str(_image(fw, ".hex"))]
    if tool == "st-flash":
        return ["st-flash", *(["--serial", probe] if probe else []), "--reset", "write",
                str(_image(fw, ".bin")), f"0x{board.flash_base:08x}"]
    if tool == "openocd":
        elf = _image(fw, ".elf")
        return ["openocd", "-f", f"board/{board.openocd_config}",
                *(["-c", f"adapter serial {probe}"] if probe else []), "-c",
                f"program {elf} verify reset exit"]
    raise UserError(f"unknown flash tool '{tool}'; use one of {', '.join(TOOLS)}")


def resolve_board(board_name: str | None, firmware: str | Path) -> Board:
    """--board, checked against the board the firmware was built for (build.json)."""
    built = built_for(firmware)
    if board_name and built and board_name != built:
        raise UserError(f"'{firmware}' was built for {built}, not {board_name}; flash it onto "
                        f"a {built} or rebuild with `rct-tflm build --board {board_name}`")
    name = board_name or built
    if name is None:
        raise UserError(f"no build.json beside '{firmware}' names its board; give --board")
    return get_board(name)


def pyocd_api_available() -> bool:
    return importlib.util.find_spec("pyocd") is not None


def pick_tool(requested: str | None, dry_run: bool) -> str:
    if requested:
        if requested not in TOOLS:
            raise UserError(f"unknown flash tool '{requested}'; use one of {', '.join(TOOLS)}")
        if not dry_run and shutil.which(requested) is None and not (
                requested == "pyocd" and pyocd_api_available()):
            raise UserError(f"flash tool '{requested}' is not installed; "
                            f"{_install_hint(requested)}")
        return requested
    if pyocd_api_available():
        return "pyocd"
    for t in TOOLS:
        if shutil.which(t):
            return t
    if dry_run:
        return "pyocd"
    raise UserError("no flashing tool found: install pyOCD (`pip install 'rct_tflm[flash]'`), st-flash "
                    "(`apt install stlink-tools`) or OpenOCD (`apt install openocd`)")


def _install_hint(tool: str) -> str:
    return {"pyocd": "`pip install 'rct_tflm[flash]'`", "st-flash": "`apt install stlink-tools`",
            "openocd": "`apt install openocd`"}[tool]


def flash(board_name: str | None, firmware: str | Path, tool: str | None = None,
          dry_run: bool = False, probe: str | None = None) -> list[str]:
    """Flash (or with dry_run only return) the command; raises UserError on every failure.
    board_name None: the board of the firmware's build.json."""
    board = resolve_board(board_name, firmware)
    if board.is_qemu:
        raise UserError(f"'{board.name}' is a QEMU board and is not flashed; boot the firmware "
                        f"with `rct-tflm emulate --target {board.name} FIRMWARE`")
    chosen = pick_tool(tool, dry_run)
    cmd = flash_command(board, firmware, chosen, probe)
    if dry_run:
        return cmd
    if chosen == "pyocd" and pyocd_api_available():
        _flash_with_pyocd_api(board, _image(Path(firmware), ".hex"), probe, cmd)
        return cmd
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise UserError(f"flashing did not finish in 300 s ({shlex.join(cmd)}); unplug and "
                        f"replug the board and try again") from None
    except OSError as e:
        raise UserError(f"cannot run {cmd[0]} ({e}); {_install_hint(cmd[0])}") from None
    if r.returncode != 0:
        _tool_failure(board, cmd, (r.stdout + r.stderr).strip())
    return cmd


def _tool_failure(board: Board, cmd: list[str], out: str) -> None:
    if cmd[0] == "pyocd" and any(s in out.lower() for s in _NO_TARGET):
        raise UserError(f"pyOCD does not know the target {board.pyocd_target}: install its "
                        f"support pack with `pyocd pack install {board.pyocd_pack}` "
                        f"({shlex.join(cmd)})")
    if any(s in out.lower() for s in _NO_PROBE):
        raise UserError(f"no debug probe found for {board.name}: connect the board's "
                        f"ST-LINK USB port and check udev permissions ({shlex.join(cmd)})")
    raise UserError(f"flashing failed ({shlex.join(cmd)}):\n{out[-1500:]}")


def _flash_with_pyocd_api(board: Board, image: Path, probe: str | None, cmd: list[str]) -> None:
    """pyOCD's Python API: open the (chosen) probe, program the image, reset."""
    from pyocd.core.helpers import ConnectHelper
    from pyocd.flash.file_programmer import FileProgrammer
    try:
        session = ConnectHelper.session_with_chosen_probe(
            blocking=False, unique_id=probe, target_override=board.pyocd_target,
            return_first=probe is None)
        if session is None:
            _tool_failure(board, cmd, "no probe")
        with session:
            FileProgrammer(session).program(str(image))
            session.board.target.reset()
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - pyOCD raises many kinds; each becomes one line
        _tool_failure(board, cmd, f"{type(e).__name__}: {e}")
