"""Locate the data trees (`templates/`, `firmware/`) in an installed package or a checkout."""
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """`rct_tflm/<name>` when installed with pip, else `<repo>/<name>` in a checkout."""
    for candidate in (_PKG / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"rct_tflm data folder '{name}' is missing; reinstall with `pip install .`")


def templates_dir() -> Path:
    return data_dir("templates")


def firmware_dir() -> Path:
    return data_dir("firmware")
