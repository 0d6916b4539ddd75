"""TensorFlow, imported once without its C++ start-up banner.

TensorFlow prints its oneDNN and CPU-feature notices from C++ before absl logging is set up, so
TF_CPP_MIN_LOG_LEVEL cannot hide them, and a one-line `error:` from the CLI would drown in them.
The first import therefore runs with file descriptor 2 captured; whatever it printed that is not
one of those notices is passed on to stderr unchanged. Modules that need TensorFlow import `tf`
from here (and import tf_keras after it).
"""
from __future__ import annotations

import importlib
import os
import re
import sys
import tempfile
from types import ModuleType

BANNER = re.compile(r"All log messages before absl::InitializeLog|oneDNN custom operations are on"
                    r"|This TensorFlow binary is optimized|To enable the following instructions")


def _import_quietly(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            return importlib.import_module(name)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not BANNER.search(line):
                    sys.stderr.write(line)


tf = _import_quietly("tensorflow")
