"""Layers point one way: the import-linter contracts (.importlinter) hold, and no two packages
of rct_tflm import each other (a function-local import cannot hide a cycle: grimp sees those)."""
from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def test_import_linter_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    res = subprocess.run([str(lint), "--config", str(ROOT / ".importlinter")], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout or "broken" not in res.stdout.split("Contracts:")[-1]


def _top_level(graph: grimp.ImportGraph) -> list[str]:
    return sorted(m for m in graph.find_children("rct_tflm"))


def test_no_two_way_package_dependencies() -> None:
    graph = grimp.build_graph("rct_tflm")
    both = []
    for a, b in itertools.combinations(_top_level(graph), 2):
        if (graph.chain_exists(a, b, as_packages=True)
                and graph.chain_exists(b, a, as_packages=True)):
            both.append(f"{a} <-> {b}")
    assert both == [], "packages that import each other: " + ", ".join(both)
