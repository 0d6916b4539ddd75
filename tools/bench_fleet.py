#!/usr/bin/env python3
"""Fleet benchmark (`rct-tflm fleet`): bench/fleet.json + a printed table.

The model is the device's transfer-learning set-up: the digits MLP pretrained (numpy float SGD,
quantised) on digits 0-4 only, partitioned for qemu-stm32f405 with the classifier head
trainable. The fleet learns all ten digits from shards no board shares:

* iid        8 host-build boards, IID shards: global accuracy vs one board trained on the union
             of the shards with the same number of samples (the centralised RCT run); gap =
             centralised - fleet, at the last round and averaged over the last 10 rounds (one
             round's test accuracy moves by +-2 points on 359 test digits)
* dirichlet  the same with label-skewed shards (Dirichlet alpha 0.5): the gap is reported
* kill       8 host boards, board 3 loses power halfway through round 2: the run completes,
             the board misses round 2 and rejoins in round 3
* qemu       4 qemu-stm32f405 boards vs 4 host boards, 3 rounds, same seed: equal final weights

    .venv/bin/python tools/bench_fleet.py                  # ~5 min on 2 cores
    .venv/bin/python tools/bench_fleet.py --rounds 5 --skip qemu
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from rct_tflm.formats.atomic import write_json  # noqa: E402


def half_model(tmp: Path) -> Path:
    """digits 0-4 MLP, head trainable, as a partitioned artefact."""
    import numpy as np

    from rct_tflm.data import load_dataset
    from rct_tflm.emulator.floatref import (calibrate_act_exps, mlp_artefact, quantise_artefact,
                                            sgd_mlp)
    from rct_tflm.partition import partition
    d = load_dataset("digits", 0)
    keep = d.y_train < 5
    art = mlp_artefact([64, 32, 10], seed=0, input_exp=int(d.preprocess["input_exp"]))
    x = d.x_train[keep].reshape(int(keep.sum()), -1)
    rng = np.random.default_rng(0)
    w = None
    for _ in range(3):
        w = sgd_mlp(art, x, d.y_train[keep], 0.05, rng.permutation(len(x)), w)
    art.tensors.update(w)
    calibrate_act_exps(art, x)
    art.preprocess = dict(d.preprocess)
    return partition(quantise_artefact(art), "qemu-stm32f405",
                     trainable_layers=1).save(tmp / "model.rct")  # the head learns


def build(model: Path, board: str, dest: Path) -> Path:
    from rct_tflm.cli import main
    main(["build", "--board", board, "--model", str(model), "--out", str(dest)])
    return dest


def fleet(model: Path, fw: Path, out: Path, kind: str, boards: int, rounds: int, lr: int,
          progress: bool, **kw) -> dict:
    from rct_tflm.cli.options import device_defaults
    from rct_tflm.fleet import FleetConfig, run_fleet
    t = time.monotonic()
    r = run_fleet(FleetConfig(model=str(model), data="digits", out=str(out), boards=boards,
                              kind=kind, firmware=str(fw), rounds=rounds, lr_shift=lr,
                              progress=progress, engine=device_defaults(1), **kw))
    r["wall_s"] = time.monotonic() - t
    return r


def row(name: str, r: dict) -> dict:
    recs = r["round_records"]
    return {"scenario": name, "boards": r["boards"], "board_kind": r["board_kind"],
            "split": r["split"], "rounds": r["rounds"],
            "initial_accuracy": r["initial_test_accuracy"],
            "accuracy": r["test_accuracy"], "final_accuracy": r["final_test_accuracy"],
            "centralised_accuracy": r.get("centralised_test_accuracy"),
            "gap_points": r.get("gap_points"), "gap_points_last_k": r.get("gap_points_last_k"),
            "last_k": r.get("last_k"), "missed": r["missed"], "rejoined": r["rejoined"],
            "weights_sha256": r["weights_sha256"], "final_bitwidths": r["final_bitwidths"],
            "seconds_per_round": [x["seconds"] for x in recs],
            "wire_bytes_per_board_round": sum(b["wire_bytes"] for x in recs
                                              for b in x["boards"].values())
            / max(1, sum(len(x["boards"]) for x in recs)),
            "wall_s": r["wall_s"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--boards", type=int, default=8)
    ap.add_argument("--lr-shift", type=int, default=4)
    ap.add_argument("--skip", default="", help="comma-separated scenarios to leave out")
    ap.add_argument("--out", default=str(ROOT / "bench" / "fleet.json"))
    ap.add_argument("--progress", action="store_true")
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as t:
        tmp = Path(t)
        model = half_model(tmp)
        host = build(model, "host", tmp / "fw-host")
        common = dict(boards=a.boards, rounds=a.rounds, lr=a.lr_shift, progress=a.progress)
        if "iid" not in skip:
            rows.append(row("iid", fleet(model, host, tmp / "iid", "host", **common)))
        if "dirichlet" not in skip:
            rows.append(row("dirichlet", fleet(model, host, tmp / "dir", "host",
                                               split="dirichlet:0.5", **common)))
        if "kill" not in skip:
            rows.append(row("kill", fleet(model, host, tmp / "kill", "host", kill={3: 2},
                                          timeout=0.5, retries=2, centralised=False,
                                          **{**common, "rounds": 4})))
        if "qemu" not in skip:
            q = build(model, "qemu-stm32f405", tmp / "fw-qemu")
            small = dict(boards=4, rounds=3, lr=a.lr_shift, progress=a.progress,
                         centralised=False)
            rh = row("qemu-vs-host: host", fleet(model, host, tmp / "q-host", "host", **small))
            rq = row("qemu-vs-host: qemu", fleet(model, q, tmp / "q-qemu", "qemu-stm32f405",
                                                 **small))
            rq["equals_host"] = rq["weights_sha256"] == rh["weights_sha256"]
            rows += [rh, rq]
    print(f"{'scenario':<20} {'boards':>6} {'split':<14} {'rounds':>6} {'before':>7} "
          f"{'fleet':>7} {'central':>8} {'gap':>6} {'gap10':>6} {'s/round':>8}  notes")
    for r in rows:
        c = r["centralised_accuracy"]
        notes = [f"board{m['board']} missed round {m['round']}" for m in r["missed"]]
        notes += [f"board{j['board']} rejoined in round {j['round']}" for j in r["rejoined"]]
        if "equals_host" in r:
            notes.append("weights == host" if r["equals_host"] else "weights != host")
        print(f"{r['scenario']:<20} {r['boards']:>6} {r['split']:<14} {r['rounds']:>6} "
              f"{100 * r['initial_accuracy']:>6.1f}% {100 * r['final_accuracy']:>6.1f}% "
              + (f"{100 * c[-1]:>7.1f}% {r['gap_points']:>+6.1f} {r['gap_points_last_k']:>+6.1f}"
                 if c else f"{'-':>8} {'-':>6} {'-':>6}")
              + f" {sum(r['seconds_per_round']) / len(r['seconds_per_round']):>8.1f}  "
              + "; ".join(notes))
    write_json(Path(a.out), {"format": "rct-tflm-bench-fleet", "version": 1, "machine": platform.machine(),
                             "cpus": os.cpu_count(), "python": platform.python_version(),
                             "data": "digits", "model": "digits MLP 64-32-10 pretrained on 0-4, "
                             "head trainable", "lr_shift": a.lr_shift, "rows": rows})
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
