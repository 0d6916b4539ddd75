"""What the profiler needs from an ELF: loadable segments, function symbols, the address ranges
of one source file's code (DWARF), and the static RAM/flash footprint.

Static sizes come from the section headers, counted like `arm-none-eabi-size` (what
`rct-tflm build` reports; its RAM figure adds the 4 KB reserved stack, ours the measured peak).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError


@dataclass(frozen=True)
class Segment:
    vaddr: int
    data: bytes  # file contents (p_filesz); the rest up to memsz is zero
    memsz: int


@dataclass(frozen=True)
class Function:
    name: str
    addr: int  # without the Thumb bit
    size: int


class ElfImage:
    """A parsed ARM ELF (pyelftools); raises UserError for a missing or non-ARM file."""

    def __init__(self, path: str | Path) -> None:
        from elftools.common.exceptions import ELFError
        from elftools.elf.elffile import ELFFile

        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"ELF '{self.path}' does not exist; build the firmware first "
                            f"(`rct-tflm build --board B --model ART --out DIR`)")
        self._fh = self.path.open("rb")
        try:
            self.elf = ELFFile(self._fh)
        except ELFError as e:
            raise UserError(f"'{self.path}' is not an ELF file ({e}); rebuild it") from None
        if self.elf["e_machine"] != "EM_ARM":
            raise UserError(f"'{self.path}' is a {self.elf['e_machine']} image, not ARM; build it "
                            f"for a Cortex-M board")
        self.segments = [Segment(s["p_vaddr"], s.data(), s["p_memsz"])
                         for s in self.elf.iter_segments() if s["p_type"] == "PT_LOAD"
                         and s["p_memsz"] > 0]
        self.functions: dict[str, Function] = {}
        self.objects: dict[str, int] = {}  # data symbols: address
        symtab = self.elf.get_section_by_name(".symtab")
        if symtab is None:
            raise UserError(f"'{self.path}' has no symbol table; build it without stripping")
        for s in symtab.iter_symbols():
            if s["st_info"]["type"] == "STT_FUNC" and s["st_shndx"] != "SHN_UNDEF":
                self.functions.setdefault(s.name, Function(s.name, s["st_value"] & ~1,
                                                           s["st_size"]))
            elif s["st_info"]["type"] == "STT_OBJECT" and s["st_shndx"] != "SHN_UNDEF":
                self.objects.setdefault(s.name, s["st_value"])

    def close(self) -> None:
        self._fh.close()

    def func(self, name: str) -> Function:
        try:
            return self.functions[name]
        except KeyError:
            raise UserError(f"'{self.path}' has no function {name}; is it the right "
                            f"firmware?") from None

    def source_ranges(self, filename: str) -> list[tuple[int, int]]:
        """[lo, hi) address ranges of the code compiled from the source file `filename` (its
        DWARF compile unit); empty when the ELF has no debug info for it."""
        if not self.elf.has_dwarf_info():
            return []
        dw = self.elf.get_dwarf_info()
        out: list[tuple[int, int]] = []
        for cu in dw.iter_CUs():
            top = cu.get_top_DIE()
            name = top.attributes.get("DW_AT_name")
            if name is None or not name.value.decode(errors="replace").endswith(filename):
                continue
            for die in top.iter_children():
                if die.tag != "DW_TAG_subprogram" or "DW_AT_low_pc" not in die.attributes:
                    continue
                lo = die.attributes["DW_AT_low_pc"].value
                hi = die.attributes["DW_AT_high_pc"]
                # DWARF 4+: high_pc is an offset from low_pc unless its form is an address
                end = hi.value if hi.form == "DW_FORM_addr" else lo + hi.value
                out.append((lo & ~1, end & ~1))
        return sorted(out)

    def static_sizes(self) -> dict[str, int]:
        """text / data / bss as `arm-none-eabi-size -B` counts them; flash = text + data (the
        initialisers), RAM = data + bss (static only: the stack is measured, not reserved)."""
        text = data = bss = 0
        for sec in self.elf.iter_sections():
            flags = sec["sh_flags"]
            if not flags & 0x2 or sec["sh_size"] == 0:  # SHF_ALLOC
                continue
            if sec["sh_type"] == "SHT_NOBITS":
                bss += sec["sh_size"]
            elif flags & 0x1:  # SHF_WRITE
                data += sec["sh_size"]
            else:
                text += sec["sh_size"]
        return {"text": text, "data": data, "bss": bss, "flash_bytes": text + data,
                "ram_bytes": data + bss}
