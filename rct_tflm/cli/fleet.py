"""`rct-tflm fleet`: many boards train one model together over Flower, integer-only."""
from __future__ import annotations

from pathlib import Path

import click

from ..boards import QEMU_BOARDS
from ..errors import UserError
from .options import FINITE, device_defaults, grouped, lr_kwargs, out_callback


def parse_kill(values: tuple[str, ...]) -> dict[int, int]:
    """--kill BOARD@ROUND (repeatable) as {board: round}."""
    out: dict[int, int] = {}
    for v in values:
        try:
            b, r = (int(s) for s in v.split("@"))
        except ValueError:
            raise UserError(f"--kill '{v}' is not BOARD@ROUND, e.g. --kill 1@2 (board 1 loses "
                            f"power halfway through round 2)") from None
        out[b] = r
    return out


def _on_board(f):
    return grouped(f, "On each board", "the integer engine's settings for a round", [
        (("--batch-size", "batch"), dict(type=int, default=1, show_default=True,
                                         help="samples per weight update on each board")),
        (("--lr", "lr_shift"), lr_kwargs(None, "learning rate, rounded to the nearest power "
                                               "of two (default: the firmware's)")),
        (("--period-samples",), dict(type=int, default=None,
                                     help="controller decision period (default: the "
                                          "firmware's)")),
    ])


def _failures(f):
    return grouped(f, "Failures", "boards that die, time out or stop answering; a stopped "
                                  "server", [
        (("--min-boards",), dict(type=int, default=None,
                                 help="results a round needs to update the global model "
                                      "(default: half the fleet)")),
        (("--round-timeout",), dict(type=FINITE, default=600.0, show_default=True,
                                    help="seconds a board has for its round before it counts "
                                         "as missed")),
        (("--kill", "kill"), dict(multiple=True, metavar="BOARD@ROUND",
                                  help="fault drill: board BOARD loses power halfway through "
                                       "round ROUND; it rejoins in the next round "
                                       "(repeatable)")),
        (("--resume",), dict(type=click.Path(), default=None,
                             help="continue from the fleet_checkpoint.json of a server that "
                                  "stopped")),
        (("--timeout",), dict(type=FINITE, default=2.0, show_default=True,
                              help="longest wait for one answer on a link before "
                                   "retransmitting")),
        (("--retries",), dict(type=int, default=4, show_default=True,
                              help="retransmissions of one request before a board misses the "
                                   "round")),
    ])


@click.command("fleet")
@click.option("--boards", "n_boards", type=int, default=None,
              help="boards rct-tflm starts (--board-kind) [default: 3, or 0 with --port]")
@click.option("--board-kind", "kind", type=click.Choice(["golden", "host", *QEMU_BOARDS]),
              default="host", show_default=True,
              help="what each board is: the host build of the firmware, a QEMU machine, or the "
                   "numpy golden device")
@click.option("--port", "ports", multiple=True,
              help="a running board's serial URL (repeatable): real boards join the fleet "
                   "(after the started ones; needs --firmware, the build they run)")
@click.option("--firmware", type=click.Path(), default=None,
              help="build folder (`rct-tflm build --board KIND`); default: built into "
                   "OUT/firmware")
@click.option("--model", "model_path", required=True, type=click.Path(),
              help="the partitioned model artefact (`rct-tflm partition`)")
@click.option("--data", default="digits", show_default=True,
              help="digits, mnist-idx:DIR[@14x14], npz:PATH or csv:PATH; its training split is "
                   "sharded across the boards")
@click.option("--rounds", type=int, default=5, show_default=True, help="federated rounds")
@click.option("--split", default="iid", show_default=True,
              help="how the shards are drawn: iid, or dirichlet:ALPHA (label skew; 0.5 is "
                   "strongly non-IID)")
@click.option("--local-epochs", type=int, default=1, show_default=True,
              help="passes over its shard each board makes per round")
@click.option("--out", required=True, type=click.Path(), callback=out_callback("dir"))
@click.option("--seed", type=int, default=0, show_default=True,
              help="sample order, PRNG and aggregation seed")
@click.option("--split-seed", type=int, default=None,
              help="train/test split and shard seed (default: the artefact's training seed)")
@click.option("--centralised/--no-centralised", default=True, show_default=True,
              help="also train one golden board on all the shards, for comparison")
@_on_board
@_failures
@click.option("--progress/--no-progress", default=True, show_default=True)
def fleet_cmd(n_boards: int | None, kind: str, ports: tuple[str, ...], firmware: str | None,
              model_path: str, data: str, rounds: int, split: str, local_epochs: int, out: str,
              seed: int, split_seed: int | None, batch: int, lr_shift: int | None,
              period_samples: int | None, min_boards: int | None, round_timeout: float,
              kill: tuple[str, ...], resume: str | None, centralised: bool, timeout: float,
              retries: int, progress: bool) -> None:
    """Federated training with Flower: each board trains on its own shard, the server averages
    the integer weights; no sample leaves a board."""
    try:
        import flwr  # noqa: F401
    except ImportError:
        raise UserError("rct-tflm fleet needs Flower: pip install 'rct_tflm[fleet]' "
                        "(flwr==1.42.0; `make setup` installs it)") from None
    from ..fleet import FleetConfig, run_fleet
    from ..fleet.run import check_options

    if timeout <= 0:
        raise UserError(f"--timeout must be positive, got {timeout}")
    if not 0 <= retries <= 1000:
        raise UserError(f"--retries must be in 0..1000, got {retries}")
    if n_boards is None:
        n_boards = 0 if ports else 3
    cfg = FleetConfig(model=model_path, data=data, out=out, boards=n_boards, kind=kind,
                      firmware=firmware, ports=list(ports), rounds=rounds, split=split,
                      local_epochs=local_epochs, seed=seed, split_seed=split_seed, batch=batch,
                      lr_shift=lr_shift, period_samples=period_samples, min_boards=min_boards,
                      round_timeout=round_timeout, kill=parse_kill(kill), resume=resume,
                      centralised=centralised, progress=progress, timeout=timeout,
                      retries=retries, engine=device_defaults(batch))
    check_options(cfg)  # before a firmware is built for nothing
    if firmware is None and kind != "golden" and not ports and n_boards > 0:
        cfg.firmware = _build(kind, model_path, Path(out) / "firmware", batch)
    r = run_fleet(cfg)
    acc = " -> ".join(f"{100 * a:.1f}" for a in [r["initial_test_accuracy"], *r["test_accuracy"]])
    click.echo(f"fleet of {r['boards']} {r['board_kind']} boards, {r['split']}, {r['rounds']} "
               f"rounds: global test accuracy {acc} %")
    if "centralised_test_accuracy" in r:
        click.echo(f"one board on all the data, same samples: "
                   f"{100 * r['centralised_test_accuracy'][-1]:.1f} % (fleet - centralised: "
                   f"{-r['gap_points']:+.1f} points; over the last {r['last_k']} rounds "
                   f"{-r['gap_points_last_k']:+.1f})")
    for m in r["missed"]:
        click.echo(f"round {m['round']}: board{m['board']} missed ({m['reason']})")
    for j in r["rejoined"]:
        click.echo(f"round {j['round']}: board{j['board']} rejoined")
    click.echo(f"weights_sha256 {r['weights_sha256']}; final bits "
               + "/".join(str(b) for b in r["final_bitwidths"].values()))
    click.echo(f"wrote {out}/: " + " ".join(r["files"]))


def _build(kind: str, model_path: str, dest: Path, batch: int) -> str:
    """The firmware every board of the fleet runs, built once for `kind`."""
    from .build import build_cmd

    build_cmd.main(args=["--board", kind, "--model", model_path, "--out", str(dest),
                         "--batch-size", str(batch)], standalone_mode=False)
    click.echo(f"built the firmware for {kind} into {dest} (pass --firmware to reuse a build)")
    return str(dest)


COMMANDS = [fleet_cmd]
