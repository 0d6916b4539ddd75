"""rct_tflm: Resource Constrained Training (RCT) for Cortex-M microcontrollers (metadata in
pyproject.toml).

`templates/` and `firmware/` live at the repository top (the layout the team agreed on); a
regular `pip install .` copies them into the installed package, where
`rct_tflm.resources` finds them.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
DATA_TREES = ("templates", "firmware")


class BuildPyWithData(build_py):
    """build_py that also ships the top-level C/Jinja trees inside the package."""

    def run(self) -> None:
        super().run()
        for tree in DATA_TREES:
            src = HERE / tree
            if src.is_dir():
                dst = Path(self.build_lib) / "rct_tflm" / tree
                shutil.rmtree(dst, ignore_errors=True)
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.o", "*.so", "*.elf", "build"))


setup(cmdclass={"build_py": BuildPyWithData})  # metadata: pyproject.toml
