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
    assert set(kinds.supported()) == {"add", "dense", "conv2d", "depthwise_conv2d", "maxpool2d",
                                      "avgpool2d", "gap1d", "gap2d", "relu", "relu6", "flatten",
                                      "dropout", "reshape", "zeropad2d", "tflite_frozen"}
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


def _graph(spec: list, digits) -> "object":
    from rct_tflm.emulator.floatref import calibrate_act_exps, quantise_artefact, \
        sequential_artefact
    art = sequential_artefact(digits.input_shape, spec, 0, int(digits.preprocess["input_exp"]))
    art.preprocess = dict(digits.preprocess)
    calibrate_act_exps(art, digits.x_train[:64], 3, 5)
    return quantise_artefact(art, 8)


def test_residual_backward_sums_the_skip_error_and_keeps_the_skip_alive(digits):
    """resnet_tiny: the Add's error reaches both producers; the skip's waits with its exponent
    in a register until the branch's error reaches the same tensor, then err_add sums them;
    the skip's activation lives until the backward of its last reader."""
    from rct_tflm.emulator import zoo
    art = zoo.build("resnet_tiny", digits, seed=3)
    p = lower(art, EngineConfig())
    idx = {f.name: f.index for f in p.layers}
    adds = [c for c in p.backward if c.kernel == "err_add"]
    assert [c.layer for c in adds] == ["b2_conv1", "b1_conv1"]  # where each branch ends
    for c in adds:
        saved = [s for s in p.backward if s.kernel == "save_error" and s.args["reg"] ==
                 c.args["reg"]]
        assert len(saved) == 1 and saved[0].step < c.step
    # the sum at conv0's output is what conv0's backward masks with its ReLU
    relu0 = next(c for c in p.backward if c.kernel == "relu_backward" and c.layer == "conv0")
    assert relu0.buffers["dy"] == adds[-1].buffers["dx"]
    # a waiting error's exponent is reloaded before the branch that consumes it runs
    load = next(c for c in p.backward if c.kernel == "load_error")
    assert load.layer == "b2_conv2"
    spans = {b.name: (b.first, b.last) for b in p.buffers}
    bwd = {f.name: 2 * len(p.layers) - f.index for f in p.layers}
    assert spans["act0"] == (0, bwd["conv0"])  # conv0's output: read by b1_conv1 and b1_add
    assert spans["act3"][1] == bwd["b1_relu"]  # b1_relu's output: read by b2_conv1 and b2_proj
    assert idx["b2_proj"] > idx["b2_conv2"]
    assert "r_err0" in {c.args.get("reg") for c in p.backward}


def test_an_error_shared_by_two_branches_is_copied_before_one_masks_it_in_place(digits, tmp_path,
                                                                             capsys):
    from conftest import emulate_golden_and_host, require_tools
    require_tools("gcc")
    """Add(relu-conv(x), relu-conv(x)): the first branch's backward masks its ReLU on the Add's
    error in place, so the other branch's (the same buffer) is copied first; the golden engine
    and the C build then see two distinct buffers."""
    conv = {"filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"}
    art = _graph([("c0", "conv2d", {**conv, "activation": "linear"}),
                  ("a", "conv2d", conv), ("b", "conv2d", conv, ["c0"]),
                  ("add", "add", {}, ["a", "b"]), ("flat", "flatten", {}),
                  ("logits", "dense", {"units": 10})], digits)
    p = lower(art, EngineConfig())
    copy = next(c for c in p.backward if c.kernel == "copy_error")
    mask_b = next(c for c in p.backward if c.kernel == "relu_backward" and c.layer == "b")
    mask_a = next(c for c in p.backward if c.kernel == "relu_backward" and c.layer == "a")
    assert copy.step == mask_b.step and copy.buffers["src"] == mask_b.buffers["dy"]
    assert mask_a.buffers["dy"] == copy.buffers["dst"] != mask_b.buffers["dy"]
    assert [c.layer for c in p.backward if c.kernel == "err_add"] == ["a"]
    path = tmp_path / "twin.rct"
    art.save(path)
    g, h = emulate_golden_and_host(capsys, tmp_path, "--model", str(path), "--data", "digits",
                                   "--epochs", "1", "--seed", "5", "--batch-size", "2",
                                   "--max-samples", "120", "--eval-every", "120")
    assert h["weights_sha256"] == g["weights_sha256"]


def test_graph_lowering_refuses_a_dangling_branch(digits):
    import pytest
    from rct_tflm.errors import UserError
    dense = {"units": 10}
    art = _graph([("flat", "flatten", {}), ("side", "dense", dense), ("logits", "dense", dense,
                                                                      ["flat"])], digits)
    with pytest.raises(UserError, match="side is read by no layer"):
        lower(art, EngineConfig())
