"""`rct-tflm boards`, `build`, `flash` and `stream`: firmware, boards and the serial link.

Every check on the input runs before anything is built, flashed or streamed; outputs appear
complete or not at all (build), or are checkpointed so an interrupted run resumes (stream).
"""
from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import click

from ..boards import KERNEL_SETS
from ..errors import UserError
from .engine import _controller_options, _engine_config, ram_budget_for
from .options import FINITE, out_callback


@click.command("boards")
@click.option("--json", "as_json", is_flag=True, help="print the database as JSON")
def boards_cmd(as_json: bool) -> None:
    """List the boards rct_tflm builds for, emulates and flashes."""
    from ..boards import board_table
    rows = board_table()
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    cols = [("name", "board"), ("mcu", "MCU"), ("core", "core"), ("fpu", "FPU"),
            ("flash_kb", "flash KB"), ("ram_kb", "RAM KB"), ("uart", "UART"),
            ("qemu", "QEMU machine")]
    cells = [[h for _, h in cols]] + [[str(r[k]) + (" *" if k == "name" and r["default"] else "")
                                       for k, _ in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    for i, row in enumerate(cells):
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            click.echo("  ".join("-" * w for w in widths))
    click.echo("* default board. Flashing: pyOCD (default), st-flash or OpenOCD; "
               "see docs/boards.md.")


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


@click.command("build")
@click.option("--board", default="qemu-stm32f405", show_default=True,
              help="board from `rct-tflm boards`, or host (the host build of the firmware)")
@click.option("--model", "model_path", type=click.Path(), default=None,
              help="model artefact (.rct): generate its C tree, then build")
@click.option("--generated", type=click.Path(), default=None,
              help="an existing generated tree (`rct-tflm generate`) to build instead")
@click.option("--out", required=True, type=click.Path(), callback=out_callback("dir"),
              help="output folder (replaced only when the build succeeds)")
@click.option("--seed", type=int, default=0, show_default=True, help="default PRNG seed")
@click.option("--max-batch", type=int, default=1, show_default=True,
              help="largest micro-batch the firmware trains on (stream --batch)")
@click.option("--ram-budget", type=int, default=None,
              help="RAM limit in bytes for the model plan and the linked image (default: the "
                   "board's RAM)")
@click.option("--flash-budget", type=int, default=None,
              help="flash limit in bytes for the linked image (default: the board's flash)")
@click.option("--kernels", type=click.Choice(KERNEL_SETS), default="auto", show_default=True,
              help="fast: Cortex-M4/M7 DSP kernels; portable: the reference C; auto: fast where "
                   "the core has DSP (same integers either way)")
@click.option("--test-hooks", is_flag=True, default=False,
              help="compile the FAULT_TEST message in (tests only)")
@_controller_options
def build_cmd(board: str, model_path: str | None, generated: str | None, out: str, seed: int,
              max_batch: int, ram_budget: int | None, flash_budget: int | None, kernels: str,
              test_hooks: bool, **kw: Any) -> None:
    """Build the firmware (ELF, BIN, HEX and a size report) for a board, or the host build."""
    from ..boards import HOST, get_board
    from ..firmware_build import build_firmware

    if bool(model_path) == bool(generated):
        raise UserError("give either --model ART (generate, then build) or --generated DIR")
    if board != HOST:
        get_board(board)
    for name, v in (("--ram-budget", ram_budget), ("--flash-budget", flash_budget)):
        if v is not None and v <= 0:
            raise UserError(f"{name} must be a positive number of bytes, got {v}")
    defines = {"RCT_TEST_HOOKS": 1} if test_hooks else None
    dest = Path(out)
    if dest.exists() and not dest.is_dir():
        raise UserError(f"--out {dest} exists and is not a folder; give a folder path")
    if generated:
        manifest = build_firmware(board, generated, dest, defines, flash_budget, ram_budget,
                                  kernels)
    else:
        from ..artefact import ModelArtefact
        from ..firmware_build import build_artefact
        cfg = _engine_config({**kw, "seed": seed}, max_batch)
        manifest = build_artefact(board, ModelArtefact.load(model_path), dest, cfg,
                                  kw["trainable_layers"], kw["frozen_layers"],
                                  ram_budget_for(board, ram_budget), flash_budget, defines,
                                  Path(model_path).stem, kernels)
    if board == HOST:
        click.echo(f"host build: {dest / 'firmware'} (speaks the link protocol on stdin/stdout; "
                   f"`rct-tflm stream --board host --firmware {dest}`)")
    else:
        click.echo(size_table(manifest["size"]))
        click.echo(f"wrote {dest}/: firmware.elf firmware.bin firmware.hex firmware.map "
                   f"size.json build.json model/")


@click.command("flash")
@click.argument("firmware", type=click.Path())
@click.option("--board", required=True, help="the real board (see `rct-tflm boards`)")
@click.option("--tool", type=click.Choice(["pyocd", "st-flash", "openocd"]), default=None,
              help="default: pyocd, else the first installed of st-flash, openocd")
@click.option("--dry-run", is_flag=True, default=False, help="print the command, do not run it")
def flash_cmd(firmware: str, board: str, tool: str | None, dry_run: bool) -> None:
    """Flash a built firmware (folder, .hex, .bin or .elf) onto a board through its probe."""
    from ..flash import flash
    cmd = flash(board, firmware, tool, dry_run)
    click.echo(shlex.join(cmd) if dry_run else f"flashed {board}: {shlex.join(cmd)}")


@click.command("stream")
@click.option("--port", default=None,
              help="serial URL of a running board: /dev/ttyACM0, COM3, socket://HOST:PORT")
@click.option("--board", default=None,
              help="start it here: qemu-* (QEMU), host (host build) or golden (numpy model)")
@click.option("--firmware", type=click.Path(), default=None,
              help="build folder (`rct-tflm build`): what --board runs; with --port, its "
                   "model/ manifest tells the trainable split and compiled settings")
@click.option("--model", "model_path", required=True, type=click.Path(),
              help="the model artefact (.rct) the firmware was built from")
@click.option("--data", default="digits", show_default=True,
              help="digits, mnist-idx:DIR[@14x14], npz:PATH or csv:PATH")
@click.option("--epochs", type=int, default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True,
              help="data order and PRNG seed")
@click.option("--out", required=True, type=click.Path(), callback=out_callback("dir"))
@click.option("--batch", type=int, default=1, show_default=True,
              help="micro-batch (the firmware's --max-batch bounds it)")
@click.option("--lr-shift", type=int, default=None,
              help="learning rate 2^-N (default: the firmware's)")
@click.option("--period-samples", type=int, default=None,
              help="controller decision period (default: the firmware's)")
@click.option("--checkpoint-every", type=int, default=2048, show_default=True,
              help="samples between checkpoints (rounded up to whole periods; 0: none)")
@click.option("--resume", type=click.Path(), default=None,
              help="continue from a checkpoint.json of an interrupted stream")
@click.option("--split-seed", type=int, default=None,
              help="data split seed (default: the artefact's training seed)")
@click.option("--timeout", type=FINITE, default=2.0, show_default=True,
              help="seconds to wait for each answer before retransmitting")
@click.option("--progress/--no-progress", default=True, show_default=True)
def stream_cmd(port: str | None, board: str | None, firmware: str | None, model_path: str,
               data: str, epochs: int, seed: int, out: str, batch: int, lr_shift: int | None,
               period_samples: int | None, checkpoint_every: int, resume: str | None,
               split_seed: int | None, timeout: float, progress: bool) -> None:
    """Train a board on-device over the serial link; checkpoint, evaluate and report."""
    from ..stream import StreamConfig, open_target, prepare, run_stream
    from ..stream.target import check_target

    if timeout <= 0:
        raise UserError(f"--timeout must be positive, got {timeout}")
    check_target(port, board, firmware)
    cfg = StreamConfig(model=model_path, data=data, out=out, epochs=epochs, seed=seed,
                       batch=batch, lr_shift=lr_shift, period_samples=period_samples,
                       checkpoint_every=checkpoint_every, resume=resume, split_seed=split_seed,
                       progress=progress)
    prep = prepare(cfg, firmware)
    with open_target(port, board, firmware, prep.dm, timeout=timeout) as link:
        r = run_stream(prep, link, board or port)
    click.echo(f"{r['target']}: test accuracy {100 * r['test_accuracy_before']:.2f}% -> "
               f"{100 * r['test_accuracy_after']:.2f}% (golden model with the board's weights: "
               f"{100 * r['golden_test_accuracy_after']:.2f}%), {r['samples']} samples at "
               f"{r['samples_per_s']:.0f} samples/s, final bits "
               + "/".join(str(b) for b in r["final_bitwidths"].values()))
    click.echo(f"weights_sha256 {r['weights_sha256']}; wire {r['wire_bytes']} B, protocol "
               f"overhead {100 * r['overhead_fraction']:.1f}% of training traffic, "
               f"{r['retransmits']} retransmits")
    click.echo(f"wrote {out}/: " + " ".join(r["files"]))


COMMANDS = [boards_cmd, build_cmd, flash_cmd, stream_cmd]
