"""`rct-tflm build`: generate (if needed) and compile the firmware for a board; size report."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..boards import DEFAULT_BOARD, KERNEL_SETS
from ..errors import UserError
from .options import engine_config, engine_options, out_callback, plan_target


def size_table(size: dict) -> str:
    f, r = size["flash_total"], size["ram_total"]
    return "\n".join([
        f"{'section':<8} {'bytes':>8}",
        f"{'text':<8} {size['text']:>8}",
        f"{'data':<8} {size['data']:>8}",
        f"{'bss':<8} {size['bss']:>8}",
        f"flash {size['flash_used']} / {f} B ({100 * size['flash_used'] / f:.1f}%)  "
        f"RAM {size['ram_used']} / {r} B ({100 * size['ram_used'] / r:.1f}%, incl. stack)",
    ])


def memory_table(mem: dict) -> str:
    """Planned vs measured RAM per item, flash tables and the stack bound (size.json memory)."""
    lines = [f"{'RAM item':<10} {'planned':>9} {'measured':>9}"]
    for k, r in mem["ram"].items():
        lines.append(f"{k:<10} {r['planned']:>9} {r['measured']:>9}")
    t, ft, st = mem["ram_total"], mem["flash"]["tables"], mem["stack"]
    lines.append(f"{'total':<10} {t['planned']:>9} {t['measured']:>9}  "
                 f"({100 * (t['measured'] - t['planned']) / t['planned']:+.1f}%, margin "
                 f"{100 * mem['margin']:.0f}%)")
    lines.append(f"flash: code {mem['flash']['code']} B, tables {ft['measured']} B "
                 f"(planned {ft['planned']} B)")
    if st:
        lines.append(f"stack: deepest path {st['run']} B + a fault {st['fault']} B = "
                     f"{st['bound']} B of {st['reserved']} B reserved")
    return "\n".join(lines)


@click.command("build")
@click.option("--board", default=None,
              help="board from `rct-tflm boards`, or host (the host build of the firmware); "
                   f"default: the partition plan's (the generated tree's), else {DEFAULT_BOARD}")
@click.option("--model", "model_path", type=click.Path(), default=None,
              help="model artefact (.rct, or its `rct-tflm train --out` folder): generate its C "
                   "tree, then build")
@click.option("--generated", type=click.Path(), default=None,
              help="an existing generated tree (`rct-tflm generate`) to build instead")
@click.option("--out", required=True, type=click.Path(), callback=out_callback("dir"),
              help="output folder (replaced only when the build succeeds)")
@click.option("--seed", type=int, default=0, show_default=True, help="default PRNG seed")
@click.option("--batch-size", "max_batch", type=int, default=None,
              help="largest micro-batch the firmware trains on (stream --batch-size; default: the "
                   "plan's, else 1)")
@click.option("--ram-budget", type=int, default=None,
              help="RAM limit in bytes for the linked image (default: the board's RAM); the "
                   "model gets what stack, link buffers and app state leave")
@click.option("--flash-budget", type=int, default=None,
              help="flash limit in bytes for the linked image (default: the board's flash)")
@click.option("--kernels", type=click.Choice(KERNEL_SETS), default="auto", show_default=True,
              help="fast: Cortex-M4/M7 DSP kernels; portable: the reference C; auto: fast where "
                   "the core has DSP (same integers either way)")
@click.option("--baud", type=int, default=115200, show_default=True,
              help="the UART's bit rate, 8N1 (recorded in build.json; `stream --firmware` "
                   "opens the port at it)")
@click.option("--test-hooks", is_flag=True, default=False,
              help="compile the FAULT_TEST message in (tests only)")
@engine_options
def build_cmd(board: str | None, model_path: str | None, generated: str | None, out: str,
              seed: int, max_batch: int | None, ram_budget: int | None,
              flash_budget: int | None, kernels: str, baud: int, test_hooks: bool,
              **kw: Any) -> None:
    """Build the firmware (ELF, BIN, HEX and a size report) for a board, or the host build."""
    from ..boards import HOST, get_board
    from ..firmware_build import build_firmware

    if bool(model_path) == bool(generated):
        raise UserError("give either --model ART (generate, then build) or --generated DIR")
    if board is not None and board != HOST:
        get_board(board)
    for name, v in (("--ram-budget", ram_budget), ("--flash-budget", flash_budget)):
        if v is not None and v <= 0:
            raise UserError(f"{name} must be a positive number of bytes, got {v}")
    defines = {"RCT_TEST_HOOKS": 1} if test_hooks else None
    dest = Path(out)
    if dest.exists() and not dest.is_dir():
        raise UserError(f"--out {dest} exists and is not a folder; give a folder path")
    if generated:
        from ..firmware_build import generated_for
        board = generated_for(generated, board) or board or DEFAULT_BOARD
        manifest = build_firmware(board, generated, dest, defines, flash_budget, ram_budget,
                                  kernels, baud)
    else:
        from ..program import load_artefact
        from ..firmware_build import build_artefact
        art = load_artefact(model_path)
        t = plan_target(art, model_path, board, max_batch, kw)
        board = t.board
        cfg = engine_config({**kw, "seed": seed}, t.max_batch)
        manifest = build_artefact(board, art, dest, cfg, t.trainable_layers, t.frozen_layers,
                                  ram_budget, flash_budget, defines, Path(model_path).stem,
                                  kernels, baud)
    if board == HOST:
        click.echo(f"host build: {dest / 'firmware'} (speaks the link protocol on stdin/stdout; "
                   f"`rct-tflm stream --target host --firmware {dest}`)")
    else:
        click.echo(size_table(manifest["size"]))
        if manifest.get("memory"):
            click.echo(memory_table(manifest["memory"]))
        click.echo(f"wrote {dest}/: firmware.elf firmware.bin firmware.hex firmware.map "
                   f"size.json build.json model/")


COMMANDS = [build_cmd]
