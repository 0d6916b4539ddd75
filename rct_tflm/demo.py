"""`rct-tflm demo`: the whole story on the default virtual board, end to end.

1. host     FP32 vs QAT vs RCT on digits: accuracy, GEMM energy, parameter memory (compare.json)
2. pretrain the device's model with the RCT trainer, on digits 0-4 only: it ships knowing half
            of the classes
3. partition frozen int8 feature layer in flash, trainable RCT classifier head in RAM
4. firmware generate the C project and build it for the board (ELF/BIN/HEX + size report)
5. golden  the same on-device training run on the numpy golden model (the reference)
6. device  boot the board in QEMU, stream all ten digits over its UART: the board trains itself;
            evaluate before and after, pull the weights, compare them with the golden model's
7. report  report.md: accuracy before/after, bitwidth trajectories, energy, memory, link
8. tflite   TFLite in, TFLite out: a Keras CNN pretrained on digits 0-4 as an int8 .tflite, its
            backbone frozen on the board in TFLite's arithmetic (verified against tflite-micro),
            its head trained over serial on all ten digits, exported back as .tflite

Every stage calls the same module the corresponding command uses; each writes its artefacts into
its own numbered folder under --out, so any stage can be inspected or re-run alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .boards import DEFAULT_BOARD

DATA = "digits"
KNOWN_CLASSES = 5  # the pretrained model has seen digits 0..4 only
EVAL_EVERY = 160  # test accuracy every 160 samples on the golden run: a curve, not two points
DEVICE_EVAL_EVERY = 480  # on the board (an INFER pass over the test split, ~1 s on QEMU)


@dataclass(frozen=True)
class DemoConfig:
    board: str = DEFAULT_BOARD
    seed: int = 0
    host_epochs: int = 20  # host comparison and pretraining
    device_epochs: int = 2  # on-device passes over the training set
    lr_shift: int = 4  # on-device learning rate 2^-4 (a new head learns faster than 2^-5)
    progress: bool = True


def field_data(out: Path, seed: int) -> str:
    """digits as the device meets it: training samples of classes 0..4 only for pretraining,
    the full test split (all ten classes) to measure; written as npz, returns its data spec."""
    from .data import load_dataset
    d = load_dataset(DATA, seed)
    keep = d.y_train < KNOWN_CLASSES
    path = out / f"digits_0-{KNOWN_CLASSES - 1}.npz"
    np.savez(path, x_train=d.x_train[keep], y_train=d.y_train[keep], x_test=d.x_test,
             y_test=d.y_test)
    return f"npz:{path}"


def run_demo(out: Path, cfg: DemoConfig, say: Callable[[str], None] = print) -> dict:
    """Run every stage into `out` (which must be empty or new); returns the report summary."""
    from .program import load_artefact
    from .emulator.run import EmulateConfig, emulate_run
    from .emulator.run import prepare as prepare_emulate
    from .firmware_build import build_artefact
    from .fixedpoint.config import EngineConfig
    from .partition import partition, plan_table
    from .trainer.runner import TrainConfig, compare_run, train_run
    from .report.summary import build_report
    from .stream import StreamConfig, open_target, run_stream
    from .stream import prepare as prepare_stream

    def stage(n: int, name: str, title: str) -> Path:
        say(f"\n== {n}. {title}")
        d = out / f"{n}-{name}"
        d.mkdir(parents=True, exist_ok=True)
        return d

    d = stage(1, "host", "the trainer: FP32 vs QAT vs RCT on digits")
    tc = TrainConfig(data=DATA, epochs=cfg.host_epochs, seed=cfg.seed)
    runs = compare_run(tc, d, progress=cfg.progress)
    for meth, m in runs.items():
        say(f"   {meth:5s} test accuracy {100 * m['test_accuracy']:.2f}%, final bits "
            + "/".join(str(b) for b in m["final_bitwidths"].values()))

    d = stage(2, "pretrain", "pretrain the device model with RCT on digits 0-4")
    spec = field_data(d, cfg.seed)
    m = train_run(TrainConfig(data=spec, epochs=cfg.host_epochs, seed=cfg.seed), d,
                  progress=cfg.progress)
    say(f"   test accuracy on all ten digits: {100 * m['test_accuracy']:.2f}% (knows 0-4 only)")

    d = stage(3, "partition", "partition for " + cfg.board)
    part = partition(load_artefact(out / "2-pretrain" / "model.rct"), cfg.board,
                     trainable_layers=1)  # the story: a frozen feature layer, a trainable head
    part_path = part.save(d / "model.rct")
    say("   " + plan_table(part.partition).replace("\n", "\n   "))

    d = stage(4, "firmware", "firmware for " + cfg.board)
    engine = EngineConfig(lr_shift=cfg.lr_shift, seed=cfg.seed)
    build = build_artefact(cfg.board, part, d, engine, artefact_name="demo")
    say(f"   {build['size_text']}")

    d = stage(5, "golden", "golden model: the same on-device training in numpy")
    ec = EmulateConfig(target="golden", model=str(part_path), data=DATA, epochs=cfg.device_epochs,
                       seed=cfg.seed, engine=engine, eval_every=EVAL_EVERY)
    golden = emulate_run(prepare_emulate(ec), d, progress=cfg.progress)

    d = stage(6, "device", f"device: boot {cfg.board} in QEMU and stream training over its UART")
    sc = StreamConfig(model=str(part_path), data=DATA, out=str(d), epochs=cfg.device_epochs,
                      seed=cfg.seed, progress=cfg.progress, eval_every=DEVICE_EVAL_EVERY)
    prep = prepare_stream(sc, str(out / "4-firmware"))
    with open_target(board=cfg.board, firmware=str(out / "4-firmware"), dm=prep.dm) as link:
        say(f"   {cfg.board} answers at {link.url}")
        dev = run_stream(prep, link, cfg.board)
    say(f"   test accuracy {100 * dev['test_accuracy_before']:.2f}% -> "
        f"{100 * dev['test_accuracy_after']:.2f}% after {dev['samples']} samples on the board "
        f"({dev['samples_per_s']:.0f} samples/s, {dev['wire_bytes']} B on the wire, protocol "
        f"overhead {100 * dev['overhead_fraction']:.1f}%)")
    same = dev["weights_sha256"] == golden["weights_sha256"]
    say(f"   board weights {'==' if same else '!='} golden model weights "
        f"(sha256 {dev['weights_sha256'][:16]}...)")

    d = stage(7, "report", "report")
    summary = build_report([out], d)
    say(f"   {out.name}/{d.name}/report.md")

    from .demo_tflite import run_tflite_stage
    d = stage(8, "tflite", "TFLite in, TFLite out: a Keras CNN's int8 .tflite, its head trained "
                           "on the board")
    run_tflite_stage(d, spec, cfg.board, cfg.seed, cfg.device_epochs, cfg.progress, say)
    return summary
