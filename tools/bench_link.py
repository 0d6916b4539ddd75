#!/usr/bin/env python3
"""Serial-link benchmark: bench/link.json + a printed table.

Streams the digits MLP's 64-byte samples (TRAIN frames, stop-and-wait) to the firmware on the
emulated UARTs — QEMU qemu-stm32f405 (USART), QEMU qemu-mps2-an386 (CMSDK UART), the host build
on a pty — and, as a robustness row, to the host build through a transport that loses and
corrupts bytes. Per target: samples/s and wire bytes/s of the training traffic, the protocol
overhead as a fraction of the wire bytes (everything but the 64 input bytes per sample: labels,
frame header, COBS, CRC, delimiters and the ACKs), INFER samples/s, and retransmissions.

    .venv/bin/python tools/bench_link.py                 # ~1-2 min on 2 idle cores
    .venv/bin/python tools/bench_link.py --samples 700 --targets host,qemu-stm32f405

QEMU does not time its UARTs at a baud rate: its throughput is the emulator's per-byte cost,
which depends on the machine's load (recorded in the JSON). A real board at 115200 baud moves
at most 11.5 KB/s, i.e. ~170 samples/s of this model before compute.
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

TARGETS = ("qemu-stm32f405", "qemu-mps2-an386", "host", "host+faults")
FAULTS = {"drop": 5e-4, "corrupt": 5e-4}  # per byte, both directions


def digits_mlp(tmp: Path):
    """The 64-32-10 digits MLP, float-trained 2 epochs in numpy and quantised (no TF)."""
    import numpy as np

    from rct_tflm.data import load_dataset
    from rct_tflm.emulator.floatref import (calibrate_act_exps, mlp_artefact, quantise_artefact,
                                            sgd_mlp)
    d = load_dataset("digits", 0)
    art = mlp_artefact([64, 32, 10], seed=0, input_exp=int(d.preprocess["input_exp"]))
    x = d.x_train.reshape(len(d.x_train), -1)
    rng = np.random.default_rng(0)
    w = None
    for _ in range(2):
        w = sgd_mlp(art, x, d.y_train, 0.05, rng.permutation(len(x)), w)
    art.tensors.update(w)
    calibrate_act_exps(art, x)
    art.preprocess = dict(d.preprocess)
    return quantise_artefact(art), d


def measure(link, x, y, infer_n: int, progress: bool) -> dict:
    from tqdm import tqdm

    link.hello()
    link.reset(1)
    per = link.samples_per_frame()
    c = link.counters
    w0, p0, r0 = c.wire_bytes, c.payload_bytes, c.retransmits
    t0 = time.monotonic()
    with tqdm(total=len(y), unit="sample", disable=not progress, leave=False) as bar:
        for s in range(0, len(y), per):
            link.train_frame(x[s:s + per], y[s:s + per])
            bar.update(len(y[s:s + per]))
    dt = time.monotonic() - t0
    wire, payload = c.wire_bytes - w0, c.payload_bytes - p0
    inputs = x.size  # 64 bytes per sample
    t1 = time.monotonic()
    link.infer(x[:infer_n])
    dti = time.monotonic() - t1
    return {"samples": int(len(y)), "samples_per_frame": per, "seconds": dt,
            "samples_per_s": len(y) / dt, "wire_bytes": wire, "wire_bytes_per_s": wire / dt,
            "payload_bytes": payload, "input_bytes": int(inputs),
            "overhead_fraction": 1 - inputs / wire,
            "overhead_fraction_labels_as_data": 1 - (inputs + len(y)) / wire,
            "infer_samples_per_s": infer_n / dti, "retransmits": c.retransmits - r0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=1400)
    ap.add_argument("--infer", type=int, default=140, help="samples for the INFER rate")
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--out", default=str(ROOT / "bench" / "link.json"))
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args()
    targets = [t for t in a.targets.split(",") if t]
    unknown = set(targets) - set(TARGETS)
    if unknown:
        sys.exit(f"error: unknown targets {sorted(unknown)}; choose from {', '.join(TARGETS)}")

    import numpy as np

    from rct_tflm.codegen import generate
    from rct_tflm.emulator.qemu import QemuBoard
    from rct_tflm.firmware_build import build_firmware
    from rct_tflm.fixedpoint.config import quantise_inputs
    from rct_tflm.link import HostFirmware, Link, open_port
    from rct_tflm.link.faults import FaultyPort

    load_before = os.getloadavg()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench-link-") as td:
        tmp = Path(td)
        art, d = digits_mlp(tmp)
        generate(art, tmp / "gen")
        n = min(a.samples, len(d.y_train))
        x = quantise_inputs(d.x_train[:n], int(art.preprocess["input_exp"])).reshape(n, -1)
        y = d.y_train[:n]
        assert x.shape[1] == 64
        for t in targets:
            board = "host" if t.startswith("host") else t
            fw = tmp / f"fw-{board}"
            if not fw.exists():
                build_firmware(board, tmp / "gen", fw)
            runner = HostFirmware(fw) if board == "host" else QemuBoard(board, fw)
            with runner:
                port = open_port(runner.url)
                if t == "host+faults":
                    port = FaultyPort(port, seed=0, **FAULTS)
                link = Link(port, runner.url, timeout=0.2 if board == "host" else 2.0,
                            retries=8)
                rows[t] = measure(link, x, y, min(a.infer, n), not a.no_progress)
                if t == "host+faults":
                    rows[t].update(faults=FAULTS, bytes_dropped=port.dropped,
                                   bytes_corrupted=port.corrupted)
                link.close()
            print(f"  {t}: {rows[t]['samples_per_s']:.0f} samples/s", file=sys.stderr)
    result = {
        "what": "TRAIN traffic of 64-byte samples (digits MLP), stop-and-wait, max payload "
                "512 B: samples/s, wire bytes/s, protocol overhead = 1 - input bytes / wire bytes",
        "protocol_version": __import__("rct_tflm.link.messages", fromlist=["x"]).PROTO_VERSION,
        "overhead_target": 0.10,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "targets": rows,
    }
    out = Path(a.out)
    write_json(out, result)
    hdr = (f"{'target':<16} {'samples/s':>9} {'wire B/s':>9} {'overhead':>8} "
           f"{'(labels=data)':>13} {'infer/s':>8} {'retx':>5}")
    print(hdr)
    print("-" * len(hdr))
    for t, r in rows.items():
        print(f"{t:<16} {r['samples_per_s']:>9.0f} {r['wire_bytes_per_s']:>9.0f} "
              f"{100 * r['overhead_fraction']:>7.1f}% "
              f"{100 * r['overhead_fraction_labels_as_data']:>12.1f}% "
              f"{r['infer_samples_per_s']:>8.0f} {r['retransmits']:>5}")
    clean = [r["overhead_fraction"] for t, r in rows.items() if t != "host+faults"]
    ok = all(o <= 0.10 for o in clean)
    print(f"protocol overhead {'<=' if ok else '>'} 10% of wire bytes for 64-byte samples "
          f"(without injected faults); "
          f"load average {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
          f"cores; wrote {out}")


if __name__ == "__main__":
    main()
