"""TensorFlow, imported once without its C++ start-up banner.

TensorFlow prints its oneDNN and CPU-feature notices from C++ before absl logging is set up, so
TF_CPP_MIN_LOG_LEVEL cannot hide them, and a one-line `error:` from the CLI would drown in them.
The first import therefore runs with file descriptor 2 captured; whatever it printed that is not
one of those notices is passed on to stderr unchanged. Modules that need TensorFlow import `tf`
from here, and tf_keras / tfmot through `tf_keras()` / `tfmot()`: an install without the `train`
extra then stops with one line saying what to install, not a traceback.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
import tempfile
from types import ModuleType

from ..errors import UserError

BANNER = re.compile(r"All log messages before absl::InitializeLog|oneDNN custom operations are on"
                    r"|This TensorFlow binary is optimized|To enable the following instructions")
# pip cannot install tf-keras/tfmot without pulling `tensorflow` over tensorflow-cpu: --no-deps
INSTALL_HINT = ("pip install 'rct_tflm[train]' && pip install --no-deps tf-keras==2.21.0 "
                "tensorflow-model-optimization==0.8.1 (or `make setup` in a checkout)")


def _import_quietly(name: str) -> ModuleType:
    if sys.modules.get(name) is not None:
        return sys.modules[name]
    if importlib.util.find_spec(name) is None:  # also when blocked (sys.modules[name] = None)
        raise UserError(f"training needs {name}, which is not installed; install it with: "
                        f"{INSTALL_HINT}")
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


def tf_keras() -> ModuleType:
    """tf_keras (Keras 2: what tfmot's QAT needs), imported after TensorFlow."""
    return _import_quietly("tf_keras")


def tfmot() -> ModuleType:
    return _import_quietly("tensorflow_model_optimization")
