"""One training run (rct, fp32 or qat) from a `TrainConfig`: validate, train, write outputs.

`prepare()` does every check that can fail on user input (data, model, layer support, shapes)
before any training starts. `train_run()` then trains and writes into `out_dir`:
model.rct, metrics.json, bitwidths.png, curves.png, energy_memory.png. `compare_run()` trains
fp32, qat and rct from the same prepared model and writes compare.md / compare.json beside
one sub-folder per method. Writing into a temp dir and moving it into place is the CLI's job.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..artefact import ModelArtefact
from ..data import Dataset, load_dataset
from ..errors import UserError
from ..formats import results
from ..fixedpoint import ControllerConfig
from ..fixedpoint.grid_update import ROUNDING_MODES
from ..program import kinds
from ..report.compare import json_safe

METHODS = ("rct", "qat", "fp32")
LOSSES = ("auto", "softmax_ce", "mse")
MSE_NAMES = ("mse", "mean_squared_error", "MeanSquaredError")  # Keras' spellings of MSE


@dataclass
class TrainConfig:
    model: str = "builtin"
    data: str = "digits"
    method: str = "rct"
    epochs: int = 20
    seed: int = 0
    lr: float = 0.1
    batch_size: int = 32
    rounding: str = "stochastic"
    bits: str = "dynamic"  # "dynamic" (controller on) | "fixed" (stay at bits_init)
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    loss: str = "auto"  # "auto" (the Keras model's compile loss, else the data's), softmax_ce, mse
    autoencoder: bool = False  # train to reconstruct the inputs (MSE; y: anomaly marks or none)

    def validate(self) -> None:
        if self.loss not in LOSSES:
            raise UserError(f"unknown --loss '{self.loss}'; use {', '.join(LOSSES)}")
        if self.method not in METHODS:
            raise UserError(f"unknown method '{self.method}'; use one of {', '.join(METHODS)}")
        if self.rounding not in ROUNDING_MODES:
            raise UserError(f"unknown rounding '{self.rounding}'; use {' or '.join(ROUNDING_MODES)}")
        if self.bits not in ("dynamic", "fixed"):
            raise UserError(f"bits must be 'dynamic' or 'fixed', got '{self.bits}'")
        if self.epochs < 1 or self.batch_size < 1:
            raise UserError(f"--epochs and --batch-size must be >= 1, got {self.epochs} and "
                            f"{self.batch_size}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise UserError(f"--lr must be a positive number, got {self.lr}")

    def rct_config(self) -> Any:
        from .trainer import RCTConfig
        ctrl = self.controller if self.bits == "dynamic" else \
            ControllerConfig(**{**asdict(self.controller), "enabled": False})
        return RCTConfig(lr=self.lr, batch_size=self.batch_size, epochs=self.epochs,
                         seed=self.seed, rounding=self.rounding, controller=ctrl)


@dataclass
class Prepared:
    data: Dataset
    art: ModelArtefact  # float32 tensors, imported from Keras
    notes: dict[str, Any]
    model_name: str


def prepare(cfg: TrainConfig) -> Prepared:
    """Load data and model and import the graph; every user error surfaces here."""
    cfg.validate()
    data = load_dataset(cfg.data, cfg.seed)
    if cfg.autoencoder:
        data = data.as_autoencoder()
    from .models import parse_model_spec
    parse_model_spec(cfg.model)  # fail on a bad spec before importing TensorFlow
    from .models import resolve_model
    from .keras_import import import_keras
    model, name = resolve_model(cfg.model, data, cfg.seed)
    data = _data_for_loss(cfg, data, _keras_loss(model), name)
    art, notes = import_keras(model)
    data = data.shaped_for(tuple(art.input_shape), f"model {name}")
    if data.targets == "input" and art.num_classes != data.num_classes:
        raise UserError(f"autoencoder: model {name} outputs {art.num_classes} values, the input "
                        f"has {data.num_classes}; its output must be as large as its input")
    if data.targets == "vector" and art.num_classes != data.num_classes:
        raise UserError(f"model {name} has {art.num_classes} outputs, the regression targets "
                        f"have {data.num_classes} values; end the model with "
                        f"Dense({data.num_classes})")
    if cfg.method != "rct" and data.targets != "labels":
        raise UserError(f"--method {cfg.method} trains classifiers only; an MSE model (regression "
                        f"or autoencoder) trains with --method rct")
    if art.num_classes != data.num_classes:
        raise UserError(f"model {name} has {art.num_classes} outputs, data set {data.name} has "
                        f"{data.num_classes} classes; end the model with Dense({data.num_classes})")
    first = art.layers[0]
    vocab, table = kinds.id_count(first), kinds.keras_name(first.kind)  # a model that reads ids
    if data.kind == "text" and vocab is not None:
        if int(data.x_train.max()) >= vocab or int(data.x_test.max()) >= vocab:
            raise UserError(f"data set {data.name} has word ids up to {int(data.x_train.max())}, "
                            f"the model's {table} holds {vocab}; use an {table} of "
                            f"{data.preprocess.get('vocab_size')} rows")
    elif vocab is not None:
        raise UserError(f"model {name} starts with an {table} but data set {data.name} is not "
                        "text; use sms:PATH data or another model")
    return Prepared(data, art, notes, name)


def _keras_loss(model: Any) -> str | None:
    """"mse" when the Keras model was compiled with mean squared error, else None."""
    loss = getattr(model, "loss", None)
    name = loss if isinstance(loss, str) else getattr(loss, "__name__", type(loss).__name__)
    return "mse" if loss is not None and name in MSE_NAMES else None


def _data_for_loss(cfg: TrainConfig, data: Dataset, keras_loss: str | None,
                   name: str) -> Dataset:
    """The data with the targets the chosen loss trains on (--loss, else the Keras model's
    compile loss, else the data's own), or a one-line UserError when they cannot agree."""
    loss = cfg.loss if cfg.loss != "auto" else (keras_loss or data.loss)
    if loss == data.loss:
        return data
    if loss == "mse":
        why = "--loss mse" if cfg.loss == "mse" else f"model {name} is compiled with MSE"
        raise UserError(f"{why} but data set {data.name} has class labels; give regression "
                        f"targets (npz y_train of shape (N, m)) or train an autoencoder "
                        f"(--autoencoder)")
    has = "the inputs as targets (an autoencoder)" if data.targets == "input" else \
        "regression targets"
    raise UserError(f"--loss softmax_ce needs class labels; data set {data.name} has {has}: "
                    f"use --loss mse")


def steps_per_run(n_train: int, cfg: TrainConfig) -> int:
    """Training steps of one run: batches per epoch (the last may be short) times epochs."""
    return math.ceil(n_train / cfg.batch_size) * cfg.epochs


def _layer_kernels(art: ModelArtefact) -> dict[str, str]:
    return {l.name: (l.params.get("kernel") or l.params.get("embeddings"))
            for l in art.layers if l.params}


class _Progress:
    """Per-step progress: a tqdm bar over the run's steps with loss and per-layer bits (True),
    nothing (False), or the caller's callback (a callable gets every step's info dict)."""

    def __init__(self, total: int, desc: str, progress: bool | Callable[[dict], None]) -> None:
        self.bar = None
        self.callback = progress if callable(progress) else None
        if progress is True:
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=desc, unit="step", leave=True)

    def __call__(self, info: dict) -> None:
        if self.callback is not None:
            self.callback(info)
        if self.bar is None:
            return
        self.bar.update(1)
        if self.bar.n % 10 == 0:
            post = {"ep": info["epoch"] + 1, "loss": f"{info['loss']:.3f}"}
            if info.get("bits"):
                post["bits"] = "/".join(str(b) for b in info["bits"].values())
            self.bar.set_postfix(post, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_method(prep: Prepared, cfg: TrainConfig, method: str,
               progress: bool | Callable[[dict], None] = False
               ) -> tuple[ModelArtefact, dict[str, Any]]:
    """Train one method on a prepared model; returns (artefact, metrics).

    `progress`: True shows a tqdm bar over the steps, a callable gets one info dict per step
    ({"epoch", "loss", "bits"}) so a caller can drive its own bar."""
    from .quiet_tf import tf
    tf.random.set_seed(cfg.seed)
    rcfg = cfg.rct_config()
    data = prep.data
    bar = _Progress(steps_per_run(len(data.x_train), cfg), method, progress)
    kernels = _layer_kernels(prep.art)
    tfmot_model = None
    try:
        if method == "rct":
            from .trainer import RCTTrainer
            tr = RCTTrainer(prep.art, data, rcfg)
            hist = tr.train(bar)
            art = tr.artefact({})
            final_bits = tr.layer_bits()
            tensor_bits = tr.bits()
        else:
            from .baselines import train_baseline
            art, hist, tfmot_model = train_baseline(method, prep.art, data, rcfg, bar)
            width = 32 if method == "fp32" else 8
            final_bits = {l: width for l in kernels}
            tensor_bits = {t: width for t in art.tensors}
            if method == "fp32":
                tfmot_model = None
    finally:
        bar.close()
    training = {"method": method, "seed": cfg.seed, "lr": cfg.lr, "batch_size": cfg.batch_size,
                "epochs": cfg.epochs, "rounding": cfg.rounding if method == "rct" else None,
                "bits": cfg.bits if method == "rct" else None,
                "controller": asdict(rcfg.controller) if method == "rct" else None,
                "optimizer": "SGD (no momentum)",
                # the loss head the device runs (program/kinds: softmax_ce.py's alias, mse.py)
                "loss": "softmax cross-entropy" if data.targets == "labels" else "mse",
                **({} if data.targets == "labels" else {"targets": data.targets}),
                "model": prep.model_name, "data": cfg.data, "import": prep.notes,
                # the classes the model has seen: after deployment these are the "known" ones
                "classes_seen": sorted(int(c) for c in np.unique(data.y_train))
                if data.targets == "labels" else None}
    if training["classes_seen"] is None:
        del training["classes_seen"]
    art.training = {**art.training, **training}
    art.preprocess = dict(data.preprocess)
    acc_curve = hist["test_accuracy_curve"]
    f1_curve = hist["test_f1_curve"]
    metrics: dict[str, Any] = {
        "method": method, "model": prep.model_name, "data": cfg.data, "seed": cfg.seed,
        "epochs": cfg.epochs, "lr": cfg.lr, "batch_size": cfg.batch_size,
        "rounding": training["rounding"], "bits_mode": training["bits"],
        "controller_config": training["controller"],
        "steps": int(hist["steps"]), "samples": int(hist["samples"]),
        "test_accuracy": acc_curve[-1] if data.targets == "labels" else None,
        "test_f1": f1_curve[-1] if data.metric == "f1" else None,
        **({} if data.targets == "labels" else {
            "loss": "mse", "targets": data.targets,
            "test_auc": acc_curve[-1] if data.metric == "auc" else None,
            "test_score_mean": hist["test_score_mean_curve"][-1]}),
        "metric": data.metric,
        "train_loss_curve": hist["train_loss_curve"], "test_accuracy_curve": acc_curve,
        "test_f1_curve": f1_curve if data.metric == "f1" else None,
        "final_bitwidths": final_bits, "final_tensor_bitwidths": tensor_bits,
        "bitwidth_history": hist["bitwidth_history"], "controller_log": hist["controller_log"],
        "param_count": int(sum(np.size(art.tensors[t]) for t in art.tensors)),
        "train_seconds": round(float(hist["train_seconds"]), 2),
        "train_samples": int(len(data.x_train)), "test_samples": int(len(data.x_test)),
        "import_notes": prep.notes,
    }
    for k in ("qat_float_layers", "qat_scheme"):
        if k in hist:
            metrics[k] = hist[k]
    metrics.update(_costs(art, method, hist, cfg, tfmot_model))
    metrics["param_count"] = int(sum(np.size(art.tensors[t]) for t in art.tensors))
    return art, metrics


def _costs(art: ModelArtefact, method: str, hist: dict, cfg: TrainConfig, tfmot_model: Any) -> dict:
    """Energy and memory figures of the run (rct_tflm.energy), or a note if unavailable."""
    try:
        from ..energy import run_costs
    except ImportError as e:  # the energy model is another stage's module
        return {"energy_error": f"energy model unavailable: {e}"}
    kw = {"tfmot_model": tfmot_model} if tfmot_model is not None else {}
    return run_costs(art, method, hist["bitwidth_history"], int(hist["steps"]), cfg.batch_size, **kw)


def write_outputs(art: ModelArtefact, metrics: dict, out_dir: Path) -> None:
    from ..report.train_plots import plot_bitwidths, plot_curves, plot_run_energy_memory
    out_dir.mkdir(parents=True, exist_ok=True)
    art.save(out_dir / "model.rct")
    results.save(out_dir / "metrics.json", json_safe(metrics))
    plot_bitwidths(metrics, out_dir / "bitwidths.png")
    plot_curves(metrics, out_dir / "curves.png")
    plot_run_energy_memory(metrics, out_dir / "energy_memory.png")


def train_run(cfg: TrainConfig, out_dir: Path | None = None,
              progress: bool | Callable[[dict], None] = False,
              prep: Prepared | None = None) -> dict:
    """Train `cfg.method`; write outputs into `out_dir` if given; return the metrics."""
    prep = prep or prepare(cfg)
    art, metrics = run_method(prep, cfg, cfg.method, progress)
    if out_dir is not None:
        write_outputs(art, metrics, Path(out_dir))
    return metrics


def compare_run(cfg: TrainConfig, out_dir: Path | None = None, progress: bool = False,
                on_done: Callable[[str, dict], None] | None = None) -> dict[str, dict]:
    """fp32, qat and rct from one prepared model; writes <out>/<method>/ and compare.*."""
    prep = prepare(cfg)
    if prep.data.targets != "labels":
        raise UserError("compare trains the fp32 and qat baselines, classifiers only; train an "
                        "MSE model (regression or autoencoder) with `rct-tflm train`")
    runs = {}
    for method in ("fp32", "qat", "rct"):
        art, m = run_method(prep, cfg, method, progress)
        runs[method] = m
        if out_dir is not None:
            write_outputs(art, m, Path(out_dir) / method)
        if on_done:
            on_done(method, m)
    if out_dir is not None:
        from ..report.compare import write_compare
        write_compare(runs, Path(out_dir))
    return runs
