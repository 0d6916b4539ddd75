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
              help="trained model artefact (.rct from `rct-tflm train`, or its --out folder), "
                   "or a fully int8 .tflite (its FULLY_CONNECTED head trains, the rest stays "
                   "frozen in TFLite's arithmetic), or a Keras .keras/.h5 (converted to that "
                   ".tflite first)")
@click.option("--data", default="digits", show_default=True,
              help="a Keras --model only: the data set whose training samples calibrate its "
                   "int8 conversion")
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
def partition_cmd(model_path: str, out: str, data: str, board: str | None,
                  trainable_layers: int | None, frozen_layers: int | None,
                  trainable_from: str | None, ram_budget: str | None, max_batch: int) -> None:
    """Split a model: frozen int8 prefix in flash, trainable RCT suffix in RAM; prints the
    per-layer memory table."""
    from ..program import load_artefact
    from ..boards import DEFAULT_BOARD
    from ..fixedpoint.config import EngineConfig
    from ..partition import partition, plan_table
    from ..formats.tflite_model import is_tflite
    from ..partition.tflite_head import partition_tflite
    split = (board or DEFAULT_BOARD, trainable_layers, frozen_layers,
             EngineConfig(max_batch=max_batch), parse_bytes(ram_budget, "--ram-budget"),
             trainable_from)
    import tempfile
    with tempfile.TemporaryDirectory(prefix="rct-partition-") as work:
        converted = None
        if model_path.endswith((".keras", ".h5")):  # the frozen part through TFLiteConverter
            from ..trainer.keras_tflite import keras_file_to_tflite
            converted = keras_file_to_tflite(model_path, data,
                                             Path(work) / (Path(model_path).stem + ".tflite"))
            model_path = str(converted)
        p = (partition_tflite(model_path, *split) if is_tflite(model_path)
             else partition(load_artefact(model_path), *split))
        from ..formats.atomic import write_text
        from .outdir import staged_out
        table = plan_table(p.partition)
        with staged_out(out) as tmp:
            p.save(Path(tmp) / "model.rct")
            write_text(Path(tmp) / "plan.txt", table + "\n")
            if converted is not None:  # for `rct-tflm verify --model` and TFLite Micro itself
                (Path(tmp) / converted.name).write_bytes(converted.read_bytes())
    click.echo(table)
    click.echo(f"wrote {out}/: model.rct plan.txt" + (f" {converted.name}" if converted else ""))


COMMANDS = [partition_cmd]
