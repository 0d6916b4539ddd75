"""Data sets for the trainer, the golden engine and the boards: one `load_dataset(spec)` for every `--data` spelling.

numpy and scikit-learn only (no TensorFlow). Specs (docs/training.md):

* `digits`                 scikit-learn's 8x8 digits, /16 -> [0, 1], stratified 80/20 split
* `anomaly`                synthetic spectra (640 = 5 frames x 128 bins, [0, 1]) for anomaly
                           detection: 2,000 normal training samples (an autoencoder's targets
                           are its inputs), 500 normal + 500 anomalous test samples (y_test 1)
* `mnist-idx:DIR[@14x14]`  MNIST IDX files (gzip or raw), /255; a t10k-only folder gets one fixed
                           (seed 0) 8,000/2,000 split; `@14x14` averages 2x2 blocks (196 inputs)
* `sms:PATH`               SMS Spam Collection TSV (`Label<TAB>SMS` header): word ids, F1 metric
* `npz:PATH`               arrays x_train, y_train, x_test, y_test (NxHxW, NxHxWxC or NxF);
                           y 1-D integer labels (classification), 2-D float (N, m) targets
                           (regression, MSE), or no y_train at all (autoencoder: the targets are
                           the inputs; an optional 1-D y_test marks anomalies with 1)
* `csv:PATH`               numeric columns; label column `label` or the last one; stratified 80/20

Every problem with a spec or a file raises `UserError` naming it and the fix.
"""
from __future__ import annotations

import gzip
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UserError
from .fixedpoint.qtensor import exponent_for

SPEC_HELP = "digits, anomaly, mnist-idx:DIR[@14x14], sms:PATH, npz:PATH or csv:PATH"
TEXT_VOCAB = 2000  # most frequent training words; ids 0 = padding, 1 = out of vocabulary
TEXT_LEN = 32  # words kept per message: all of 95% of SMS (spam median 27); the mean pool
              # of the text model then averages less padding than at 64 (2x the signal)
PAD, OOV = 0, 1
INPUT_BITS = 8
MNIST_SPLIT_SEED = 0  # the t10k 8,000/2,000 split is the same for every run seed


@dataclass
class Dataset:
    name: str
    kind: str  # "image" | "tabular" | "text"
    x_train: np.ndarray  # float32 (image/tabular) or int32 token ids (text)
    y_train: np.ndarray  # int64 labels 0..C-1; regression: float32 (N, m) targets
    x_test: np.ndarray
    y_test: np.ndarray  # autoencoder: 1 marks an anomalous sample (0 for all when unknown)
    num_classes: int  # classes; an MSE data set: output values per sample (m, or the input size)
    metric: str = "accuracy"  # "f1" (positive class 1) for the spam set; "mse" / "auc" for MSE
    preprocess: dict[str, Any] = field(default_factory=dict)  # stored in the model artefact
    targets: str = "labels"  # "labels", "vector" (regression: y) or "input" (autoencoder: x)

    @property
    def loss(self) -> str:
        """The loss a model of this data trains with: softmax_ce on labels, else mse."""
        return "softmax_ce" if self.targets == "labels" else "mse"

    def as_autoencoder(self) -> "Dataset":
        """This data with the inputs as the targets (y kept as anomaly marks when 0/1 labels)."""
        if self.kind == "text":
            raise UserError(f"data set {self.name} is text (token ids); an autoencoder "
                            f"reconstructs image or tabular inputs")
        flags = lambda y: y if y.ndim == 1 and set(np.unique(y).tolist()) <= {0, 1} \
            else np.zeros(len(y), np.int64)  # noqa: E731
        return replace(self, y_train=flags(self.y_train), y_test=flags(self.y_test),
                       num_classes=int(np.prod(self.input_shape)),
                       metric="auc" if flags(self.y_test).any() else "mse", targets="input")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def shaped_for(self, shape: tuple[int, ...], model: str = "the model") -> "Dataset":
        """This data with samples of `shape`, when they differ only by axes of size 1 (a
        model's (H, W) input against (N, H, W, 1) images, or the other way round)."""
        shape = tuple(int(d) for d in shape)
        if shape == self.input_shape:
            return self
        squeeze = lambda s: tuple(d for d in s if d != 1)  # noqa: E731
        if self.kind == "text" or squeeze(shape) != squeeze(self.input_shape):
            raise UserError(f"{model} takes inputs of shape {shape}, data set {self.name} has "
                            f"{self.input_shape}; give data of that shape (or a model built for "
                            f"this data: --model builtin)")
        return replace(self, x_train=self.x_train.reshape(len(self.x_train), *shape),
                       x_test=self.x_test.reshape(len(self.x_test), *shape))

    def check_flat_for(self, shape: tuple[int, ...], model: str = "the model") -> None:
        """The integer engine and the boards read a sample as its values in row-major order, so
        data of any shape with as many values fits; otherwise a one-line UserError."""
        shape = tuple(int(d) for d in shape)
        want, have = int(np.prod(shape)), int(np.prod(self.input_shape))
        if want != have:
            raise UserError(f"{model} takes inputs of shape {shape} ({want} values), data set "
                            f"{self.name} has {self.input_shape} ({have} values); give --data "
                            f"the data set the model was trained on")


# -- helpers ---------------------------------------------------------------------------------
def stratified_split(y: np.ndarray, test_frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): each class split test_frac / 1-test_frac, seeded, sorted order."""
    rng = np.random.default_rng(seed)
    tr, te = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        n_te = int(round(len(idx) * test_frac))
        te.append(idx[:n_te])
        tr.append(idx[n_te:])
    return np.sort(np.concatenate(tr)), np.sort(np.concatenate(te))


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """Sample order of one training epoch: a permutation seeded by (seed, epoch).

    The one definition of "same data order" shared by the trainer, the golden engine, the
    host C build and on-device streaming, so equal seeds give equal weights everywhere."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(int(n))


def run_order(n: int, epochs: int, seed: int, batch: int = 1) -> np.ndarray:
    """Training-set index of every sample of a run, in order: the epochs' orders joined and cut
    to a whole number of micro-batches (every step trains exactly `batch` samples).

    The integer engine's runs (`emulate`, `stream`, on every target) all train this sequence."""
    order = np.concatenate([epoch_order(n, seed, e) for e in range(int(epochs))])
    return order[:len(order) - len(order) % int(batch)]


def downsample2x2(x: np.ndarray) -> np.ndarray:
    """Average 2x2 blocks of N x H x W x C images (H, W even): 28x28 -> 14x14."""
    n, h, w, c = x.shape
    if h % 2 or w % 2:
        raise UserError(f"cannot halve {h}x{w} images (odd size); drop the @14x14 suffix")
    return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4)).astype(np.float32)


def _check_labels(y: np.ndarray, what: str, fix: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise UserError(f"{what}: labels must be a 1-D array, got shape {y.shape}; {fix}")
    if y.size == 0:
        raise UserError(f"{what}: no samples; {fix}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise UserError(f"{what}: labels must be integers 0..C-1, found non-integer values; {fix}")
    elif y.dtype.kind not in "iu":
        raise UserError(f"{what}: labels must be integers 0..C-1, got dtype {y.dtype}; {fix}")
    y = y.astype(np.int64)
    if y.min() < 0:
        raise UserError(f"{what}: labels must be integers 0..C-1, found {y.min()}; {fix}")
    return y


def _check_features(x: np.ndarray, what: str, fix: str) -> np.ndarray:
    if x.dtype.kind not in "iuf":
        raise UserError(f"{what}: features must be numeric, got dtype {x.dtype}; {fix}")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise UserError(f"{what}: features contain NaN or inf; clean the data ({fix})")
    return x


def _num_classes(what: str, fix: str, *ys: np.ndarray) -> int:
    c = int(max(int(y.max()) for y in ys)) + 1
    present = np.unique(np.concatenate(ys))
    if c < 2:
        raise UserError(f"{what}: need at least 2 classes, found {c}; {fix}")
    if len(present) != c:
        missing = sorted(set(range(c)) - set(present.tolist()))
        raise UserError(f"{what}: labels must be 0..C-1 with every class present; class(es) "
                        f"{missing[:5]} never occur; {fix}")
    return c


def _scaled_preprocess(kind: str, x_train: np.ndarray, scale: float, **extra: Any) -> dict:
    """Preprocessing record: raw * scale = model input; 8-bit input exponent covers the data."""
    amax = float(np.max(np.abs(x_train))) if x_train.size else 1.0
    # [0, 1] data: exponent -7 (q = 128 clips to 127, i.e. 1.0 -> 0.992), the device's choice.
    exp = -INPUT_BITS + 1 if 0 < amax <= 1.0 else exponent_for(amax, INPUT_BITS)
    return {"kind": kind, "scale": scale, "input_exp": int(exp), "input_bits": INPUT_BITS, **extra}


# -- loaders ---------------------------------------------------------------------------------
def anomaly_spectra(n: int, seed: int, anomalous: bool) -> np.ndarray:
    """n synthetic "machine sound" spectrograms (5 frames x 128 bins = 640 values in [0, 1]),
    deterministic from the seed. Normal: two smooth resonances and a tilted floor, drawn from a
    5-parameter generator, slowly modulated over the frames, with a little noise. Anomalous:
    the resonances shifted in frequency, or 2-4 narrow peaks added (a bearing fault's tones)."""
    rng = np.random.default_rng([int(seed), 640, int(anomalous)])
    f = np.linspace(0.0, 1.0, 128)
    amp = rng.uniform(0.35, 0.8, (n, 2, 1))
    mu = np.stack([rng.uniform(0.15, 0.3, n), rng.uniform(0.55, 0.7, n)], 1)[..., None]
    width = rng.uniform(0.04, 0.08, (n, 1, 1))
    tilt = rng.uniform(-0.15, 0.15, (n, 1))
    if anomalous:
        shift = rng.random(n) < 0.5
        mu = mu + (shift * rng.uniform(0.08, 0.15, n) * rng.choice([-1, 1], n))[:, None, None]
    spec = (amp * np.exp(-0.5 * ((f - mu) / width) ** 2)).sum(1) + 0.15 + tilt * (f - 0.5)
    if anomalous:
        for i in np.flatnonzero(~shift):
            for c in rng.uniform(0.05, 0.95, rng.integers(2, 5)):
                spec[i] += rng.uniform(0.3, 0.6) * np.exp(-0.5 * ((f - c) / 0.008) ** 2)
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    frames = spec[:, None, :] * (1 + 0.08 * np.sin(phase + np.arange(5)[None, :, None]))
    x = frames + rng.normal(0, 0.015, frames.shape)
    return np.clip(x, 0.0, 1.0).reshape(n, 640).astype(np.float32)


ANOMALY_SIZES = (2000, 500, 500)  # normal training, normal test, anomalous test samples


def _anomaly(seed: int) -> Dataset:
    n_tr, n_norm, n_anom = ANOMALY_SIZES
    x = anomaly_spectra(n_tr + n_norm, seed, False)
    x_te = np.concatenate([x[n_tr:], anomaly_spectra(n_anom, seed, True)])
    y_te = np.concatenate([np.zeros(n_norm, np.int64), np.ones(n_anom, np.int64)])
    return Dataset("anomaly", "tabular", x[:n_tr], np.zeros(n_tr, np.int64), x_te, y_te, 640,
                   metric="auc", targets="input",
                   preprocess=_scaled_preprocess("tabular", x[:n_tr], 1.0, source="anomaly"))


def _digits(seed: int) -> Dataset:
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[..., None]
    y = d.target.astype(np.int64)
    tr, te = stratified_split(y, 0.2, seed)
    return Dataset("digits", "image", x[tr], y[tr], x[te], y[te], 10,
                   preprocess=_scaled_preprocess("image", x[tr], 1 / 16, source="digits"))


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except OSError as e:
        raise UserError(f"cannot read IDX file {path} ({e}); give an MNIST IDX file (gzip or raw)")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise UserError(f"{path} is not an unsigned-byte IDX file (bad magic); give MNIST IDX files")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    off = 4 + 4 * ndim
    n = int(np.prod(dims))
    if len(raw) - off != n:
        raise UserError(f"{path} is truncated or corrupt: header says {dims}, holds "
                        f"{len(raw) - off} bytes of data; re-download the file")
    return np.frombuffer(raw, dtype=np.uint8, offset=off).reshape(dims)


def _find_idx(d: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx")):
        if (d / name).is_file():
            return d / name
    return None


def _mnist(arg: str, seed: int) -> Dataset:
    half = arg.endswith("@14x14")
    d = Path(arg[: -len("@14x14")] if half else arg)
    fix = "point mnist-idx: at a folder with t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]"
    if not d.is_dir():
        raise UserError(f"MNIST folder '{d}' does not exist; {fix}")
    files = {s: _find_idx(d, f"{s}-idx{3 if k == 'images' else 1}-ubyte")
             for s, k in (("train-images", "images"), ("train-labels", "labels"),
                          ("t10k-images", "images"), ("t10k-labels", "labels"))}
    if files["t10k-images"] is None or files["t10k-labels"] is None:
        raise UserError(f"no t10k-images/t10k-labels IDX files in '{d}'; {fix}")

    def load(split: str) -> tuple[np.ndarray, np.ndarray]:
        x = _read_idx(files[f"{split}-images"])
        y = _read_idx(files[f"{split}-labels"])
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise UserError(f"MNIST {split} files disagree: images {x.shape}, labels {y.shape}; "
                            "use matching IDX image (N x H x W) and label (N) files")
        if y.max() > 9:
            raise UserError(f"MNIST {split} labels must be 0..9, found {y.max()}; use MNIST label files")
        return (x.astype(np.float32) / 255.0)[..., None], y.astype(np.int64)

    xt, yt = load("t10k")
    if files["train-images"] is not None and files["train-labels"] is not None:
        xtr, ytr = load("train")
        xte, yte = xt, yt
        split = "official"
    else:  # only the 10k test set: fixed seeded 8,000 / 2,000 split
        if len(xt) < 1000:
            raise UserError(f"MNIST t10k files hold only {len(xt)} images; need the full 10,000")
        perm = np.random.default_rng(MNIST_SPLIT_SEED).permutation(len(xt))
        n_tr = int(round(len(xt) * 0.8))
        xtr, ytr, xte, yte = xt[perm[:n_tr]], yt[perm[:n_tr]], xt[perm[n_tr:]], yt[perm[n_tr:]]
        split = "t10k 80/20 seeded"
    if half:
        xtr, xte = downsample2x2(xtr), downsample2x2(xte)
    name = "mnist14" if half else "mnist"
    return Dataset(name, "image", xtr, ytr, xte, yte, 10,
                   preprocess=_scaled_preprocess("image", xtr, 1 / 255, source="mnist-idx",
                                                 split=split, downsample="2x2 mean" if half else None))


_WORD = re.compile(r"[a-z0-9']+")


def tokenize(text: str) -> list[str]:
    """Lowercase word tokens (letters, digits, apostrophes)."""
    return _WORD.findall(text.lower())


def encode_texts(texts: list[str], vocab: dict[str, int], length: int = TEXT_LEN) -> np.ndarray:
    """Word ids (OOV = 1), truncated / right-padded with 0 to `length`."""
    out = np.zeros((len(texts), length), dtype=np.int32)
    for i, t in enumerate(texts):
        ids = [vocab.get(w, OOV) for w in tokenize(t)][:length]
        out[i, : len(ids)] = ids
    return out


def _sms(arg: str, seed: int) -> Dataset:
    p = Path(arg)
    fix = "give the SMS Spam Collection TSV (header 'Label<TAB>SMS', rows 'ham|spam<TAB>text')"
    if not p.is_file():
        raise UserError(f"SMS file '{p}' does not exist; {fix}")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read SMS file '{p}' ({e}); {fix}")
    if not lines or lines[0].split("\t")[:2] != ["Label", "SMS"]:
        raise UserError(f"'{p}' lacks the header line 'Label<TAB>SMS'; {fix}")
    labels, texts = [], []
    for no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        lab, sep, text = line.partition("\t")
        if not sep or lab not in ("ham", "spam"):
            raise UserError(f"'{p}' line {no}: expected 'ham' or 'spam', a tab, then the text; {fix}")
        labels.append(1 if lab == "spam" else 0)
        texts.append(text)
    y = np.asarray(labels, dtype=np.int64)
    if len(np.unique(y)) < 2:
        raise UserError(f"'{p}' needs both ham and spam messages; {fix}")
    tr, te = stratified_split(y, 0.2, seed)
    counts = Counter(w for i in tr for w in tokenize(texts[i]))
    words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TEXT_VOCAB]]
    vocab = {w: i + 2 for i, w in enumerate(words)}
    x = encode_texts(texts, vocab)
    pre = {"kind": "text", "tokenizer": "lowercase [a-z0-9']+ words", "seq_len": TEXT_LEN,
           "vocab_size": len(words) + 2, "pad_id": PAD, "oov_id": OOV, "vocab": words}
    return Dataset("sms", "text", x[tr], y[tr], x[te], y[te], 2, metric="f1", preprocess=pre)


def _as_images(x: np.ndarray, what: str, fix: str) -> np.ndarray:
    if x.ndim == 3:
        return x[..., None]
    if x.ndim in (2, 4):
        return x
    raise UserError(f"{what}: x must be N x H x W, N x H x W x C or N x F, got shape {x.shape}; {fix}")


def _npz(arg: str, seed: int) -> Dataset:
    p = Path(arg)
    fix = "save arrays x_train, y_train, x_test, y_test with numpy.savez"
    if not p.is_file():
        raise UserError(f"npz file '{p}' does not exist; {fix}")
    try:
        z = np.load(p, allow_pickle=False)
        arrs = {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001 - any unreadable archive is the user's file
        raise UserError(f"cannot read npz file '{p}' ({type(e).__name__}); {fix}") from None
    missing = [k for k in ("x_train", "x_test") if k not in arrs]
    if missing:
        raise UserError(f"'{p}' lacks array(s) {', '.join(missing)}; {fix}")
    if "y_train" not in arrs:  # an autoencoder's data: the inputs are the targets
        return _npz_autoencoder(p, arrs, fix)
    missing = [k for k in ("y_test",) if k not in arrs]
    if missing:
        raise UserError(f"'{p}' lacks array(s) {', '.join(missing)}; {fix}")
    if np.ndim(arrs["y_train"]) == 2:
        return _npz_regression(p, arrs, fix)
    xs, ys = {}, {}
    for s in ("train", "test"):
        what = f"'{p}' {s} split"
        x = _check_features(_as_images(np.asarray(arrs[f"x_{s}"]), what, fix), what, fix)
        y = _check_labels(arrs[f"y_{s}"], what, fix)
        if len(x) != len(y):
            raise UserError(f"{what}: x has {len(x)} samples, y has {len(y)}; {fix}")
        xs[s], ys[s] = x, y
    if xs["train"].shape[1:] != xs["test"].shape[1:]:
        raise UserError(f"'{p}': x_train samples are {xs['train'].shape[1:]}, x_test samples "
                        f"{xs['test'].shape[1:]}; both splits need the same sample shape")
    c = _num_classes(f"'{p}'", fix, ys["train"], ys["test"])
    kind = "image" if xs["train"].ndim == 4 else "tabular"
    return Dataset(p.stem, kind, xs["train"], ys["train"], xs["test"], ys["test"], c,
                   preprocess=_scaled_preprocess(kind, xs["train"], 1.0, source="npz"))


def _npz_x(p: Path, arrs: dict, fix: str) -> tuple[np.ndarray, np.ndarray, str]:
    xs = [_check_features(_as_images(np.asarray(arrs[f"x_{s}"]), f"'{p}' {s} split", fix),
                          f"'{p}' {s} split", fix) for s in ("train", "test")]
    if xs[0].shape[1:] != xs[1].shape[1:]:
        raise UserError(f"'{p}': x_train samples are {xs[0].shape[1:]}, x_test samples "
                        f"{xs[1].shape[1:]}; both splits need the same sample shape")
    return xs[0], xs[1], "image" if xs[0].ndim == 4 else "tabular"


def _npz_regression(p: Path, arrs: dict, fix: str) -> Dataset:
    """y_train (N, m) float targets: a regression (MSE) data set; target_exp covers them."""
    xtr, xte, kind = _npz_x(p, arrs, fix)
    ys = []
    for s, x in (("train", xtr), ("test", xte)):
        y = np.asarray(arrs[f"y_{s}"])
        if y.ndim != 2 or y.dtype.kind not in "iuf" or not np.all(np.isfinite(y)):
            raise UserError(f"'{p}' {s} split: regression targets must be a finite numeric "
                            f"(N, m) array like y_train, got {y.dtype} {y.shape}; {fix}")
        if len(y) != len(x):
            raise UserError(f"'{p}' {s} split: x has {len(x)} samples, y has {len(y)}; {fix}")
        ys.append(y.astype(np.float32))
    if ys[0].shape[1] != ys[1].shape[1]:
        raise UserError(f"'{p}': y_train has {ys[0].shape[1]} targets per sample, y_test "
                        f"{ys[1].shape[1]}; both splits need the same")
    pre = _scaled_preprocess(kind, xtr, 1.0, source="npz")
    amax = float(np.max(np.abs(ys[0]))) if ys[0].size else 1.0
    pre["target_exp"] = int(exponent_for(amax if amax > 0 else 1.0, INPUT_BITS))
    return Dataset(p.stem, kind, xtr, ys[0], xte, ys[1], int(ys[0].shape[1]), metric="mse",
                   preprocess=pre, targets="vector")


def _npz_autoencoder(p: Path, arrs: dict, fix: str) -> Dataset:
    """No y_train: the inputs are the targets; y_test, if given, marks anomalies (0/1)."""
    xtr, xte, kind = _npz_x(p, arrs, fix)
    y_te = np.zeros(len(xte), np.int64)
    if "y_test" in arrs:
        y_te = _check_labels(arrs["y_test"], f"'{p}' test split", fix)
        if len(y_te) != len(xte) or y_te.max() > 1:
            raise UserError(f"'{p}': without y_train the data is an autoencoder's; y_test must "
                            f"then be {len(xte)} anomaly marks 0/1, got {y_te.shape} up to "
                            f"{y_te.max()}; {fix}")
    return Dataset(p.stem, kind, xtr, np.zeros(len(xtr), np.int64), xte, y_te,
                   int(np.prod(xtr.shape[1:])), metric="auc" if y_te.any() else "mse",
                   preprocess=_scaled_preprocess(kind, xtr, 1.0, source="npz"), targets="input")


def _csv(arg: str, seed: int) -> Dataset:
    p = Path(arg)
    fix = "give a CSV with a header row, numeric feature columns and an integer 'label' column"
    if not p.is_file():
        raise UserError(f"CSV file '{p}' does not exist; {fix}")
    try:
        lines = [l for l in p.read_text(encoding="utf-8").splitlines() if l.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read CSV file '{p}' ({e}); {fix}")
    if len(lines) < 3:
        raise UserError(f"'{p}' has no data rows; {fix}")
    header = [h.strip() for h in lines[0].split(",")]
    lab_col = header.index("label") if "label" in header else len(header) - 1
    rows = []
    for no, line in enumerate(lines[1:], start=2):
        cells = line.split(",")
        if len(cells) != len(header):
            raise UserError(f"'{p}' line {no} has {len(cells)} columns, the header {len(header)}; {fix}")
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            raise UserError(f"'{p}' line {no} has a non-numeric value; {fix}") from None
    a = np.asarray(rows, dtype=np.float64)
    y = _check_labels(a[:, lab_col], f"'{p}'", fix)
    x = _check_features(np.delete(a, lab_col, axis=1), f"'{p}'", fix)
    c = _num_classes(f"'{p}'", fix, y)
    tr, te = stratified_split(y, 0.2, seed)
    return Dataset(p.stem, "tabular", x[tr], y[tr], x[te], y[te], c,
                   preprocess=_scaled_preprocess("tabular", x[tr], 1.0, source="csv",
                                                 label_column=header[lab_col]))


_LOADERS = {"mnist-idx": _mnist, "sms": _sms, "npz": _npz, "csv": _csv}


def load_dataset(spec: str, seed: int = 0) -> Dataset:
    """Load `spec` (see module doc); the split depends on `seed` where the source has none."""
    spec = (spec or "").strip()
    if spec == "digits":
        return _digits(seed)
    if spec == "anomaly":
        return _anomaly(seed)
    kind, sep, arg = spec.partition(":")
    if not sep or kind not in _LOADERS or not arg:
        raise UserError(f"unknown data set '{spec}'; use {SPEC_HELP}")
    return _LOADERS[kind](arg, seed)


def f1_score(y_true: np.ndarray, y_pred: np.ndarray, positive: int = 1) -> float:
    """F1 of the positive class (0.0 when it is never predicted nor present)."""
    tp = int(np.sum((y_pred == positive) & (y_true == positive)))
    fp = int(np.sum((y_pred == positive) & (y_true != positive)))
    fn = int(np.sum((y_pred != positive) & (y_true == positive)))
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def split_accuracy(pred: np.ndarray, y: np.ndarray, known: list[int] | None) -> dict[str, float]:
    """Test accuracy overall and, with `known`, on the known and on the new classes."""
    out = {"all": float(np.mean(pred == y)) if len(y) else 0.0}
    if known is not None:
        k = np.isin(y, known)
        out["known"] = float(np.mean(pred[k] == y[k])) if k.any() else 0.0
        out["new"] = float(np.mean(pred[~k] == y[~k])) if (~k).any() else 0.0
    return out


def score_metrics(scores: np.ndarray, anomalous: np.ndarray) -> dict[str, float | None]:
    """An MSE model's test metrics from its Q16.16 scores: mean score and, when the labels mark
    both normal (0) and anomalous (1) samples, the ROC AUC of the score as anomaly detector."""
    from sklearn.metrics import roc_auc_score
    s = np.asarray(scores, np.float64) / 65536.0
    both = len(anomalous) and 0 < int(np.sum(anomalous == 1)) < len(anomalous)
    return {"score_mean": float(s.mean()) if len(s) else 0.0,
            "auc": float(roc_auc_score(anomalous == 1, s)) if both else None}


def confusion(pred: np.ndarray, y: np.ndarray, classes: int) -> list[list[int]]:
    """counts[true][predicted]."""
    m = np.zeros((classes, classes), np.int64)
    np.add.at(m, (y.astype(np.int64), pred.astype(np.int64)), 1)
    return m.tolist()
