"""Energy and memory model (rct_tflm.energy): anchors, MAC counts, trajectories. No TensorFlow."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rct_tflm import energy as E
from rct_tflm.artefact import Layer, ModelArtefact
from rct_tflm.errors import UserError
from rct_tflm.fixedpoint import QTensor


def q(shape, bits=8):
    return QTensor(np.zeros(shape, np.int32), -7, bits)


def mlp(bits=8) -> ModelArtefact:
    layers = [Layer("d1", "dense", {"units": 32, "activation": "relu"}, (64,), (32,),
                    {"kernel": "d1/kernel", "bias": "d1/bias"}),
              Layer("d2", "dense", {"units": 10, "activation": "linear"}, (32,), (10,),
                    {"kernel": "d2/kernel", "bias": "d2/bias"})]
    tensors = {"d1/kernel": q((64, 32), bits), "d1/bias": q((32,), bits),
               "d2/kernel": q((32, 10), bits), "d2/bias": q((10,), bits)}
    return ModelArtefact(layers, tensors, (64,), 10)


N_MLP = 64 * 32 + 32 + 32 * 10 + 10  # 2410
M1, M2 = 64 * 32, 32 * 10


# -- per-operation energies at Horowitz's anchor points -------------------------------------
def test_anchor_energies():
    assert E.int_mult_pj(8, 8) == pytest.approx(0.2)
    assert E.int_mult_pj(32, 32) == pytest.approx(3.2)
    assert abs(E.int_mult_pj(32, 32) / E.INT32_MULT_PJ - 1) < 0.05  # stated: +3.2%
    assert E.int_mult_pj(16, 8) == pytest.approx(0.4)
    assert E.int_add_pj(32) == pytest.approx(0.1)
    assert E.int_add_pj(8) == pytest.approx(0.025)
    assert E.int_mac_pj(8, 8) == pytest.approx(0.3)
    assert E.FP32_MAC_PJ == pytest.approx(4.6)
    assert E.SRAM_READ_PJ_PER_BIT == pytest.approx(10 / 64)


# -- MAC counts -----------------------------------------------------------------------------
@pytest.mark.parametrize("layer,macs", [
    (Layer("d", "dense", {"units": 32}, (64,), (32,)), 64 * 32),
    (Layer("d", "dense", {"units": 4}, (20, 16), (20, 4)), 20 * 16 * 4),
    (Layer("c", "conv2d", {"filters": 8, "kernel_size": [3, 3]}, (28, 28, 1), (26, 26, 8)),
     26 * 26 * 3 * 3 * 1 * 8),
    (Layer("c", "conv2d", {"filters": 16, "kernel_size": [5, 3]}, (12, 12, 8), (8, 10, 16)),
     8 * 10 * 5 * 3 * 8 * 16),
    (Layer("dw", "depthwise_conv2d", {"kernel_size": [3, 3], "depth_multiplier": 2},
           (10, 10, 4), (8, 8, 8)), 8 * 8 * 3 * 3 * 4 * 2),
    (Layer("c1", "conv1d", {"filters": 4, "kernel_size": [3]}, (20, 16), (18, 4)),
     18 * 3 * 16 * 4),
    (Layer("c1", "conv1d", {"filters": 4, "kernel_size": 5}, (20, 16), (16, 4)),
     16 * 5 * 16 * 4),
    (Layer("e", "embedding", {"input_dim": 100, "output_dim": 8}, (20,), (20, 8)), 0),
    (Layer("p", "maxpool2d", {"pool_size": [2, 2]}, (26, 26, 8), (13, 13, 8)), 0),
    (Layer("g", "gap1d", {}, (20, 8), (8,)), 0),
])
def test_layer_macs(layer, macs):
    assert E.layer_macs(layer) == macs


# -- GEMM energy ----------------------------------------------------------------------------
def test_gemm_energy_fp32_skips_first_backward_input():
    r = E.run_costs(mlp(), "fp32", [], 10, 32)
    # d1: forward + backward-weight (its input gradient is not needed); d2: all three GEMMs
    assert r["gemm_energy_pj_per_step"] == pytest.approx(32 * (2 * M1 + 3 * M2) * 4.6)
    assert r["gemm_energy_breakdown"]["d1"]["backward_input"] == 0.0
    assert r["gemm_energy_breakdown"]["d2"]["backward_input"] == pytest.approx(32 * M2 * 4.6)


def test_gemm_energy_qat_int8_forward_float_backward():
    r = E.run_costs(mlp(), "qat", [], 10, 4)
    want = 4 * ((M1 + M2) * 0.3 + (M1 + 2 * M2) * 4.6)
    assert r["gemm_energy_pj_per_step"] == pytest.approx(want)


def test_gemm_energy_rct_uses_weight_act_and_error_bits():
    h = [{"step": 0, "sample": 0, "bits": {"d1/kernel": 12, "d2/kernel": 8}}]
    r = E.run_costs(mlp(), "rct", h, 10, 2, act_bits=8, err_bits=16)
    d1 = 2 * M1 * (E.int_mac_pj(12, 8) + E.int_mac_pj(16, 8))
    d2 = 2 * M2 * (E.int_mac_pj(8, 8) + E.int_mac_pj(8, 16) + E.int_mac_pj(16, 8))
    assert r["gemm_energy_breakdown"]["d1"]["forward"] == pytest.approx(2 * M1 * 0.2 * 1.5 + 2 * M1 * 0.1)
    assert r["gemm_energy_pj_per_step"] == pytest.approx(d1 + d2)


def test_rct_trajectory_is_time_weighted():
    a = mlp()
    h = [{"step": 0, "sample": 0, "bits": {"d1/kernel": 8}},
         {"step": 25, "sample": 800, "bits": {"d1/kernel": 16}}]
    r = E.run_costs(a, "rct", h, 100, 1)
    fwd = M1 * (0.25 * E.int_mac_pj(8, 8) + 0.75 * E.int_mac_pj(16, 8))
    assert r["gemm_energy_breakdown"]["d1"]["forward"] == pytest.approx(fwd)
    n1 = 64 * 32
    assert r["mean_bits"] == pytest.approx((N_MLP * 8 + 0.75 * n1 * 8) / N_MLP)


def test_history_past_the_run_is_ignored():
    h = [{"step": 0, "sample": 0, "bits": {}},
         {"step": 500, "sample": 0, "bits": {"d1/kernel": 16}}]
    r = E.run_costs(mlp(), "rct", h, 100, 1)
    assert r["param_memory_bits_peak"] == 8 * N_MLP
    assert r["mean_bits"] == pytest.approx(8.0)


def test_embedding_first_then_conv1d_needs_input_gradient():
    layers = [Layer("e", "embedding", {"input_dim": 50, "output_dim": 8}, (20,), (20, 8),
                    {"embeddings": "e/emb"}),
              Layer("c", "conv1d", {"filters": 4, "kernel_size": [3]}, (20, 8), (18, 4),
                    {"kernel": "c/kernel", "bias": "c/bias"}),
              Layer("g", "gap1d", {}, (18, 4), (4,)),
              Layer("d", "dense", {"units": 2}, (4,), (2,), {"kernel": "d/kernel", "bias": "d/bias"})]
    a = ModelArtefact(layers, {"e/emb": q((50, 8)), "c/kernel": q((3, 8, 4)), "c/bias": q((4,)),
                               "d/kernel": q((4, 2)), "d/bias": q((2,))}, (20,), 2)
    r = E.run_costs(a, "fp32", [], 1, 1)
    assert "e" not in r["gemm_energy_breakdown"]  # lookups are not GEMMs
    assert r["gemm_energy_breakdown"]["c"]["backward_input"] == pytest.approx(18 * 3 * 8 * 4 * 4.6)
    assert r["param_count"] == 50 * 8 + 3 * 8 * 4 + 4 + 4 * 2 + 2  # embeddings and biases count


def test_frozen_prefix_has_no_backward():
    a = mlp()
    a.trainable = {"d2/kernel", "d2/bias"}
    r = E.run_costs(a, "fp32", [], 1, 1)
    b = r["gemm_energy_breakdown"]
    assert b["d1"]["backward_weight"] == 0 and b["d1"]["backward_input"] == 0
    assert b["d2"]["backward_input"] == 0  # nothing trainable upstream of d2
    assert b["d2"]["backward_weight"] == pytest.approx(M2 * 4.6)


# -- parameter memory -----------------------------------------------------------------------
def test_memory_fp32_and_qat():
    f = E.run_costs(mlp(), "fp32", [], 5, 8)
    assert f["param_count"] == N_MLP
    assert f["param_memory_bits_peak"] == f["param_memory_bits_final"] == 32 * N_MLP
    assert f["param_memory_bits_peak_packed"] == 32 * N_MLP
    qa = E.run_costs(mlp(), "qat", [], 5, 8)
    assert qa["param_memory_bits_peak"] == qa["param_memory_bits_peak_packed"] == 40 * N_MLP
    # tfmot holds fp32 weights + per-tensor min/max (dense) + activation min/max + counters
    assert qa["param_memory_bits_tfmot_actual"] == 32 * N_MLP + 32 * (2 + 2 * 4) + 32 * 3


def test_memory_tfmot_counted_from_model():
    class V:
        def __init__(self, shape, dtype):
            self.shape, self.dtype = shape, np.dtype(dtype)

    class M:
        weights = [V((64, 32), "float32"), V((), "float32"), V((), "int64")]

    r = E.run_costs(mlp(), "qat", [], 5, 8, tfmot_model=M())
    assert r["param_memory_bits_tfmot_actual"] == 64 * 32 * 32 + 32 + 64
    assert "counted" in r["param_memory_tfmot_source"]


def test_memory_rct_peak_vs_final_containers_vs_packed():
    n1k, n1b, n2k, n2b = 64 * 32, 32, 32 * 10, 10
    h = [{"step": 0, "sample": 0, "bits": {"d1/kernel": 6, "d1/bias": 8, "d2/kernel": 7,
                                           "d2/bias": 8}},
         {"step": 10, "sample": 320, "bits": {"d1/kernel": 10}},  # int16 container
         {"step": 20, "sample": 640, "bits": {"d1/kernel": 7, "d2/kernel": 9}}]
    r = E.run_costs(mlp(), "rct", h, 40, 32)
    assert r["param_memory_bits_peak"] == 16 * n1k + 8 * n1b + 8 * n2k + 8 * n2b
    assert r["param_memory_bits_final"] == 8 * n1k + 8 * n1b + 16 * n2k + 8 * n2b
    assert r["param_memory_bits_peak_packed"] == 10 * n1k + 8 * n1b + 7 * n2k + 8 * n2b
    assert r["param_memory_bits_final_packed"] == 7 * n1k + 8 * n1b + 9 * n2k + 8 * n2b
    assert r["param_memory_bits_tfmot_actual"] is None


def test_rct_empty_history_uses_artefact_bits():
    r = E.run_costs(mlp(bits=6), "rct", [], 10, 1)
    assert r["param_memory_bits_peak_packed"] == 6 * N_MLP
    assert r["param_memory_bits_peak"] == 8 * N_MLP


# -- parameter movement ---------------------------------------------------------------------
def test_movement_per_method():
    n_k, n_b = 64 * 32 + 32 * 10, 32 + 10
    f = E.run_costs(mlp(), "fp32", [], 1, 1)
    # fwd read all; backward-input read of d2's kernel; update read+write all
    reads = 32 * (2 * (n_k + n_b) + 32 * 10)
    writes = 32 * (n_k + n_b)
    assert f["param_movement_bits_per_step"] == {"read": reads, "write": writes}
    assert f["param_movement_pj_per_step"] == pytest.approx((reads + writes) * 10 / 64)
    qa = E.run_costs(mlp(), "qat", [], 1, 1)
    reads_q = (32 + 8 + 32) * (n_k + n_b) + 8 * 32 * 10
    writes_q = (8 + 32) * (n_k + n_b)
    assert qa["param_movement_bits_per_step"] == {"read": reads_q, "write": writes_q}
    h = [{"step": 0, "sample": 0, "bits": {"d1/kernel": 6, "d1/bias": 6, "d2/kernel": 12,
                                           "d2/bias": 6}}]
    r = E.run_costs(mlp(), "rct", h, 1, 1)
    # containers: int8 for 6 bits, int16 for 12 bits
    reads_r = 8 * 2 * (64 * 32 + 32 + 10) + 16 * 3 * (32 * 10)  # d1 has no backward-input
    writes_r = 8 * (64 * 32 + 32 + 10) + 16 * 32 * 10
    assert r["param_movement_bits_per_step"] == {"read": reads_r, "write": writes_r}
    reads_p = 6 * 2 * (64 * 32 + 32 + 10) + 12 * 3 * 320
    writes_p = 6 * (64 * 32 + 32 + 10) + 12 * 320
    assert r["param_movement_pj_per_step_packed"] == pytest.approx((reads_p + writes_p) * 10 / 64)
    assert r["param_movement_pj_per_step"] < qa["param_movement_pj_per_step"]


# -- bad input ------------------------------------------------------------------------------
def test_bad_inputs():
    with pytest.raises(UserError, match="unknown method"):
        E.run_costs(mlp(), "int4", [], 1, 1)
    with pytest.raises(UserError, match="batch_size"):
        E.run_costs(mlp(), "fp32", [], 1, 0)
    with pytest.raises(UserError, match="1..32"):
        E.run_costs(mlp(), "rct", [{"step": 0, "sample": 0, "bits": {"d1/kernel": 40}}], 1, 1)


def test_result_is_json_able():
    import json
    r = E.run_costs(mlp(), "qat", [], 3, 2)
    back = json.loads(json.dumps(r))
    assert back["constants"]["qat_paper_bits_per_param"] == 40
    assert math.isclose(back["gemm_energy_pj_per_step"], r["gemm_energy_pj_per_step"])
