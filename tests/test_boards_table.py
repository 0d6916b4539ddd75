"""The board database agrees with the board ports in firmware/boards (memory map, name, UART
driver) and with QEMU; `rct-tflm boards` lists it."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from rct_tflm.boards import BOARDS, DEFAULT_BOARD, get_board
from rct_tflm.cli import main
from rct_tflm.errors import UserError
from rct_tflm.resources import firmware_dir


@pytest.mark.parametrize("name", list(BOARDS))
def test_each_board_has_a_port_matching_the_database(name):
    b = BOARDS[name]
    d = firmware_dir() / "boards" / name
    ld = (d / "linker.ld").read_text()
    flash = re.search(r"FLASH \(rx\)\s*:\s*ORIGIN = (0x[0-9A-Fa-f]+), LENGTH = (\d+)K", ld)
    ram = re.search(r"RAM \(rwx\)\s*:\s*ORIGIN = (0x[0-9A-Fa-f]+), LENGTH = (\d+)K", ld)
    assert int(flash.group(1), 16) == b.flash_base and int(flash.group(2)) == b.flash_kb
    assert int(ram.group(1), 16) == 0x20000000 and int(ram.group(2)) == b.ram_kb
    src = (d / "board.c").read_text()
    assert f'rct_board_name[] = "{name}";' in src
    assert f"rct_uart_{b.uart_driver}_init(" in src
    assert (firmware_dir() / "boards" / "common" / f"uart_{b.uart_driver}.c").is_file()
    irq = re.search(r"IRQ (\d+)", b.uart).group(1)  # the receive IRQ the driver sleeps on
    assert re.search(rf"_init\([^;]*, {irq}u\);", src)
    if not b.is_qemu:
        assert b.pyocd_target and b.pyocd_pack and b.openocd_config


def test_qemu_boards_exist_in_this_qemu():
    if shutil.which("qemu-system-arm") is None:
        pytest.fail("missing qemu-system-arm: run `make setup`")
    machines = subprocess.run(["qemu-system-arm", "-M", "help"], capture_output=True,
                              text=True).stdout
    for b in BOARDS.values():
        if b.is_qemu:
            assert re.search(rf"^{re.escape(b.qemu_machine)}\s", machines, re.M), b.qemu_machine


def test_the_default_board_and_unknown_names():
    assert DEFAULT_BOARD == "qemu-stm32f405" and BOARDS[DEFAULT_BOARD].qemu_machine == "netduinoplus2"
    with pytest.raises(UserError, match="unknown board 'nope'; known boards: qemu-stm32f405"):
        get_board("nope")


def test_boards_cli_lists_every_board(capsys):
    main(["boards"])
    out = capsys.readouterr().out
    for name in BOARDS:
        assert name in out
    assert "qemu-stm32f405 *" in out
    main(["boards", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(BOARDS)
    assert sum(r["default"] for r in rows) == 1
