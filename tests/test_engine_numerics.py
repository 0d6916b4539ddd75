"""Golden engine: the per-layer accumulator policy (and its table in docs/numerics.md), the
checks of lower(), and the float reference's agreement with the integer forward."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from rct_tflm.artefact import Layer
from rct_tflm.codegen import generate
from rct_tflm.emulator.floatref import (calibrate_act_exps, float_forward, mlp_artefact,
                                        quantise_artefact)
from rct_tflm.errors import UserError
from rct_tflm.fixedpoint.config import EngineConfig, quantise_inputs
from rct_tflm.program import Engine, lower
from rct_tflm.fixedpoint.kernels import ACC32, ACC64, max_safe_bits, needs_int64

NUMERICS = Path(__file__).resolve().parents[1] / "docs" / "numerics.md"


def mlp(sizes: list[int], seed: int = 0):
    """An 8-bit MLP with act_exp calibrated on uniform [0, 1) inputs."""
    art = mlp_artefact(sizes, seed=seed)
    calibrate_act_exps(art, np.random.default_rng(seed).random((64, sizes[0])), 2)
    return quantise_artefact(art)


def test_docs_table_of_int32_safe_fan_in_is_true():
    text = NUMERICS.read_text()
    rows = re.findall(r"^\| (\d+) \| ([\d,]+) \|$", text, flags=re.M)
    assert len(rows) == 9, "the fan-in table of docs/numerics.md is missing rows"
    for bits, fan in rows:
        bits, fan = int(bits), int(fan.replace(",", ""))
        assert not needs_int64(fan, bits) and needs_int64(fan + 1, bits), (bits, fan)
        assert max_safe_bits(fan) >= bits and max_safe_bits(fan + 1) < bits


def test_784_fan_in_layer_at_16_bits_gets_int64(tmp_path):
    art = mlp([784, 16, 10], seed=1)
    m = lower(art, EngineConfig())
    assert m.layers[0].fan_in == 784 and m.layers[0].acc == ACC64
    assert m.layers[1].fan_in == 16 and m.layers[1].acc == ACC32
    assert m.bits_max["dense0/kernel"] == 16
    generate(art, tmp_path / "g", EngineConfig())
    src = (tmp_path / "g" / "rct_model.c").read_text()
    fwd = src[src.index("/* dense0 (dense)"):src.index("/* dense1 (dense)")]
    assert "RCT_ACC64" in fwd
    assert '"dense0": "int64"' in (tmp_path / "g" / "rct_generated.json").read_text()


def test_784_fan_in_layer_under_cap_policy_is_capped_at_15_bits():
    art = mlp([784, 16, 10], seed=1)
    m = lower(art, EngineConfig(acc_policy="cap"))
    assert m.layers[0].acc == ACC32
    assert m.bits_max["dense0/kernel"] == 15 and m.bits_max["dense0/bias"] == 16
    eng = Engine(m, EngineConfig(acc_policy="cap"))
    assert eng.ctrl._acc["dense0/kernel"].bits_max == 15  # the controller never grows past it


def test_fan_in_512_is_the_16_bit_limit():
    assert not needs_int64(511, 16) and needs_int64(512, 16)
    assert not needs_int64(1023, 15) and needs_int64(1024, 15)


def conv1d_artefact():
    art = mlp([8, 4, 3])
    l = Layer("c1d", "conv1d", {"filters": 2, "kernel_size": 3, "strides": 1, "padding": "same",
                                "activation": "relu"}, (8, 1), (8, 2), {})
    art.layers.insert(0, l)
    return art


def test_unsupported_layer_is_named_with_the_supported_list():
    with pytest.raises(UserError, match=r"layer c1d: kind 'conv1d' is not supported") as e:
        lower(conv1d_artefact(), EngineConfig())
    named = str(e.value).split("supported: ")[1].split(", ")
    assert {"dense", "conv2d", "depthwise_conv2d", "maxpool2d", "flatten"} <= set(named)


@pytest.mark.parametrize("kw, msg", [
    ({"trainable_layers": 5}, r"--trainable-layers must be in 1\.\.2"),
    ({"frozen_layers": 2}, r"--frozen-layers must be in 0\.\.1"),
    ({"trainable_layers": 1, "frozen_layers": 1}, "not both"),
])
def test_bad_trainable_selection(kw, msg):
    art = mlp([8, 4, 3])
    with pytest.raises(UserError, match=msg):
        lower(art, EngineConfig(), **kw)


def test_bad_engine_settings():
    with pytest.raises(UserError, match=r"learning rate 2\^-40 is outside 2\^-30 .. 1 \(--lr\)"):
        EngineConfig(lr_shift=40)
    with pytest.raises(UserError, match="accumulator policy"):
        EngineConfig(acc_policy="float")


def test_frozen_prefix_and_trainable_suffix():
    art = mlp([8, 6, 5, 3])
    m = lower(art, EngineConfig(), trainable_layers=1)
    assert m.trainable == ["dense2/kernel", "dense2/bias"] and m.first_trainable == 2
    assert not any(o.needs_dx for o in m.layers[:3])
    m = lower(art, EngineConfig(), frozen_layers=1)
    assert m.trainable[0] == "dense1/kernel" and [o.needs_dx for o in m.layers] == [False, False, True]


def test_tiny_cnn_integer_forward_tracks_the_float_reference(digits):
    """floatref (used to calibrate exponents and as the FP32 baseline) computes the same
    functions as the integer kernels: conv, depthwise (channel order ci*dm+m), pools, relu6."""
    from rct_tflm.emulator import zoo
    art = zoo.build("tiny_cnn", digits, headroom=0, logits_headroom=0, quantise=False)
    q = quantise_artefact(art, 8)
    x = digits.x_test[:64]
    f = float_forward(q, x)[-1]  # float maths on the same 8-bit weights
    eng = Engine.from_artefact(q, EngineConfig())
    z = eng.logits(quantise_inputs(x.reshape(64, -1), art.preprocess["input_exp"]))
    zi = z.astype(np.float64) * 2.0 ** eng.program.output_exp
    err = np.abs(zi - f).max()
    assert err < 0.25 * np.abs(f).max(), err  # rounding of 8-bit activations only
    assert np.corrcoef(zi.ravel(), f.ravel())[0, 1] > 0.98


def test_quantise_inputs_rounds_and_saturates():
    x = np.array([0.0, 0.5, 1.0, -2.0, 0.00390625])
    assert quantise_inputs(x, -7).tolist() == [0, 64, 127, -128, 1]
