"""Result records the stages write (JSON with `format` and `version`), one loader for all:
`rct-tflm report` and the tests read them through `load`, so a file from another tool or a newer
rct_tflm is one clear line, not a KeyError.

| file | format | written by |
|---|---|---|
| metrics.json | rct-tflm-train | `rct-tflm train` (trainer/runner.py) |
| compare.json | rct-tflm-compare | `rct-tflm compare` (report/compare.py) |
| emulate.json | rct-tflm-emulate | `rct-tflm emulate` (emulator/run.py) |
| stream.json | rct-tflm-stream | `rct-tflm stream` (stream/session.py) |
| fleet.json | rct-tflm-fleet | `rct-tflm fleet` (fleet/run.py) |
| verify.json | rct-tflm-verify | `rct-tflm verify` (verify/run.py) |
| export.json | rct-tflm-export | `rct-tflm export` (trainer/export.py) |
| build.json | rct-tflm-build | `rct-tflm build` (firmware_build.py) |
| profile.json | rct-tflm-profile | `rct-tflm profile` (profile/report.py) |
| report.json | rct-tflm-report | `rct-tflm report` (report/summary.py) |
| tflite.json | rct-tflm-demo-tflite | `rct-tflm demo`, its TFLite stage (demo_tflite.py) |
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import UserError
from .atomic import write_json
from .versioned import check

KINDS: dict[str, tuple[str, int, str]] = {  # file name -> (format, version, writer)
    "metrics.json": ("rct-tflm-train", 1, "rct-tflm train"),
    "compare.json": ("rct-tflm-compare", 1, "rct-tflm compare"),
    "emulate.json": ("rct-tflm-emulate", 1, "rct-tflm emulate"),
    "stream.json": ("rct-tflm-stream", 1, "rct-tflm stream"),
    "fleet.json": ("rct-tflm-fleet", 1, "rct-tflm fleet"),
    "verify.json": ("rct-tflm-verify", 1, "rct-tflm verify"),
    "export.json": ("rct-tflm-export", 1, "rct-tflm export"),
    "build.json": ("rct-tflm-build", 1, "rct-tflm build"),
    "profile.json": ("rct-tflm-profile", 1, "rct-tflm profile"),
    "report.json": ("rct-tflm-report", 1, "rct-tflm report"),
    "tflite.json": ("rct-tflm-demo-tflite", 1, "rct-tflm demo"),
}


def stamp(name: str, record: dict) -> dict:
    """`record` with the format and version of result file `name` first."""
    fmt, version, _ = KINDS[name]
    return {"format": fmt, "version": version,
            **{k: v for k, v in record.items() if k not in ("format", "version")}}


def save(path: str | os.PathLike, record: dict) -> Path:
    return write_json(Path(path), stamp(Path(path).name, record))


def load(path: str | os.PathLike) -> dict:
    p = Path(path)
    if p.name not in KINDS:
        raise UserError(f"'{p}' is not a result file rct_tflm knows ({', '.join(KINDS)})")
    fmt, version, writer = KINDS[p.name]
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {p} ({type(e).__name__}); re-run `{writer}`") from None
    return check(d, p, fmt, version, writer)
