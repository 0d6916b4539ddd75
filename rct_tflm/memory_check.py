"""Measured, not only planned: a linked Cortex-M firmware's memory against its plan.

The plan (partition's, which generate's memory.json repeats: arena and state, plus
boards.firmware_ram: stack, link, staging, app) is compared with what the ELF holds. Every
static object in RAM (.data/.bss) is attributed by its symbol and source file: the arena
(`rct_arena_words`), the model state (the rest of rct_model.c), the link buffers (main.c's
receiver, rct_link_send.c's raw and wire frames, the dispatcher's response), the staging buffer
(the dispatcher's `stage`), and everything else as app statics. Flash is split into code
(functions) and the model's tables (rct_weights.c). The stack is bounded statically: GCC's call
graph of the very build (-fcallgraph-info=su, parsed by codegen/stack.py) from Reset_Handler
down, plus a fault taken at that depth (the FPU exception frame and the fault handler's own
path); it must fit the stack the link reserves above .bss. The bound of each model API entry
point is kept too (`model_api`), the figure a painted-stack run of that call
(rct_tflm.profile, tools/bench_memory.py) must stay under.

`check` raises a one-line UserError when an item or the total disagrees with the plan by more
than MARGIN, or the stack bound exceeds the reserved stack.
"""
from __future__ import annotations

from pathlib import Path

from .boards import STACK_BYTES, firmware_ram
from .link.messages import LABEL_BYTES
from .codegen.stack import ENTRY_POINTS, deepest, parse_callgraph
from .errors import UserError

MARGIN = 0.10  # measured vs planned, relative to the plan
EXCEPTION_FRAME = 104  # bytes a Cortex-M4F/M7 pushes on exception entry with the FPU context
CHECKED = ("arena", "state", "link", "stage")  # items the plan sizes exactly (app is a margin)
_LINK = {("main.c", "rx"), ("rct_link_send.c", "raw"), ("rct_link_send.c", "wire"),
         ("rct_app_dispatch.c", "rsp")}


def _kind(file: str, name: str) -> str:
    if name == "rct_arena_words":
        return "arena"
    if file == "rct_model.c":
        return "state"
    if (file, name) in _LINK:
        return "link"
    if (file, name) == ("rct_app_dispatch.c", "stage"):
        return "stage"
    return "app"


# the model's tensor tables in rct_weights.c (frozen int8, trainable initial int16), by name: the
# linker lists global symbols after every file's locals, so a file cannot attribute them
TABLE_PREFIXES = ("rct_w_", "rct_init_")


def elf_memory(elf: str | Path) -> dict:
    """RAM objects by item and flash by code/tables of a linked ELF (pyelftools)."""
    from elftools.elf.elffile import ELFFile
    ram = {k: 0 for k in ("arena", "state", "link", "stage", "app")}
    code = tables = 0
    with open(elf, "rb") as fh:
        f = ELFFile(fh)
        ram_secs = {i for i, s in enumerate(f.iter_sections())
                    if s.name.startswith((".data", ".bss"))}
        sections = {"text": 0, "data": 0, "bss": 0}
        for s in f.iter_sections():
            if s["sh_flags"] & 0x2 and s["sh_size"]:  # SHF_ALLOC, as arm-none-eabi-size counts
                key = "bss" if s["sh_type"] == "SHT_NOBITS" else \
                    "data" if s["sh_flags"] & 0x1 else "text"
                sections[key] += s["sh_size"]
        src = ""
        for sym in f.get_section_by_name(".symtab").iter_symbols():
            kind = sym["st_info"]["type"]
            if kind == "STT_FILE":
                src = Path(sym.name).name
            elif kind == "STT_OBJECT" and isinstance(sym["st_shndx"], int):
                if sym["st_shndx"] in ram_secs:
                    ram[_kind(src, sym.name)] += sym["st_size"]
                elif sym.name.startswith(TABLE_PREFIXES):
                    tables += sym["st_size"]
            elif kind == "STT_FUNC" and isinstance(sym["st_shndx"], int):
                code += sym["st_size"]
    # padding and objects without a symbol (libc's) count as app statics
    ram["app"] += sections["data"] + sections["bss"] - sum(ram.values())
    return {"sections": sections, "ram": ram, "flash": {"code": code, "tables": tables}}


def stack_bound(ci_dir: str | Path) -> dict[str, int]:
    """Worst-case stack from the build's call graphs: main's deepest path (from the reset
    handler) and a fault taken there."""
    frames, edges, dynamic = parse_callgraph([p.read_text() for p in Path(ci_dir).glob("*.ci")])
    if dynamic:
        raise UserError(f"unbounded stack frames in {sorted(dynamic)}: the firmware's stack "
                        f"cannot be bounded; remove the variable-length arrays")
    if "Reset_Handler" not in frames:
        raise UserError(f"no call graph of the reset handler in {ci_dir}: the stack cannot be "
                        f"bounded; build with arm-none-eabi-gcc 12 or newer")
    run = deepest("Reset_Handler", frames, edges)
    # Fault_Handler is naked asm (no frame of its own) that branches to rct_fault_report
    fault = deepest("rct_fault_report", frames, edges) if "rct_fault_report" in frames else 0
    entries = {fn: deepest(fn, frames, edges) for fn in ENTRY_POINTS if fn in frames}
    return {"run": run, "fault": EXCEPTION_FRAME + fault, "bound": run + EXCEPTION_FRAME + fault,
            "reserved": STACK_BYTES, "model_api": entries}


def planned_items(memory: dict, input_size: int, max_batch: int,
                  target_bytes: int = LABEL_BYTES) -> dict[str, int]:
    """The plan's RAM items from a generated tree's memory.json and manifest facts."""
    return {"arena": int(memory["ram"]["arena"]), "state": int(memory["ram"]["state"]),
            **firmware_ram(input_size, max_batch, target_bytes)}


def compare(planned: dict[str, int], measured: dict, stack: dict[str, int] | None,
            planned_tables: int) -> dict:
    """The size report's `memory` record: planned vs measured per item, and the verdicts."""
    ram = dict(measured["ram"])
    ram["stack"] = STACK_BYTES  # reserved by the linker script (sections.ld: _min_stack)
    total_measured = measured["sections"]["data"] + measured["sections"]["bss"] + STACK_BYTES
    total_planned = sum(planned.values())
    rows = {k: {"planned": int(planned.get(k, 0)), "measured": int(ram.get(k, 0))}
            for k in ("arena", "state", "stack", "link", "stage", "app")}
    return {"margin": MARGIN, "ram": rows,
            "ram_total": {"planned": total_planned, "measured": total_measured},
            "flash": {"code": measured["flash"]["code"],
                      "tables": {"planned": planned_tables, "measured": measured["flash"]["tables"]}},
            "stack": stack}


def _off(planned: int, measured: int) -> bool:
    return abs(measured - planned) > MARGIN * max(planned, 1)


def check(rec: dict, board: str) -> None:
    """UserError (one line) when the measured image disagrees with its plan beyond MARGIN."""
    bad = [f"{k} {r['measured']} B vs {r['planned']} B planned" for k, r in rec["ram"].items()
           if k in CHECKED and (r["planned"] or r["measured"]) and _off(r["planned"], r["measured"])]
    t = rec["ram_total"]
    if _off(t["planned"], t["measured"]):
        bad.append(f"RAM total {t['measured']} B vs {t['planned']} B planned")
    ft = rec["flash"]["tables"]
    if _off(ft["planned"], ft["measured"]):
        bad.append(f"flash tables {ft['measured']} B vs {ft['planned']} B planned")
    if bad:
        raise UserError(f"the {board} image disagrees with its memory plan by more than "
                        f"{MARGIN:.0%}: {'; '.join(bad)}; the plan (boards.firmware_ram, "
                        f"codegen) is out of step with the firmware: report it")
    s = rec["stack"]
    if s and s["bound"] > s["reserved"]:
        raise UserError(f"the {board} firmware's deepest call path needs {s['bound']} B of stack "
                        f"(run {s['run']} B + a fault {s['fault']} B), the image reserves "
                        f"{s['reserved']} B; raise boards.STACK_BYTES and _min_stack in "
                        f"firmware/boards/common/sections.ld")
