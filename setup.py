"""Build of the compiled hot path: the per-command modules compiled to C with mypyc.

The modules listed in `HOT_PATH` are plain, type-annotated Python and stay the one source:
mypyc compiles them to C extension modules that sit next to them (`pip install .`, or
`python setup.py build_ext --inplace` for a checkout run with PYTHONPATH=src). When no C
compiler is found, or KEYSTREAM_PURE=1 is set, nothing is compiled and the same modules
run interpreted. `keystream serve` logs which mode it runs in (`keystream.hot_path_mode`).

Everything else (metadata, dependencies, packages) is in pyproject.toml.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig

from setuptools import setup
from setuptools.command.build_ext import build_ext

# The per-command modules (keystream/hotpath.py lists them), as source paths.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "src"))
from keystream.hotpath import HOT_PATH_MODULES, PURE_ENV

HOT_PATH = ["src/" + name.replace(".", "/") + ".py" for name in HOT_PATH_MODULES]


def _have_compiler() -> bool:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is not None


def _ext_modules() -> list:
    if os.environ.get(PURE_ENV) == "1" or not _have_compiler():
        return []
    from mypyc.build import mypycify

    return mypycify(["--config-file=pyproject.toml", *HOT_PATH], opt_level="3")


class BuildExt(build_ext):
    """build_ext that dates every compiled module at the end of the build: mypyc rewrites
    only the C files that changed, so a module whose code lives in the shared library
    could otherwise keep an old date, and `keystream.hotpath.stale()` compares dates."""

    def run(self) -> None:
        super().run()
        for ext in self.extensions:
            path = self.get_ext_fullpath(ext.name)
            if os.path.exists(path):
                os.utime(path)


setup(ext_modules=_ext_modules(), cmdclass={"build_ext": BuildExt})
