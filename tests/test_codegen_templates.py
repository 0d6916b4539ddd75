"""The templates print the program and decide nothing: no per-kind branch in any of them."""
from __future__ import annotations

import re

from rct_tflm.program import kinds
from rct_tflm.resources import templates_dir


def test_no_template_branches_on_a_layer_kind():
    names = set(kinds.supported())
    for p in templates_dir().rglob("*.j2"):
        text = p.read_text()
        for tag in re.findall(r"{%-?(.*?)-?%}", text, re.S):
            assert "kind" not in tag, (p.name, tag)
            assert not names & set(re.findall(r"['\"](\w+)['\"]", tag)), (p.name, tag)
