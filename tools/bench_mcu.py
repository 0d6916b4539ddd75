"""MCU benchmark: instructions per training step and per inference, per kernel, RAM, flash and
stack of rct_tflm firmwares, side by side with the peers (CMSIS-NN int8 inference, AIfES f32
training) built with the same compiler and flags and counted by the same emulator in one run.

  .venv/bin/python tools/bench_mcu.py [--kernels portable,fast] [--board qemu-stm32f405]
      [--peers ../shared/peers] [--out bench]      -> bench/mcu.json, bench/mcu.md

Models: the digits MLP 64-32-10 (both layers trainable; head only), the zoo's small CNN on
digits, and a DS-CNN keyword-spotting shape (49x10x1 MFCC-shaped synthetic input; conv 10x4/2
+ 3 depthwise-separable blocks + average pool + dense 12; frozen backbone, trainable head).
Peer sources are read from --peers at run time and built into a temp folder, never copied.
Every rct_tflm profile is checked against the golden engine (rct_tflm.profile).
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
from rct_tflm.data import Dataset, load_dataset  # noqa: E402
from rct_tflm.emulator import zoo  # noqa: E402
from rct_tflm.emulator.floatref import (calibrate_act_exps, quantise_artefact,  # noqa: E402
                                        sequential_artefact)
from rct_tflm.fixedpoint.config import EngineConfig, quantise_inputs  # noqa: E402
from rct_tflm.profile.costs import core_costs  # noqa: E402
from rct_tflm.profile.elf import ElfImage  # noqa: E402
from rct_tflm.profile.machine import Machine  # noqa: E402
from rct_tflm.profile.run import build, clock_hz, profile_firmware  # noqa: E402
from rct_tflm.profile.trace import BlockCounter, count_call  # noqa: E402

OPT = "-Os"  # = rct_tflm.firmware_build (the firmware's own -O level)
STEPS = 2


def ds_cnn_specs(classes: int = 12, ch: int = 32, blocks: int = 3) -> list:
    """A small DS-CNN (the MLPerf Tiny KWS shape, narrower): conv 10x4 stride 2, then blocks of
    depthwise 3x3 + pointwise 1x1, global average pool, dense."""
    s = [("conv1", "conv2d", {"filters": ch, "kernel_size": [10, 4], "strides": [2, 2],
                              "padding": "same", "activation": "relu"})]
    for i in range(1, blocks + 1):
        s += [(f"dw{i}", "depthwise_conv2d", {"kernel_size": 3, "padding": "same",
                                              "activation": "relu"}),
              (f"pw{i}", "conv2d", {"filters": ch, "kernel_size": 1, "activation": "relu"})]
    return s + [("pool", "avgpool2d", {"pool_size": [25, 5]}), ("flatten", "flatten", {}),
                ("logits", "dense", {"units": classes})]


def kws_data(n: int = 256, seed: int = 0) -> Dataset:
    """Synthetic MFCC-shaped data (49 frames x 10 coefficients), 12 classes."""
    rng = np.random.default_rng(seed)
    x = np.clip(rng.normal(0, 1, (n, 49, 10, 1)), -3.9, 3.9).astype(np.float32)
    y = rng.integers(0, 12, n).astype(np.int64)
    return Dataset("kws-synthetic", "image", x, y, x[:32], y[:32], 12,
                   preprocess={"kind": "image", "scale": 1.0, "input_exp": -5, "input_bits": 8})


def ds_cnn(data: Dataset):
    art = sequential_artefact(data.input_shape, ds_cnn_specs(), 0, -5)
    art.preprocess = dict(data.preprocess)
    calibrate_act_exps(art, data.x_train, zoo.HIDDEN_HEADROOM, zoo.LOGITS_HEADROOM)
    return quantise_artefact(art, 8)


def models() -> list[dict]:
    digits = load_dataset("digits", 0)
    kws = kws_data()
    mlp, cnn = zoo.build("mlp", digits), zoo.build("cnn", digits)
    return [
        {"name": "mlp", "what": "digits MLP 64-32-10, both layers trainable", "art": mlp,
         "data": digits, "trainable_layers": None},
        {"name": "mlp-head", "what": "digits MLP 64-32-10, head only (dense1 frozen)",
         "art": mlp, "data": digits, "trainable_layers": 1},
        {"name": "cnn", "what": "zoo CNN on digits (conv8-pool-conv16-pool-dense10), all trainable",
         "art": cnn, "data": digits, "trainable_layers": None},
        {"name": "ds-cnn", "what": "DS-CNN 49x10x1 (conv32 10x4/2 + 3 DS blocks + avgpool + dense12),"
                                   " frozen backbone, trainable head", "art": ds_cnn(kws),
         "data": kws, "trainable_layers": 1},
    ]


def default_peers() -> Path:
    """../shared/peers beside the checkout (a git worktree may sit one level deeper)."""
    for up in ROOT.parents:
        if (up / "shared" / "peers").is_dir():
            return up / "shared" / "peers"
    return ROOT.parent / "shared" / "peers"


def bench_model(spec: dict, board, impl: str, work: Path) -> dict:
    d = spec["data"]
    x = quantise_inputs(d.x_train.reshape(len(d.x_train), -1), d.preprocess["input_exp"])
    fw = work / f"{spec['name']}-{impl}"
    man = build(spec["art"], board, fw, EngineConfig(), spec["trainable_layers"], None,
                impl, spec["name"])
    rec = profile_firmware(fw, spec["art"], board, x, d.y_train, steps=STEPS)
    keep = ("train_step_instructions", "train_glue_instructions", "inference_instructions",
            "inference_glue_instructions", "train_step_macs", "inference_macs",
            "train_step_est_cycles", "train_step_est_ms", "inference_est_cycles",
            "inference_est_ms", "ram_bytes", "flash_bytes", "stack_bytes", "by_kind",
            "golden_check", "train_step_instructions_per_step", "kernels")
    return {"model": spec["name"], "what": spec["what"], "kernels_impl": impl,
            "build_cmd_flags": [a for a in man["cmd"] if a.startswith("-m") or a.startswith("-O")],
            **{k: rec[k] for k in keep}}


def build_peers(peers: Path, board, work: Path) -> dict[str, Path]:
    """The two peer ELFs, built with the build lines of peers/README.md (board flags, OPT)."""
    cc = ["arm-none-eabi-gcc", *board.cpu_flags(), OPT, "-g", "-ffunction-sections",
          "-fdata-sections"]
    link = ["--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections"]
    cm = peers / "cmsis-nn"
    cmsis = work / "cmsisnn.elf"
    subprocess.run(cc + ["-std=c99", f"-I{cm / 'Include'}", str(peers / "bench/bench_cmsisnn.c"),
                         str(cm / "Source/FullyConnectedFunctions/arm_fully_connected_s8.c"),
                         str(cm / "Source/NNSupportFunctions/arm_nn_vec_mat_mult_t_s8.c")]
                   + link + ["-Wl,-u,bench_fc1", "-Wl,-u,bench_fc2", "-o", str(cmsis)], check=True)
    src = peers / "aifes" / "src"
    incs = [f"-I{p}" for p in sorted([src] + [d for d in src.rglob("*") if d.is_dir()])
            if "avr_pgm" not in str(p) and "cmsis" not in p.name.lower()]
    cfiles = sorted(str(p) for sub in ("basic/base", "basic/default", "cnn")
                    for p in (src / sub).rglob("*.c"))
    aifes = work / "aifes.elf"
    subprocess.run(cc + ["-std=gnu99", "-w", *incs, str(peers / "bench/bench_aifes.c"), *cfiles,
                         "-lm"] + link + ["-Wl,-u,bench_step", "-Wl,-u,bench_infer", "-o",
                                          str(aifes)], check=True)
    return {"cmsis-nn": cmsis, "aifes": aifes}


def bench_peer(name: str, elf_path: Path, board) -> dict:
    elf = ElfImage(elf_path)
    m = Machine(elf, board.core)
    bc = BlockCounter(m, core_costs(board.core))
    hz = clock_hz(board)
    count_call(m, bc, "bench_init")
    out: dict = {"peer": name, **elf.static_sizes()}
    calls = {"cmsis-nn": [("inference", "bench_infer"), ("fc1", "bench_fc1"), ("fc2", "bench_fc2")],
             "aifes": [("train_step", "bench_step"), ("inference", "bench_infer")]}[name]
    stack = 0
    for label, fn in calls:
        _, tr, st = count_call(m, bc, fn)
        stack = max(stack, st)
        out[f"{label}_instructions"] = tr.instructions
        out[f"{label}_est_cycles"] = round(tr.cycles)
        out[f"{label}_est_ms"] = round(1e3 * tr.cycles / hz, 4) if hz else None
    out["stack_bytes"] = stack
    if name == "aifes":
        for v in ("aifes_param_bytes", "aifes_train_bytes", "aifes_infer_bytes"):
            out[v] = int.from_bytes(m.read(elf.objects[v], 4), "little")
    elf.close()
    return out


def markdown(res: dict) -> str:
    lines = [f"# MCU benchmark ({res['board']}, {res['core']}, arm-none-eabi-gcc {OPT}, "
             f"instructions counted in unicorn)", ""]
    if res["note"]:
        lines += [res["note"], ""]
    lines += ["| model | kernels | train step instr | inference instr | train MACs | "
              "train ~ms | infer ~ms | RAM B | flash B | stack B |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in res["rct_tflm"]:
        lines.append(f"| {r['model']} | {r['kernels_impl']} | {r['train_step_instructions']:,} | "
                     f"{r['inference_instructions']:,} | {r['train_step_macs']:,} | "
                     f"{r['train_step_est_ms']:.2f} | {r['inference_est_ms']:.2f} | "
                     f"{r['ram_bytes']:,} | {r['flash_bytes']:,} | {r['stack_bytes']:,} |")
    for p in res["peers"]:
        step = p.get("train_step_instructions")
        lines.append(f"| {p['peer']} (digits MLP{', f32' if p['peer'] == 'aifes' else ', int8'}) "
                     f"| peer | {'-' if step is None else f'{step:,}'} | "
                     f"{p['inference_instructions']:,} | {'5,056' if step else '-'} | "
                     f"{'-' if step is None else format(p['train_step_est_ms'], '.2f')} | "
                     f"{p['inference_est_ms']:.2f} | {p['ram_bytes']:,} | {p['flash_bytes']:,} | "
                     f"{p['stack_bytes']:,} |")
    lines += ["", "RAM = static .data + .bss (the peers' include their harness buffers: AIfES "
              "reserves 2 x 32 KB of parameter/training memory, of which it uses "
              + ", ".join(f"{p['aifes_param_bytes']:,} + {p['aifes_train_bytes']:,} B"
                          for p in res["peers"] if p["peer"] == "aifes")
              + "); stack = peak measured by stack painting; ~ms = estimated cycles "
              "(docs/profile.md) at the board clock.", "",
              "## Instructions per kernel kind (training step / inference)", "",
              "| model | kernels | " + " | ".join(KIND_COLS) + " | glue |",
              "|---|---|" + "---:|" * (len(KIND_COLS) + 1)]
    for r in res["rct_tflm"]:
        for ph, glue in (("train", "train_glue_instructions"), ("infer", "inference_glue_instructions")):
            lines.append(f"| {r['model']} {ph} | {r['kernels_impl']} | "
                         + " | ".join(f"{r['by_kind'][ph].get(k, 0):,}" for k in KIND_COLS)
                         + f" | {r[glue]:,} |")
    lines += ["", "## Per kernel call, training step", ""]
    for r in res["rct_tflm"]:
        lines += [f"### {r['model']} ({r['kernels_impl']}): {r['what']}", "",
                  "| # | kernel | layer | kind | instructions | MACs | MACs/instr |",
                  "|---:|---|---|---|---:|---:|---:|"]
        lines += [f"| {k['index']} | {k['name']} | {k['layer'] or '-'} | {k['kind']} | "
                  f"{k['instructions']:,} | {k['macs']:,} | {k['macs_per_instruction']:.4f} |"
                  for k in r["kernels"] if k["phase"] == "train"]
        lines.append("")
    lines.append(f"Reproduce: `{res['command']}`")
    return "\n".join(lines) + "\n"


KIND_COLS = ["forward", "activation", "backward-input", "weight-update", "bias", "softmax-ce",
             "controller", "output"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kernels", default="portable", help="comma-separated kernel implementations")
    ap.add_argument("--board", default="qemu-stm32f405")
    ap.add_argument("--peers", default=str(default_peers()),
                    help="the peers folder (default: ../shared/peers beside the checkout)")
    ap.add_argument("--out", default=str(ROOT / "bench"))
    ap.add_argument("--models", default="mlp,mlp-head,cnn,ds-cnn")
    a = ap.parse_args()
    board = get_board(a.board)
    impls = [k.strip() for k in a.kernels.split(",") if k.strip()]
    note = ""
    want = set(a.models.split(","))
    res: dict = {"format": "rct-tflm-bench-mcu", "version": 1, "board": board.name,
                 "core": board.core, "clock_hz": clock_hz(board), "opt": OPT, "steps": STEPS,
                 "kernels_requested": a.kernels, "kernels_run": impls, "note": note,
                 "command": "python tools/bench_mcu.py " + " ".join(sys.argv[1:]),
                 "rct_tflm": [], "peers": []}
    with tempfile.TemporaryDirectory(prefix="bench-mcu-") as tmp:
        work = Path(tmp)
        for spec in models():
            if spec["name"] not in want:
                continue
            for impl in impls:
                r = bench_model(spec, board, impl, work)
                print(f"{r['model']:<9} {impl:<9} train {r['train_step_instructions']:>11,}  "
                      f"infer {r['inference_instructions']:>10,}  RAM {r['ram_bytes']:>7,}  "
                      f"flash {r['flash_bytes']:>7,}  stack {r['stack_bytes']:>5,}", flush=True)
                res["rct_tflm"].append(r)
        peers = Path(a.peers)
        if (peers / "bench").is_dir():
            for name, elf in build_peers(peers, board, work).items():
                p = bench_peer(name, elf, board)
                print(f"{name:<9} peer      " + "  ".join(f"{k} {v:,}" for k, v in p.items()
                                                        if k.endswith("instructions")), flush=True)
                res["peers"].append(p)
        else:
            res["note"] += f" No peers at {peers}."
            print(f"no peers at {peers}: rct_tflm only", flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "mcu.json").write_text(json.dumps(res, indent=1))
    (out / "mcu.md").write_text(markdown(res))
    print(f"wrote {out / 'mcu.json'} and {out / 'mcu.md'}")


if __name__ == "__main__":
    main()
