#!/usr/bin/env python3
"""Controller-rule measurements for batch-1 golden training (bench_engine's MLPs):
final bitwidth per tensor, mean final kernel bitwidth and test accuracy.

    .venv/bin/python tools/ctrl_sweep.py digits 20 0,1,2 fixed16,fixed8,ref0,ref32
    .venv/bin/python tools/ctrl_sweep.py mnist14 10 0 fixed16,ref32
    .venv/bin/python tools/ctrl_sweep.py digits 20 0 ref0,ref32 --lr-shift 9 --nearest

Candidates: fixedB (controller off, every tensor widened exactly from the 8-bit init to B bits
by low bits), refN (Gavg per N samples; ref0 = the per-step mean; refN-tmaxT also sets
T_max = T), periodP (per-step mean,
decision period P samples). docs/numerics.md, "The bitwidth controller", has the table.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MNIST = (ROOT / ".." / "shared" / "datasets" / "mnist10k").resolve()
DATA = {"digits": ("digits", 32, 4), "mnist14": (f"mnist-idx:{MNIST}@14x14", 64, 5)}


def run(dataset: str, epochs: int, seed: int, cc, lr_shift: int | None = None,
        stochastic: bool = True, start_bits: int | None = None) -> dict:
    from rct_tflm.data import load_dataset, run_order
    from rct_tflm.emulator import zoo
    from rct_tflm.fixedpoint.config import EngineConfig, quantise_inputs
    from rct_tflm.program import Engine, lower
    spec, hidden, lr = DATA[dataset]
    data = load_dataset(spec, seed)
    art = zoo.build("mlp", data, seed=seed, hidden=hidden)
    cfg = EngineConfig(lr_shift=lr if lr_shift is None else lr_shift, seed=seed, controller=cc,
                       stochastic=stochastic)
    m = lower(art, cfg)
    if start_bits:
        for n in m.trainable:
            while m.tensors[n].bits < start_bits:
                m.tensors[n].add_low_bit()
    eng = Engine(m, cfg)
    xtr = quantise_inputs(data.x_train.reshape(len(data.x_train), -1), m.input_exp)
    xte = quantise_inputs(data.x_test.reshape(len(data.x_test), -1), m.input_exp)
    t0 = time.time()
    for i in run_order(len(xtr), epochs, seed, 1):
        eng.train_step(xtr[i:i + 1], data.y_train[i:i + 1])
    bits = {n: t.bits for n, t in zip(m.trainable, eng.trainable_tensors())}
    return {"acc": float(np.mean(eng.predict(xte) == data.y_test)), "bits": bits,
            "mean_kernel_bits": float(np.mean([b for n, b in bits.items() if "kernel" in n])),
            "decisions": len(eng.ctrl.log), "seconds": time.time() - t0}


def main() -> None:
    from rct_tflm.fixedpoint import ControllerConfig
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", choices=sorted(DATA))
    ap.add_argument("epochs", type=int)
    ap.add_argument("seeds")
    ap.add_argument("candidates")
    ap.add_argument("--lr-shift", type=int, default=None)
    ap.add_argument("--nearest", action="store_true")
    a = ap.parse_args()
    for cand in a.candidates.split(","):
        for seed in (int(s) for s in a.seeds.split(",")):
            start = None
            if cand.startswith("fixed"):
                cc, start = ControllerConfig(enabled=False), int(cand[5:])
                start = start if start > 8 else None
            elif cand.startswith("ref"):  # refN or refN-tmaxT (T_max = T)
                n, _, tmax = cand[3:].partition("-tmax")
                cc = ControllerConfig(gavg_ref_samples=int(n),
                                      **({"t_max": float(tmax)} if tmax else {}))
            elif cand.startswith("period"):
                cc = ControllerConfig(period_samples=int(cand[6:]))
            else:
                raise SystemExit(f"unknown candidate {cand}")
            r = run(a.dataset, a.epochs, seed, cc, a.lr_shift, not a.nearest, start)
            print(f"{a.dataset} epochs={a.epochs} lr_shift={a.lr_shift} "
                  f"{'nearest' if a.nearest else 'stochastic'} {cand} seed={seed} "
                  f"acc={100 * r['acc']:.2f} bits={'/'.join(map(str, r['bits'].values()))} "
                  f"mean_kernel={r['mean_kernel_bits']:.1f} decisions={r['decisions']} "
                  f"{r['seconds']:.0f}s", flush=True)


if __name__ == "__main__":
    main()
