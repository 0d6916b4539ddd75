"""--out folders that appear complete or not at all.

`staged_out` builds the outputs in a temp folder beside --out and swaps it in on success: for
commands whose outputs do not record their own location. `replace_on_success` writes into --out
itself (so paths recorded inside the outputs stay true) after moving an existing --out aside; on
failure the partial folder is removed and the old one put back.
"""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import UserError


def _check_dest(out: str | Path) -> Path:
    dest = Path(out)
    if dest.exists() and not dest.is_dir():
        raise UserError(f"--out {dest} exists and is not a folder; give a folder path")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create the parent of --out {dest} ({e}); choose a writable path")
    return dest


@contextmanager
def staged_out(out: str) -> Iterator[Path]:
    """A temp folder beside `out`; on success it replaces `out`, on failure it is removed."""
    dest = _check_dest(out)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
        tmp.chmod(0o755)  # mkdtemp makes 0700; --out is an ordinary folder
    except OSError as e:
        raise UserError(f"cannot create a folder beside --out {dest} ({e}); choose a writable path")
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if dest.exists():
        old = dest.parent / f".{dest.name}.old-{tmp.name.rsplit('-', 1)[-1]}"
        dest.rename(old)
    tmp.rename(dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def replace_on_success(out: str | Path) -> Iterator[Path]:
    """Yield --out itself, empty; an existing --out is restored if the body fails."""
    dest = _check_dest(out)
    old = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        old.rmdir()
        dest.rename(old)
    try:
        dest.mkdir()
        yield dest
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        if old is not None:
            old.rename(dest)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
