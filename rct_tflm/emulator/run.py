"""One integer training run (`rct-tflm emulate --target {golden,host}`), callable without the CLI.

`prepare(cfg)` loads and checks everything (artefact, data, options) before any output;
`emulate_run(cfg, out_dir)` trains and writes into `out_dir` (the CLI stages it atomically):

* emulate.json  the run record (fields in docs/codegen.md "emulate.json")
* bitwidths.png bits of every trainable tensor over the samples trained
* curves.png    training loss (moving mean) and test accuracy over the samples trained
* model.rct     the trained artefact: the integer weights, bits and exponents the run ended with

Data order: `rct_tflm.data.run_order` — epoch e visits `epoch_order(n, seed, e)`, the epochs
are joined and cut into whole micro-batches of `batch` samples, exactly as `rct-tflm stream`
sends them; the split is the artefact's training seed's unless `split_seed` is set. Inputs are
`Program.quantise_inputs(x)` (int8 at 2^input_exp, or a .tflite input's scale and zero point);
labels uint16; an MSE model's targets int8 at preprocess.target_exp (regression) or none (an
autoencoder: its input). An MSE model is evaluated by its per-sample scores (Q16.16 mean squared
error, what INFER reports): their mean and, when the test data marks anomalies, the ROC AUC of
the scores. Only training steps are timed for samples_per_s.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from ..artefact import ModelArtefact, known_classes
from ..data import Dataset, confusion, load_dataset, run_order, score_metrics, split_accuracy
from ..errors import UserError
from ..formats import results
from ..fixedpoint.config import EngineConfig, quantise_inputs
from ..fixedpoint.state import weights_sha256
from ..partition import target_for
from ..program import Program, load_artefact, lower
from ..fixedpoint.qtensor import QTensor
from .targets import TARGETS, history_of, make_target

FORMAT = "rct-tflm-emulate"
VERSION = 1
LOSS_FRAC = 1 << 16


@dataclass
class EmulateConfig:
    target: str
    model: str  # path of a .rct artefact
    data: str = "digits"
    epochs: int = 1
    seed: int = 0
    batch: int = 1
    max_samples: int | None = None  # stop after this many training samples (None: all epochs)
    eval_every: int | None = None  # test accuracy every N samples (None: once per epoch)
    trainable_layers: int | None = None
    frozen_layers: int | None = None
    engine: EngineConfig = field(default_factory=EngineConfig)
    sanitize: bool = False  # host: -fsanitize=address,undefined (needs the ASan runtime preloaded)
    build_dir: str | None = None  # host: where to generate and build (None: a temp folder)
    train_classes: tuple[int, ...] | None = None  # train only on samples of these classes
    split_seed: int | None = None  # data split; None: the artefact's training seed (as stream)


@dataclass
class Prepared:
    cfg: EmulateConfig
    art: ModelArtefact
    data: Dataset
    model: Program
    x_train: np.ndarray  # int8 [n, input_size]
    y_train: np.ndarray  # uint16 labels (autoencoder: anomaly marks)
    x_test: np.ndarray
    y_test: np.ndarray
    t_train: np.ndarray | None = None  # what a step trains on: labels, int8 vectors, None (input)
    t_test: np.ndarray | None = None


def check_config(cfg: EmulateConfig) -> EmulateConfig:
    if cfg.target not in TARGETS:
        raise UserError(f"unknown --target '{cfg.target}'; use one of {', '.join(TARGETS)}")
    if cfg.epochs < 1:
        raise UserError(f"--epochs must be >= 1, got {cfg.epochs}")
    if not 1 <= cfg.batch <= 256:
        raise UserError(f"--batch-size must be in 1..256 (micro-batch size), got {cfg.batch}")
    if cfg.max_samples is not None and cfg.max_samples < 1:
        raise UserError(f"--max-samples must be >= 1, got {cfg.max_samples}")
    if cfg.eval_every is not None and cfg.eval_every < 1:
        raise UserError(f"--eval-every must be >= 1 sample, got {cfg.eval_every}")
    # the engine's buffers are sized for the micro-batch; its seed is the run's seed
    return replace(cfg, engine=replace(cfg.engine, max_batch=cfg.batch, seed=cfg.seed))


def prepare(cfg: EmulateConfig, art: ModelArtefact | None = None,
            data: Dataset | None = None) -> Prepared:
    """Every check that can fail on bad input, before any output or training."""
    cfg = check_config(cfg)
    art = art if art is not None else load_artefact(cfg.model)
    t = target_for(art, None, None, cfg.trainable_layers, cfg.frozen_layers, str(cfg.model))
    if t.planned and cfg.batch > t.max_batch:
        raise UserError(f"--batch-size {cfg.batch} exceeds the partition plan's micro-batch "
                        f"({t.max_batch}) of {cfg.model}; lower --batch-size or re-partition with "
                        f"--batch-size {cfg.batch}")
    model = lower(art, cfg.engine, cfg.trainable_layers, cfg.frozen_layers)
    split = int(art.training.get("seed", 0)) if cfg.split_seed is None else cfg.split_seed
    data = data if data is not None else load_dataset(cfg.data, split)
    if data.kind == "text":
        raise UserError(f"data set '{cfg.data}' is text (token ids); the integer engine trains on "
                        f"image or tabular inputs")
    data.check_flat_for(tuple(art.input_shape), f"model {Path(cfg.model).name}")
    data = matched_targets(data, model, cfg.data)
    xtr, xte = model.quantise_inputs(data.x_train), model.quantise_inputs(data.x_test)
    if model.targets == "vector":
        ytr, yte = np.zeros(len(xtr), np.uint16), np.zeros(len(xte), np.uint16)
        ttr = quantise_inputs(data.y_train.reshape(len(xtr), -1), model.target_exp)
        tte = quantise_inputs(data.y_test.reshape(len(xte), -1), model.target_exp)
    else:
        ytr, yte = data.y_train.astype(np.uint16), data.y_test.astype(np.uint16)
        ttr, tte = (ytr, yte) if model.targets == "labels" else (None, None)
    if cfg.train_classes is not None:
        keep = np.isin(ytr, np.asarray(cfg.train_classes))
        if not keep.any():
            raise UserError(f"no training samples of classes {list(cfg.train_classes)}")
        xtr, ytr = xtr[keep], ytr[keep]
        ttr = ytr if model.targets == "labels" else ttr
    return Prepared(cfg, art, data, model, xtr, ytr, xte, yte, ttr, tte)


def matched_targets(data: Dataset, model: Program, spec: str) -> Dataset:
    """The data with the targets the model's loss head takes, or a one-line UserError: labels
    for a classifier, (N, m) vectors for a regression, the inputs for an autoencoder."""
    if model.targets == "labels":
        if data.targets != "labels":
            raise UserError(f"data set '{spec}' has {data.targets} targets, the model is a "
                            f"classifier (softmax cross-entropy): give labelled data")
        if data.num_classes > model.num_classes:
            raise UserError(f"data set '{spec}' has {data.num_classes} classes, the model "
                            f"outputs {model.num_classes}; use the data the model was built for")
        return data
    if model.targets == "input":
        return data if data.targets == "input" else data.as_autoencoder()
    if data.targets != "vector" or data.y_train.reshape(len(data.y_train), -1).shape[1] \
            != model.num_classes:
        have = data.y_train.shape[1:] if data.targets == "vector" else data.targets
        raise UserError(f"the model regresses {model.num_classes} values per sample (MSE), data "
                        f"set '{spec}' has targets {have}; give y_train of shape "
                        f"(N, {model.num_classes})")
    return data


def schedule(n: int, cfg: EmulateConfig) -> list[np.ndarray]:
    """The index arrays of every training step, in order: `data.run_order` (whole micro-batches
    over the joined epochs, as `rct-tflm stream` sends them), cut at --max-samples."""
    order = run_order(n, cfg.epochs, cfg.seed, cfg.batch)
    if cfg.max_samples is not None:
        order = order[:cfg.max_samples]
    return [order[i:i + cfg.batch] for i in range(0, len(order), cfg.batch)]


def trained_artefact(p: Prepared, tensors: list[QTensor], record: dict) -> ModelArtefact:
    """The input artefact with the integer tensors the run ended with: trainable ones as
    trained, frozen ones as the engine ran them (int8)."""
    m = p.model
    ran = {**m.tensors, **dict(zip(m.trainable, tensors))}  # frozen int8 + trained tensors
    new = {n: ran[n].copy() if n in ran else t for n, t in p.art.tensors.items()}
    return ModelArtefact(list(p.art.layers), new, p.art.input_shape, p.art.num_classes,
                         set(m.trainable), dict(p.art.preprocess),
                         {**p.art.training, "method": "rct-int", "emulate": record},
                         p.art.partition, dict(p.art.files))


def emulate_run(p: Prepared, out_dir: str | os.PathLike | None, progress: bool = True,
                on_eval: Callable[[int, float], None] | None = None) -> dict:
    """Train as configured; write the outputs into out_dir (None: return the record only)."""
    cfg = p.cfg
    target = make_target(cfg.target, p.art, cfg.engine, cfg.trainable_layers, cfg.frozen_layers,
                         cfg.build_dir, cfg.sanitize)
    try:
        return _train(p, target, out_dir, progress, on_eval)
    finally:
        target.close()


def _train(p: Prepared, target, out_dir, progress: bool, on_eval) -> dict:
    from tqdm import tqdm

    cfg = p.cfg
    steps = schedule(len(p.x_train), cfg)
    total = int(sum(len(s) for s in steps))
    n_train = len(p.x_train)
    if cfg.eval_every:  # at the first step that reaches each multiple of eval_every
        eval_at = set(range(cfg.eval_every, total + 1, cfg.eval_every))
    else:  # after every epoch (an epoch's last micro-batch ends exactly there)
        eval_at = {min(n_train * (e + 1), total) for e in range(cfg.epochs)}
    pending = sorted(eval_at | {total})
    mse = p.model.loss_kind == "mse"
    known = None if mse else known_classes(p.art)
    curve: dict[str, list] = {"samples": [], "test_accuracy": []}
    if known is not None:
        curve.update(known_accuracy=[], new_accuracy=[])
    if mse:
        curve.update(test_auc=[], test_score_mean=[])

    def evaluate(at: int) -> tuple[float, np.ndarray]:
        pred = target.predict(p.x_test, p.t_test if mse else None) if len(p.y_test) \
            else np.zeros(0, np.int64)
        if mse:  # the scores; "accuracy" of the curve is the AUC (0 without anomaly marks)
            sm = score_metrics(pred, p.y_test)
            curve["test_auc"].append(sm["auc"])
            curve["test_score_mean"].append(sm["score_mean"])
            curve["samples"].append(at)
            curve["test_accuracy"].append(sm["auc"] or 0.0)
            return sm["auc"] or 0.0, pred
        acc = split_accuracy(pred, p.y_test, known)
        curve["samples"].append(at)
        curve["test_accuracy"].append(acc["all"])
        if known is not None:
            curve["known_accuracy"].append(acc["known"])
            curve["new_accuracy"].append(acc["new"])
        return acc["all"], pred

    acc0, pred = evaluate(0)
    if on_eval:
        on_eval(0, acc0)
    losses: list[float] = []
    loss_curve = {"samples": [], "loss": []}
    seconds, done = 0.0, 0
    window = max(1, min(200, total // 50 or 1))
    bar = tqdm(total=total, unit="sample", desc=f"emulate {cfg.target}", disable=not progress,
               leave=False)
    try:
        for idx in steps:
            t0 = time.perf_counter()
            loss = target.train(p.x_train[idx], None if p.t_train is None else p.t_train[idx])
            seconds += time.perf_counter() - t0
            done += len(idx)
            losses.append(loss / LOSS_FRAC / len(idx))
            if len(losses) % window == 0:
                loss_curve["samples"].append(done)
                loss_curve["loss"].append(float(np.mean(losses[-window:])))
            bar.update(len(idx))
            if pending and done >= pending[0]:
                while pending and done >= pending[0]:
                    pending.pop(0)
                acc, pred = evaluate(done)
                bar.set_postfix(acc=f"{100 * acc:.1f}%", loss=f"{np.mean(losses[-window:]):.3f}")
                if on_eval:
                    on_eval(done, acc)
    finally:
        bar.close()
    tensors = target.trainable_tensors()
    hist = history_of(target)
    m = p.model
    record = {
        "format": FORMAT, "version": VERSION, "target": cfg.target,
        "model": str(cfg.model), "data": cfg.data, "epochs": cfg.epochs, "seed": cfg.seed,
        "batch": cfg.batch, "max_samples": cfg.max_samples,
        "train_classes": list(cfg.train_classes) if cfg.train_classes is not None else None,
        "engine": {"lr_shift": cfg.engine.lr_shift, "stochastic": cfg.engine.stochastic,
                   "acc_policy": cfg.engine.acc_policy, "controller": asdict(cfg.engine.controller)},
        "trainable": list(m.trainable), "frozen_ops": m.first_trainable,
        "test_accuracy_before": acc0, "test_accuracy_after": curve["test_accuracy"][-1],
        "samples": done, "steps": len(steps), "train_seconds": seconds,
        "samples_per_s": done / seconds if seconds > 0 else None,
        "weights_sha256": weights_sha256(tensors),
        "weights_sha256_order": "trainable tensors in artefact layer order (kernel, bias), "
                                "int16 little-endian row-major values",
        "final_bitwidths": {n: {"bits": t.bits, "exp": t.exp} for n, t in zip(m.trainable, tensors)},
        "bitwidth_history": hist, "prng_counter": target.prng_counter(),
        "accuracy_curve": curve, "loss_curve": loss_curve,
        "final_loss": float(np.mean(losses[-window:])) if losses else None,
        "classes_known": known,
        "confusion": None if mse else confusion(pred, p.y_test, p.art.num_classes),
    }
    if mse:  # [true][predicted] means nothing here: the scores and their AUC instead
        record.update(loss="mse", targets=m.targets, test_accuracy_before=None,
                      test_accuracy_after=None, metric="auc" if curve["test_auc"][-1]
                      is not None else "mse",
                      test_auc_before=curve["test_auc"][0], test_auc_after=curve["test_auc"][-1],
                      test_score_mean_before=curve["test_score_mean"][0],
                      test_score_mean_after=curve["test_score_mean"][-1],
                      test_scores_q16=[int(v) for v in pred],
                      test_anomalous=[int(v) for v in p.y_test])
    if out_dir is not None:
        write_outputs(p, record, tensors, Path(out_dir))
    return record


def write_outputs(p: Prepared, record: dict, tensors: list[QTensor], out: Path) -> None:
    from .emulate_plots import plot_bitwidths, plot_curves
    out.mkdir(parents=True, exist_ok=True)
    results.save(out / "emulate.json", record)
    plot_bitwidths(record, out / "bitwidths.png")
    plot_curves(record, out / "curves.png")
    summary = {k: record[k] for k in ("target", "test_accuracy_before", "test_accuracy_after",
                                      "samples", "weights_sha256")}
    trained_artefact(p, tensors, summary).save(out / "model.rct")
