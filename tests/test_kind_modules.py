"""A layer kind is one module (rct_tflm/program/kinds/): the registry's facts about every kind,
the load-time checks they give, and no per-kind switch or table anywhere else in the package."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from rct_tflm.artefact import Layer, ModelArtefact
from rct_tflm.errors import UserError
from rct_tflm.program import kinds, load_artefact

PACKAGE = Path(__file__).resolve().parent.parent / "rct_tflm"
HOST_ONLY = {"conv1d", "embedding"}  # TensorFlow only: no integer kernels
ACTIVATIONS = {"relu", "relu6"}  # kind names that are also values of a layer's `activation`


def test_every_kind_has_a_module_with_its_host_side():
    assert set(kinds.known()) == set(kinds.supported()) | HOST_ONLY
    for k in kinds.known():
        mod = kinds.kind(k)
        if getattr(mod, "DEVICE_ONLY", False):  # a frozen .tflite part: TFLite's integers only
            assert not hasattr(mod, "backward") or not kinds.params(k), k
            continue
        assert all(callable(getattr(mod, fn, None)) for fn in ("float_forward", "tf_forward",
                                                                 "to_keras")), k
        assert kinds.keras_name(k) is None or callable(mod.from_keras), k
        assert set(kinds.params(k)) <= {"kernel", "bias", "embeddings"}, k
        assert not kinds.gemm(k) or kinds.params(k), k
    assert len(kinds.keras_classes()) == sum(len(getattr(kinds.kind(k), "KERAS", ()))
                                             for k in kinds.known())  # one kind per class


def test_host_only_kinds_lower_to_one_clear_line():
    from rct_tflm.fixedpoint.config import EngineConfig
    from rct_tflm.program import lower
    art = ModelArtefact([Layer("c", "conv1d", {"filters": 2, "kernel_size": [1], "strides": [1],
                                               "padding": "valid", "activation": "linear"},
                               (4, 2), (4, 2))], {}, (4, 2), 8, preprocess={"input_exp": -7})
    with pytest.raises(UserError, match="layer c: kind 'conv1d' is not supported by the integer "
                                        "engine; supported: add, avgpool2d, conv2d"):
        lower(art, EngineConfig())


@pytest.mark.parametrize("change,msg", [
    (lambda l: setattr(l, "kind", "lstm"), "has unknown layer kind 'lstm'"),
    (lambda l: l.config.pop("units"), "layer dense0 (dense) has no config units"),
])
def test_load_checks_kinds_and_config_keys_in_one_line(tmp_path, digits_mlp_artefact, change,
                                                       msg):
    art = ModelArtefact.load(digits_mlp_artefact.save(tmp_path / "ok.rct"))
    assert load_artefact(tmp_path / "ok.rct").to_json() == art.to_json()
    change(art.layers[0])
    p = art.save(tmp_path / "bad.rct")
    ModelArtefact.load(p)  # the file itself is sound: only the kind registry knows better
    with pytest.raises(UserError, match=re.escape(msg)) as e:
        load_artefact(p)
    assert "\n" not in str(e.value) and "re-create it with `rct-tflm train`" in str(e.value)


def test_conv1d_float_forward_is_a_convolution_over_steps():
    rng = np.random.default_rng(0)
    x, k, b = rng.normal(size=(2, 7, 3)), rng.normal(size=(3, 3, 4)), rng.normal(size=4)
    l = Layer("c", "conv1d", {"filters": 4, "kernel_size": [3], "strides": [2],
                              "padding": "valid", "activation": "linear"}, (7, 3), (3, 4))
    want = np.stack([np.einsum("ntc,tcf->nf", x[:, 2 * i:2 * i + 3], k) for i in range(3)], 1)
    got = kinds.kind("conv1d").float_forward(l, x, {"kernel": k, "bias": b})
    np.testing.assert_allclose(got, want + b)


def _kind_literals(node: ast.AST) -> set[str]:
    """Kind names among a node's string constants (itself, or a tuple/list/set of them)."""
    elts = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    return {e.value for e in elts if isinstance(e, ast.Constant) and e.value in kinds.known()}


def _switches(tree: ast.AST) -> list[str]:
    found = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Compare):  # l.kind == "dense", kind in ("conv2d", ...)
            sides = [n.left, *n.comparators]
            on_kind = any(isinstance(s, ast.Attribute) and s.attr == "kind"
                          or isinstance(s, ast.Name) and s.id == "kind" for s in sides)
            names = set().union(*map(_kind_literals, sides))
            if on_kind and names:
                found.append(f"line {n.lineno}: compares a kind with {sorted(names)}")
        elif isinstance(n, (ast.Tuple, ast.List, ast.Set, ast.Dict)):  # a per-kind table
            keys = n.keys if isinstance(n, ast.Dict) else n.elts
            names = {k.value for k in keys if isinstance(k, ast.Constant)
                     and k.value in kinds.known()} - ACTIVATIONS
            if len(names) > 1:
                found.append(f"line {n.lineno}: a table of kinds {sorted(names)}")
    return found


def test_no_per_kind_switch_or_table_outside_the_kind_modules():
    bad = {}
    for p in sorted(PACKAGE.rglob("*.py")):
        rel = p.relative_to(PACKAGE).as_posix()
        if rel.startswith("program/kinds/"):
            continue
        if found := _switches(ast.parse(p.read_text())):
            bad[rel] = found
    assert bad == {}


def test_the_switch_finder_sees_switches_and_tables():
    src = 'A = ("dense", "conv2d")\nif l.kind == "dense": pass\nif kind in ("gap1d",): pass\n'
    assert len(_switches(ast.parse(src))) == 3
    assert _switches(ast.parse('ACT = ("linear", "relu", "relu6")\nif a == "dense": pass')) == []
