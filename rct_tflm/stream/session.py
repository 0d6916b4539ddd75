"""One streaming session: train a board over the link, checkpoint, evaluate, report.

`prepare()` checks every input before any device is touched; `run_stream()` drives an open
`Link` (docs/protocol.md, "Streaming"):

1. HELLO (model hash checked against the artefact), RESET(seed), HPARAMS_GET, then SET_HPARAMS
   (RESET restores the compiled defaults; --lr / --period-samples override them).
2. Before training: the held-out set through INFER on the board, and through the golden engine
   holding the weights pulled from the board (both must agree, prediction by prediction).
3. TRAIN frames in the `Schedule`'s order; STATS every `stats_every` frames and at every period
   boundary (bitwidth decisions, loss); every `checkpoint_every` samples (at a boundary) the
   weights are pulled into an atomic checkpoint. The board re-keys its own PRNG at every
   boundary (the controller does, as in every implementation of the contract).
4. After training: final STATS and weights (weights_sha256), the held-out evaluation again, and
   stream.json, the plots and the trained artefact model.rct in --out.

A resumed run (--resume) restores the checkpoint's weights into a freshly RESET board whose
PRNG is seeded with the checkpoint boundary's segment key (SET_HPARAMS, seed =
segment_seed(seed, k)) and continues at the checkpoint's sample, so it ends with the same
weights and bitwidth history as a run that never stopped.
"""
from __future__ import annotations

import copy
import sys
import time
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from ..artefact import known_classes
from ..program import load_artefact
from ..data import Dataset, confusion, f1_score, load_dataset, score_metrics, split_accuracy
from ..errors import UserError
from ..fixedpoint.config import LR_SHIFT_MAX, quantise_inputs
from ..fixedpoint.state import bitwidth_history, parse_weights_blob, weights_sha256
from ..link import BoardReset, Link, LinkError
from ..link import messages as msg
from ..link.faults import FaultyPort
from . import stream_plots
from ..formats.atomic import write_json
from ..formats.checkpoint import (check_compatible, load_checkpoint, refuse_unfinished,
                                  save_checkpoint)
from .device_model import DeviceModel, device_model, find_manifest
from .schedule import Schedule, segment_seed

FORMAT, VERSION = "rct-tflm-stream", 1
CHECKPOINT = "checkpoint.json"
RESULT = "stream.json"
TRAINED = "model.rct"
RESTORE_DOUBT = "it did not keep the checkpoint's weights"


@dataclass
class StreamConfig:
    model: str  # artefact path
    data: str  # data spec (rct_tflm.data.load_dataset)
    out: str
    epochs: int = 1
    seed: int = 0
    batch: int = 1
    lr_shift: int | None = None  # None: the firmware's compiled default
    period_samples: int | None = None  # None: the firmware's compiled default
    checkpoint_every: int = 2048  # samples, rounded up to whole periods; 0 = never
    resume: str | None = None
    split_seed: int | None = None  # None: the artefact's training seed (its held-out split)
    stats_every: int = 4  # TRAIN frames between STATS polls (progress bar, loss trace)
    progress: bool = True
    max_resets: int = 3  # board restarts recovered inside one run (then it stops)
    eval_every: int | None = None  # test accuracy on the board every N samples (None: per epoch)


@dataclass
class Prepared:
    cfg: StreamConfig
    dm: DeviceModel
    data: Dataset
    split_seed: int
    x_train: np.ndarray  # int8 [n, input_size]
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray  # labels; an MSE model: anomaly marks (0/1) for the AUC
    resume: tuple[dict, bytes] | None = None
    t_train: np.ndarray | None = None  # a step's targets: labels, int8 vectors, None (input)
    t_test: np.ndarray | None = None


def prepare(cfg: StreamConfig, firmware: str | None = None) -> Prepared:
    """Load and check the artefact, data and checkpoint (every user error before any I/O)."""
    if cfg.epochs < 1:
        raise UserError(f"--epochs must be >= 1, got {cfg.epochs}")
    if not 1 <= cfg.batch <= 255:
        raise UserError(f"--batch-size must be in 1..255, got {cfg.batch}")
    if cfg.lr_shift is not None and not 0 <= cfg.lr_shift <= LR_SHIFT_MAX:
        raise UserError(f"learning rate 2^-{cfg.lr_shift} is outside 2^-{LR_SHIFT_MAX} .. 1 (--lr)")
    if cfg.period_samples is not None and cfg.period_samples < msg.MIN_PERIOD_SAMPLES:
        raise UserError(f"--period-samples must be >= {msg.MIN_PERIOD_SAMPLES}, got "
                        f"{cfg.period_samples}")
    if cfg.stats_every < 1:
        raise ValueError("stats_every must be >= 1")
    refuse_unfinished(Path(cfg.out), RESULT, CHECKPOINT, cfg.resume, "stream")
    art = load_artefact(cfg.model)
    dm = device_model(art, find_manifest(firmware))
    if cfg.batch > dm.cfg.max_batch and find_manifest(firmware) is not None:
        raise UserError(f"--batch-size {cfg.batch} exceeds the firmware's micro-batch "
                        f"({dm.cfg.max_batch}); rebuild with `rct-tflm build --batch-size "
                        f"{cfg.batch}` or lower --batch-size")
    split_seed = int(art.training.get("seed", 0)) if cfg.split_seed is None else cfg.split_seed
    d = load_dataset(cfg.data, split_seed)
    if d.kind == "text":
        raise UserError(f"data set '{cfg.data}' is text (token ids); the integer engine streams "
                        f"image and tabular data")
    m = dm.model
    d.check_flat_for(m.input_shape, f"model {Path(cfg.model).name}")

    def q(x: np.ndarray) -> np.ndarray:
        return m.quantise_inputs(x)

    xtr, xte = q(d.x_train), q(d.x_test)
    if len(d.y_test) == 0 or len(d.y_train) == 0:
        raise UserError(f"data set '{cfg.data}' has an empty training or test split")
    resume = load_checkpoint(cfg.resume) if cfg.resume else None
    if m.loss_kind == "mse":  # the targets of the loss head: int8 vectors, or the input
        d = d if m.targets == "vector" or d.targets == "input" else d.as_autoencoder()
        if m.targets == "vector" and (d.targets != "vector" or d.y_train.shape[1:] !=
                                      (m.num_classes,)):
            raise UserError(f"the model regresses {m.num_classes} values per sample (MSE), data "
                            f"set '{cfg.data}' has no such targets; give y_train of shape "
                            f"(N, {m.num_classes})")
        tq = (lambda y: quantise_inputs(y, m.target_exp).reshape(len(y), -1)) \
            if m.targets == "vector" else (lambda y: None)
        flags = (lambda y: np.zeros(len(y), np.int64)) if m.targets == "vector" \
            else (lambda y: y.astype(np.int64))
        return Prepared(cfg, dm, d, split_seed, xtr, flags(d.y_train), xte, flags(d.y_test),
                        resume, tq(d.y_train), tq(d.y_test))
    if d.targets != "labels":
        raise UserError(f"data set '{cfg.data}' has {d.targets} targets, the model is a "
                        f"classifier (softmax cross-entropy): stream labelled data")
    for y, part in ((d.y_train, "training"), (d.y_test, "test")):
        if len(y) and int(np.max(y)) >= m.num_classes:
            raise UserError(f"data set '{cfg.data}' has {part} label {int(np.max(y))}, the model "
                            f"has {m.num_classes} classes; stream the data it was trained on")
    ytr, yte = d.y_train.astype(np.int64), d.y_test.astype(np.int64)
    return Prepared(cfg, dm, d, split_seed, xtr, ytr, xte, yte, resume, ytr, yte)


@dataclass
class _Record:
    """Everything the host learns during the stream (checkpointed with the weights)."""
    initial: dict[str, tuple[int, int]]
    changes: list[tuple[int, str, int, int]] = field(default_factory=list)
    loss_trace: list[tuple[int, float]] = field(default_factory=list)
    throughput_trace: list[tuple[float, int, int]] = field(default_factory=list)
    before: dict = field(default_factory=dict)
    curve: list[tuple[int, dict]] = field(default_factory=list)  # (samples, split accuracy)
    wire_bytes: int = 0  # totals of earlier sessions of a resumed stream
    payload_bytes: int = 0
    train_wire_bytes: int = 0
    input_bytes: int = 0
    retransmits: int = 0

    def to_json(self) -> dict:
        return {"initial": {n: list(v) for n, v in self.initial.items()},
                "changes": [list(c) for c in self.changes],
                "loss_trace": [list(t) for t in self.loss_trace],
                "throughput_trace": [list(t) for t in self.throughput_trace],
                "before": self.before, "curve": [[n, a] for n, a in self.curve],
                "wire_bytes": self.wire_bytes,
                "payload_bytes": self.payload_bytes, "train_wire_bytes": self.train_wire_bytes,
                "input_bytes": self.input_bytes, "retransmits": self.retransmits}

    @classmethod
    def from_json(cls, d: dict) -> "_Record":
        return cls({n: tuple(v) for n, v in d["initial"].items()},
                   [tuple(c) for c in d["changes"]], [tuple(t) for t in d["loss_trace"]],
                   [tuple(t) for t in d["throughput_trace"]], d["before"],
                   [(int(n), a) for n, a in d.get("curve", [])], d["wire_bytes"],
                   d["payload_bytes"], d["train_wire_bytes"], d["input_bytes"], d["retransmits"])


def _evaluate(link: Link, dm: DeviceModel, x: np.ndarray, y: np.ndarray, metric: str,
              known: list[int] | None = None, t: np.ndarray | None = None) -> tuple[dict, bytes]:
    """Held-out accuracy on the board (INFER; split into the classes the model knew and the
    new ones) and on the golden engine with the board's weights. An MSE model: its scores
    (t: a regression's targets); "accuracy" is then the ROC AUC of the scores (0 without
    anomaly marks)."""
    if dm.model.loss_kind == "mse":
        board = link.infer(x, targets=t if dm.model.targets == "vector" else None)
        blob = link.weights_read()
        golden = dm.engine_with(blob).predict(x, t)
        sb, sg = score_metrics(board, y), score_metrics(golden, y)
        return {"board_accuracy": sb["auc"] or 0.0, "golden_accuracy": sg["auc"] or 0.0,
                "board_golden_mismatches": int(np.sum(board != golden)),
                "split": {"all": sb["auc"] or 0.0}, "confusion": None,
                "board_auc": sb["auc"], "board_score_mean": sb["score_mean"],
                "board_scores_q16": [int(v) for v in board]}, blob
    board = link.infer(x)
    blob = link.weights_read()
    golden = dm.engine_with(blob).predict(x)
    r = {"board_accuracy": float(np.mean(board == y)), "golden_accuracy": float(np.mean(golden == y)),
         "board_golden_mismatches": int(np.sum(board != golden)),
         "split": split_accuracy(board, y, known),
         "confusion": confusion(board, y, dm.model.num_classes)}
    if metric == "f1":
        r["board_f1"] = f1_score(y, board)
        r["golden_f1"] = f1_score(y, golden)
    return r, blob


def check_hello(h: msg.Hello, dm: DeviceModel, url: str) -> None:
    m = dm.model
    expected_blob = 2 * len(m.trainable) + 2 * sum(m.tensors[n].size for n in m.trainable)
    if (h.input_size, h.num_classes, h.num_trainable, h.weights_size) != (
            m.input_size, m.num_classes, len(m.trainable), expected_blob):
        raise LinkError(f"the board at {url} reports input {h.input_size}, {h.num_classes} "
                        f"classes, {h.num_trainable} trainable tensors, {h.weights_size} B of "
                        f"weights; the model has {m.input_size}, {m.num_classes}, "
                        f"{len(m.trainable)}, {expected_blob}: rebuild the firmware")
    if not h.capabilities & msg.CAP_TRAIN or not h.capabilities & msg.CAP_WEIGHTS:
        raise LinkError(f"the firmware at {url} cannot train or exchange weights "
                        f"(capabilities 0x{h.capabilities:02x}); rebuild it with rct-tflm")


def run_stream(prep: Prepared, link: Link, target: str,
               on_poll: Callable[[int, msg.Stats], None] | None = None) -> dict:
    """Stream `prep` over `link` (far end running); writes --out and returns stream.json."""
    from tqdm import tqdm

    cfg, dm = prep.cfg, prep.dm
    out = Path(cfg.out)
    names = list(dm.model.trainable)
    like = [dm.model.tensors[n] for n in names]  # shapes for parse_weights_blob

    h = link.hello(dm.hash)
    check_hello(h, dm, link.url)
    link.reset(cfg.seed)
    hp = link.hparams()
    hp = replace(hp, seed=cfg.seed & 0xFFFFFFFF,
                 lr_shift=hp.lr_shift if cfg.lr_shift is None else cfg.lr_shift,
                 period_samples=hp.period_samples if cfg.period_samples is None else cfg.period_samples)
    if hp.problem():
        raise UserError(f"the firmware's hyper-parameters are not usable: {hp.problem()}")
    sched = Schedule(len(prep.y_train), cfg.epochs, cfg.seed, cfg.batch, hp.period_samples,
                     link.samples_per_frame(cfg.batch))
    identity = {"model_hash": dm.hash.hex(), "data": cfg.data, "split_seed": prep.split_seed,
                "seed": cfg.seed, "batch": cfg.batch, "hparams": _hp_json(hp)}
    ck_path = out / CHECKPOINT
    stride = sched.checkpoint_stride(cfg.checkpoint_every)
    faults = link.port if isinstance(link.port, FaultyPort) else None

    known = known_classes(dm.art)
    n_train = len(prep.y_train)
    evals = sorted(set(range(cfg.eval_every, sched.total, cfg.eval_every)) if cfg.eval_every
                   else {n_train * (e + 1) for e in range(cfg.epochs)} - {sched.total})

    def next_eval(after: int) -> int | None:
        """The first evaluation point past sample `after` (the end has its own)."""
        return next((e for e in evals if e > after), None)

    if prep.resume:
        ck, blob = prep.resume
        check_compatible(ck, identity, str(cfg.resume))
        start = int(ck["samples_done"])
        if start > sched.total or start % sched.period:
            raise UserError(f"checkpoint {cfg.resume} is at sample {start}, not a period "
                            f"boundary inside this run of {sched.total} samples")
        _restore(link, hp, sched, start, blob, cfg.seed)
        rec = _Record.from_json(ck["record"])
        last_ck: tuple[int, Path] | None = (start, Path(cfg.resume))
        good = _Good(start, _Record.from_json(ck["record"]), blob)
    else:
        start = 0
        link.set_hparams(hp)
        before, blob0 = _evaluate(link, dm, prep.x_test, prep.y_test, prep.data.metric, known,
                                     prep.t_test)
        rec = _Record({n: (t.bits, t.exp) for n, t in zip(names, parse_weights_blob(blob0, like))},
                      before=before, curve=[(0, before["split"])])
        last_ck = None
        good = _Good(0, copy.deepcopy(rec), None)

    # From here on --out is written: stream.json only once this run has finished; a fresh
    # run drops the checkpoint of the finished run it replaces (prepare() refused unfinished).
    (out / RESULT).unlink(missing_ok=True)
    if not prep.resume:
        ck_path.unlink(missing_ok=True)
    if faults is not None:
        faults.plan_resets(sched.total - start)
    order = sched.order()
    x, ty = prep.x_train, prep.t_train
    c = link.counters
    t0 = time.monotonic()
    t_base = rec.throughput_trace[-1][0] if rec.throughput_trace else 0.0
    train_wire, input_bytes = 0, 0
    eval_s = 0.0
    resets = 0
    origin = start  # where the board's sample count (since its last RESET) starts
    bar = tqdm(total=sched.total, initial=start, unit="sample", disable=not cfg.progress,
               dynamic_ncols=True, desc=f"stream {target}")
    pos = start
    finished = None  # (final STATS, evaluation, weights) once the whole run is verified
    try:
        while finished is None:
            try:
                cur = _bits_now(rec)
                due = next_eval(pos)
                for i, (a, b) in enumerate(sched.frames(pos)):
                    idx = order[a:b]
                    w = c.wire_bytes
                    done = link.train(x[idx], None if ty is None else ty[idx], cfg.batch)
                    train_wire += c.wire_bytes - w
                    input_bytes += (b - a) * x.shape[1]  # the inputs; labels count as overhead
                    if done != b - origin:
                        raise LinkError(f"the board counted {done} samples since the stream "
                                        f"(re)started, the host sent {b - origin}: a TRAIN frame "
                                        f"was lost or applied twice")
                    bar.update(b - a)
                    pos = b
                    boundary = sched.at_boundary(b)
                    if boundary or (i + 1) % cfg.stats_every == 0 or b == sched.total:
                        st = link.stats()
                        for k, n in enumerate(names):
                            if (st.bits[k], st.exp[k]) != cur[n]:
                                cur[n] = (st.bits[k], st.exp[k])
                                rec.changes.append((b, n, st.bits[k], st.exp[k]))
                        rec.loss_trace.append((b, st.loss))
                        rec.throughput_trace.append((t_base + time.monotonic() - t0, b,
                                                     rec.wire_bytes + c.wire_bytes))
                        bar.set_postfix_str(f"loss {st.loss:.3f} bits "
                                            + "/".join(str(cur[n][0]) for n in names),
                                            refresh=False)
                        if on_poll:
                            on_poll(b, st)
                    if due is not None and b >= due:  # INFER leaves the training state alone
                        te = time.monotonic()
                        ev, _ = _evaluate(link, dm, prep.x_test, prep.y_test, prep.data.metric,
                                          known, prep.t_test)
                        eval_s += time.monotonic() - te  # samples/s counts training only
                        rec.curve.append((b, ev["split"]))
                        due = next_eval(b)
                    if boundary and stride and b % stride == 0:
                        blob = _verified_weights(link, b - origin)
                        snap = _Record(**{**rec.__dict__})
                        snap.wire_bytes += c.wire_bytes
                        snap.payload_bytes += c.payload_bytes
                        snap.train_wire_bytes += train_wire
                        snap.input_bytes += input_bytes
                        snap.retransmits += c.retransmits
                        save_checkpoint(ck_path, {**identity, "samples_done": b,
                                                  "epochs": cfg.epochs,
                                                  "total_samples": sched.total,
                                                  "record": snap.to_json()}, blob)
                        last_ck = (b, ck_path)
                        good = _Good(b, copy.deepcopy(rec), blob)
                train_s = time.monotonic() - t0 - eval_s
                # the end state, evaluated and then confirmed by the board: a restart during
                # the evaluation is recovered like any other, never reported as the result
                final = link.stats()
                after, blob = _evaluate(link, dm, prep.x_test, prep.y_test, prep.data.metric,
                                        known, prep.t_test)
                confirm_digest(link, blob, sched.total - origin)
                finished = (final, after, blob)
            except BoardReset as e:
                reset: BoardReset | None = e
                while reset is not None:  # a board may restart again while being restored
                    resets += 1
                    if resets > cfg.max_resets:
                        raise LinkError(f"{reset}; {cfg.max_resets} resets recovered already "
                                        f"(--max-resets)") from None
                    bar.write(f"{reset}: restoring the state at sample {good.samples} "
                              f"(reset {resets} of at most {cfg.max_resets})")
                    try:
                        _recover(link, dm, hp, sched, good, cfg.seed)
                        reset = None
                    except BoardReset as again:
                        reset = again
                rec = copy.deepcopy(good.rec)
                bar.update(good.samples - pos)
                pos = origin = good.samples
    except (LinkError, KeyboardInterrupt) as e:
        bar.close()
        hint = (f"training state up to sample {last_ck[0]} is saved: resume with --resume "
                f"{last_ck[1]}" if last_ck is not None else
                f"no checkpoint yet (the first comes at sample {stride or 'never'})")
        if isinstance(e, KeyboardInterrupt):
            print(f"interrupted; {hint}", file=sys.stderr)
            raise
        raise LinkError(f"{e}; {hint}") from None
    bar.close()
    final, after, blob = finished
    tensors = parse_weights_blob(blob, like)
    initial = {n: _qt(bits, exp) for n, (bits, exp) in rec.initial.items()}
    history = bitwidth_history(initial, names, rec.changes)
    wire = rec.wire_bytes + c.wire_bytes
    train_wire_total = rec.train_wire_bytes + train_wire
    input_total = rec.input_bytes + input_bytes
    result = {
        "format": FORMAT, "version": VERSION, "target": target, "board": h.board,
        "protocol_version": h.version, "model": str(cfg.model), **identity,
        "epochs": cfg.epochs, "samples": sched.total, "resumed_from": start if prep.resume else None,
        "period_samples": sched.period, "samples_per_frame": sched.per_frame,
        "test_accuracy_before": rec.before["board_accuracy"],
        "test_accuracy_after": after["board_accuracy"],
        "golden_test_accuracy_before": rec.before["golden_accuracy"],
        "golden_test_accuracy_after": after["golden_accuracy"],
        "board_golden_mismatches": rec.before["board_golden_mismatches"]
        + after["board_golden_mismatches"],
        **({"test_f1_before": rec.before["board_f1"], "test_f1_after": after["board_f1"]}
           if "board_f1" in after else {}),
        "weights_sha256": weights_sha256(tensors),
        "bitwidth_history": history,
        "final_bitwidths": {n: t.bits for n, t in zip(names, tensors)},
        "samples_per_s": (sched.total - start) / train_s if train_s > 0 else 0.0,
        "train_seconds": train_s,
        "bytes_per_s": train_wire / train_s if train_s > 0 else 0.0,
        "wire_bytes": wire, "payload_bytes": rec.payload_bytes + c.payload_bytes,
        "train_wire_bytes": train_wire_total, "input_bytes": input_total,
        "overhead_fraction": 1 - input_total / train_wire_total if train_wire_total else 0.0,
        "retransmits": rec.retransmits + c.retransmits, "board_resets": resets,
        **({"faults_injected": faults.counts()} if faults is not None else {}),
        "link_errors": {"naks_crc": c.naks_crc, "corrupt_answers": c.bad_frames,
                        "timeouts": c.timeouts},
        "device": {"loss": final.loss, "steps": final.steps, "decisions": final.decisions,
                   "prng_counter": final.prng_counter, "rx_errors": final.rx_errors},
        "loss_trace": [list(t) for t in rec.loss_trace],
        "throughput_trace": [list(t) for t in rec.throughput_trace],
        "checkpoint": str(last_ck[1]) if last_ck is not None else None,
        "accuracy_curve": _curve([*rec.curve, (sched.total, after["split"])]),
        "classes_known": known,
        "confusion": after["confusion"],  # [true][predicted], on the board, at the end
    }
    if dm.model.loss_kind == "mse":  # scores, not classes: their AUC and mean on the board
        result.update(loss="mse", targets=dm.model.targets, test_auc_before=rec.before["board_auc"],
                      test_auc_after=after["board_auc"],
                      test_score_mean_after=after["board_score_mean"],
                      test_scores_q16=after["board_scores_q16"])
    dm.artefact_with(blob, {k: result[k] for k in (
        "target", "data", "seed", "epochs", "batch", "hparams", "samples", "weights_sha256",
        "test_accuracy_before", "test_accuracy_after")}).save(out / TRAINED)
    result["files"] = [RESULT, TRAINED, *stream_plots.write_plots(result, out)]
    write_json(out / RESULT, result)
    return result


def _curve(points: list[tuple[int, dict]]) -> dict[str, list]:
    """emulate.json's accuracy_curve layout: samples, test_accuracy (+ known/new)."""
    c: dict[str, list] = {"samples": [n for n, _ in points],
                          "test_accuracy": [a["all"] for _, a in points]}
    if points and "known" in points[0][1]:
        c["known_accuracy"] = [a["known"] for _, a in points]
        c["new_accuracy"] = [a["new"] for _, a in points]
    return c


@dataclass
class _Good:
    """The last state known good on the board: a verified checkpoint (or the start)."""
    samples: int
    rec: "_Record"
    blob: bytes | None  # None: the start of a fresh run (RESET state)


def _bits_now(rec: "_Record") -> dict[str, tuple[int, int]]:
    cur = dict(rec.initial)
    for _, n, b, e in rec.changes:
        cur[n] = (b, e)
    return cur


def _verified_weights(link: Link, samples: int) -> bytes:
    """The weights for a checkpoint, read and then confirmed by the board's own DIGEST: same
    session (no restart since), the expected sample count, the CRC-32 of what was read. Any
    doubt raises (BoardReset: recovered; LinkError: the run stops) before anything is written."""
    blob = link.weights_read()
    confirm_digest(link, blob, samples)
    return blob


def confirm_digest(link: Link, blob: bytes | None, samples: int,
             doubt: str = "its weights are not trusted (nothing written)") -> None:
    """The board's DIGEST must show this session, `samples` since RESET and the CRC-32 of `blob`
    (None: a fresh start, no weights to compare); else LinkError ending with `doubt`."""
    d = link.digest()
    want = None if blob is None else zlib.crc32(blob)
    if d.samples != samples or (want is not None and d.weights_crc32 != want):
        raise LinkError(f"the board at {link.url} reports {d.samples} samples and weights CRC-32 "
                        f"0x{d.weights_crc32:08x}, the host expects {samples}"
                        + ("" if want is None else f" and 0x{want:08x}") + f"; {doubt}")


def _recover(link: Link, dm: DeviceModel, hp: msg.HParams, sched: Schedule, good: _Good,
             seed: int) -> None:
    """A board that restarted, set back to the last verified state: a new session, RESET, and
    the checkpoint's weights and PRNG segment (or the start's hyper-parameters)."""
    link.hello(dm.hash)
    link.reset(seed)
    if good.blob is None:
        link.set_hparams(hp)
        confirm_digest(link, None, 0, RESTORE_DOUBT)
    else:
        _restore(link, hp, sched, good.samples, good.blob, seed)


def _restore(link: Link, hp: msg.HParams, sched: Schedule, start: int, blob: bytes,
             seed: int) -> None:
    """A RESET board set to the checkpoint at `start`: its boundary's PRNG segment, the weights,
    verified by the board's DIGEST."""
    link.set_hparams(replace(hp, seed=segment_seed(seed, start // sched.period)))
    link.weights_write(blob)
    confirm_digest(link, blob, 0, RESTORE_DOUBT)


def _qt(bits: int, exp: int):
    from ..fixedpoint.qtensor import QTensor
    return QTensor(np.zeros(0, np.int32), exp, bits)


def _hp_json(hp: msg.HParams) -> dict:
    return {"lr_shift": hp.lr_shift, "t_min_q16": hp.t_min_q16, "t_max_q16": hp.t_max_q16,
            "sat_guard_ppm": hp.sat_guard_ppm, "period_samples": hp.period_samples}
