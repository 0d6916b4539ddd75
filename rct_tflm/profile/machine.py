"""A Cortex-M core in unicorn that runs functions of an ELF and counts what they execute.

The ELF's PT_LOAD segments are mapped at their virtual addresses (.data directly at its RAM
address, .bss zeroed), so no start-up code runs; the FPU is enabled as the firmware's start-up
does (CPACR). Calls follow the AAPCS: r0-r3, then the stack; LR is a magic return address in
the profiler's own region, where emulation stops. The stack is the profiler's too (its own
region), painted before every call so the call's peak depth is the lowest overwritten word.
"""
from __future__ import annotations

import struct
from typing import Callable

from ..errors import UserError
from .elf import ElfImage

PAGE = 0x1000
# The profiler's region: magic return, scratch buffers (inputs, outputs), stack. 0x30000000 is
# in the ARMv7-M SRAM region (executable; unicorn faults on a return into 0x6xxxxxxx) above the
# RAM of every board here.
REGION = 0x30000000
MAGIC = REGION  # holds `b .`; LR = MAGIC | 1
SCRATCH = REGION + PAGE
SCRATCH_BYTES = 0x80000
STACK_LO = SCRATCH + SCRATCH_BYTES
STACK_BYTES = 0x40000
STACK_TOP = STACK_LO + STACK_BYTES
PAINT = b"\xa5\x5a\xc3\x3c"
MAX_INSNS = 2_000_000_000  # a runaway call stops here


def _cpu_model(core: str) -> int:
    from unicorn import arm_const as a
    models = {"cortex-m0": a.UC_CPU_ARM_CORTEX_M0, "cortex-m3": a.UC_CPU_ARM_CORTEX_M3,
              "cortex-m4": a.UC_CPU_ARM_CORTEX_M4, "cortex-m7": a.UC_CPU_ARM_CORTEX_M7,
              "cortex-m33": a.UC_CPU_ARM_CORTEX_M33}
    if core not in models:
        raise UserError(f"core '{core}' is not a Cortex-M core the emulator knows "
                        f"({', '.join(models)})")
    return models[core]


class Machine:
    """One emulated core holding one ELF image (see module doc)."""

    def __init__(self, elf: ElfImage, core: str) -> None:
        from unicorn import UC_ARCH_ARM, UC_MODE_MCLASS, UC_MODE_THUMB, Uc
        from unicorn import arm_const as a

        self.elf, self.core = elf, core
        self.uc = uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        uc.ctl_set_cpu_model(_cpu_model(core))
        spans: list[list[int]] = []
        for s in sorted(elf.segments, key=lambda s: s.vaddr):
            lo, hi = s.vaddr & ~(PAGE - 1), (s.vaddr + s.memsz + PAGE - 1) & ~(PAGE - 1)
            if spans and lo <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], hi)
            else:
                spans.append([lo, hi])
        for lo, hi in spans:
            if lo < STACK_TOP and hi > REGION:
                raise UserError(f"{elf.path} has code or data at 0x{lo:08x}, where the profiler "
                                f"keeps its stack; cannot profile this image")
            uc.mem_map(lo, hi - lo)
        for s in elf.segments:
            uc.mem_write(s.vaddr, s.data + bytes(s.memsz - len(s.data)))
        uc.mem_map(REGION, STACK_TOP - REGION)
        uc.mem_write(MAGIC, b"\xfe\xe7")  # b .
        # FPU on (CP10/CP11 full access), as firmware/boards/common/startup.c does
        uc.reg_write(a.UC_ARM_REG_C1_C0_2, uc.reg_read(a.UC_ARM_REG_C1_C0_2) | (0xF << 20))
        uc.reg_write(a.UC_ARM_REG_FPEXC, 0x40000000)
        self._brk = SCRATCH

    # -- scratch memory --------------------------------------------------------------------
    def alloc(self, data: bytes | int) -> int:
        """A scratch buffer (8-byte aligned) holding `data`, or `data` zero bytes."""
        raw = bytes(data)  # an int: that many zero bytes
        addr = self._brk
        self._brk = (addr + len(raw) + 7) & ~7
        if self._brk > SCRATCH + SCRATCH_BYTES:
            raise UserError("the profiler's scratch memory is full (inputs too large)")
        self.uc.mem_write(addr, raw)
        return addr

    def free_all(self) -> None:
        self._brk = SCRATCH

    def read(self, addr: int, n: int) -> bytes:
        return bytes(self.uc.mem_read(addr, n))

    # -- calls -----------------------------------------------------------------------------
    def call(self, func: str | int, args: tuple[int, ...] = (),
             hook: Callable[["Machine"], Callable[[], None]] | None = None) -> tuple[int, int]:
        """Call `func` with integer args; returns (r0, peak stack bytes). `hook(machine)` is
        installed for the call and returns the function that removes it."""
        from unicorn import UcError
        from unicorn import arm_const as a

        uc = self.uc
        addr = self.elf.func(func).addr if isinstance(func, str) else func
        stack_args = [v & 0xFFFFFFFF for v in args[4:]]
        sp = (STACK_TOP - 4 * len(stack_args)) & ~7
        uc.mem_write(STACK_LO, PAINT * (STACK_BYTES // 4))
        if stack_args:
            uc.mem_write(sp, struct.pack(f"<{len(stack_args)}I", *stack_args))
        for i, v in enumerate(args[:4]):
            uc.reg_write(a.UC_ARM_REG_R0 + i, v & 0xFFFFFFFF)
        uc.reg_write(a.UC_ARM_REG_SP, sp)
        uc.reg_write(a.UC_ARM_REG_LR, MAGIC | 1)
        remove = None
        if hook:
            uc.ctl_flush_tb()  # blocks translated without the hook would not call it
            remove = hook(self)
        try:
            uc.emu_start(addr | 1, MAGIC, count=MAX_INSNS)
        except UcError as e:
            pc = uc.reg_read(a.UC_ARM_REG_PC)
            raise UserError(f"the emulated call of {func} stopped at pc 0x{pc:08x} "
                            f"({self.symbol_at(pc)}): {e}") from None
        finally:
            if remove:
                remove()
                uc.ctl_flush_tb()  # and untraced calls should not pay for it
        pc = uc.reg_read(a.UC_ARM_REG_PC)
        if pc != MAGIC:
            raise UserError(f"the emulated call of {func} did not return (pc 0x{pc:08x}, "
                            f"{self.symbol_at(pc)}) within {MAX_INSNS} instructions")
        return uc.reg_read(a.UC_ARM_REG_R0), self._stack_peak(sp)

    def _stack_peak(self, sp: int) -> int:
        """Bytes below the initial SP written by the call (stack painting)."""
        import numpy as np
        words = np.frombuffer(self.read(STACK_LO, sp - STACK_LO), "<u4")
        touched = np.flatnonzero(words != struct.unpack("<I", PAINT)[0])
        return 0 if touched.size == 0 else int(sp - (STACK_LO + 4 * touched[0]))

    def symbol_at(self, pc: int) -> str:
        for f in self.elf.functions.values():
            if f.addr <= (pc & ~1) < f.addr + max(f.size, 1):
                return f.name
        return "?"
