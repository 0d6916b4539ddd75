"""One RAM budget for partition, generate and build (boards.Board.model_ram_budget): the
firmware's own RAM (stack, link buffers sized for the model's samples, app statics) is what the
linked image really holds, so a plan `partition` accepts for a board always links for it."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import require_tools
from rct_tflm.boards import APP_RAM_BYTES, BOARDS, firmware_ram, firmware_ram_bytes
from rct_tflm.errors import UserError
from rct_tflm.fixedpoint.config import EngineConfig
from rct_tflm.firmware_build import build_artefact
from rct_tflm.partition import partition

BIG_INPUT = 16 * 1024  # int8 values per sample: link frames of 16 KB and more


def big_input_mlp(sizes: list[int]):
    from rct_tflm.emulator.floatref import mlp_artefact, quantise_artefact
    art = quantise_artefact(mlp_artefact(sizes))
    for l in art.layers:
        l.act_exp = -4
    return art


@pytest.mark.parametrize("board,sizes", [("qemu-stm32f405", [64, 32, 10]),
                                         ("nucleo-l476rg", [BIG_INPUT, 8, 10])])
def test_a_plan_the_partition_accepts_links_and_its_estimate_is_the_image(tmp_path, board,
                                                                          sizes, digits_mlp_artefact):
    require_tools("arm-none-eabi-gcc")
    art = digits_mlp_artefact if sizes[0] == 64 else big_input_mlp(sizes)
    part = partition(art, board)
    plan = part.partition
    assert plan["ram"]["firmware_reserve"] == firmware_ram_bytes(sizes[0])
    man = build_artefact(board, part, tmp_path / "fw", EngineConfig())
    size = man["size"]
    assert size["ram_used"] <= size["ram_total"] == BOARDS[board].ram_bytes
    # the estimate bounds the image from above, and tightly (the app statics' margin)
    rest = size["ram_used"] - plan["ram"]["model_total"]
    assert firmware_ram_bytes(sizes[0]) - APP_RAM_BYTES <= rest <= firmware_ram_bytes(sizes[0])
    assert json.loads((tmp_path / "fw" / "model" / "rct_generated.json").read_text())["board"] \
        == board


def test_a_model_that_only_fits_without_its_link_buffers_is_refused_by_partition():
    # 16 KB samples are staged: one 16 KB staging buffer and 512-byte frames (~18 KB), where
    # four frame buffers sized for a whole sample took ~66 KB. A trainable 32-1024-10 part
    # (~100 KB with the 16 KB input's weights frozen) is still refused on the 96 KB L476, by
    # partition, naming what overflows
    fw = firmware_ram(BIG_INPUT, 1)
    assert fw["stage"] == BIG_INPUT and fw["link"] < 2200
    art = big_input_mlp([BIG_INPUT, 32, 1024, 10])
    with pytest.raises(UserError, match=r"nucleo-l476rg does not fit its RAM, \d+ B > 98304 B: "
                                        r"arena \d+ B .*stage 16384 B"):
        partition(art, "nucleo-l476rg", trainable_layers=2)
    assert partition(art, "qemu-stm32f405", trainable_layers=2).partition["board"] \
        == "qemu-stm32f405"


def test_generate_and_build_use_the_same_model_budget(tmp_path):
    from rct_tflm.boards import model_ram_budget
    b = BOARDS["nucleo-l476rg"]
    assert model_ram_budget(b.name, BIG_INPUT) == b.model_ram_budget(BIG_INPUT) \
        == b.ram_bytes - firmware_ram_bytes(BIG_INPUT)
    assert model_ram_budget("host", BIG_INPUT) is None
    assert model_ram_budget("host", 64, 20 * 1024) == 20 * 1024 - firmware_ram_bytes(64)
    with pytest.raises(UserError, match="leaves nothing for the model"):
        model_ram_budget(b.name, 64, 1000)
    assert np.isclose(firmware_ram_bytes(64), 4096 + 2084 + APP_RAM_BYTES, atol=16)
