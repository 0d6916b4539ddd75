"""The check every versioned JSON format shares: the right `format`, a version this code reads."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UserError


def check(d: Any, path: str | Path, fmt: str, version: int, writer: str) -> dict:
    """`d` (parsed JSON) as a `fmt` record of at most `version`, else a one-line UserError
    naming the file, what it is and what to do (`writer`: the command that writes it)."""
    if not isinstance(d, dict) or d.get("format") != fmt:
        got = d.get("format") if isinstance(d, dict) else type(d).__name__
        raise UserError(f"'{path}' is not a {fmt} file (format {got!r}); re-create it with "
                        f"`{writer}`")
    v = d.get("version")
    if not isinstance(v, int) or v < 1:
        raise UserError(f"'{path}' has no valid version ({v!r}); re-create it with `{writer}`")
    if v > version:
        raise UserError(f"'{path}' is {fmt} version {v}, newer than this rct_tflm reads "
                        f"({version}); upgrade rct_tflm or re-create it with `{writer}`")
    return d
