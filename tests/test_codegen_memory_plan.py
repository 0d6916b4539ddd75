"""The static memory plan: live buffers never share bytes, sharing saves RAM, the 64-32-10 MLP
trains in under 8 KB, and the generated code only touches buffers inside their lifetimes."""
from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from rct_tflm.codegen.layout import build_layout
from rct_tflm.codegen.plan import Buffer, check_plan, plan_arena
from rct_tflm.emulator.floatref import sequential_artefact
from rct_tflm.fixedpoint.config import EngineConfig
from rct_tflm.program import INPUT, lower


def overlapping_live_pairs(bufs: list[Buffer]) -> list[tuple[str, str]]:
    """Independent of check_plan: pairs alive at the same step whose byte ranges intersect."""
    bad = []
    for i, a in enumerate(bufs):
        for b in bufs[i + 1:]:
            if a.size == 0 or b.size == 0:
                continue
            live = a.first <= b.last and b.first <= a.last
            space = a.offset < b.offset + b.size and b.offset < a.offset + a.size
            if live and space:
                bad.append((a.name, b.name))
    return bad


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4096), st.integers(0, 30), st.integers(0, 30),
                          st.sampled_from([1, 2, 4, 8])), min_size=1, max_size=25))
def test_plan_arena_random_buffers_never_overlap(spec):
    bufs = [Buffer(f"b{i}", size, min(a, b), max(a, b), align)
            for i, (size, a, b, align) in enumerate(spec)]
    arena = plan_arena(bufs)
    check_plan(bufs, arena)
    assert overlapping_live_pairs(bufs) == []
    assert all(b.offset % b.align == 0 and b.offset + b.size <= arena for b in bufs)
    assert arena <= sum(b.size + b.align for b in bufs) + 8  # never worse than stacking all


def test_plan_arena_reuses_space_of_dead_buffers():
    bufs = [Buffer("a", 100, 0, 1), Buffer("b", 100, 2, 3), Buffer("c", 50, 1, 2)]
    arena = plan_arena(bufs)
    assert overlapping_live_pairs(bufs) == []
    assert arena < 250  # a and b never live together: they share bytes


LAYERS = st.sampled_from(["conv", "dw", "maxpool", "avgpool", "relu", "relu6"])


def random_chain(draw_kinds: list[str], hidden: list[int], seed: int):
    """A valid sequential model: a conv part on 8x8xC, then flatten and a dense part."""
    specs, h = [], 8
    for i, k in enumerate(draw_kinds):
        if k == "conv":
            specs.append((f"c{i}", "conv2d", {"filters": 3 + i % 3, "kernel_size": 3,
                                              "padding": "same", "activation": "relu"}))
        elif k == "dw":
            specs.append((f"d{i}", "depthwise_conv2d", {"kernel_size": 3, "padding": "same",
                                                        "depth_multiplier": 1 + i % 2,
                                                        "activation": "relu6"}))
        elif k in ("maxpool", "avgpool") and h >= 4:
            specs.append((f"p{i}", f"{k}2d", {"pool_size": 2}))
            h //= 2
        elif k in ("relu", "relu6"):
            specs.append((f"r{i}", k, {}))
    specs.append(("flat", "flatten", {}))
    for j, u in enumerate(hidden):
        specs.append((f"h{j}", "dense", {"units": u, "activation": "relu"}))
    specs.append(("out", "dense", {"units": 10}))
    art = sequential_artefact((8, 8, 2), specs, seed=seed)
    for k, l in enumerate(art.layers):
        l.act_exp = -4 - k % 3
    return art


@settings(max_examples=60, deadline=None)
@given(st.lists(LAYERS, max_size=6), st.lists(st.integers(4, 40), max_size=3),
       st.integers(1, 4), st.data())
def test_layout_of_random_chains(kinds, hidden, max_batch, data):
    art = random_chain(kinds, hidden, 0)
    n_param = sum(1 for l in art.layers if l.params)
    k = data.draw(st.integers(1, n_param))
    m = lower(art, EngineConfig(max_batch=max_batch), trainable_layers=k)
    lay = build_layout(m)
    check_plan(lay.buffers, lay.arena_size)
    assert overlapping_live_pairs(lay.buffers) == []
    unshared = sum(b.size for b in lay.buffers)
    assert lay.arena_size <= unshared + 8 * len(lay.buffers)  # alignment padding at most
    # every buffer a call reads or writes is live at that call's step; the steps follow the
    # schedule (forward of layer i = i, loss = L, backward of layer i = 2L - i)
    L = len(m.layers)
    by = {b.name: b for b in lay.buffers}
    index = {f.name: f.index for f in m.layers}
    for c in m.calls():
        want = L if c.layer is None else (index[c.layer] if c in m.forward else 2 * L - index[c.layer])
        assert c.step == want, (c.kernel, c.layer)
        for name in c.buffers.values():
            if name not in (None, INPUT):
                assert by[name].first <= c.step <= by[name].last, (c.kernel, c.layer, name)
    # the weight update reads the layer's input: it stays live until that layer's backward
    for c in m.backward:
        if c.kernel.endswith("_backward_update") and c.buffers.get("x") not in (None, INPUT):
            assert by[c.buffers["x"]].last >= c.step


def test_sharing_beats_unshared_on_a_deep_chain():
    art = random_chain(["conv", "dw", "maxpool", "conv", "avgpool"], [32, 16], 1)
    m = lower(art, EngineConfig(), trainable_layers=2)
    lay = build_layout(m)
    unshared = sum(b.size for b in lay.buffers)
    assert lay.arena_size < unshared


def test_mlp_64_32_10_training_step_under_8_kb(tmp_path, digits_mlp_artefact):
    from rct_tflm.codegen import generate
    rep = generate(digits_mlp_artefact, tmp_path / "gen", EngineConfig())
    on_disk = json.loads((tmp_path / "gen" / "memory.json").read_text())
    assert on_disk["ram"]["total"] == rep["ram"]["total"]
    assert rep["ram"]["total"] < 8 * 1024, rep["ram"]
    assert rep["ram"]["arena"] <= rep["ram"]["unshared"] - rep["ram"]["state"]
    # the trainable weights alone (int16 containers: 2,410 values) dominate
    assert rep["ram"]["by_kind"]["weights"] == 2 * (64 * 32 + 32 + 32 * 10 + 10)
