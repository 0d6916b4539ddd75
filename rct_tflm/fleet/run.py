"""One fleet run: N boards, disjoint shards, R rounds of Flower with the integer FedAvg.

`run_fleet(cfg)` checks every input, starts the boards (host builds, QEMU machines, golden
devices, or opens --port URLs), runs Flower's server loop (flwr.server.Server) over one
in-process proxy per board, and writes --out: fleet.json (the per-round record), the global
model as model.rct, the plots, and after every round fleet_checkpoint.json (atomic), from which
`--resume` continues a run whose server stopped. A finished run's centralised baseline (the
golden engine on the union of the shards, same number of samples) is in fleet.json too.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from ..boards import HOST, get_board
from ..errors import UserError
from ..fixedpoint.config import LR_SHIFT_MAX, EngineConfig
from ..fixedpoint.state import weights_sha256
from ..formats import results
from ..formats.checkpoint import (FLEET_FORMAT, FLEET_VERSION, check_compatible, load_checkpoint,
                                  refuse_unfinished, save_checkpoint)
from ..stream import StreamConfig, prepare
from ..stream.device_model import device_model, find_manifest
from ..stream.target import GOLDEN, check_target
from . import fleet_plots
from .board_handle import BoardHandle
from .centralised import centralised_curve
from ..stream.session import check_hello
from .client import BoardClient, RoundPlan
from .params import arrays_to_blob, blob_to_arrays
from .proxy import BoardProxy
from .shards import class_counts, parse_split, split_shards
from .strategy import IntegerFedAvg, RoundRecord

RESULT, CHECKPOINT, TRAINED = "fleet.json", "fleet_checkpoint.json", "model.rct"
IDENTITY = ("model_hash", "data", "split", "split_seed", "seed", "boards", "local_epochs",
            "batch", "lr_shift", "period_samples")
LAST_K = 10  # rounds averaged for the fleet-vs-centralised gap (besides the final round's)
RESUME_FIX = "pass the fleet_checkpoint.json a fleet wrote into its --out folder"


@dataclass
class FleetConfig:
    model: str
    data: str
    out: str
    boards: int = 3
    kind: str = HOST  # golden | host | qemu-* (ignored for boards given as --port URLs)
    firmware: str | None = None
    ports: list[str] = field(default_factory=list)  # real boards: one serial URL each
    rounds: int = 3
    split: str = "iid"
    local_epochs: int = 1
    seed: int = 0
    split_seed: int | None = None
    batch: int = 1
    lr_shift: int | None = None
    period_samples: int | None = None
    min_boards: int | None = None  # None: half the fleet, rounded up
    round_timeout: float = 600.0
    kill: dict[int, int] = field(default_factory=dict)  # board -> round (fault drill)
    resume: str | None = None
    centralised: bool = True
    progress: bool = True
    timeout: float = 2.0
    retries: int = 4
    engine: EngineConfig | None = None  # without a firmware manifest (golden): the boards' config


def check_options(cfg: FleetConfig) -> None:
    """Every option that needs no firmware, checked (the CLI runs this before it builds one)."""
    if not 1 <= cfg.boards + len(cfg.ports) <= 64 or cfg.boards < 0:
        raise UserError(f"--boards must be in 1..64 (with the --port boards), got "
                        f"{cfg.boards}" + (f" + {len(cfg.ports)} --port" if cfg.ports else ""))
    if cfg.rounds < 1:
        raise UserError(f"--rounds must be >= 1, got {cfg.rounds}")
    if cfg.local_epochs < 1:
        raise UserError(f"--local-epochs must be >= 1, got {cfg.local_epochs}")
    if cfg.lr_shift is not None and not 0 <= cfg.lr_shift <= LR_SHIFT_MAX:
        raise UserError(f"learning rate 2^-{cfg.lr_shift} is outside 2^-{LR_SHIFT_MAX} .. 1 (--lr)")
    if cfg.round_timeout <= 0:
        raise UserError(f"--round-timeout must be positive, got {cfg.round_timeout}")
    n = cfg.boards + len(cfg.ports)
    if cfg.min_boards is not None and not 1 <= cfg.min_boards <= n:
        raise UserError(f"--min-boards must be in 1..{n} (the fleet), got {cfg.min_boards}")
    for b, r in cfg.kill.items():
        if not (0 <= b < cfg.boards and 1 <= r <= cfg.rounds):
            raise UserError(f"--kill {b}@{r}: rct-tflm starts boards 0..{cfg.boards - 1} (the "
                            f"--port boards follow) and the run has rounds 1..{cfg.rounds}")
    if cfg.kill and cfg.kind == GOLDEN:
        raise UserError("--kill needs boards rct-tflm starts as processes (--board-kind host "
                        "or qemu-*), not golden devices or --port boards")
    if cfg.ports and not cfg.firmware:
        raise UserError("--port boards need --firmware DIR (the build they were flashed with): "
                        "its manifest tells the trainable split and compiled settings")
    if cfg.kind not in (HOST, GOLDEN):
        get_board(cfg.kind)
    parse_split(cfg.split)
    refuse_unfinished(Path(cfg.out), RESULT, CHECKPOINT, cfg.resume, "fleet")


def _check(cfg: FleetConfig) -> None:
    check_options(cfg)
    if cfg.boards and cfg.kind != GOLDEN:
        check_target(None, cfg.kind, cfg.firmware)


def run_fleet(cfg: FleetConfig, on_round: Callable[[RoundRecord], None] | None = None) -> dict:
    """Run the fleet (module doc); returns fleet.json's content. `on_round` is called after
    each round's checkpoint is written."""
    from tqdm import tqdm
    from flwr.server import Server, SimpleClientManager

    _check(cfg)
    firmware = None if cfg.kind == GOLDEN else cfg.firmware
    prep = prepare(StreamConfig(model=cfg.model, data=cfg.data, out=cfg.out, seed=cfg.seed,
                                batch=cfg.batch, lr_shift=cfg.lr_shift,
                                period_samples=cfg.period_samples, split_seed=cfg.split_seed,
                                progress=False), cfg.firmware)
    if find_manifest(cfg.firmware) is None and cfg.engine is not None:
        prep.dm = device_model(prep.dm.art, None, cfg.engine)
    dm = prep.dm
    spec = parse_split(cfg.split)
    n = cfg.boards + len(cfg.ports)  # started boards first, then the --port ones
    shards = split_shards(prep.y_train, n, spec, prep.split_seed, min_size=cfg.batch)
    like = [dm.model.tensors[n] for n in dm.model.trainable]
    identity = {"model_hash": dm.hash.hex(), "data": cfg.data, "split": str(spec),
                "split_seed": prep.split_seed, "seed": cfg.seed, "boards": n,
                "local_epochs": cfg.local_epochs, "batch": cfg.batch, "lr_shift": cfg.lr_shift,
                "period_samples": cfg.period_samples}
    out = Path(cfg.out)
    records: list[RoundRecord] = []
    if cfg.resume:
        ck, blob = load_checkpoint(cfg.resume, FLEET_FORMAT, FLEET_VERSION, "rct-tflm fleet",
                                   RESUME_FIX)
        check_compatible(ck, identity, cfg.resume, IDENTITY)
        records = [RoundRecord.from_json(r) for r in ck["rounds"]]
        if len(records) >= cfg.rounds:
            raise UserError(f"checkpoint {cfg.resume} has {len(records)} rounds done already; "
                            f"ask for more --rounds to continue it")
        initial = blob_to_arrays(blob, like)
        initial_accuracy = float(ck["initial_accuracy"])
    else:
        from ..program import Engine
        initial = blob_to_arrays(Engine(dm.model, dm.cfg).weights_blob(), like)
        initial_accuracy = _accuracy(dm, initial, like, prep.x_test, prep.y_test)
    first = len(records) + 1
    # from here on --out is written: fleet.json only once the run has finished; a fresh run
    # drops the checkpoint of the finished run it replaces (_check refused an unfinished one)
    (out / RESULT).unlink(missing_ok=True)
    if not cfg.resume:
        (out / CHECKPOINT).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)

    handles = [BoardHandle(i, cfg.kind, firmware, dm, timeout=cfg.timeout, retries=cfg.retries)
               for i in range(cfg.boards)]
    handles += [BoardHandle(cfg.boards + k, "port", cfg.firmware, dm, port=url,
                            timeout=cfg.timeout, retries=cfg.retries)
                for k, url in enumerate(cfg.ports)]
    bar = tqdm(total=cfg.rounds, initial=first - 1, unit="round", disable=not cfg.progress,
               dynamic_ncols=True, desc=f"fleet of {n}")
    t_start = time.monotonic()

    def before_round(r: int) -> list[int]:
        """Boards that died are started again here (the thread owning them), so they rejoin
        this round from the global model."""
        back = []
        for h in handles:
            if not h.alive():
                h.revive()
                back.append(h.index)
        return back

    def after_round(rec: RoundRecord, arrays: list[np.ndarray]) -> None:
        records.append(rec)
        save_checkpoint(out / CHECKPOINT, {**identity, "rounds_done": rec.round,
                                           "initial_accuracy": initial_accuracy,
                                           "rounds": [r.to_json() for r in records]},
                        arrays_to_blob(arrays, like), FLEET_FORMAT, FLEET_VERSION)
        missed = "".join(f", board{b} missed" for b in rec.missed)
        bar.update(1)
        bar.set_postfix_str(f"accuracy {100 * (rec.test_accuracy or 0):.1f}%{missed}")
        for b, why in rec.missed.items():
            bar.write(f"round {rec.round}: board{b} missed the round ({why})")
        if rec.rejoined:
            bar.write(f"round {rec.round}: " + ", ".join(f"board{b}" for b in rec.rejoined)
                      + " rejoined from the global model")
        if on_round is not None:
            on_round(rec)

    plan = RoundPlan(first, cfg.seed, cfg.local_epochs, cfg.batch, cfg.lr_shift,
                     cfg.period_samples)
    min_boards = cfg.min_boards or -(-n // 2)
    strategy = IntegerFedAvg(dm, initial, plan, first, min_boards, cfg.kill,
                             lambda a: _accuracy(dm, a, like, prep.x_test, prep.y_test),
                             before_round, after_round)
    cm = SimpleClientManager()
    flower = logging.getLogger("flwr")
    level = flower.level
    flower.setLevel(logging.WARNING)  # Flower's INFO lines would interleave with the bar
    try:
        for h in handles:
            h.start()
            assert h.link is not None
            check_hello(h.link.hello(dm.hash), dm, h.link.url)  # the wrong firmware stops here
        for h, s in zip(handles, shards):
            cm.register(BoardProxy(BoardClient(h, prep.x_train[s], prep.y_train[s])))
        server = Server(client_manager=cm, strategy=strategy)
        server.fit(cfg.rounds - first + 1, timeout=cfg.round_timeout)
    except KeyboardInterrupt:
        done = len(records)
        print(f"interrupted; " + (f"the global model after round {done} is saved: resume with "
                                  f"--resume {out / CHECKPOINT}" if done else
                                  "no round finished yet"), file=sys.stderr)
        raise
    finally:
        flower.setLevel(level)
        bar.close()
        for h in handles:
            h.stop()
    ck, blob = load_checkpoint(out / CHECKPOINT, FLEET_FORMAT, FLEET_VERSION, "rct-tflm fleet",
                               RESUME_FIX)
    return _finish(cfg, prep, dm, shards, identity, records, initial_accuracy, blob, like,
                   time.monotonic() - t_start)


def _accuracy(dm, arrays, like, x, y) -> float:
    return float(np.mean(dm.engine_with(arrays_to_blob(arrays, like)).predict(x) == y))


def _finish(cfg: FleetConfig, prep, dm, shards, identity, records, initial_accuracy, blob, like,
            seconds: float) -> dict:
    from ..fixedpoint.state import parse_weights_blob

    n_boards = len(shards)
    out = Path(cfg.out)
    per_round = [sum(len(s) for s in shards) * cfg.local_epochs * (r + 1)
                 for r in range(len(records))]
    result = {**identity,
              "board_kind": cfg.kind if cfg.boards else "port", "port_boards": len(cfg.ports),
              "rounds": len(records), "min_boards": cfg.min_boards or -(-n_boards // 2),
              "shard_sizes": [int(len(s)) for s in shards],
              "shard_classes": class_counts(prep.y_train, shards, dm.model.num_classes),
              "initial_test_accuracy": initial_accuracy,
              "test_accuracy": [r.test_accuracy for r in records],
              "final_test_accuracy": records[-1].test_accuracy,
              "weights_sha256": weights_sha256(parse_weights_blob(blob, like)),
              "final_bitwidths": {t: int(b) for t, b in zip(
                  dm.model.trainable, [q.bits for q in parse_weights_blob(blob, like)])},
              "missed": [{"round": r.round, "board": b, "reason": why}
                         for r in records for b, why in r.missed.items()],
              "rejoined": [{"round": r.round, "board": b} for r in records for b in r.rejoined],
              "samples_per_round": per_round, "seconds": seconds,
              "round_records": [r.to_json() for r in records]}
    if cfg.centralised:
        c = replace(dm.cfg, lr_shift=dm.cfg.lr_shift if cfg.lr_shift is None else cfg.lr_shift,
                    controller=replace(dm.cfg.controller, period_samples=(
                        cfg.period_samples or dm.cfg.controller.period_samples)))
        cur, bits = centralised_curve(dm, c, prep.x_train, prep.y_train, prep.x_test,
                                      prep.y_test, len(records) * cfg.local_epochs, cfg.seed,
                                      cfg.batch, per_round)
        k = min(LAST_K, len(records))  # one round's accuracy is noisy: compare the last k too
        fl = [r.test_accuracy for r in records]
        result.update({"centralised_test_accuracy": cur, "centralised_final_bitwidths": bits,
                       "gap_points": 100 * (cur[-1] - fl[-1]),
                       "gap_points_last_k": 100 * (np.mean(cur[-k:]) - np.mean(fl[-k:])),
                       "last_k": k})
    dm.artefact_with(blob, {"fleet": {k: result[k] for k in (
        "boards", "rounds", "split", "seed", "weights_sha256", "final_test_accuracy")}}
    ).save(out / TRAINED)
    result["files"] = [RESULT, TRAINED, CHECKPOINT, *fleet_plots.write_plots(result, out)]
    return results.save(out / RESULT, result) and results.stamp(RESULT, result)
