"""Built-in models, --model specs and saved-model checks (rct_tflm.trainer.models)."""
from __future__ import annotations

import numpy as np
import pytest

from rct_tflm.data import Dataset
from rct_tflm.errors import UserError
from rct_tflm.trainer.models import (BUILTIN, builtin_name_for, check_builtin, parse_model_spec,
                             saved_layers)


def _ds(kind: str, shape: tuple, classes: int = 3) -> Dataset:
    x = np.zeros((6, *shape), np.int32 if kind == "text" else np.float32)
    y = np.arange(6) % classes
    pre = {"vocab_size": 50} if kind == "text" else {}
    return Dataset("t", kind, x, y, x, y, classes, preprocess=pre)


@pytest.mark.parametrize("kind, shape, name", [
    ("image", (8, 8, 1), "mlp"), ("image", (14, 14, 1), "mlp196"), ("image", (28, 28, 1), "cnn"),
    ("image", (32, 32, 3), "cnn"), ("text", (32,), "text"), ("tabular", (5,), "tabular")])
def test_builtin_choice_by_data(kind, shape, name):
    d = _ds(kind, shape)
    assert builtin_name_for(d) == name
    check_builtin(name, d)


@pytest.mark.parametrize("name, kind, shape", [("mlp", "image", (28, 28, 1)),
                                               ("cnn", "tabular", (5,)),
                                               ("text", "image", (8, 8, 1)),
                                               ("tabular", "text", (32,))])
def test_builtin_refuses_data_it_cannot_take(name, kind, shape):
    with pytest.raises(UserError, match=f"built-in model '{name}' needs"):
        check_builtin(name, _ds(kind, shape))


def test_model_specs(tmp_path):
    assert parse_model_spec("builtin") == ("builtin", "")
    assert parse_model_spec(" builtin:cnn ") == ("builtin", "cnn")
    f = tmp_path / "m.keras"
    f.write_bytes(b"")
    assert parse_model_spec(str(f)) == ("file", str(f))
    for bad, words in (("builtin:vgg", "unknown built-in model"), ("model.onnx", "unknown model"),
                       ("", "unknown model"), (str(tmp_path / "x.h5"), "does not exist")):
        with pytest.raises(UserError, match=words):
            parse_model_spec(bad)


def test_saved_layers_of_unreadable_files_is_none(tmp_path):
    (tmp_path / "a.keras").write_text("not a zip")
    (tmp_path / "b.h5").write_text("not hdf5")
    assert saved_layers(str(tmp_path / "a.keras")) is None
    assert saved_layers(str(tmp_path / "b.h5")) is None


@pytest.mark.tf
@pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file")
@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_saved_layers_reads_the_stored_config(tmp_path, ext):
    import tf_keras as k
    m = k.Sequential([k.layers.Input((4,)), k.layers.Dense(3, name="hid"),
                      k.layers.Dense(2, name="out")])
    path = str(tmp_path / f"m.{ext}")
    m.save(path)
    assert [c for _, c in saved_layers(path)][-2:] == ["Dense", "Dense"]
    assert [n for n, _ in saved_layers(path)][-2:] == ["hid", "out"]


@pytest.mark.tf
@pytest.mark.parametrize("name", BUILTIN)
def test_builtins_build_import_and_are_seeded(name):
    from rct_tflm.trainer.models import build_builtin
    from rct_tflm.trainer.keras_import import import_keras
    shape = {"mlp": (8, 8, 1), "mlp784": (28, 28, 1), "mlp196": (14, 14, 1), "cnn": (28, 28, 1), "resnet8": (32, 32, 3),
             "text": (32,), "tabular": (5,), "autoencoder": (6,)}[name]
    kind = "text" if name == "text" else "image" if len(shape) == 3 else "tabular"
    d = _ds(kind, shape)
    if name == "autoencoder":  # its targets are its inputs: as many outputs as inputs
        d = d.as_autoencoder()
    art, _ = import_keras(build_builtin(name, d, seed=3))
    assert tuple(art.input_shape) == shape and art.num_classes == d.num_classes
    if name == "autoencoder":  # MLPerf Tiny's FC-AE: 128 x 3, 8, 128 x 3, then the input size
        assert [l.output_shape[-1] for l in art.layers if l.kind == "dense"] == \
            [128, 128, 128, 8, 128, 128, 128, 6]
    again, _ = import_keras(build_builtin(name, d, seed=3))
    other, _ = import_keras(build_builtin(name, d, seed=4))
    n = art.layers[-1].params["kernel"]
    np.testing.assert_array_equal(art.tensors[n], again.tensors[n])
    assert not np.array_equal(art.tensors[n], other.tensors[n])
    if name == "text":
        assert [l.kind for l in art.layers] == ["embedding", "conv1d", "gap1d", "dense"]
        assert art.layers[0].config["input_dim"] == 50
