"""`rct-tflm anomaly`: anomaly detection on the device, end to end (docs/anomaly.md).

MLPerf Tiny's anomaly-detection design on the built-in synthetic `anomaly` data (data.py:
spectra-like 640-value vectors from a low-dimensional generator; anomalies shifted or with
added peaks): the FC autoencoder 640 -> 128x3 -> 8 -> 128x3 -> 640 learns the normal data with
RCT on the host (MSE), then its last layers keep learning with the MSE loss head on more normal
data: on the integer engine (`--target golden`, or the generated C built for the host), or on a
board in QEMU over its UART (`--target qemu-mps2-an500`: partition, build, stream, the weights
then compared with the golden model's run of the same stream). The
anomaly score is the reconstruction error (Q16.16 mean squared error, what INFER reports);
the run reports the ROC AUC of the score on normal vs anomalous test data before and after the
device training, and a histogram of both score distributions.

Writes into `out`: 1-train/ (the host training), 2-device/ (the emulate run), anomaly.json,
scores.png.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import UserError

DATA = "anomaly"


@dataclass
class AnomalyConfig:
    seed: int = 0
    host_epochs: int = 40
    lr: float = 0.3
    batch_size: int = 16
    device_layers: int = 2  # the last layers trained on the device with MSE
    device_epochs: int = 1
    device_samples: int | None = None  # cut the device run (None: every epoch's samples)
    lr_shift: int = 5
    target: str = "golden"  # "golden", "host" (the generated C, host gcc) or a QEMU board
    progress: bool = True


def run_anomaly(out: Path, cfg: AnomalyConfig, say: Callable[[str], None] = print) -> dict:
    from .data import load_dataset, score_metrics
    from .emulator.run import EmulateConfig, emulate_run
    from .emulator.run import prepare as prepare_emulate
    from .fixedpoint.config import EngineConfig, quantise_inputs
    from .formats.atomic import write_json
    from .program import Engine, load_artefact
    from .trainer.runner import TrainConfig, train_run

    out = Path(out)
    say(f"1/3 host: the FC autoencoder learns the normal data with RCT (MSE, "
        f"{cfg.host_epochs} epochs)")
    tcfg = TrainConfig(model="builtin:autoencoder", data=DATA, epochs=cfg.host_epochs,
                       seed=cfg.seed, lr=cfg.lr, batch_size=cfg.batch_size)
    host = train_run(tcfg, out / "1-train", progress=cfg.progress)
    say(f"    host (float gradients): anomaly AUC {host['test_auc']:.4f}")

    say(f"2/3 device ({cfg.target}): the last {cfg.device_layers} layers keep learning normal "
        f"data with the MSE loss head")
    if cfg.target in ("golden", "host"):
        ecfg = EmulateConfig(target=cfg.target, model=str(out / "1-train" / "model.rct"),
                             data=DATA, epochs=cfg.device_epochs, seed=cfg.seed,
                             max_samples=cfg.device_samples, trainable_layers=cfg.device_layers,
                             engine=EngineConfig(lr_shift=cfg.lr_shift))
        dev = emulate_run(prepare_emulate(ecfg), out / "2-device", progress=cfg.progress)
    else:
        dev = _on_board(out, cfg, say)
    say("3/3 scores: reconstruction error of normal vs anomalous test data")
    data = load_dataset(DATA, cfg.seed)
    labels = data.y_test
    scores = {}
    for when, path in (("before", out / "1-train" / "model.rct"),
                       ("after", out / "2-device" / "model.rct")):
        art = load_artefact(path)
        eng = Engine.from_artefact(art, trainable_layers=None if art.partition else
                                   cfg.device_layers)
        x = quantise_inputs(data.x_test.reshape(len(data.x_test), -1), eng.program.input_exp)
        scores[when] = eng.predict(x)
    if not np.array_equal(scores["after"], np.asarray(dev["test_scores_q16"])):
        raise RuntimeError("the trained artefact's scores differ from the device run's")
    metrics = {w: score_metrics(s, labels) for w, s in scores.items()}
    record = {
        "format": "rct-tflm-anomaly", "version": 1, "config": asdict(cfg), "data": DATA,
        "test_normal": int(np.sum(labels == 0)), "test_anomalous": int(np.sum(labels == 1)),
        "host_auc": host["test_auc"], "auc_before_device": metrics["before"]["auc"],
        "auc_after_device": metrics["after"]["auc"],
        "device": {k: dev.get(k) for k in ("target", "board", "samples", "weights_sha256",
                                           "golden_weights_sha256", "final_bitwidths")},
        "score_q16": {w: _summary(s, labels) for w, s in scores.items()},
    }
    write_json(out / "anomaly.json", record)
    plot_scores(scores, labels, out / "scores.png", metrics)
    say(f"    anomaly AUC (integer engine): {metrics['before']['auc']:.4f} before, "
        f"{metrics['after']['auc']:.4f} after the device training")
    return record


def _on_board(out: Path, cfg: AnomalyConfig, say: Callable[[str], None]) -> dict:
    """Partition (the last layers trainable), build for the QEMU board, stream the normal data
    over its UART; the same stream on the golden model must end with the same weights."""
    from .emulator.run import EmulateConfig, emulate_run
    from .emulator.run import prepare as prepare_emulate
    from .firmware_build import build_artefact
    from .fixedpoint.config import EngineConfig
    from .partition import partition
    from .program import load_artefact
    from .stream import StreamConfig, open_target, run_stream
    from .stream import prepare as prepare_stream
    from .stream.device_model import engine_config_from_manifest, find_manifest
    if cfg.device_samples is not None:
        raise UserError("--device-samples cuts an emulated run; a board trains whole epochs")
    part = partition(load_artefact(out / "1-train" / "model.rct"), cfg.target,
                     trainable_layers=cfg.device_layers)
    part_path = part.save(out / "2-partition" / "model.rct")
    fw = out / "2-firmware"
    build_artefact(cfg.target, part, fw, EngineConfig(lr_shift=cfg.lr_shift, seed=cfg.seed),
                   artefact_name="anomaly")
    sc = StreamConfig(model=str(part_path), data=DATA, out=str(out / "2-device"),
                      epochs=cfg.device_epochs, seed=cfg.seed, progress=cfg.progress)
    prep = prepare_stream(sc, str(fw))
    with open_target(board=cfg.target, firmware=str(fw), dm=prep.dm) as link:
        say(f"    {cfg.target} answers at {link.url}")
        dev = run_stream(prep, link, cfg.target)
    gold = emulate_run(prepare_emulate(EmulateConfig(
        target="golden", model=str(part_path), data=DATA, epochs=cfg.device_epochs,
        seed=cfg.seed, engine=engine_config_from_manifest(find_manifest(fw)))), None,
        progress=False)
    same = gold["weights_sha256"] == dev["weights_sha256"]
    say(f"    board weights {'==' if same else '!='} golden model weights "
        f"(sha256 {dev['weights_sha256'][:16]}...)")
    if not same:
        raise UserError(f"the board's weights differ from the golden model's after the same "
                        f"stream ({dev['weights_sha256'][:16]} vs {gold['weights_sha256'][:16]}): "
                        f"report it, with {out}")
    return {**dev, "target": cfg.target, "golden_weights_sha256": gold["weights_sha256"],
            "test_scores_q16": dev["test_scores_q16"]}


def _summary(s: np.ndarray, labels: np.ndarray) -> dict:
    """Quartiles of the Q16.16 scores of normal and anomalous samples."""
    return {name: [int(v) for v in np.percentile(s[labels == k], [5, 25, 50, 75, 95])]
            for name, k in (("normal_p5_25_50_75_95", 0), ("anomalous_p5_25_50_75_95", 1))}


def plot_scores(scores: dict[str, np.ndarray], labels: np.ndarray, path: Path,
                metrics: dict) -> None:
    from .report.train_plots import figure, save_png
    plt = figure()
    fig, axes = plt.subplots(1, len(scores), figsize=(5 * len(scores), 3.4), sharey=True)
    for ax, (when, s) in zip(np.atleast_1d(axes), scores.items()):
        v = np.asarray(s, np.float64) / 65536.0
        bins = np.linspace(0.0, float(np.percentile(v, 99.5)), 50)
        ax.hist(v[labels == 0], bins, alpha=0.6, label="normal")
        ax.hist(v[labels == 1], bins, alpha=0.6, label="anomalous")
        ax.set_title(f"{when} device training: AUC {metrics[when]['auc']:.3f}")
        ax.set_xlabel("score (mean squared reconstruction error)")
        ax.legend(fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel("test samples")
    save_png(fig, path)
