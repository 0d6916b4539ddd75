"""`rct-tflm partition`: split a model into a frozen prefix and a trainable suffix for a board."""
from __future__ import annotations

from pathlib import Path

import click

from ..boards import DEFAULT_BOARD

from ..errors import UserError
from .options import out_callback


def parse_bytes(text: str | None, flag: str) -> int | None:
    """'98304', '96K' or '96KB' as bytes (None stays None)."""
    if text is None:
        return None
    t = text.strip().upper().removesuffix("B")
    scale = 1024 if t.endswith("K") else 1
    try:
        return int(t.removesuffix("K")) * scale
    except ValueError:
        raise UserError(f"{flag} {text}: give bytes (98304) or KB (96K)") from None


@click.command("partition")
@click.option("--model", "model_path", required=True, type=click.Path(),
              help="trained model artefact (.rct from `rct-tflm train`, or its --out folder)")
@click.option("--out", required=True, type=click.Path(), callback=out_callback("dir"),
              help="output folder: model.rct (the partitioned model, its plan inside) and "
                   "plan.txt (replaced only when partitioning succeeds)")
@click.option("--board", default=None,
              help=f"target board (`rct-tflm boards`) [default: {DEFAULT_BOARD}]")
@click.option("--trainable-layers", type=int, default=None,
              help="train the last K parametric layers [default: the deepest suffix that fits "
                   "the RAM]")
@click.option("--frozen-layers", type=int, default=None, help="freeze the first K parametric layers")
@click.option("--trainable-from", default=None, metavar="LAYER",
              help="train from this layer (by name) to the output")
@click.option("--ram-budget", default=None, metavar="BYTES|NK",
              help="RAM the whole firmware may use, at most the board's: bytes, or KB as 96K "
                   "[default: the board's RAM]")
@click.option("--batch-size", "max_batch", type=int, default=1, show_default=True,
              help="the largest micro-batch the firmware will train on (buffers are sized for "
                   "it; `stream --batch-size` may use less)")
def partition_cmd(model_path: str, out: str, board: str | None, trainable_layers: int | None,
                  frozen_layers: int | None, trainable_from: str | None, ram_budget: str | None,
                  max_batch: int) -> None:
    """Split a model: frozen int8 prefix in flash, trainable RCT suffix in RAM; prints the
    per-layer memory table."""
    from ..program import load_artefact
    from ..boards import DEFAULT_BOARD
    from ..fixedpoint.config import EngineConfig
    from ..partition import partition, plan_table
    art = load_artefact(model_path)
    p = partition(art, board or DEFAULT_BOARD, trainable_layers, frozen_layers,
                  EngineConfig(max_batch=max_batch), parse_bytes(ram_budget, "--ram-budget"),
                  trainable_from)
    from ..formats.atomic import write_text
    from .outdir import staged_out
    table = plan_table(p.partition)
    with staged_out(out) as tmp:
        p.save(Path(tmp) / "model.rct")
        write_text(Path(tmp) / "plan.txt", table + "\n")
    click.echo(table)
    click.echo(f"wrote {out}/: model.rct plan.txt")


COMMANDS = [partition_cmd]
