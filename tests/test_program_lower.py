"""lower(): the program of the 64-32-10 MLP and of CNNs, call by call; kinds come from the
registry (one module each); the golden engine runs exactly the program's calls."""
from __future__ import annotations

import numpy as np

from rct_tflm.fixedpoint.config import EngineConfig
from rct_tflm.program import INPUT, Engine, kinds, lower
from test_codegen_memory_plan import random_chain


def test_mlp_program_calls_in_order(digits_mlp_artefact):
    p = lower(digits_mlp_artefact, EngineConfig())
    names = [f.name for f in p.layers]
    assert [(c.kernel, c.layer, c.step) for c in p.calls()] == [
        ("dense_forward", names[0], 0), ("dense_forward", names[1], 1),
        ("softmax_ce", None, 2),
        ("dense_backward_input", names[1], 3), ("dense_backward_update", names[1], 3),
        ("bias_backward_update", names[1], 3), ("take_error", names[1], 3),
        ("relu_backward", names[0], 4), ("dense_backward_update", names[0], 4),
        ("bias_backward_update", names[0], 4)]
    first = p.forward[0]
    assert first.buffers == {"x": INPUT, "y": "act0"} and first.macs == 64 * 32
    assert p.loss.buffers == {"logits": "act1", "dz": "err_logits"}
    assert p.trainable == [t.name for t in p.table] and len(p.trainable) == 4
    assert {b.name: (b.first, b.last) for b in p.buffers} == {
        "act0": (0, 4), "act1": (1, 2), "err_logits": (2, 3), "err1": (3, 4),
        **{"w_" + t.replace("/", "_"): (0, 4) for t in p.trainable}}


def test_registry_holds_every_kind_once():
    assert set(kinds.supported()) == {"dense", "conv2d", "depthwise_conv2d", "maxpool2d",
                                      "avgpool2d", "gap1d", "gap2d", "relu", "relu6", "flatten",
                                      "dropout", "reshape", "zeropad2d"}
    for k in kinds.supported():
        mod = kinds.kind(k)
        assert all(callable(getattr(mod, fn)) for fn in ("shape", "forward", "backward"))


def test_every_call_has_a_numpy_and_a_c_kernel():
    art = random_chain(["conv", "maxpool", "dw", "avgpool", "relu6", "conv", "maxpool"], [8], 2)
    p = lower(art, EngineConfig(max_batch=2), trainable_layers=5)
    used = {c.kernel for c in p.calls()}
    assert {"conv2d_backward_input", "depthwise_conv2d_backward_update", "maxpool2d_backward",
            "avgpool2d_backward", "relu_forward"} <= used
    from rct_tflm.profile.program import KINDS, kind_of
    for k in used:
        kern = kinds.kernel(k)
        assert kern.run and kern.c
        if kern.c_function:  # the profiler files each called function under a known category
            assert kind_of(kern.c_function) == kern.role and kern.role in KINDS


def test_maxpool_after_a_relu_conv_applies_its_mask():
    art = random_chain(["conv", "maxpool"], [], 0)
    p = lower(art, EngineConfig(), trainable_layers=2)
    pool = next(c for c in p.backward if c.kernel == "maxpool2d_backward")
    assert pool.buffers["mask_y"] == "act1"  # the pool's own output
    conv = p.layers[0].name
    assert not any(c.kernel == "relu_backward" and c.layer == conv for c in p.backward)


def test_golden_engine_runs_the_program_calls(digits_mlp_artefact, monkeypatch):
    p = lower(digits_mlp_artefact, EngineConfig())
    eng = Engine(p, EngineConfig())
    ran = []
    real = kinds.kernel

    def spy(name):
        ran.append(name)
        return real(name)

    monkeypatch.setattr(kinds, "kernel", spy)
    x = np.zeros((1, p.input_size), np.int8)
    eng.train_step(x, np.array([3]))
    assert ran == [c.kernel for c in p.calls()]
