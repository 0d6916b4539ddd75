"""`rct-tflm generate`: the C project for a partitioned model, with its memory report."""
from __future__ import annotations

from typing import Any

import click

from ..boards import DEFAULT_BOARD

from .options import engine_config, engine_options, out_callback, plan_target


def memory_table(report: dict) -> str:
    r = report["ram"]
    kinds = r["by_kind"]
    budget = "none" if r["budget"] is None else f"{r['budget']} B"
    rows = [("arena (shared)", r["arena"]), *((f"  {k} (unshared)", v) for k, v in sorted(kinds.items())),
            ("static state", r["state"]), ("RAM total", r["total"]), ("RAM without sharing", r["unshared"]),
            ("flash tables", report["flash"]["tables"])]
    w = max(len(a) for a, _ in rows)
    lines = [f"{'memory':<{w}}  bytes", f"{'-' * w}  -------"]
    lines += [f"{a:<{w}}  {b:>7}" for a, b in rows]
    lines.append(f"RAM budget: {budget} (micro-batch {report['max_batch']})")
    return "\n".join(lines)


@click.command("generate")
@click.option("--model", "model_path", required=True, type=click.Path(),
              help="model artefact (.rct, or the `rct-tflm train --out` folder holding it)")
@click.option("--out", required=True, type=click.Path(), callback=out_callback("dir"),
              help="output folder for the C project (replaced when it is a generated one)")
@click.option("--board", default=None,
              help="board whose RAM bounds the model (default: the partition plan's, else "
                   f"{DEFAULT_BOARD}; host: no limit); see `rct-tflm boards`")
@click.option("--ram-budget", type=int, default=None,
              help="RAM limit in bytes for the whole firmware (default: the board's); the model "
                   "gets what stack, link buffers and app state leave")
@click.option("--seed", type=int, default=0, show_default=True, help="default PRNG seed")
@click.option("--batch-size", "max_batch", type=int, default=None,
              help="largest micro-batch the buffers are sized for (default: the plan's, else 1)")
@engine_options
def generate_cmd(model_path: str, out: str, board: str | None, ram_budget: int | None,
                 **kw: Any) -> None:
    """Generate the C99 project (model tables, static memory plan, schedules) for a model."""
    from math import prod

    from ..boards import model_ram_budget
    from ..codegen import generate
    from ..program import load_artefact
    art = load_artefact(model_path)
    t = plan_target(art, model_path, board, kw["max_batch"], kw)
    budget = model_ram_budget(t.board, prod(art.input_shape), ram_budget, t.max_batch)
    cfg = engine_config(kw, t.max_batch)
    rep = generate(art, out, cfg, t.trainable_layers, t.frozen_layers, ram_budget=budget,
                   artefact_name=str(model_path), board=t.board)
    click.echo(memory_table(rep))
    click.echo(f"wrote {out}/: rct_model.[ch] rct_config.h rct_weights.[ch] Makefile "
               f"CMakeLists.txt cmake/ platformio.ini example/main.c rct_runtime/ memory.json "
               f"memory.md rct_generated.json")


COMMANDS = [generate_cmd]
