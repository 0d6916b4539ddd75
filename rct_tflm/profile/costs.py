"""Estimated cycles per instruction for Cortex-M4 and Cortex-M7 (docs/profile.md has the table
and its sources). The profiler counts instructions exactly; cycles are an estimate on top:
each instruction of a basic block is classified by its mnemonic (capstone) and costed from the
core's table, with the two effects a per-block cost can see — a taken branch refills the
pipeline (+P), and neighbouring single loads/stores pipeline (the second costs 1 on the M4).
Not modelled: wait states, cache misses, bus contention, the M7's dual issue (its estimate is
a single-issue upper bound), and IT-skipped instructions cost as if they executed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UserError


@dataclass(frozen=True)
class CoreCosts:
    core: str
    alu: int = 1  # data processing, moves, shifts, extends, bit fields, saturation, IT, NOP
    mul: int = 1  # MUL/MLA/MLS, SMULL/UMULL/SMLAL/UMLAL, DSP MACs (SMLA*, SMLAD, ...)
    div: int = 7  # SDIV/UDIV: 2..12 data-dependent; the midpoint
    load: int = 2  # LDR*/STR* single
    load_pipelined: int = 1  # a single load/store right after another one
    load_dual: int = 3  # LDRD/STRD
    multi_base: int = 1  # LDM/STM/PUSH/POP: base + per_reg * N
    multi_per_reg: float = 1.0
    branch: int = 1  # B/BL/BX/CBZ/TBB issue
    refill: int = 2  # P: pipeline refill after a taken branch (M4: 1..3)
    fp: int = 1  # VADD/VSUB/VMUL/VCMP/VCVT/VMOV/VABS/VNEG
    fp_mac: int = 3  # VMLA/VMLS/VFMA/VFMS/VNMLA
    fp_div: int = 14  # VDIV/VSQRT
    fp_load: int = 2  # VLDR/VSTR
    sys: int = 2  # MRS/MSR/barriers


COSTS = {
    "cortex-m4": CoreCosts("cortex-m4"),
    # Cortex-M7: 64-bit buses, loads 1 cycle on a TCM/cache hit, branch prediction (a
    # predicted taken branch refills in ~1); dual issue not modelled (estimate is an upper bound)
    "cortex-m7": CoreCosts("cortex-m7", load=1, load_pipelined=1, load_dual=1, multi_per_reg=0.5,
                           refill=1, fp_div=16, fp_load=1),
}

_COND = r"(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?"
_WIDTH = r"(\.w|\.n)?"
_RULES: list[tuple[re.Pattern, str]] = [(re.compile(p + _COND + _WIDTH + r"$"), k) for p, k in [
    (r"(s|u)div", "div"),
    (r"(mul|mla|mls|smull|umull|smlal|umlal|umaal|smla[bt][bt]|smlaw[bt]|smul[bt][bt]|smulw[bt]"
     r"|smlad|smladx|smlsd|smlsdx|smlald|smlaldx|smlsld|smlsldx|smuad|smuadx|smusd|smusdx"
     r"|smmul|smmulr|smmla|smmlar|smmls|smmlsr|smlal[bt][bt])s?", "mul"),
    (r"(ldrd|strd)", "load_dual"),
    (r"(ldr|str)(b|h|sb|sh|ex|exb|exh|t|bt|ht|sbt|sht)?", "load"),
    (r"(ldm|stm)(ia|db|fd|ea)?|push|pop", "multi"),
    (r"(vldm|vstm)(ia|db)?|vpush|vpop", "fp_multi"),
    (r"(vldr|vstr)", "fp_load"),
    (r"(vdiv|vsqrt)(\.f32|\.f64)?", "fp_div"),
    (r"(vmla|vmls|vfma|vfms|vnmla|vnmls|vfnma|vfnms)(\.f32|\.f64)?", "fp_mac"),
    (r"v[a-z]+(\.[a-z0-9.]+)?", "fp"),
    (r"(b|bl|blx|bx|cbz|cbnz)", "branch"),
    (r"(tbb|tbh)", "table_branch"),
    (r"(mrs|msr|dmb|dsb|isb|svc|bkpt|cpsie|cpsid|wfi|wfe)", "sys"),
]]


def classify(mnemonic: str) -> str:
    m = mnemonic.lower()
    for pat, kind in _RULES:
        if pat.match(m):
            return kind
    return "alu"


def _n_regs(op_str: str) -> int:
    inside = op_str[op_str.find("{") + 1:op_str.find("}")] if "{" in op_str else ""
    n = 0
    for r in inside.split(","):
        r = r.strip()
        if "-" in r:  # a range, e.g. d8-d11
            a, b = r.split("-")
            n += int(b.strip()[1:]) - int(a.strip()[1:]) + 1
        elif r:
            n += 1
    return max(n, 1)


@dataclass(frozen=True)
class BlockCost:
    instructions: int
    cycles: float  # without the refill of a taken branch at its end
    taken_penalty: int  # added when the next block does not start where this one ends
    end: int  # the fall-through address


def block_cost(insns: list[tuple[int, int, str, str]], costs: CoreCosts) -> BlockCost:
    """Costs of one basic block from its disassembly [(address, size, mnemonic, op_str)]."""
    cyc = 0.0
    prev_mem = False
    penalty = 0
    for _, _, mn, ops in insns:
        kind = classify(mn)
        writes_pc = "pc" in ops.split(",")[0] or (kind == "multi" and "pc" in ops)
        mem = kind == "load"
        if kind == "load":
            cyc += costs.load_pipelined if prev_mem else costs.load
        elif kind == "multi":
            cyc += costs.multi_base + costs.multi_per_reg * _n_regs(ops)
        elif kind == "fp_multi":
            words = _n_regs(ops) * (2 if "d" in ops[ops.find("{"):ops.find("{") + 3] else 1)
            cyc += costs.multi_base + costs.multi_per_reg * words
        elif kind == "table_branch":
            cyc += costs.branch + 1
        else:
            cyc += getattr(costs, kind)
        prev_mem = mem
        penalty = costs.refill if kind in ("branch", "table_branch") or writes_pc else 0
    last = insns[-1] if insns else (0, 0, "", "")
    return BlockCost(len(insns), cyc, penalty, last[0] + last[1])


def core_costs(core: str) -> CoreCosts:
    try:
        return COSTS[core]
    except KeyError:
        raise UserError(f"no cost table for core '{core}'; the profiler knows "
                        f"{', '.join(COSTS)}") from None
