"""The demo's TFLite scenario (`rct-tflm demo`, stage 8): TFLite in, TFLite out.

A CNN pretrained in float with Keras on digits 0-4 is converted to a fully int8 `.tflite`
(TFLiteConverter, representative set from its training data); its convolutional backbone stays
frozen on the board in TFLite's arithmetic — verified integer for integer against the
tflite-micro interpreter — and its head trains on the board over serial on all ten digits; the
result is exported as `.tflite` and run in tflite-micro. Each step is the module the matching
command uses (partition --model x.tflite, verify, build, stream, export). Writes cnn.keras,
cnn.tflite, verify/, model.rct, firmware/, device/ (the stream), cnn_trained.tflite,
export.json, per_class.png and tflite.json.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

PRETRAIN_EPOCHS = 20  # Adam on ~900 digits: seconds, so --quick keeps them
# on-device learning rate 2^-7: this head reads features at 2^-3 and writes logits at 2^1 (the
# Adam-trained Keras model's wide calibrated logits), where stage 6's RCT head has 2^-4 and
# 2^-3; measured on the golden engine, 2^-4 swings between 40 % and 80 % test accuracy from one
# evaluation to the next, 2^-7 reaches 89 % within one epoch
LR_SHIFT = 7


def per_class(pred: np.ndarray, y: np.ndarray, classes: int) -> list[float | None]:
    return [float(np.mean(pred[y == c] == c)) if np.any(y == c) else None
            for c in range(classes)]


def plot_per_class(before: list, after: list, path: Path) -> None:
    """per_class.png: test accuracy per digit before and after the board trained the head."""
    from .report.train_plots import figure, save_png
    plt = figure()
    fig, ax = plt.subplots(figsize=(7, 3.4))
    c = np.arange(len(before))
    for off, name, row in ((-0.2, "before (Keras, digits 0-4)", before),
                           (0.2, "after the board trained the head", after)):
        ax.bar(c + off, [100 * (a or 0) for a in row], 0.4, label=name)
    ax.set_xticks(c)
    ax.set_xlabel("digit")
    ax.set_ylabel("test accuracy %")
    ax.set_ylim(0, 125)
    ax.set_title("TFLite backbone frozen on the board, head trained over the UART")
    ax.legend(fontsize=7, loc="upper center", ncol=2)
    save_png(fig, path)


def run_tflite_stage(d: Path, field: str, board: str, seed: int, device_epochs: int,
                     progress: bool, say: Callable[[str], None]) -> dict:
    """Into `d`: the scenario above on `board`, pretrained on the data spec `field` (digits
    0-4), streamed `device_epochs` passes over all ten digits."""
    from .data import load_dataset
    from .firmware_build import build_artefact
    from .fixedpoint.config import EngineConfig
    from .formats import results
    from .partition import plan_table
    from .partition.tflite_head import partition_tflite
    from .program import Engine, load_artefact
    from .stream import StreamConfig, open_target, run_stream
    from .stream import prepare as prepare_stream
    from .trainer.export import ExportConfig, export
    from .trainer.keras_pretrain import pretrain_keras
    from .trainer.keras_tflite import keras_file_to_tflite
    from .verify.run import VerifyConfig, run_verify

    pre = pretrain_keras("cnn", field, d / "cnn.keras", PRETRAIN_EPOCHS, seed)
    say(f"   Keras CNN pretrained on digits 0-4 (float, Adam): {100 * pre['test_accuracy']:.2f}% "
        f"on all ten")
    tfl = keras_file_to_tflite(str(d / "cnn.keras"), field, d / "cnn.tflite", seed)
    v = run_verify(VerifyConfig(model=str(tfl), data="digits", target="golden",
                                out=str(d / "verify"), samples=500, seed=seed))
    say(f"   {tfl.name}: frozen part vs tflite-micro, {v['compared']} samples, "
        f"{v['mismatches']} mismatches")
    part = partition_tflite(tfl, board, trainable_layers=1)
    part_path = part.save(d / "model.rct")
    say("   " + plan_table(part.partition).replace("\n", "\n   "))
    engine = EngineConfig(lr_shift=LR_SHIFT, seed=seed)
    build_artefact(board, part, d / "firmware", engine, artefact_name="demo-tflite")
    sc = StreamConfig(model=str(part_path), data="digits", out=str(d / "device"),
                      epochs=device_epochs, seed=seed, progress=progress)
    prep = prepare_stream(sc, str(d / "firmware"))
    with open_target(board=board, firmware=str(d / "firmware"), dm=prep.dm) as link:
        dev = run_stream(prep, link, board)
    data = load_dataset("digits", seed)
    before_e, after_e = Engine.from_artefact(part), Engine.from_artefact(
        load_artefact(d / "device" / "model.rct"))
    xq = before_e.program.quantise_inputs(data.x_test)
    before = per_class(before_e.predict(xq), data.y_test, part.num_classes)
    after = per_class(after_e.predict(xq), data.y_test, part.num_classes)
    say("   per class  " + " ".join(f"{c:>4d}" for c in range(part.num_classes)))
    for name, row in (("before", before), ("after", after)):
        say(f"   {name:9s}  " + " ".join("   -" if a is None else f"{100 * a:4.0f}"
                                       for a in row))
    plot_per_class(before, after, d / "per_class.png")
    say(f"   test accuracy {100 * dev['test_accuracy_before']:.2f}% -> "
        f"{100 * dev['test_accuracy_after']:.2f}% on the board, "
        f"board_golden_mismatches {dev['board_golden_mismatches']}")
    ex = export(ExportConfig(model=str(d / "device" / "model.rct"), data="digits",
                             tflite=str(d / "cnn_trained.tflite"), keras=None,
                             report_dir=str(d), seed=seed))
    say(f"   exported {Path(ex['tflite']).name}: in tflite-micro it agrees with the board on "
        f"{100 * ex['agreement_with_device']:.2f}% of {ex['test_samples']} test digits")
    r = {"keras_test_accuracy": pre["test_accuracy"], "verify": {k: v[k] for k in (
        "compared", "mismatches", "max_abs_diff")},
         "per_class_before": before, "per_class_after": after,
         "test_accuracy_before": dev["test_accuracy_before"],
         "test_accuracy_after": dev["test_accuracy_after"],
         "board_golden_mismatches": dev["board_golden_mismatches"],
         "weights_sha256": dev["weights_sha256"],
         "export_agreement": ex["agreement_with_device"]}
    results.save(d / "tflite.json", r)
    return results.stamp("tflite.json", r)
