"""`rct-tflm build` / build_firmware: every board of the database builds the digits-MLP
firmware with its own core, FPU and UART driver, the image fits 64 KB flash and 20 KB RAM,
and what does not fit (or cannot be built) fails with one clear line and writes nothing."""
from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import require_tools, run_cli
from rct_tflm import firmware_build
from rct_tflm.boards import BOARDS
from rct_tflm.errors import UserError
from rct_tflm.firmware_build import build_firmware

DRIVER_SYMBOL = {"stm32_v1": "rct_uart_stm32_v1_init", "stm32_v2": "rct_uart_stm32_v2_init",
                 "cmsdk": "rct_uart_cmsdk_init"}
FLASH_64K, RAM_20K = 64 * 1024, 20 * 1024


@pytest.fixture(scope="module")
def gen(tmp_path_factory, digits_mlp_artefact) -> Path:
    from rct_tflm.codegen import generate
    d = tmp_path_factory.mktemp("fwbuild")
    digits_mlp_artefact.save(d / "model.rct")
    generate(digits_mlp_artefact, d / "gen")
    return d


@pytest.mark.parametrize("name", list(BOARDS))
def test_every_board_builds_the_digits_mlp_within_64k_flash_and_20k_ram(gen, tmp_path, name):
    require_tools("arm-none-eabi-gcc")
    b = BOARDS[name]
    out = tmp_path / name
    man = build_firmware(name, gen / "gen", out, flash_budget=FLASH_64K, ram_budget=RAM_20K)
    for f in ("firmware.elf", "firmware.bin", "firmware.hex", "firmware.map", "size.json",
              "build.json", "model/rct_model.h", "model/rct_generated.json"):
        assert (out / f).is_file(), f
    size = json.loads((out / "size.json").read_text())
    assert size["flash_used"] <= FLASH_64K and size["ram_used"] <= RAM_20K
    assert size["flash_used"] == size["text"] + size["data"] > 8000
    # The right core and float ABI, and the board's own UART driver linked in.
    assert f"-mcpu={b.core}" in man["cmd"] and f"-mfpu={b.fpu}" in man["cmd"]
    syms = subprocess.run(["arm-none-eabi-nm", str(out / "firmware.elf")], capture_output=True,
                          text=True, check=True).stdout
    assert DRIVER_SYMBOL[b.uart_driver] in syms
    assert all(s not in syms for d, s in DRIVER_SYMBOL.items() if d != b.uart_driver)
    assert "Fault_Handler" in syms and "rct_fault_report" in syms
    # Vector table at the start of the image: initial SP = top of RAM, reset vector in flash
    # with the Thumb bit set.
    sp, reset = struct.unpack_from("<II", (out / "firmware.bin").read_bytes())
    ram_end = 0x20000000 + b.ram_kb * 1024
    assert sp == ram_end
    assert reset & 1 and b.flash_base <= reset < b.flash_base + b.flash_kb * 1024


def test_the_f7_and_l4_use_the_newer_usart_layout():
    assert {n for n, b in BOARDS.items() if b.uart_driver == "stm32_v2"} == {
        "stm32f746g-disco", "nucleo-l476rg"}
    assert {n for n, b in BOARDS.items() if b.uart_driver == "stm32_v1"} == {
        "qemu-stm32f405", "nucleo-f411re", "nucleo-f446re"}


def test_an_image_that_does_not_fit_is_refused_and_nothing_written(gen, tmp_path):
    require_tools("arm-none-eabi-gcc")
    out = tmp_path / "small"
    with pytest.raises(UserError, match=r"firmware does not fit: .*flash \d+/4096 B.*partition"):
        build_firmware("qemu-stm32f405", gen / "gen", out, flash_budget=4096)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_missing_toolchain_is_named(gen, tmp_path, monkeypatch):
    monkeypatch.setattr(firmware_build, "ARM_GCC", "arm-none-eabi-gcc-nosuch")
    with pytest.raises(UserError, match="arm-none-eabi-gcc-nosuch not found; install it"):
        build_firmware("nucleo-f411re", gen / "gen", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_build_cli_generates_builds_and_prints_the_size_report(capsys, gen, tmp_path):
    require_tools("arm-none-eabi-gcc")
    code, out, err = run_cli(capsys, "build", "--board", "qemu-stm32f405", "--model",
                             str(gen / "model.rct"), "--out", str(tmp_path / "fw"),
                             "--flash-budget", str(FLASH_64K), "--ram-budget", str(RAM_20K))
    assert code == 0, err
    for word in ("text", "data", "bss", f"/ {FLASH_64K} B", f"/ {RAM_20K} B", "firmware.hex"):
        assert word in out
    assert (tmp_path / "fw" / "model" / "rct_generated.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["fw"]  # no temp folder left behind
    code, out, err = run_cli(capsys, "build", "--generated", str(tmp_path / "fw"), "--out",
                             str(tmp_path / "fw2"))
    assert code == 0, err  # a build folder is a valid --generated (its model/ tree)
    assert json.loads((tmp_path / "fw2" / "build.json").read_text())["board"] == "qemu-stm32f405"
    code, out, err = run_cli(capsys, "build", "--board", "nucleo-f446re", "--generated",
                             str(tmp_path / "fw"), "--out", str(tmp_path / "fw3"))
    assert code == 2 and "--board nucleo-f446re contradicts" in err and "qemu-stm32f405" in err
    assert not (tmp_path / "fw3").exists()


@pytest.mark.parametrize("case", ["neither", "both", "board", "generated", "tight", "ram"])
def test_build_cli_bad_input_exits_2(capsys, gen, tmp_path, case):
    m, g = str(gen / "model.rct"), str(gen / "gen")
    args, msg = {
        "neither": ([], "give either --model ART"),
        "both": (["--model", m, "--generated", g], "give either --model ART"),
        "board": (["--board", "stm32-nope", "--generated", g], "unknown board 'stm32-nope'"),
        "generated": (["--generated", str(tmp_path / "nope")], "does not exist"),
        "tight": (["--generated", g, "--flash-budget", "2000"], "firmware does not fit"),
        "ram": (["--model", m, "--ram-budget", "1000"], "RAM limit of 1000 B leaves nothing"),
    }[case]
    code, _, err = run_cli(capsys, "build", "--out", str(tmp_path / "o"), *args)
    assert code == 2 and msg in err, err
    assert not (tmp_path / "o").exists()


def test_the_uart_rate_is_a_build_setting_the_stream_follows(capsys, gen, tmp_path):
    require_tools("arm-none-eabi-gcc")
    from rct_tflm.stream.target import port_baud
    code, _, err = run_cli(capsys, "build", "--board", "nucleo-f411re", "--generated",
                           str(gen / "gen"), "--out", str(tmp_path / "fw"), "--baud", "230400")
    assert code == 0, err
    man = json.loads((tmp_path / "fw" / "build.json").read_text())
    assert man["baud"] == 230400 and "-DRCT_UART_BAUD=230400u" in man["cmd"]
    assert port_baud(None, str(tmp_path / "fw")) == 230400 and port_baud(None, None) == 115200
    code, _, err = run_cli(capsys, "stream", "--port", "socket://127.0.0.1:9", "--firmware",
                           str(tmp_path / "fw"), "--model", str(gen / "model.rct"), "--out",
                           str(tmp_path / "s"), "--baud", "9600")
    assert code == 2 and "--baud 9600 contradicts" in err and "230400" in err
    code, _, err = run_cli(capsys, "build", "--board", "nucleo-f411re", "--generated",
                           str(gen / "gen"), "--out", str(tmp_path / "fw2"), "--baud", "10")
    assert code == 2 and "--baud must be in 1200..4000000" in err
