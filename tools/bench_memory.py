"""Memory benchmark: the partition plan against the linked image, per model, for one board.

  .venv/bin/python tools/bench_memory.py [--board qemu-stm32f405] [--out bench]
      -> bench/memory.json, bench/memory.md

Models: the built-in digits MLP and CNN (trained briefly with RCT), MNIST 14x14 through the
built-in mlp196 when ../shared/datasets holds MNIST, and MobileNetV1-0.25 at 96x96x3 (tf_keras,
built by hand as `tf_keras.applications.MobileNet(alpha=0.25, ...)` lays it out, see
`mobilenet_v1`; synthetic images, 2 classes) and the built-in ResNet-8 (residual Adds) at
32x32x3. Each is partitioned twice — the deepest trainable
suffix that fits (no split given) and the head alone — and built (the MobileNet also at
micro-batch 2, which partition refuses); the record holds every RAM
item planned and measured (rct_tflm.memory_check), the stack bound, flash code and tables, and
the outcome when partition refuses (which is then up front, never at build). The stack bound
is checked against the peak of one painted-stack init / train / infer call in the instruction
emulator (rct_tflm.profile: unicorn), which must stay at or under the bound of that call.

Columns of memory.md: arena, link, stage are measured/planned bytes.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rct_tflm.errors import UserError  # noqa: E402
from rct_tflm.firmware_build import build_artefact  # noqa: E402
from rct_tflm.fixedpoint.config import EngineConfig  # noqa: E402
from rct_tflm.partition import partition  # noqa: E402

# ../shared beside the checkout (or beside the folder of a git worktree)
MNIST = next((p for p in (ROOT.parent / "shared" / "datasets" / "mnist10k",
                          ROOT.parents[1] / "shared" / "datasets" / "mnist10k") if p.is_dir()),
             ROOT.parent / "shared" / "datasets" / "mnist10k")


def mobilenet_v1(path: Path, alpha: float = 0.25, size: int = 96, classes: int = 2) -> None:
    """MobileNetV1 as tf_keras.applications.MobileNet builds it, except two spellings the
    importer lacks: a strided depthwise conv pads with padding='same' (TF pads bottom/right by
    one, exactly the application's ZeroPadding2D(((0, 1), (0, 1))) + 'valid'), and the
    classifier is GlobalAveragePooling2D + Dropout + Dense (the application's Reshape + 1x1
    Conv2D + Reshape computes the same)."""
    import tf_keras as keras
    keras.utils.set_random_seed(0)
    L = keras.layers

    def block(x, filters: int, stride: int):
        x = L.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
        x = L.ReLU(6.0)(L.BatchNormalization()(x))
        x = L.Conv2D(int(filters * alpha), 1, use_bias=False)(x)
        return L.ReLU(6.0)(L.BatchNormalization()(x))

    inp = L.Input((size, size, 3))
    x = L.Conv2D(int(32 * alpha), 3, strides=2, padding="same", use_bias=False)(inp)
    x = L.ReLU(6.0)(L.BatchNormalization()(x))
    for f, s in [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
                 (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]:
        x = block(x, f, s)
    x = L.Dense(classes)(L.Dropout(1e-3)(L.GlobalAveragePooling2D()(x)))
    keras.Model(inp, x).save(path)


def synthetic_images(path: Path, n: int = 48, size: int = 96, seed: int = 0) -> None:
    r = np.random.default_rng(seed)
    x = r.random((n, size, size, 3), dtype=np.float32)
    y = r.integers(0, 2, n)
    x[y == 1, : size // 2] = np.clip(x[y == 1, : size // 2] + 0.5, 0, 1)
    k = 2 * n // 3
    np.savez(path, x_train=x[:k], y_train=y[:k], x_test=x[k:], y_test=y[k:])


def trained(model: str, data: str, epochs: int, tmp: Path):
    from rct_tflm.trainer.runner import TrainConfig, train_run
    from rct_tflm.program import load_artefact
    out = tmp / f"train-{len(list(tmp.iterdir()))}"
    train_run(TrainConfig(model=model, data=data, epochs=epochs), out)
    return load_artefact(out)


def painted_stack(fw: Path, art, board: str) -> dict[str, int]:
    """Peak stack of one rct_model_init / train / infer call of the built image, measured by
    stack painting in the instruction emulator (rct_tflm.profile): the static bound's check."""
    from rct_tflm.boards import get_board
    from rct_tflm.profile.run import Firmware
    f = Firmware.load(fw, art, get_board(board))
    try:
        _, _, s_init = f.call("rct_model_init", 0)
        n = f.dm.model.input_size
        xa, la, lg = f.m.alloc(n), f.m.alloc(8), f.m.alloc(4 * f.dm.model.num_classes)
        f.m.uc.mem_write(xa, (np.arange(n) % 251 - 125).astype(np.int8).tobytes())
        f.m.uc.mem_write(la, b"\x01")
        rc, _, s_train = f.call("rct_model_train", xa, la, 1)
        assert rc == 0, rc
        _, _, s_infer = f.call("rct_model_infer", xa, lg)
    finally:
        f.elf.close()
    return {"rct_model_init": s_init, "rct_model_train": s_train, "rct_model_infer": s_infer}


def measure(name: str, art, board: str, split: str, tmp: Path, batch: int = 1) -> dict:
    rec: dict = {"model": name, "split": split, "board": board, "max_batch": batch}
    cfg = EngineConfig(max_batch=batch)
    try:
        part = partition(art, board, trainable_layers=1 if split == "head" else None, cfg=cfg)
    except UserError as e:
        return {**rec, "outcome": "refused by partition", "error": str(e)}
    plan = part.partition
    rec.update(trainable_layers=len(plan["trainable_layers"]), input_size=int(np.prod(art.input_shape)),
               planned=plan["ram"]["items"], planned_total=plan["ram"]["total"])
    fw = tmp / f"fw-{name}-{split}-{batch}"
    try:
        man = build_artefact(board, part, fw, cfg)
    except UserError as e:
        return {**rec, "outcome": "build failed", "error": str(e)}
    mem = man["memory"]
    painted = painted_stack(fw, part, board)
    bound = mem["stack"]["model_api"]
    assert all(painted[k] <= bound[k] for k in painted), (painted, bound)  # the bound holds
    t = mem["ram_total"]
    return {**rec, "outcome": "built",
            "measured": {k: r["measured"] for k, r in mem["ram"].items()},
            "measured_total": t["measured"],
            "ram_diff_pct": round(100 * (t["measured"] - t["planned"]) / t["planned"], 2),
            "stack": mem["stack"], "stack_painted": painted, "flash": {"code": mem["flash"]["code"],
                                              "tables": mem["flash"]["tables"]["measured"],
                                              "tables_planned": mem["flash"]["tables"]["planned"]}}


def markdown(rows: list[dict], board: str) -> str:
    lines = [f"# Memory: plan vs linked image ({board})", "",
             "| model | split | batch | trainable layers | planned RAM B | measured RAM B | diff | arena | "
             "link | stage | stack bound / reserved | train call: painted / bound | outcome |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["outcome"] != "built":
            lines.append(f"| {r['model']} | {r['split']} | {r['max_batch']} | - | - | - | - | - | "
                         f"- | - | - | - | "
                         f"{r['outcome']}: {r['error'][:120]} |")
            continue
        p, m, s = r["planned"], r["measured"], r["stack"]
        lines.append(f"| {r['model']} | {r['split']} | {r['max_batch']} | {r['trainable_layers']} | "
                     f"{r['planned_total']} | {r['measured_total']} | {r['ram_diff_pct']:+.1f}% | "
                     f"{m['arena']}/{p['arena']} | {m['link']}/{p['link']} | "
                     f"{m['stage']}/{p['stage']} | {s['bound']} / {s['reserved']} | "
                     f"{r['stack_painted']['rct_model_train']} / "
                     f"{s['model_api']['rct_model_train']} | built |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="qemu-stm32f405")
    ap.add_argument("--out", default=str(ROOT / "bench"))
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as t:
        tmp = Path(t)
        models = [("digits-mlp", lambda: trained("builtin", "digits", 3, tmp)),
                  ("digits-cnn", lambda: trained("builtin:cnn", "digits", 2, tmp))]
        if MNIST.is_dir():
            models.append(("mnist14-mlp196", lambda: trained("builtin:mlp196", f"mnist-idx:{MNIST}@14x14",
                                                             1, tmp)))

        def mobilenet():
            mobilenet_v1(tmp / "mobilenet.keras")
            synthetic_images(tmp / "images.npz")
            return trained(str(tmp / "mobilenet.keras"), f"npz:{tmp / 'images.npz'}", 1, tmp)
        models.append(("mobilenet_v1_0.25_96", mobilenet))

        def resnet8():  # MLPerf Tiny's ResNet-8 (residual Adds), CIFAR-shaped
            synthetic_images(tmp / "c32.npz", size=32)
            return trained("builtin:resnet8", f"npz:{tmp / 'c32.npz'}", 1, tmp)
        models.append(("resnet8_32", resnet8))
        for name, make in models:
            art = make()
            # the MobileNet at micro-batch 2 (two staged images, arena for two) is refused up front
            runs = [("auto", 1), ("head", 1)] + ([("head", 2)] if "mobilenet" in name else [])
            for split, batch in runs:
                r = measure(name, art, a.board, split, tmp, batch)
                print(json.dumps({k: r[k] for k in r if k in ("model", "split", "outcome",
                                  "planned_total", "measured_total", "ram_diff_pct")}), flush=True)
                rows.append(r)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "memory.json").write_text(json.dumps({"board": a.board, "rows": rows}, indent=1) + "\n")
    (out / "memory.md").write_text(markdown(rows, a.board))
    print(f"wrote {out}/memory.json {out}/memory.md")


if __name__ == "__main__":
    main()
