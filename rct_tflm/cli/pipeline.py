"""`rct-tflm partition`, `report` and `demo`: the split for a board, the summary, the whole story."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .options import out_callback


@click.command("partition")
@click.option("--model", "model_path", required=True, type=click.Path(dir_okay=False),
              help="trained model artefact (.rct from `rct-tflm train`)")
@click.option("--out", required=True, type=click.Path(), callback=out_callback("file"),
              help="partitioned artefact to write (.rct)")
@click.option("--board", default="qemu-stm32f405", show_default=True, help="target board (`rct-tflm boards`)")
@click.option("--trainable-layers", type=int, default=None,
              help="train the last K parametric layers [default: 1, the classifier head]")
@click.option("--frozen-layers", type=int, default=None, help="freeze the first K parametric layers")
@click.option("--max-batch", type=int, default=1, show_default=True, help="largest on-device micro-batch")
def partition_cmd(model_path: str, out: str, board: str, trainable_layers: int | None,
                  frozen_layers: int | None, max_batch: int) -> None:
    """Split a model: frozen int8 prefix in flash, trainable RCT suffix in RAM."""
    from ..artefact import ModelArtefact
    from ..fixedpoint.engine import EngineConfig
    from ..partition import partition, plan_table
    art = ModelArtefact.load(model_path)
    p = partition(art, board, trainable_layers, frozen_layers, EngineConfig(max_batch=max_batch))
    p.save(out)
    click.echo(plan_table(p.partition))
    click.echo(f"wrote {out}")


@click.command("report")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), callback=out_callback("dir"))
def report_cmd(runs: tuple[Path, ...], out: Path) -> None:
    """Summarise result folders (train, compare, partition, build, emulate, stream) as report.md."""
    from ..report.summary import build_report
    from .outdir import staged_out
    with staged_out(str(out)) as tmp:
        build_report(list(runs), tmp)
    click.echo(f"wrote {out}/report.md and report.json")


COMMANDS: list[Any] = [partition_cmd, report_cmd]


@click.command("demo")
@click.option("--out", default="out/demo", show_default=True,
              type=click.Path(path_type=Path), callback=out_callback("dir"),
              help="output folder (replaced only when the demo succeeds)")
@click.option("--board", default="qemu-stm32f405", show_default=True,
              help="a QEMU board (`rct-tflm boards`)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--quick", is_flag=True, default=False,
              help="fewer epochs (a smoke run of every stage in about a minute)")
@click.option("--progress/--no-progress", default=True, show_default=True)
def demo_cmd(out: Path, board: str, seed: int, quick: bool, progress: bool) -> None:
    """The whole story: host training, partition, firmware, QEMU board trained over its UART."""
    from ..boards import get_board
    from ..demo import DemoConfig, run_demo
    from ..errors import UserError
    from .outdir import replace_on_success
    if not get_board(board).is_qemu:
        raise UserError(f"the demo boots its board in QEMU; '{board}' is a real board: use "
                        f"qemu-stm32f405, qemu-mps2-an386 or qemu-mps2-an500")
    cfg = DemoConfig(board=board, seed=seed, host_epochs=5 if quick else 20,
                     device_epochs=1 if quick else 2, progress=progress)
    with replace_on_success(out) as dest:
        run_demo(dest, cfg, say=click.echo)
    click.echo(f"\nwrote {out}/ (start with {out}/7-report/report.md)")


COMMANDS.append(demo_cmd)
