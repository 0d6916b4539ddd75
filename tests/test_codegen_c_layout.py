"""The C struct sizes the memory report charges (codegen/c_layout.py) are the compilers': a
probe compiled with host gcc and arm-none-eabi-gcc, and the static state symbols of a linked
Cortex-M firmware, against the Python mirrors."""
from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from conftest import require_tools
from rct_tflm.codegen.c_layout import SIZES, state_bytes
from rct_tflm.codegen.render import generate
from rct_tflm.fixedpoint.kernels import ConvShape
from rct_tflm.resources import firmware_dir

STRUCTS = list(SIZES["cortex-m"])
SHAPE_FIELDS = ("n", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w",
                "stride_h", "stride_w", "pad_top", "pad_left", "depth_multiplier")
COMPILERS = {"host": ["gcc"], "cortex-m": ["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb"]}
STATE_SYMBOLS = ("s_t", "s_slots", "s_ctrl", "s_rng", "s_hp", "s_gavg", "s_samples", "s_steps",
                 "s_decisions", "s_loss_q16", "s_wr_pending_off", "s_wr_pending_lo")


@pytest.fixture(scope="module")
def gen(tmp_path_factory, digits_mlp_artefact) -> Path:
    out = tmp_path_factory.mktemp("layout") / "gen"
    generate(digits_mlp_artefact, out)
    return out


def _probe(tmp: Path, gen: Path, abi: str) -> list[int]:
    """sizeof of every struct, then offsetof of every rct_conv_shape_t member, per the compiler."""
    src = tmp / "probe.c"
    src.write_text("#include <stddef.h>\n#include \"rct.h\"\n#include \"rct_model.h\"\n"
                   "const unsigned int rct_layout_probe[] = {\n"
                   + "".join(f"    sizeof({s}),\n" for s in STRUCTS)
                   + "".join(f"    offsetof(rct_conv_shape_t, {f}),\n" for f in SHAPE_FIELDS)
                   + "};\n")
    obj = tmp / f"probe-{abi}.o"
    subprocess.run([*COMPILERS[abi], "-std=c99", "-c", f"-I{firmware_dir() / 'include'}",
                    f"-I{gen}", str(src), "-o", str(obj)], check=True)
    with open(obj, "rb") as fh:
        elf = ELFFile(fh)
        sym = next(s for s in elf.get_section_by_name(".symtab").iter_symbols()
                   if s.name == "rct_layout_probe")
        data = elf.get_section(sym["st_shndx"]).data()[sym["st_value"]:][:sym["st_size"]]
    return list(struct.unpack(f"<{len(data) // 4}I", data))


@pytest.mark.parametrize("abi", ["host", "cortex-m"])
def test_struct_sizes_and_shape_layout_are_the_compilers(tmp_path, gen, abi):
    require_tools(COMPILERS[abi][0])
    got = _probe(tmp_path, gen, abi)
    assert dict(zip(STRUCTS, got)) == SIZES[abi]
    offsets = got[len(STRUCTS):]
    assert offsets == [4 * i for i in range(len(SHAPE_FIELDS))]  # int32 members, in this order
    # the generated `{ 1, dims... }` initialisers follow ConvShape.as_tuple's order
    sh = ConvShape(*range(1, len(SHAPE_FIELDS) + 1))
    assert [getattr(sh, f) for f in SHAPE_FIELDS] == list(sh.as_tuple())


@pytest.mark.slow
def test_state_bytes_equal_the_linked_firmwares_static_state(tmp_path, digits_mlp_artefact):
    require_tools("arm-none-eabi-gcc")
    from rct_tflm.fixedpoint.config import EngineConfig
    from rct_tflm.firmware_build import build_artefact
    man = build_artefact("qemu-stm32f405", digits_mlp_artefact, tmp_path / "fw", EngineConfig())
    with open(tmp_path / "fw" / man["elf"], "rb") as fh:
        syms = {s.name: s["st_size"] for s in ELFFile(fh).get_section_by_name(".symtab")
                .iter_symbols() if s["st_info"]["type"] == "STT_OBJECT"}
    missing = [s for s in STATE_SYMBOLS if s not in syms]
    assert not missing, f"rct_model.c's state changed: {missing} not in the ELF; update c_layout.py"
    from rct_tflm.program import lower
    n = len(lower(digits_mlp_artefact, EngineConfig()).trainable)
    total = sum(syms[s] for s in STATE_SYMBOLS)
    assert total <= state_bytes(n) < total + 4  # the symbols, plus the 4-byte end padding
