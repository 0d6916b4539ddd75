"""`rct-tflm generate` and `rct-tflm emulate`: the integer engine on the host.

generate: model artefact -> C99 project + memory report (rct_tflm.codegen).
emulate:  --target golden|host: integer training run (rct_tflm.emulator.run);
          --board B FIRMWARE_DIR: boot a built firmware behind a serial URL (rct_tflm.emulator.boot).
Every check on the input runs before anything is written.
"""
from __future__ import annotations

from typing import Any, Callable

import click

from ..errors import UserError
from .options import controller_config, controller_options, out_callback

DEVICE_GAVG_REF_SAMPLES = 32  # = fixedpoint.controller.DEVICE_GAVG_REF_SAMPLES (no numpy at import)


def _controller_options(f: Callable) -> Callable:
    """The integer engine's options: learning-rate shift, accumulator policy, the split, and
    the controller's (cli/options.py)."""
    opts = [
        click.option("--lr-shift", type=int, default=5, show_default=True,
                     help="learning rate 2^-N"),
        click.option("--acc-policy", type=click.Choice(["int64", "cap"]), default="int64",
                     show_default=True,
                     help="layers whose int32 sum could overflow: 64-bit accumulator, or cap "
                          "their bitwidth to the largest safe one"),
        click.option("--trainable-layers", type=int, default=None,
                     help="train the last K parametric layers (default: the artefact's choice)"),
        click.option("--frozen-layers", type=int, default=None,
                     help="freeze the first K parametric layers"),
        click.option("--gavg-ref-samples", type=int, default=DEVICE_GAVG_REF_SAMPLES,
                     show_default=True,
                     help="controller: compare T_min/T_max with Gavg accumulated over N samples "
                          "(0: the per-step mean, the host trainer's rule; always 0 with "
                          "--rounding nearest)"),
    ]
    for o in reversed(opts):
        f = o(f)
    return controller_options(f)


def _engine_config(kw: dict[str, Any], max_batch: int):
    from ..fixedpoint.engine import EngineConfig
    cc = controller_config(kw)
    return EngineConfig(lr_shift=kw["lr_shift"], seed=kw["seed"], controller=cc,
                        stochastic=kw["rounding"] == "stochastic", max_batch=max_batch,
                        acc_policy=kw["acc_policy"])


def ram_budget_for(board: str | None, ram_budget: int | None) -> int | None:
    """--ram-budget wins; else the board's RAM (host: no limit); else the default board's."""
    from ..boards import DEFAULT_BOARD, HOST, get_board
    if ram_budget is not None:
        if ram_budget <= 0:
            raise UserError(f"--ram-budget must be a positive number of bytes, got {ram_budget}")
        return ram_budget
    if board == HOST:
        return None
    return get_board(board or DEFAULT_BOARD).ram_kb * 1024


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
              help="model artefact (.rct) from `rct-tflm train`")
@click.option("--out", required=True, type=click.Path(), callback=out_callback("dir"),
              help="output folder for the C project (replaced when it is a generated one)")
@click.option("--board", default=None, help="RAM budget from this board (default qemu-stm32f405; "
                                             "host: none); see `rct-tflm boards`")
@click.option("--ram-budget", type=int, default=None, help="RAM budget in bytes (overrides --board)")
@click.option("--seed", type=int, default=0, show_default=True, help="default PRNG seed")
@click.option("--max-batch", type=int, default=1, show_default=True,
              help="largest micro-batch the buffers are sized for")
@_controller_options
def generate_cmd(model_path: str, out: str, board: str | None, ram_budget: int | None,
                 **kw: Any) -> None:
    """Generate the C99 project (model tables, static memory plan, schedules) for a model."""
    from ..artefact import ModelArtefact
    from ..codegen import generate
    budget = ram_budget_for(board, ram_budget)
    cfg = _engine_config(kw, kw["max_batch"])
    art = ModelArtefact.load(model_path)
    rep = generate(art, out, cfg, kw["trainable_layers"], kw["frozen_layers"], ram_budget=budget,
                   artefact_name=str(model_path))
    click.echo(memory_table(rep))
    click.echo(f"wrote {out}/: rct_model.[ch] rct_config.h rct_weights.[ch] Makefile "
               f"memory.json memory.md rct_generated.json")


def parse_classes(spec: str | None) -> tuple[int, ...] | None:
    """'0-4' or '0,2,5' (or a mix) -> sorted class ids."""
    if spec is None:
        return None
    out: set[int] = set()
    try:
        for part in spec.split(","):
            a, sep, b = part.strip().partition("-")
            lo, hi = int(a), int(b) if sep else int(a)
            if lo < 0 or hi < lo:
                raise ValueError
            out.update(range(lo, hi + 1))
    except ValueError:
        raise UserError(f"--train-classes '{spec}': give class ids like 0-4 or 0,2,5") from None
    return tuple(sorted(out))


def _boot(board: str, firmware_dir: str) -> None:
    from ..emulator.boot import serve

    def show(url: str) -> None:
        click.echo(f"serial: {url}")
        click.echo("running; press Ctrl-C to stop", err=True)

    code = serve(board, firmware_dir, show)
    if code is not None:
        raise click.ClickException(f"the firmware exited on its own (code {code})")
    click.echo("stopped", err=True)


@click.command("emulate")
@click.argument("firmware_dir", required=False, type=click.Path())
@click.option("--board", default=None,
              help="boot FIRMWARE_DIR on qemu-stm32f405, qemu-mps2-an386, qemu-mps2-an500 or "
                   "host and print its serial URL (instead of a training run)")
@click.option("--target", type=click.Choice(["golden", "host"]), default=None,
              help="golden: numpy engine; host: the generated C as a shared library")
@click.option("--model", "model_path", type=click.Path(), default=None, help="model artefact (.rct)")
@click.option("--data", default="digits", show_default=True,
              help="digits, mnist-idx:DIR[@14x14], npz:PATH or csv:PATH")
@click.option("--epochs", type=int, default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(), callback=out_callback("dir"), default=None,
              help="output folder (replaced only when the run succeeds)")
@click.option("--batch", type=int, default=1, show_default=True,
              help="micro-batch size (1: streaming SGD)")
@click.option("--max-samples", type=int, default=None, help="stop after this many samples")
@click.option("--split-seed", type=int, default=None,
              help="data split seed (default: the artefact's training seed, its held-out split)")
@click.option("--eval-every", type=int, default=None,
              help="test accuracy every N samples (default: after every epoch)")
@click.option("--train-classes", default=None,
              help="train only on samples of these classes, e.g. 0-4 or 0,2,5 (test on all)")
@click.option("--sanitize", is_flag=True, default=False,
              help="host: build with -fsanitize=address,undefined (preload libasan, see docs)")
@click.option("--progress/--no-progress", default=True, show_default=True)
@_controller_options
def emulate_cmd(firmware_dir: str | None, board: str | None, target: str | None,
                model_path: str | None, out: str | None, **kw: Any) -> None:
    """Train with the integer engine (--target), or boot a built firmware (--board DIR)."""
    if board is not None:
        if firmware_dir is None:
            raise UserError("--board needs the firmware folder: rct-tflm emulate --board "
                            f"{board} FIRMWARE_DIR")
        if target or model_path or out:
            raise UserError("--board boots a firmware; --target/--model/--out start a training "
                            "run; give one or the other")
        _boot(board, firmware_dir)
        return
    if firmware_dir is not None:
        raise UserError(f"unexpected argument '{firmware_dir}': a firmware folder needs --board")
    missing = [o for o, v in (("--target", target), ("--model", model_path), ("--out", out)) if not v]
    if missing:
        raise UserError(f"missing {', '.join(missing)}: rct-tflm emulate --target golden|host "
                        f"--model ART --out DIR (or --board B FIRMWARE_DIR)")
    from .outdir import staged_out
    from ..emulator.run import EmulateConfig, emulate_run, prepare
    cfg = EmulateConfig(target=target, model=model_path, data=kw["data"], epochs=kw["epochs"],
                        seed=kw["seed"], batch=kw["batch"], max_samples=kw["max_samples"],
                        eval_every=kw["eval_every"], trainable_layers=kw["trainable_layers"],
                        frozen_layers=kw["frozen_layers"], engine=_engine_config(kw, kw["batch"]),
                        sanitize=kw["sanitize"], train_classes=parse_classes(kw["train_classes"]),
                        split_seed=kw["split_seed"])
    prep = prepare(cfg)
    with staged_out(out) as tmp:
        rec = emulate_run(prep, tmp, progress=kw["progress"])
    sps = rec["samples_per_s"]
    click.echo(f"{target}: test accuracy {100 * rec['test_accuracy_before']:.2f}% -> "
               f"{100 * rec['test_accuracy_after']:.2f}% after {rec['samples']} samples "
               f"({sps:.0f} samples/s), {len(rec['bitwidth_history']['changes'])} bitwidth "
               f"changes, weights sha256 {rec['weights_sha256'][:16]}...")
    click.echo(f"wrote {out}/: emulate.json model.rct bitwidths.png curves.png")


COMMANDS = [generate_cmd, emulate_cmd]
