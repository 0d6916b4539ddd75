#!/usr/bin/env python3
"""TFLite frozen-part benchmark: bench/tflite.json + a printed table.

The three MCU reference architectures, built with tf_keras from their published designs (MLPerf
Tiny's DS-CNN keyword spotting and ResNet-8, and MobileNetV1-0.25 96x96 visual wake words from
tf_keras.applications), random weights with randomised BatchNorm statistics (so the converter's
BN folding is not trivial), converted fully int8 by TensorFlow with a representative set. Each is
then verified as a frozen part with `rct-tflm verify` against the tflite-micro interpreter:
golden (numpy) and host C on 500 samples, qemu-mps2-an500 (Cortex-M7) and qemu-stm32f405
(Cortex-M4, where it fits in 128 KB RAM / 1 MB flash) on 50. Per model: operators, constants
(flash), arena (RAM), mismatches.

The conversion is the toolchain's own (trainer/keras_tflite.py, what `partition --model m.keras`
runs), so "imported from Keras" and "imported from its .tflite" are the same bytes; the bench
then takes the head path a user takes: `partition --model m.tflite` for each QEMU board (the
trailing FULLY_CONNECTED layers trainable, the rest frozen in TFLite's arithmetic), the frozen
layer of the resulting program (golden engine) against tflite-micro's tensor at the cut on the
same samples, and `build` for the boards the plan fits, linked RAM against the plan.

    .venv/bin/python tools/bench_tflite.py                       # ~5 min on 2 cores
    .venv/bin/python tools/bench_tflite.py --samples 100 --qemu-samples 10 --models ds-cnn
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from rct_tflm.formats.atomic import write_json  # noqa: E402
from rct_tflm.trainer.quiet_tf import tf_keras  # noqa: E402


def ds_cnn(K):
    """MLPerf Tiny KWS DS-CNN: 49x10 MFCC, conv 10x4/2 then 4 depthwise-separable blocks."""
    L = K.layers
    i = K.Input((49, 10, 1))
    x = L.Conv2D(64, (10, 4), strides=(2, 2), padding="same")(i)
    x = L.ReLU()(L.BatchNormalization()(x))
    for _ in range(4):
        x = L.ReLU()(L.BatchNormalization()(L.DepthwiseConv2D(3, padding="same")(x)))
        x = L.ReLU()(L.BatchNormalization()(L.Conv2D(64, 1)(x)))
    x = L.AveragePooling2D(pool_size=(25, 5))(x)
    return K.Model(i, L.Dense(12, activation="softmax")(L.Flatten()(x))), (49, 10, 1)


def resnet8(K):
    """MLPerf Tiny image classification ResNet-8 (CIFAR-10 32x32x3)."""
    L = K.layers
    i = K.Input((32, 32, 3))
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(16, 3, padding="same")(i)))
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        y = L.ReLU()(L.BatchNormalization()(L.Conv2D(filters, 3, strides=stride,
                                                     padding="same")(x)))
        y = L.BatchNormalization()(L.Conv2D(filters, 3, padding="same")(y))
        if stride > 1:
            x = L.Conv2D(filters, 1, strides=stride, padding="same")(x)
        x = L.ReLU()(L.Add()([x, y]))
    x = L.AveragePooling2D(pool_size=8)(x)
    return K.Model(i, L.Dense(10, activation="softmax")(L.Flatten()(x))), (32, 32, 3)


def mobilenet(K):
    """MobileNetV1 alpha 0.25 on 96x96x3, 2 classes (visual wake words). A fixed batch of one,
    so the converter folds the classifier's Reshape (else SHAPE/STRIDED_SLICE/PACK ops)."""
    m = K.applications.MobileNet(input_tensor=K.Input((96, 96, 3), batch_size=1), alpha=0.25,
                                 weights=None, classes=2)
    return m, (96, 96, 3)


MODELS = {"ds-cnn": ds_cnn, "resnet-8": resnet8, "mobilenet-v1-0.25-96": mobilenet}


def randomise_bn(m, rng) -> None:
    import tf_keras as K
    for layer in m.layers:
        if isinstance(layer, K.layers.BatchNormalization):
            g, b, mu, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape), rng.normal(0, 0.1, b.shape),
                               rng.normal(0, 0.1, mu.shape), rng.uniform(0.5, 1.5, var.shape)])


def convert(m, shape, seed: int) -> bytes:
    """The toolchain's Keras -> int8 .tflite conversion on 100 random samples."""
    import numpy as np
    from rct_tflm.trainer.keras_tflite import int8_tflite
    rng = np.random.default_rng(seed)
    return int8_tflite(m, rng.normal(0, 1, (100, *shape)).astype(np.float32))


def head_path(path: Path, n: int, tmp: Path) -> dict:
    """`partition --model path` per QEMU board, the program's frozen layer vs tflite-micro at
    the cut on n samples, and `build` where the plan fits."""
    import numpy as np
    from rct_tflm.errors import UserError
    from rct_tflm.firmware_build import build_artefact
    from rct_tflm.fixedpoint.config import EngineConfig
    from rct_tflm.formats.tflite_model import read_tflite
    from rct_tflm.partition.tflite_head import import_tflite, partition_tflite
    from rct_tflm.program import lower
    from rct_tflm.program.tflite_lower import run_plan
    from rct_tflm.verify.tflm_reference import tflm_tensors
    art = import_tflite(path)
    p = lower(art, EngineConfig())
    plan = p.plans[art.layers[0].name]
    x = np.random.default_rng(1).integers(-128, 128, (n, *plan.shapes[plan.input]), dtype=np.int8)
    cut = int(art.layers[0].config["output"])
    ref = tflm_tensors(read_tflite(path), x, [cut])[cut].reshape(n, -1)
    ours = run_plan(plan, x).reshape(n, -1)
    out = {"head": [l.name for l in art.layers if l.params],
           "frozen_vs_tflm_at_cut": {"compared": n, "mismatches": int(np.sum(np.any(ours != ref,
                                                                                  axis=1)))},
           "boards": {}}
    for board in ("qemu-stm32f405", "qemu-mps2-an500"):
        try:
            part = partition_tflite(path, board)
        except UserError as e:
            out["boards"][board] = {"outcome": "refused by partition", "error": str(e)}
            continue
        r = {"trainable_layers": part.partition["trainable_layers"],
             "planned_ram": part.partition["ram"]["total"]}
        try:
            fw = tmp / f"fw-{path.stem}-{board}"
            build_artefact(board, part, fw, EngineConfig())
            mem = json.loads((fw / "size.json").read_text())["memory"]["ram_total"]
            r.update({"outcome": "built", "linked_ram": mem["measured"],
                      "ram_diff_pct": round(100 * (mem["measured"] / mem["planned"] - 1), 2)})
        except UserError as e:
            r.update({"outcome": "failed at build", "error": str(e)})
        out["boards"][board] = r
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--qemu-samples", type=int, default=50)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--out", default=str(ROOT / "bench" / "tflite.json"))
    a = ap.parse_args()
    import numpy as np
    K = tf_keras()
    from rct_tflm.errors import UserError
    from rct_tflm.formats.tflite_model import read_tflite
    from rct_tflm.program.tflite_lower import lower_tflite
    from rct_tflm.verify.run import VerifyConfig, run_verify
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-tflite-") as t:
        tmp = Path(t)
        for name in a.models.split(","):
            K.utils.set_random_seed(0)
            m, shape = MODELS[name](K)
            randomise_bn(m, np.random.default_rng(0))
            path = tmp / f"{name}.tflite"
            path.write_bytes(convert(m, shape, 0))
            tm = read_tflite(path)
            plan = lower_tflite(tm)
            row = {"model": name, "input_shape": list(shape), "tflite_bytes": path.stat().st_size,
                   "ops": sorted({op.name for op in tm.ops}), "calls": len(plan.calls),
                   "const_bytes": plan.const_bytes, "arena_bytes": plan.arena_bytes,
                   "params": int(m.count_params()), "targets": {}}
            for target, n in (("golden", a.samples), ("host", a.samples),
                              ("qemu-mps2-an500", a.qemu_samples),
                              ("qemu-stm32f405", a.qemu_samples)):
                t0 = time.monotonic()
                try:
                    r = run_verify(VerifyConfig(str(path), f"random:{n}", target,
                                                str(tmp / name / target), n, 0))
                    row["targets"][target] = {
                        k: r.get(k) for k in ("compared", "mismatches", "max_abs_diff",
                                              "first_mismatching_layer", "size")}
                except UserError as e:  # e.g. does not fit the board
                    row["targets"][target] = {"error": str(e)}
                row["targets"][target]["seconds"] = time.monotonic() - t0
                print(f"  {name} {target}: {row['targets'][target]}", flush=True)
            row["head_path"] = head_path(path, a.samples, tmp)
            print(f"  {name} head path: {row['head_path']}", flush=True)
            rows.append(row)
    print(f"\n{'model':<22} {'calls':>5} {'flash B':>8} {'arena B':>8}  "
          + "  ".join(f"{t:>16}" for t in ("golden", "host", "qemu-mps2-an500", "qemu-stm32f405")))
    for r in rows:
        cells = []
        for t in ("golden", "host", "qemu-mps2-an500", "qemu-stm32f405"):
            v = r["targets"][t]
            cell = "does not fit" if "error" in v else f"{v['mismatches']}/{v['compared']} mism."
            cells.append(f"{cell:>16}")
        print(f"{r['model']:<22} {r['calls']:>5} {r['const_bytes']:>8} {r['arena_bytes']:>8}  "
              + "  ".join(cells))
    print(f"\n{'head path (partition --model x.tflite)':<40} {'at cut':>10}  "
          + "  ".join(f"{b:>28}" for b in ("qemu-stm32f405", "qemu-mps2-an500")))
    for r in rows:
        h = r["head_path"]
        cut = f"{h['frozen_vs_tflm_at_cut']['mismatches']}/{h['frozen_vs_tflm_at_cut']['compared']}"
        cells = [(f"{v['outcome']}, RAM {v['ram_diff_pct']:+.1f}%" if v["outcome"] == "built"
                  else v["outcome"]) for v in h["boards"].values()]
        print(f"{r['model'] + ' head ' + ','.join(h['head']):<40} {cut:>10}  "
              + "  ".join(f"{c:>28}" for c in cells))
    write_json(Path(a.out), {"format": "rct-tflm-bench-tflite", "version": 1,
                             "machine": platform.machine(), "cpus": os.cpu_count(),
                             "reference": "tflite-micro interpreter (pip tflite-micro)",
                             "rows": rows})
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
