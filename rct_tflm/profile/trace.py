"""Instruction counting with kernel attribution, from a unicorn basic-block hook.

Every executed translation block adds its instruction count (decoded once per block; IT-skipped
instructions count, since they are fetched and issued) and estimated cycles to the open kernel
call, or to the glue when none is open. A kernel call opens when a block starts at the entry
of a kernel function while no call is open and the return address (LR) lies in the calling
code's ranges (the generated model's functions), and closes when execution comes back to that
return address with the same stack pointer — so kernels nested inside a kernel count to the
outer one, and a tail call from the caller (LR = the profiler's magic return) closes with the
top-level call.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Callable

from .costs import BlockCost, CoreCosts, block_cost
from .machine import MAGIC, Machine


@dataclass
class KernelCall:
    name: str
    instructions: int = 0
    cycles: float = 0.0
    args: tuple[int, ...] = ()  # r0-r3 at entry


@dataclass
class Trace:
    calls: list[KernelCall] = field(default_factory=list)
    glue_instructions: int = 0
    glue_cycles: float = 0.0

    @property
    def instructions(self) -> int:
        return self.glue_instructions + sum(c.instructions for c in self.calls)

    @property
    def cycles(self) -> float:
        return self.glue_cycles + sum(c.cycles for c in self.calls)


class BlockCounter:
    """Per-block instruction counts and costs of one machine, decoded once (capstone)."""

    def __init__(self, m: Machine, costs: CoreCosts) -> None:
        from capstone import CS_ARCH_ARM, CS_MODE_MCLASS, CS_MODE_THUMB, Cs
        self.m, self.costs = m, costs
        self.cs = Cs(CS_ARCH_ARM, CS_MODE_THUMB | CS_MODE_MCLASS)
        self.cache: dict[tuple[int, int], BlockCost] = {}

    def block(self, addr: int, size: int) -> BlockCost:
        key = (addr, size)
        c = self.cache.get(key)
        if c is None:
            code = self.m.read(addr, size)
            insns = list(self.cs.disasm_lite(code, addr))
            if sum(i[1] for i in insns) != size:  # capstone stopped early: count by encoding
                insns = _by_encoding(code, addr)
            c = self.cache[key] = block_cost(insns, self.costs)
        return c


def _by_encoding(code: bytes, addr: int) -> list[tuple[int, int, str, str]]:
    """Thumb instruction boundaries: a halfword 0b11101/11110/11111 xxx starts a 32-bit one."""
    out, off = [], 0
    while off + 1 < len(code):
        n = 4 if (code[off + 1] >> 3) in (0b11101, 0b11110, 0b11111) else 2
        out.append((addr + off, n, "?", ""))
        off += n
    return out


class KernelTracer:
    """Attributes a call's blocks to kernel calls (see module doc)."""

    def __init__(self, counter: BlockCounter, kernels: dict[int, str],
                 caller_ranges: list[tuple[int, int]]) -> None:
        self.counter, self.kernels = counter, kernels
        self._lo = [r[0] for r in caller_ranges]
        self._ranges = caller_ranges
        self.trace = Trace()

    def _from_caller(self, lr: int) -> bool:
        if lr == MAGIC:
            return True
        i = bisect.bisect_right(self._lo, lr) - 1
        return i >= 0 and self._ranges[i][0] <= lr < self._ranges[i][1]

    def install(self, m: Machine) -> Callable[[], None]:
        """Hook into `m` for one call; a fresh Trace collects it."""
        from unicorn import UC_HOOK_BLOCK
        from unicorn import arm_const as a

        self.trace = tr = Trace()
        block = self.counter.block
        kernels, from_caller = self.kernels, self._from_caller
        reg_lr, reg_sp = a.UC_ARM_REG_LR, a.UC_ARM_REG_SP
        st = {"open": None, "ret": -1, "sp": -1, "prev": None}  # prev: (BlockCost, bucket)

        def on_block(uc, addr: int, size: int, _user) -> None:
            c = block(addr, size)
            prev = st["prev"]
            if prev is not None and prev[0].taken_penalty and addr != prev[0].end:
                _add(prev[1], 0, prev[0].taken_penalty)
            k = st["open"]
            if k is None:
                name = kernels.get(addr)
                if name is not None:
                    lr = uc.reg_read(reg_lr) & ~1
                    if from_caller(lr):
                        k = KernelCall(name, args=tuple(uc.reg_read(a.UC_ARM_REG_R0 + i)
                                                        for i in range(4)))
                        tr.calls.append(k)
                        st["open"], st["ret"], st["sp"] = k, lr, uc.reg_read(reg_sp)
            elif addr == st["ret"] and uc.reg_read(reg_sp) == st["sp"]:
                st["open"] = k = None
            bucket = k if k is not None else tr
            _add(bucket, c.instructions, c.cycles)
            st["prev"] = (c, bucket)

        h = m.uc.hook_add(UC_HOOK_BLOCK, on_block)

        def remove() -> None:
            prev = st["prev"]
            if prev is not None and prev[0].taken_penalty:  # the final return
                _add(prev[1], 0, prev[0].taken_penalty)
            m.uc.hook_del(h)

        return remove


def _add(bucket: KernelCall | Trace, n: int, cyc: float) -> None:
    if isinstance(bucket, KernelCall):
        bucket.instructions += n
        bucket.cycles += cyc
    else:
        bucket.glue_instructions += n
        bucket.glue_cycles += cyc


def count_call(m: Machine, counter: BlockCounter, func: str | int,
               args: tuple[int, ...] = ()) -> tuple[int, Trace, int]:
    """(r0, trace with no kernel attribution, peak stack) of one call: the peers' counting."""
    t = KernelTracer(counter, {}, [])
    r0, stack = m.call(func, args, t.install)
    return r0, t.trace, stack
