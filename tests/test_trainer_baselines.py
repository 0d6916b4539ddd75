"""FP32 and QAT baselines: tf_keras models, tfmot's QAT, same initial weights as RCT."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from rct_tflm.energy import tfmot_state_bits  # noqa: E402
from rct_tflm.trainer.baselines import keras_from_artefact, train_baseline  # noqa: E402
from rct_tflm.trainer.runner import TrainConfig, prepare  # noqa: E402
from rct_tflm.trainer.trainer import RCTConfig  # noqa: E402

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def prep():
    return prepare(TrainConfig(model="builtin:mlp", data="digits", seed=0))


def test_rebuilt_model_starts_from_the_imported_weights(prep):
    import tf_keras as k

    m = keras_from_artefact(prep.art)
    assert isinstance(m, k.Model)
    for l in prep.art.layers:
        if l.params:
            kern, bias = m.get_layer(l.name).get_weights()
            np.testing.assert_array_equal(kern, prep.art.tensors[l.params["kernel"]])
            np.testing.assert_array_equal(bias, prep.art.tensors[l.params["bias"]])


def test_fp32_baseline_trains(prep):
    art, hist, model = train_baseline("fp32", prep.art, prep.data, RCTConfig(lr=0.1, epochs=3))
    assert hist["test_accuracy_curve"][-1] > 0.75
    assert hist["train_loss_curve"][-1] < hist["train_loss_curve"][0]
    assert hist["steps"] == 3 * 45 and hist["bitwidth_history"] == []
    assert all(a.dtype == np.float32 for a in art.tensors.values())
    assert not any("quant" in type(l).__name__.lower() for l in model.layers)
    # Training moved the weights away from the shared initial ones.
    n = prep.art.layers[1].params["kernel"]
    assert not np.array_equal(art.tensors[n], prep.art.tensors[n])


def test_qat_baseline_uses_tfmot_on_a_tf_keras_model(prep):
    import tensorflow_model_optimization as tfmot
    import tf_keras as k

    art, hist, model = train_baseline("qat", prep.art, prep.data, RCTConfig(lr=0.1, epochs=2))
    assert isinstance(model, k.Model)
    wrapped = [l for l in model.layers if isinstance(l, tfmot.quantization.keras.QuantizeWrapperV2)]
    assert {w.layer.name for w in wrapped} >= {"dense1", "logits"}
    assert hist["qat_float_layers"] == [] and hist["qat_scheme"] == "tfmot default 8-bit"
    assert hist["test_accuracy_curve"][-1] > 0.7
    # The float master weights come back as the artefact; tfmot holds more than FP32 alone.
    assert set(art.tensors) == set(prep.art.tensors)
    n_params = sum(a.size for a in art.tensors.values())
    assert tfmot_state_bits(model) > 32 * n_params


def test_qat_leaves_unsupported_layers_in_float(sms_path):
    """tfmot has no 8-bit scheme for Embedding: partial quantisation, the layer is listed."""
    p = prepare(TrainConfig(model="builtin:text", data=f"sms:{sms_path}", seed=0))
    _, hist, _ = train_baseline("qat", p.art, p.data, RCTConfig(lr=0.5, epochs=1))
    assert "embedding" in hist["qat_float_layers"]
    assert "partial" in hist["qat_scheme"]
