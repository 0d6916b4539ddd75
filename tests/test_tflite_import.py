"""`.tflite` import (formats/tflite_model.py) and the frozen part's golden in TFLite's arithmetic
(program/tflite_lower.py): for int8 models converted by TensorFlow from tf_keras, every output
integer equals the tflite-micro interpreter's, on random and on realistic inputs; float, hybrid
and unsupported models are refused in one line that says how to convert."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from rct_tflm.errors import UserError
from rct_tflm.formats.tflite_model import SUPPORTED, read_tflite
from rct_tflm.program.tflite_graph import body, quantize_input
from rct_tflm.program.tflite_lower import lower_tflite, run_plan

pytestmark = pytest.mark.tf
pytest.importorskip("tflite_micro", reason="tflite-micro is installed by `make setup`")
N = 200


def convert(model, shape, mode: str = "int8", seed: int = 0) -> bytes:
    import tensorflow as tf
    rng = np.random.default_rng(seed)

    def rep():
        for _ in range(64):
            yield [rng.normal(0, 1, (1, *shape)).astype(np.float32)]
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "float":
        c.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "int8":
        c.representative_dataset = rep
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        c.inference_input_type = tf.int8
        c.inference_output_type = tf.int8
    return c.convert()


def models():
    import tf_keras as K
    L = K.layers

    def kws():
        i = K.Input((20, 10, 1))
        x = L.Conv2D(8, (5, 3), strides=2, padding="same", activation="relu")(i)
        x = L.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
        x = L.Conv2D(8, 1, activation="relu")(x)
        x = L.AveragePooling2D((2, 1))(x)
        x = L.Flatten()(x)
        return K.Model(i, L.Softmax()(L.Dense(6)(x))), (20, 10, 1)

    def residual():
        i = K.Input((12, 12, 3))
        x = L.Conv2D(8, 3, padding="same", activation="relu")(i)
        y = L.Conv2D(8, 3, padding="same")(x)
        y = L.DepthwiseConv2D(3, padding="same", depth_multiplier=1)(y)
        x = L.ReLU()(L.Add()([x, y]))
        x = L.MaxPooling2D(2, padding="same")(x)
        x = L.GlobalAveragePooling2D()(x)
        return K.Model(i, L.Dense(5)(x)), (12, 12, 3)

    def padded():
        i = K.Input((9, 9, 2))
        x = L.ZeroPadding2D(((1, 2), (0, 1)))(i)
        x = L.Conv2D(4, 3, strides=2, activation="relu6")(x)
        x = L.DepthwiseConv2D(2, depth_multiplier=2)(x)
        x = L.Conv2D(4, 2, strides=2, padding="same")(x)
        x = L.GlobalAveragePooling2D()(x)
        return K.Model(i, L.Dense(3, activation="relu")(x)), (9, 9, 2)
    return {"kws": kws, "residual": residual, "padded": padded}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, tuple[Path, tuple]]:
    import tf_keras as K
    K.utils.set_random_seed(0)
    d = tmp_path_factory.mktemp("tflite")
    out = {}
    for name, make in models().items():
        m, shape = make()
        p = d / f"{name}.tflite"
        p.write_bytes(convert(m, shape))
        out[name] = (p, shape)
    return out


@pytest.mark.parametrize("name", ["kws", "residual", "padded"])
def test_the_golden_frozen_graph_equals_tflite_micro(files, name):
    from rct_tflm.verify.tflm_reference import compare_graph
    path, shape = files[name]
    m = read_tflite(path)
    rng = np.random.default_rng(1)
    random = rng.integers(-128, 128, (N, *shape), dtype=np.int8)
    realistic = quantize_input(m, rng.normal(0, 1, (N, *shape)))
    for x in (random, realistic):
        r = compare_graph(m, x)
        assert r["compared"] == N and r["mismatches"] == 0, r
        assert r["max_abs_diff"] == 0 and r["first_mismatching_layer"] is None
    ops = {op.name for op in body(m)[0]}
    assert ops <= set(SUPPORTED)


def test_the_models_cover_every_kernel(files):
    seen = set()
    for path, _ in files.values():
        seen |= {op.name for op in read_tflite(path).ops}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "AVERAGE_POOL_2D",
            "MAX_POOL_2D", "MEAN", "RESHAPE", "PAD", "SOFTMAX"} <= seen


def test_a_wrong_kernel_is_found_with_its_layer(files, monkeypatch):
    """The check can fail: an ADD off by a few is found at ADD on every sample (here the coarse
    MEAN after it happens to round the error away, so only the layer check sees it)."""
    import rct_tflm.fixedpoint.tflite.add as g
    from rct_tflm.verify.tflm_reference import compare_graph
    path, shape = files["residual"]
    real_add = g.add
    monkeypatch.setattr(g, "add", lambda *a: np.clip(real_add(*a).astype(np.int16) + 3, -128,
                                                     127).astype(np.int8))
    x = np.random.default_rng(2).integers(-128, 128, (20, *shape), dtype=np.int8)
    r = compare_graph(read_tflite(path), x)
    assert r["first_mismatching_layer"]["name"] == "ADD"
    assert r["first_mismatching_layer"]["samples"] == 20


@pytest.mark.parametrize("mode, msg", [("float", "is a float model"),
                                       ("dynamic", "dynamic-range (hybrid)")])
def test_float_and_hybrid_models_are_refused_with_the_conversion(tmp_path, mode, msg):
    m, shape = models()["kws"]()
    p = tmp_path / f"{mode}.tflite"
    p.write_bytes(convert(m, shape, mode))
    with pytest.raises(UserError, match=re.escape(msg)) as e:
        read_tflite(p)
    assert "TFLITE_BUILTINS_INT8" in str(e.value) and "\n" not in str(e.value)


def test_an_unsupported_op_is_named_with_the_supported_list(tmp_path):
    import tf_keras as K
    i = K.Input((8,))
    m = K.Model(i, K.layers.Dense(4, activation="tanh")(i))
    p = tmp_path / "tanh.tflite"
    p.write_bytes(convert(m, (8,)))
    with pytest.raises(UserError, match="operator TANH is not supported") as e:
        read_tflite(p)
    assert "CONV_2D" in str(e.value)


def test_not_a_tflite_and_a_truncated_one(tmp_path, files):
    p = tmp_path / "x.tflite"
    p.write_bytes(b"PK\x03\x04 not a flatbuffer")
    with pytest.raises(UserError, match="not a TensorFlow Lite flatbuffer"):
        read_tflite(p)
    good = files["kws"][0].read_bytes()
    p.write_bytes(good[:len(good) // 3])
    with pytest.raises(UserError, match="corrupt .tflite"):
        read_tflite(p)


def test_wrong_input_shape_is_one_line(files):
    path, shape = files["kws"]
    with pytest.raises(UserError, match="quantise them"):
        run_plan(lower_tflite(read_tflite(path)), np.zeros((2, 5), np.int8))


QEMU = [pytest.mark.qemu, pytest.mark.slow]


@pytest.mark.parametrize("target, n", [("golden", 500), ("host", 500),
                                       pytest.param("qemu-mps2-an500", 60, marks=QEMU),
                                       pytest.param("qemu-stm32f405", 60, marks=QEMU)])
@pytest.mark.parametrize("name", ["residual", "kws"])
def test_verify_command_on_every_target(capsys, files, tmp_path, target, n, name):
    """`rct-tflm verify`: the numpy plan, the generated C on the host (ASan/UBSan) and on the
    emulated Cortex-M7/M4 all equal tflite-micro, sample for sample."""
    import json
    from conftest import run_cli
    path, _ = files[name]
    code, out, err = run_cli(capsys, "verify", "--model", str(path), "--target", target,
                             "--samples", str(n), "--out", str(tmp_path / target))
    assert code == 0, err
    r = json.loads((tmp_path / target / "verify.json").read_text())
    assert r["compared"] == n and r["mismatches"] == 0 and r["max_abs_diff"] == 0
    if target.startswith("qemu"):
        assert (tmp_path / target / "firmware" / "firmware.elf").is_file()
        assert r["size"]["ram_used"] < r["size"]["ram_total"]
    assert r["format"] == "rct-tflm-verify" and r["arena_bytes"] > 0


def test_the_lowered_plan_equals_tflite_micro_and_keeps_skips_alive(files):
    from rct_tflm.verify.tflm_reference import tflm_tensors
    for path, shape in files.values():
        m = read_tflite(path)
        plan = lower_tflite(m)
        x = np.random.default_rng(3).integers(-128, 128, (30, *shape), dtype=np.int8)
        ref = tflm_tensors(m, x, [body(m)[2]])[body(m)[2]]
        assert np.array_equal(run_plan(plan, x).reshape(30, -1), ref.reshape(30, -1))
        # no two tensors alive at the same call share arena bytes (a RESHAPE is its input)
        from rct_tflm.program.tflite_lower import storage
        root = storage(plan.calls)
        life: dict[int, list[int]] = {}
        for k, c in enumerate(plan.calls):
            for t in [*c.inputs, c.output]:
                r = root.get(t, t)
                if r in plan.offsets:
                    span = life.setdefault(r, [k, k])
                    span[0], span[1] = min(span[0], k), max(span[1], k)
        size = {t: int(np.prod(plan.shapes[t])) for t in life}
        for a in life:
            for b in life:
                if a < b and not (life[a][1] < life[b][0] or life[b][1] < life[a][0]):
                    oa, ob = plan.offsets[a], plan.offsets[b]
                    assert oa + size[a] <= ob or ob + size[b] <= oa, (path.name, a, b)
        assert max(plan.offsets[t] + size[t] for t in life) <= plan.arena_bytes


def test_verify_refuses_data_of_another_shape(capsys, files, tmp_path):
    from conftest import run_cli
    code, _, err = run_cli(capsys, "verify", "--model", str(files["kws"][0]), "--data",
                           "digits", "--out", str(tmp_path / "v"))
    assert code == 2 and "shaped like its input" in err


@pytest.mark.parametrize("cmd", ["train", "build"])
def test_train_and_build_name_a_tflite_instead_of_calling_it_corrupt(capsys, files, tmp_path,
                                                                     cmd):
    from conftest import run_cli
    code, _, err = run_cli(capsys, cmd, "--model", str(files["kws"][0]), "--out",
                           str(tmp_path / cmd))
    assert code == 2 and "is a .tflite model" in err and "BadZipFile" not in err
    assert "rct-tflm partition --model" in err
    assert len(err.strip().splitlines()) == 1
