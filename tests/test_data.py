"""Data loaders (rct_tflm.data): every --data spelling, the shared epoch order, bad files.

numpy only: none of this imports TensorFlow.
"""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from rct_tflm.data import (TEXT_LEN, downsample2x2, encode_texts, epoch_order, f1_score,
                           load_dataset, stratified_split, tokenize)
from rct_tflm.errors import UserError


# -- the shared per-epoch order ----------------------------------------------------------------
def test_epoch_order_is_a_seeded_permutation():
    a = epoch_order(100, 3, 0)
    assert sorted(a.tolist()) == list(range(100))
    assert np.array_equal(a, epoch_order(100, 3, 0))  # same (seed, epoch) -> same order
    assert not np.array_equal(a, epoch_order(100, 3, 1))  # a new order every epoch
    assert not np.array_equal(a, epoch_order(100, 4, 0))  # and per seed
    # Pinned: numpy's PCG64 seeded by [seed, epoch]; the C/device side reproduces this list.
    assert np.array_equal(a, np.random.default_rng([3, 0]).permutation(100))


def test_stratified_split_keeps_class_ratios():
    y = np.repeat(np.arange(4), [50, 30, 20, 100])
    tr, te = stratified_split(y, 0.2, 0)
    assert len(set(tr) & set(te)) == 0 and len(tr) + len(te) == len(y)
    assert np.bincount(y[te]).tolist() == [10, 6, 4, 20]
    assert np.array_equal(te, stratified_split(y, 0.2, 0)[1])


# -- digits ------------------------------------------------------------------------------------
def test_digits(digits):
    assert digits.x_train.shape[1:] == (8, 8, 1) and digits.x_train.dtype == np.float32
    assert len(digits.x_train) + len(digits.x_test) == 1797
    assert 0.0 <= digits.x_train.min() and digits.x_train.max() <= 1.0
    assert digits.num_classes == 10 and digits.metric == "accuracy"
    assert digits.preprocess["input_exp"] == -7  # [0, 1] data: 8-bit, q = round(x * 128)


# -- npz ---------------------------------------------------------------------------------------
def _npz(path, **over):
    rng = np.random.default_rng(0)
    arrs = {"x_train": rng.random((40, 6, 6)).astype(np.float32), "y_train": np.arange(40) % 3,
            "x_test": rng.random((12, 6, 6)).astype(np.float32), "y_test": np.arange(12) % 3}
    arrs.update(over)
    arrs = {k: v for k, v in arrs.items() if v is not None}
    np.savez(path, **arrs)
    return f"npz:{path}"


def test_npz_images_get_a_channel_axis(tmp_path):
    d = load_dataset(_npz(tmp_path / "a.npz"))
    assert d.kind == "image" and d.input_shape == (6, 6, 1) and d.num_classes == 3
    flat = load_dataset(_npz(tmp_path / "b.npz", x_train=np.ones((40, 5)), x_test=np.ones((12, 5))))
    assert flat.kind == "tabular" and flat.input_shape == (5,)


@pytest.mark.parametrize("over, words", [
    ({"x_train": np.ones((40, 2, 2, 2, 2))}, "N x H x W"),
    ({"x_train": np.ones(40)}, "N x H x W"),
    ({"x_test": np.ones((12, 7, 7))}, "same sample shape"),
    ({"y_train": np.arange(39) % 3}, "40 samples"),
    ({"x_train": np.full((40, 6, 6), np.nan)}, "NaN or inf"),
    ({"x_test": np.full((12, 6, 6), np.inf)}, "NaN or inf"),
    ({"y_train": np.full(40, 0.5)}, "integers"),
    ({"y_train": (np.arange(40) % 3) * 2}, "never occur"),
    ({"y_test": None}, "lacks array(s) y_test"),
])
def test_npz_bad_files(tmp_path, over, words):
    with pytest.raises(UserError, match=words.replace("(", r"\(").replace(")", r"\)")) as e:
        load_dataset(_npz(tmp_path / "bad.npz", **over))
    assert "\n" not in str(e.value)


def test_npz_not_an_archive(tmp_path):
    p = tmp_path / "x.npz"
    p.write_text("hello")
    with pytest.raises(UserError, match="cannot read npz"):
        load_dataset(f"npz:{p}")


# -- csv ---------------------------------------------------------------------------------------
def _csv(path, rows, header="a,b,label"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return f"csv:{path}"


def test_csv_label_column_and_split(tmp_path):
    rows = [f"{i},{i * 0.5},{i % 2}" for i in range(50)]
    d = load_dataset(_csv(tmp_path / "t.csv", rows))
    assert d.kind == "tabular" and d.input_shape == (2,) and d.num_classes == 2
    assert len(d.x_train) == 40 and len(d.x_test) == 10
    assert d.preprocess["label_column"] == "label"


@pytest.mark.parametrize("bad, words", [
    ("1,inf,0", "NaN or inf"),
    ("1,nan,0", "NaN or inf"),
    ("1,x,0", "non-numeric"),
    ("1,2", "columns"),
    ("1,2,0.5", "integers"),
])
def test_csv_bad_rows(tmp_path, bad, words):
    rows = [f"{i},{i},{i % 2}" for i in range(20)] + [bad]
    with pytest.raises(UserError, match=words):
        load_dataset(_csv(tmp_path / "t.csv", rows))


# -- sms ---------------------------------------------------------------------------------------
def test_sms_tokenise_and_encode(tmp_path):
    assert tokenize("Free ENTRY, win £1000 now! don't") == ["free", "entry", "win", "1000",
                                                            "now", "don't"]
    ids = encode_texts(["a b zz", ""], {"a": 2, "b": 3})
    assert ids.shape == (2, TEXT_LEN) and ids[0, :4].tolist() == [2, 3, 1, 0]
    lines = ["Label\tSMS"] + [f"{'spam' if i % 5 == 0 else 'ham'}\tmsg {i} "
                              f"{'win cash' if i % 5 == 0 else 'see you'}" for i in range(50)]
    (tmp_path / "s.tsv").write_text("\n".join(lines))
    d = load_dataset(f"sms:{tmp_path / 's.tsv'}")
    assert d.kind == "text" and d.metric == "f1" and d.x_train.dtype == np.int32
    assert d.num_classes == 2 and d.input_shape == (TEXT_LEN,)
    assert d.preprocess["vocab"][:2] == ["msg", "see"]  # by frequency, then alphabetically


@pytest.mark.parametrize("text, words", [
    ("ham\thi\n", "header"),
    ("Label\tSMS\nmaybe\thi\n", "expected 'ham' or 'spam'"),
    ("Label\tSMS\nham\thi\nham\tho\n", "both ham and spam"),
])
def test_sms_bad_files(tmp_path, text, words):
    (tmp_path / "s.tsv").write_text(text)
    with pytest.raises(UserError, match=words):
        load_dataset(f"sms:{tmp_path / 's.tsv'}")


def test_sms_real_collection(sms_path):
    d = load_dataset(f"sms:{sms_path}")
    assert len(d.x_train) + len(d.x_test) > 5000 and d.preprocess["vocab_size"] == 2002
    assert 0.1 < d.y_train.mean() < 0.2  # ~13% spam, stratified
    assert abs(d.y_train.mean() - d.y_test.mean()) < 0.01


# -- mnist-idx ---------------------------------------------------------------------------------
def _idx(path, arr):
    head = struct.pack(">BBBB", 0, 0, 8, arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(head + arr.astype(np.uint8).tobytes())


def test_mnist_idx_t10k_only_split_and_downsample(tmp_path):
    rng = np.random.default_rng(1)
    _idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (1000, 4, 4)))
    _idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(1000) % 10)
    d = load_dataset(f"mnist-idx:{tmp_path}", seed=5)
    assert len(d.x_train) == 800 and len(d.x_test) == 200 and d.input_shape == (4, 4, 1)
    # The 8,000/2,000 split is fixed: it does not follow the run seed.
    assert np.array_equal(d.x_test, load_dataset(f"mnist-idx:{tmp_path}", seed=9).x_test)
    h = load_dataset(f"mnist-idx:{tmp_path}@14x14")
    assert h.input_shape == (2, 2, 1)
    assert np.allclose(h.x_train[0, 0, 0, 0], d.x_train[0, :2, :2, 0].mean())


def test_mnist_idx_bad_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_dataset(f"mnist-idx:{tmp_path / 'nope'}")
    with pytest.raises(UserError, match="no t10k-images"):
        load_dataset(f"mnist-idx:{tmp_path}")
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 8)
    _idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(10) % 10)
    with pytest.raises(UserError, match="truncated or corrupt"):
        load_dataset(f"mnist-idx:{tmp_path}")


def test_mnist10k_benchmark_split(mnist_dir):
    d = load_dataset(f"mnist-idx:{mnist_dir}")
    assert (len(d.x_train), len(d.x_test)) == (8000, 2000)
    assert d.input_shape == (28, 28, 1) and d.preprocess["split"] == "t10k 80/20 seeded"


# -- spec errors, helpers -----------------------------------------------------------------------
@pytest.mark.parametrize("spec", ["cifar", "", "npz:", "mnist:/x", "digits2"])
def test_unknown_spec(spec):
    with pytest.raises(UserError, match="unknown data set"):
        load_dataset(spec)


def test_missing_files_name_the_path(tmp_path):
    for kind in ("npz", "csv", "sms"):
        with pytest.raises(UserError, match="does not exist"):
            load_dataset(f"{kind}:{tmp_path / 'missing'}")


def test_downsample_and_f1():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    assert downsample2x2(x)[0, :, :, 0].tolist() == [[2.5, 4.5], [10.5, 12.5]]
    with pytest.raises(UserError, match="odd size"):
        downsample2x2(np.zeros((1, 3, 3, 1), np.float32))
    y = np.array([1, 1, 0, 0, 1])
    assert f1_score(y, np.array([1, 0, 0, 1, 1])) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert f1_score(y, np.zeros(5, int)) == 0.0


def test_shaped_for_matches_axes_of_size_one_and_names_real_mismatches():
    from rct_tflm.data import load_dataset
    d = load_dataset("digits")
    assert d.input_shape == (8, 8, 1)
    assert d.shaped_for((8, 8, 1)) is d
    hw = d.shaped_for((8, 8))
    assert hw.input_shape == (8, 8) and hw.x_test.shape == (len(d.x_test), 8, 8)
    assert hw.shaped_for((1, 8, 8, 1)).input_shape == (1, 8, 8, 1)
    with pytest.raises(UserError, match=r"takes inputs of shape \(64,\), data set digits has "
                                         r"\(8, 8, 1\)"):
        d.shaped_for((64,))
