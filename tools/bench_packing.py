#!/usr/bin/env python3
"""What storing trainable weights packed at 12 bits would cost on Cortex-M4, against the int16
containers the firmware uses (issue 8: "packed at their bitwidth ... if the kernels stay fast").

Measured with the profiler's instruction counter on tools/bench_packing/packing.c built like
the firmware (board CPU flags, -Os): the forward dot over int16 weight pairs vs over 12-bit
packed weights unpacked in registers (both checked to give the same sums), and unpack/pack of a
whole tensor (what an int16 update pass adds). RAM is the 64-32-10 MLP's trainable weights; the
training-step estimate adds the measured per-weight deltas to bench/mcu.json's measured step.

    .venv/bin/python tools/bench_packing.py        # prints a table, writes bench/packing.json
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from rct_tflm.boards import get_board  # noqa: E402
from rct_tflm.formats.atomic import write_json  # noqa: E402
from rct_tflm.profile.costs import core_costs  # noqa: E402
from rct_tflm.profile.elf import ElfImage  # noqa: E402
from rct_tflm.profile.machine import Machine  # noqa: E402
from rct_tflm.profile.trace import BlockCounter, count_call  # noqa: E402

OPT = "-Os"
IN, ROWS = 64, 32  # the MLP's 64x32 layer (packing.c's IN)
MLP_WEIGHTS = {"dense1/kernel": 64 * 32, "dense1/bias": 32, "logits/kernel": 32 * 10,
               "logits/bias": 10}


def pack12(v: np.ndarray) -> bytes:
    u = (v.astype(np.int64) & 0xFFF).reshape(-1, 2)
    w = u[:, 0] | (u[:, 1] << 12)
    return np.stack([w & 0xFF, (w >> 8) & 0xFF, (w >> 16) & 0xFF], axis=1).astype(np.uint8).tobytes()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="qemu-stm32f405")
    ap.add_argument("--out", default=str(ROOT / "bench" / "packing.json"))
    a = ap.parse_args()
    board = get_board(a.board)
    with tempfile.TemporaryDirectory() as tmp:
        elf_path = Path(tmp) / "packing.elf"
        subprocess.run(["arm-none-eabi-gcc", *board.cpu_flags(), OPT, "-g", "-std=c99",
                        "-ffunction-sections", "--specs=nano.specs", "--specs=nosys.specs",
                        "-Wl,--gc-sections", *[f"-Wl,-u,{f}" for f in
                                               ("dot_i16", "dot_p12", "unpack12", "pack12")],
                        str(ROOT / "tools" / "bench_packing" / "packing.c"), "-o", str(elf_path)],
                       check=True)
        elf = ElfImage(elf_path)
        m = Machine(elf, board.core)
        bc = BlockCounter(m, core_costs(board.core))
        r = np.random.default_rng(0)
        x = r.integers(-128, 128, IN).astype(np.int16)
        w = r.integers(-2048, 2048, (ROWS, IN)).astype(np.int16)
        xa, wa = m.alloc(x.tobytes()), m.alloc(w.tobytes())
        pa, out = m.alloc(pack12(w) + bytes(8)), m.alloc(4 * ROWS)
        _, t16, _ = count_call(m, bc, "dot_i16", (xa, wa, ROWS, out))
        s16 = np.frombuffer(m.read(out, 4 * ROWS), np.int32).copy()
        _, t12, _ = count_call(m, bc, "dot_p12", (xa, pa, ROWS, out))
        s12 = np.frombuffer(m.read(out, 4 * ROWS), np.int32).copy()
        exact = (w.astype(np.int64) @ x.astype(np.int64)).astype(np.int32)
        if not (np.array_equal(s16, exact) and np.array_equal(s12, exact)):
            sys.exit("bench_packing: the dot products disagree with numpy; the experiment is wrong")
        n = ROWS * IN
        dst = m.alloc(2 * n)
        _, tu, _ = count_call(m, bc, "unpack12", (pa, dst, n))
        if not np.array_equal(np.frombuffer(m.read(dst, 2 * n), np.int16), w.ravel()):
            sys.exit("bench_packing: unpack12 does not invert pack12")
        back = m.alloc(3 * n // 2)
        _, tp, _ = count_call(m, bc, "pack12", (wa, back, n))
        if m.read(back, 3 * n // 2) != pack12(w):
            sys.exit("bench_packing: pack12 differs from the numpy packing")
        elf.close()
    per = {"dot_i16": t16.instructions / n, "dot_p12": t12.instructions / n,
           "unpack12": tu.instructions / n, "pack12": tp.instructions / n}
    weights = sum(MLP_WEIGHTS.values())
    kernel_macs = {"forward": 64 * 32 + 32 * 10, "backward_input": 32 * 10}
    mcu = json.loads((ROOT / "bench" / "mcu.json").read_text())
    step = next(r_["train_step_instructions"] for r_ in mcu["rct_tflm"]
                if r_["model"] == "mlp" and r_["kernels_impl"] == "fast")
    infer = next(r_["inference_instructions"] for r_ in mcu["rct_tflm"]
                 if r_["model"] == "mlp" and r_["kernels_impl"] == "fast")
    d_dot = per["dot_p12"] - per["dot_i16"]
    # packed: every forward and backward-input MAC pays d_dot; the update reads and writes every
    # weight once more (unpack + pack) around today's int16 update
    extra_step = d_dot * (kernel_macs["forward"] + kernel_macs["backward_input"]) + \
        (per["unpack12"] + per["pack12"]) * weights
    res = {
        "format": "rct-tflm-bench-packing", "version": 1, "board": board.name, "core": board.core,
        "opt": OPT, "command": "python tools/bench_packing.py",
        "instructions_per_weight": {k: round(v, 3) for k, v in per.items()},
        "dot_instructions": {"int16": t16.instructions, "packed12": t12.instructions,
                             "weights": n},
        "mlp": {"weights": weights, "ram_int16_bytes": 2 * weights,
                "ram_packed12_bytes": (3 * weights + 1) // 2,
                "ram_saved_bytes": 2 * weights - (3 * weights + 1) // 2,
                "train_step_instructions_int16": step,
                "train_step_instructions_packed12_est": round(step + extra_step),
                "inference_instructions_int16": infer,
                "inference_instructions_packed12_est": round(infer + d_dot *
                                                             kernel_macs["forward"])},
    }
    mm = res["mlp"]
    print(f"{'per weight (Cortex-M4 instructions)':<40} {'int16':>8} {'packed 12-bit':>14}")
    print(f"{'forward dot (SMLAD)':<40} {per['dot_i16']:>8.3f} {per['dot_p12']:>14.3f}")
    print(f"{'unpack + pack (update read/write)':<40} {0:>8.3f} "
          f"{per['unpack12'] + per['pack12']:>14.3f}")
    print(f"{'MLP trainable weights RAM (B)':<40} {mm['ram_int16_bytes']:>8} "
          f"{mm['ram_packed12_bytes']:>14}")
    print(f"{'MLP training step (instructions)':<40} {step:>8} "
          f"{mm['train_step_instructions_packed12_est']:>14} (estimate)")
    print(f"{'MLP inference (instructions)':<40} {infer:>8} "
          f"{mm['inference_instructions_packed12_est']:>14} (estimate)")
    write_json(Path(a.out), res)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
