#!/usr/bin/env python3
"""Integer training engine benchmark: bench/engine.json + printed tables, one command.

1. accuracy   fully integer streaming training (batch 1, golden engine) against FP32 SGD on the
              same model, the same initial weights (the 8-bit init, dequantised), the same
              learning rate 2^-lr_shift and the same sample order (data.epoch_order): the digits
              64-32-10 MLP and the 196-64-10 MLP on MNIST-10k at 14x14. Target: within 1.0 point.
2. head-only  pretrain the digits MLP on digits 0-4 (integer engine, every layer), then train only
              the classifier head on all ten classes: accuracy before/after, per-class accuracy
              of the new classes, samples needed.
3. speed      training samples/s (training steps only, batch 1) of the digits MLP and the MNIST
              CNN (models._cnn shape, 28x28) on golden (numpy) and host (generated C, -O2).
4. memory     the generator's RAM report (arena + static state) and the worst-case stack of
              rct_model_train on Cortex-M4 (GCC call graph) for each model.

    .venv/bin/python tools/bench_engine.py            # full (~6 min on 2 idle cores)
    .venv/bin/python tools/bench_engine.py --quick    # short version (~1 min)
    .venv/bin/python tools/bench_engine.py --only accuracy,memory
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from rct_tflm.formats.atomic import write_text  # noqa: E402
DATASETS = (ROOT / ".." / "shared" / "datasets").resolve()
MNIST = DATASETS / "mnist10k"
SECTIONS = ("accuracy", "head_only", "speed", "memory")

# name -> data spec, hidden units, lr_shift, epochs (full, quick)
ACCURACY = {
    "digits-64-32-10": {"data": "digits", "hidden": 32, "lr_shift": 4, "epochs": (20, 4)},
    "mnist14-196-64-10": {"data": f"mnist-idx:{MNIST}@14x14", "hidden": 64, "lr_shift": 5,
                          "epochs": (10, 2), "needs": MNIST},
}
HEAD_ONLY = {"pretrain_classes": (0, 1, 2, 3, 4), "lr_shift": 4, "pretrain_epochs": (10, 3),
             "head_epochs": (10, 2), "eval_every": 100}
SPEED = {  # model, data, samples (full, quick) per target
    "digits-mlp": {"zoo": "mlp", "data": "digits", "hidden": 32, "lr_shift": 4,
                   "samples": {"golden": (4000, 1000), "host": (20000, 4000)}},
    "mnist-cnn": {"zoo": "cnn", "data": f"mnist-idx:{MNIST}", "hidden": 0, "lr_shift": 6,
                  "samples": {"golden": (600, 100), "host": (1500, 200)}, "needs": MNIST},
}
TOLERANCE_POINTS = 1.0


def load(spec: str, seed: int = 0):
    from rct_tflm.data import load_dataset
    return load_dataset(spec, seed)


def available(cfg: dict) -> bool:
    need = cfg.get("needs")
    if need is not None and not Path(need).exists():
        print(f"skip: {need} is absent", file=sys.stderr)
        return False
    return True


def engine_cfg(lr_shift: int):
    from rct_tflm.fixedpoint.config import EngineConfig
    return EngineConfig(lr_shift=lr_shift)


# -- 1. accuracy against FP32 SGD ------------------------------------------------------------
def accuracy_row(name: str, cfg: dict, quick: bool, seed: int = 0) -> dict:
    from rct_tflm.data import epoch_order
    from rct_tflm.emulator import zoo
    from rct_tflm.emulator.floatref import predict, sgd_mlp
    from rct_tflm.emulator.run import EmulateConfig, emulate_run, prepare
    data = load(cfg["data"], seed)
    epochs = cfg["epochs"][1 if quick else 0]
    art = zoo.build("mlp", data, seed=seed, hidden=cfg["hidden"])
    lr = cfg["lr_shift"]
    x = data.x_train.reshape(len(data.x_train), -1)
    w = {n: art.float_weights(n) for n in art.tensors}  # the integer run's initial weights
    fp32_curve = []
    t0 = time.time()
    for e in range(epochs):
        w = sgd_mlp(art, x, data.y_train, 2.0 ** -lr, epoch_order(len(x), seed, e), w)
        fp32_curve.append(float(np.mean(predict(art, data.x_test, w) == data.y_test)))
    fp32_s = time.time() - t0
    ecfg = EmulateConfig(target="golden", model=name, data=cfg["data"], epochs=epochs, seed=seed,
                         engine=engine_cfg(lr))
    rec = emulate_run(prepare(ecfg, art, data), None, progress=True)
    fp, it = fp32_curve[-1], rec["test_accuracy_after"]
    return {"model": name, "data": cfg["data"], "epochs": epochs, "lr_shift": lr,
            "lr": 2.0 ** -lr, "train_samples": len(x), "test_samples": len(data.y_test),
            "fp32_accuracy": fp, "int_accuracy": it, "delta_points": 100 * (it - fp),
            "within_1_point": bool(100 * (fp - it) <= TOLERANCE_POINTS),
            "fp32_curve": fp32_curve, "int_curve": rec["accuracy_curve"]["test_accuracy"][1:],
            "int_final_bitwidths": rec["final_bitwidths"],
            "int_bit_changes": len(rec["bitwidth_history"]["changes"]),
            "int_samples_per_s": rec["samples_per_s"], "fp32_seconds": fp32_s,
            "act_headroom_bits": {"hidden": zoo.HIDDEN_HEADROOM, "logits": zoo.LOGITS_HEADROOM}}


# -- 2. head-only training after pretraining on 0-4 ---------------------------------------------
def per_class(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {str(c): float(np.mean(pred[y == c] == c)) for c in np.unique(y)}


def head_only_row(quick: bool, seed: int = 0) -> dict:
    from rct_tflm.artefact import ModelArtefact
    from rct_tflm.emulator import zoo
    from rct_tflm.emulator.run import EmulateConfig, emulate_run, prepare
    from rct_tflm.fixedpoint.config import quantise_inputs
    from rct_tflm.program import Engine
    c = HEAD_ONLY
    data = load("digits", seed)
    art = zoo.build("mlp", data, seed=seed, hidden=32)
    pre_epochs, head_epochs = c["pretrain_epochs"][quick], c["head_epochs"][quick]
    with tempfile.TemporaryDirectory() as tmp:
        pre = EmulateConfig(target="golden", model="mlp", epochs=pre_epochs, seed=seed,
                            engine=engine_cfg(c["lr_shift"]), train_classes=c["pretrain_classes"])
        p = prepare(pre, art, data)
        r1 = emulate_run(p, tmp, progress=True)
        pretrained = ModelArtefact.load(Path(tmp) / "model.rct")
    xt = quantise_inputs(data.x_test.reshape(len(data.x_test), -1), data.preprocess["input_exp"])
    before = Engine.from_artefact(pretrained, engine_cfg(c["lr_shift"])).predict(xt)
    head = EmulateConfig(target="golden", model="pretrained", epochs=head_epochs, seed=seed + 1,
                         engine=engine_cfg(c["lr_shift"]), trainable_layers=1,
                         eval_every=c["eval_every"])
    hp = prepare(head, pretrained, data)
    with tempfile.TemporaryDirectory() as tmp:
        r2 = emulate_run(hp, tmp, progress=True)
        after = Engine.from_artefact(ModelArtefact.load(Path(tmp) / "model.rct"),
                                     engine_cfg(c["lr_shift"])).predict(xt)
    curve = r2["accuracy_curve"]
    final = r2["test_accuracy_after"]
    # yardstick: FP32 SGD of the same head from the same pretrained weights, same order and lr
    from rct_tflm.data import epoch_order
    from rct_tflm.emulator.floatref import predict, sgd_mlp
    # (the frozen layer as the device holds it: int8, like the integer head-only run)
    from rct_tflm.program import lower
    as_run = lower(pretrained, engine_cfg(c["lr_shift"]), trainable_layers=1).tensors
    fp = ModelArtefact(pretrained.layers, as_run, pretrained.input_shape,
                       pretrained.num_classes, set(r2["trainable"]), pretrained.preprocess)
    w = {n: fp.float_weights(n) for n in fp.tensors}
    x = data.x_train.reshape(len(data.x_train), -1)
    for e in range(head_epochs):
        w = sgd_mlp(fp, x, data.y_train, 2.0 ** -c["lr_shift"], epoch_order(len(x), seed + 1, e), w)
    fp_pred = predict(fp, data.x_test, w)
    new = [str(k) for k in range(5, 10)]

    def first(th: float) -> int | None:
        return next((s for s, a in zip(curve["samples"], curve["test_accuracy"]) if a >= th), None)

    return {"pretrain": {"classes": list(c["pretrain_classes"]), "epochs": pre_epochs,
                         "samples": r1["samples"],
                         "test_accuracy_all_classes": r1["test_accuracy_after"]},
            "head": {"trainable": r2["trainable"], "epochs": head_epochs, "samples": r2["samples"],
                     "lr_shift": c["lr_shift"]},
            "accuracy_before": r2["test_accuracy_before"], "accuracy_after": final,
            "fp32_head_accuracy_after": float(np.mean(fp_pred == data.y_test)),
            "fp32_new_classes_after": {k: v for k, v in per_class(fp_pred, data.y_test).items()
                                       if k in new},
            "new_classes_before": {k: v for k, v in per_class(before, data.y_test).items() if k in new},
            "new_classes_after": {k: v for k, v in per_class(after, data.y_test).items() if k in new},
            "samples_to_80pct": first(0.80), "samples_to_90pct": first(0.90),
            "samples_to_within_1pt_of_final": first(final - 0.01),
            "curve": curve}


# -- 3. speed ------------------------------------------------------------------------------------
def speed_rows(quick: bool, seed: int = 0) -> list[dict]:
    from rct_tflm.emulator import zoo
    from rct_tflm.emulator.run import EmulateConfig, emulate_run, prepare
    rows = []
    for name, cfg in SPEED.items():
        if not available(cfg):
            continue
        data = load(cfg["data"], seed)
        art = zoo.build(cfg["zoo"], data, seed=seed, hidden=cfg["hidden"] or 32)
        # speed does not need the whole test set: time the training steps on a 500-sample slice
        data.x_test, data.y_test = data.x_test[:500], data.y_test[:500]
        for target, n in cfg["samples"].items():
            with tempfile.TemporaryDirectory() as build:
                ecfg = EmulateConfig(target=target, model=name, data=cfg["data"], epochs=100,
                                     seed=seed, max_samples=n[1 if quick else 0],
                                     engine=engine_cfg(cfg["lr_shift"]), build_dir=build)
                rec = emulate_run(prepare(ecfg, art, data), None, progress=True)
            rows.append({"model": name, "target": target, "samples": rec["samples"],
                         "train_seconds": rec["train_seconds"],
                         "samples_per_s": rec["samples_per_s"]})
    return rows


# -- 4. memory -------------------------------------------------------------------------------------
def memory_rows(seed: int = 0) -> list[dict]:
    from rct_tflm.codegen import generate
    from rct_tflm.codegen.stack import stack_usage
    from rct_tflm.emulator import zoo
    models = [("digits-64-32-10", "mlp", "digits", 32),
              ("mnist14-196-64-10", "mlp", f"mnist-idx:{MNIST}@14x14", 64),
              ("mnist-cnn", "cnn", f"mnist-idx:{MNIST}", 32)]
    rows = []
    for name, kind, spec, hidden in models:
        if spec != "digits" and not MNIST.exists():
            continue
        art = zoo.build(kind, load(spec, seed), seed=seed, hidden=hidden)
        with tempfile.TemporaryDirectory() as tmp:
            rep = generate(art, Path(tmp) / "g", engine_cfg(4))
            stack = (stack_usage(Path(tmp) / "g")["rct_model_train"]
                     if shutil.which("arm-none-eabi-gcc") else None)
        r = rep["ram"]
        rows.append({"model": name, "arena": r["arena"], "state": r["state"],
                     "ram_total": r["total"], "ram_unshared": r["unshared"],
                     "stack_train_cortex_m4": stack,
                     "ram_with_stack": None if stack is None else r["total"] + stack,
                     "flash_tables": rep["flash"]["tables"], "by_kind": r["by_kind"]})
    return rows


# -- tables ----------------------------------------------------------------------------------------
def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    w = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "  ".join(c.rjust(w[i]) if i else c.ljust(w[i]) for i, c in enumerate(r))  # noqa: E731
    return "\n".join([line(cells[0]), "  ".join("-" * x for x in w)] + [line(r) for r in cells[1:]])


def pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def report(res: dict) -> str:
    out = []
    if res.get("accuracy"):
        out += ["Integer streaming training (batch 1, golden) vs FP32 SGD, same init/order/lr:",
                table(["model", "epochs", "lr", "FP32", "integer", "delta (pts)", "within 1 pt"],
                      [[r["model"], r["epochs"], f"2^-{r['lr_shift']}", pct(r["fp32_accuracy"]),
                        pct(r["int_accuracy"]), f"{r['delta_points']:+.2f}", r["within_1_point"]]
                       for r in res["accuracy"]]), ""]
    h = res.get("head_only")
    if h:
        out += ["Head-only training after pretraining on digits 0-4 (golden):",
                table(["", "before", "after (integer)", "after (FP32 head, same start)"],
                      [["test accuracy (10 classes)", pct(h["accuracy_before"]),
                        pct(h["accuracy_after"]), pct(h["fp32_head_accuracy_after"])]]
                      + [[f"class {k}", pct(h["new_classes_before"][k]),
                          pct(h["new_classes_after"][k]), pct(h["fp32_new_classes_after"][k])]
                         for k in sorted(h["new_classes_after"])]),
                f"samples: to 80% {h['samples_to_80pct']}, to 90% {h['samples_to_90pct']}, to "
                f"within 1 pt of final {h['samples_to_within_1pt_of_final']} (of {h['head']['samples']})",
                ""]
    if res.get("speed"):
        out += ["Training throughput (batch 1, training steps only):",
                table(["model", "target", "samples", "samples/s"],
                      [[r["model"], r["target"], r["samples"], f"{r['samples_per_s']:.0f}"]
                       for r in res["speed"]]), ""]
    if res.get("memory"):
        out += ["RAM of one training step (generator report; stack: GCC call graph, Cortex-M4 -Os):",
                table(["model", "arena", "state", "RAM total", "unshared", "stack", "RAM+stack",
                       "flash tables"],
                      [[r["model"], r["arena"], r["state"], r["ram_total"], r["ram_unshared"],
                        r["stack_train_cortex_m4"], r["ram_with_stack"], r["flash_tables"]]
                       for r in res["memory"]]), ""]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer epochs and samples")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma list of {SECTIONS}")
    ap.add_argument("--out", default=str(ROOT / "bench" / "engine.json"))
    a = ap.parse_args()
    only = [s.strip() for s in a.only.split(",") if s.strip()]
    bad = [s for s in only if s not in SECTIONS]
    if bad:
        ap.error(f"unknown section(s) {bad}; choose from {SECTIONS}")
    t0 = time.time()
    res: dict = {"command": " ".join(["tools/bench_engine.py"] + sys.argv[1:]), "quick": a.quick,
                 "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                             "loadavg_start": os.getloadavg()}}
    if "accuracy" in only:
        res["accuracy"] = [accuracy_row(n, c, a.quick) for n, c in ACCURACY.items() if available(c)]
    if "head_only" in only:
        res["head_only"] = head_only_row(a.quick)
    if "speed" in only:
        res["speed"] = speed_rows(a.quick)
    if "memory" in only:
        res["memory"] = memory_rows()
    res["machine"]["loadavg_end"] = os.getloadavg()
    res["seconds"] = time.time() - t0
    text = report(res)
    print(text)
    print(f"load average start {res['machine']['loadavg_start'][0]:.2f}, end "
          f"{res['machine']['loadavg_end'][0]:.2f} on {res['machine']['cpus']} CPUs; "
          f"{res['seconds']:.0f} s")
    out = Path(a.out)
    # data paths relative to the checkout (../shared/...), not this machine's
    write_text(out, json.dumps(res, indent=1).replace(str(ROOT.parent) + "/", "../"))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
