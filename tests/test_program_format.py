"""program.json: the lowered program survives a JSON round trip unchanged, is written into the
generated tree, and a wrong or future version is one clear UserError."""
from __future__ import annotations

import json

import pytest

from rct_tflm.codegen import generate
from rct_tflm.errors import UserError
from rct_tflm.fixedpoint.config import EngineConfig
from rct_tflm.program import FORMAT, VERSION, Program, lower
from test_codegen_memory_plan import random_chain


def test_round_trip_of_a_cnn_program_is_exact():
    art = random_chain(["conv", "maxpool", "dw", "avgpool", "relu"], [12], 0)
    p = lower(art, EngineConfig(max_batch=3), trainable_layers=3)
    text = json.dumps(p.to_json())
    q = Program.from_json(json.loads(text))
    assert q.to_json() == p.to_json()
    assert q.layers == p.layers and q.calls() == p.calls() and q.buffers == p.buffers
    assert q.trainable == p.trainable and q.bits_max == p.bits_max


@pytest.mark.parametrize("change, msg", [
    ({"version": VERSION + 1}, rf"program version {VERSION + 1} is not supported"),
    ({"version": None}, r"program version None is not supported"),
    ({"format": "rct-tflm-generated"}, r"not an rct-tflm program"),
])
def test_wrong_format_or_version_is_one_line(change, msg, digits_mlp_artefact):
    d = {**lower(digits_mlp_artefact, EngineConfig()).to_json(), **change}
    with pytest.raises(UserError, match=msg) as e:
        Program.from_json(d)
    assert "\n" not in str(e.value)


def test_generate_writes_the_program_it_printed(tmp_path, digits_mlp_artefact):
    generate(digits_mlp_artefact, tmp_path / "g", EngineConfig())
    d = json.loads((tmp_path / "g" / "program.json").read_text())
    assert d["format"] == FORMAT and d["version"] == VERSION
    p = Program.from_json(d)
    assert p.to_json() == lower(digits_mlp_artefact, EngineConfig()).to_json()
    # its buffers are memory.json's, with the same lifetimes
    mem = json.loads((tmp_path / "g" / "memory.json").read_text())
    assert sorted((b["name"], b["bytes"], b["live"][0], b["live"][1]) for b in mem["ram"]["buffers"]) \
        == sorted((b.name, b.bytes, b.first, b.last) for b in p.buffers)
    src = (tmp_path / "g" / "rct_model.c").read_text()
    for c in p.calls():
        assert f"/* {c.layer + ' (dense)' if c.layer else 'loss'}: {c.kernel} */" in src
