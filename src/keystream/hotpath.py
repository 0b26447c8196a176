"""The compiled hot path: which modules are compiled, and whether this process runs them so.

The modules in `HOT_PATH_MODULES` are the code that runs per command. They are ordinary,
type-annotated Python, and the one source of their behaviour: `setup.py` compiles them to C
extension modules with mypyc when a C compiler is there (`pip install .`, or
`python setup.py build_ext --inplace` in a checkout), and Python then imports the
extension in place of the `.py` file. Without a compiler they run interpreted, unchanged.

A compiled module shadows its `.py` file: after editing one in a checkout, build again
(or set KEYSTREAM_PURE=1). `stale()` names the compiled modules older than their sources:
the server logs a warning for them and the test suite refuses to run against them.

`KEYSTREAM_PURE=1` in the environment makes a process run them interpreted even when the
compiled modules are there (`use_sources`, called by `keystream/__init__.py` before anything
else is imported): the test suite runs the same tests in both modes this way. At build time
the same variable skips compiling.

Not here: the build itself (setup.py), what the modules do.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = ["HOT_PATH_MODULES", "PURE_ENV", "mode", "stale", "use_sources"]

PURE_ENV = "KEYSTREAM_PURE"

# Compiled together (one mypyc group): calls between them are native calls.
HOT_PATH_MODULES = (
    "keystream.resp.parser",
    "keystream.resp.writer",
    "keystream.resp.connection",
    "keystream.commands.executor",
    "keystream.commands.registry",
    "keystream.client",
    "keystream.engine",
    "keystream.keyspace.db",
    "keystream.commands.strings",
    "keystream.commands.lists",
    "keystream.commands.hashes",
    "keystream.commands.sets",
    "keystream.commands.zsets",
    "keystream.keyspace.datatypes.zset",
    "keystream.bridge.viewrows",
    "keystream.scripting.runner",
    "keystream.scripting.convert",
    "keystream.keyspace.datatypes.stream",
    "keystream.commands.streams",
    "keystream.pubsub",
    "keystream.persistence.encodings",
    "keystream.persistence.rdb",
)


class _SourcesFirst(importlib.abc.MetaPathFinder):
    """Finds the hot-path modules' `.py` files, ahead of the compiled modules beside them."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in HOT_PATH_MODULES or path is None:
            return None
        leaf = fullname.rpartition(".")[2] + ".py"
        for entry in path:
            source = os.path.join(entry, leaf)
            if os.path.isfile(source):
                return importlib.util.spec_from_file_location(fullname, source)
        return None


def use_sources() -> None:
    """Run the hot-path modules interpreted in this process (before they are imported)."""
    if not any(isinstance(f, _SourcesFirst) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourcesFirst())


def mode() -> str:
    """How this process runs the hot path: "compiled (mypyc)", "interpreted", or, when only
    some of its modules are compiled (a stale build), "partly compiled" and which ones."""
    compiled = [name for name in HOT_PATH_MODULES if _is_extension(importlib.import_module(name))]
    if len(compiled) == len(HOT_PATH_MODULES):
        return "compiled (mypyc)"
    if not compiled:
        return "interpreted"
    return "partly compiled (mypyc: " + ", ".join(compiled) + ")"


def stale() -> list[str]:
    """The hot-path modules whose compiled file is older than their source (in use or not)."""
    out = []
    for name in HOT_PATH_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None or spec.submodule_search_locations is not None:
            continue
        base = os.path.join(os.path.dirname(spec.origin), name.rpartition(".")[2])
        source = base + ".py"
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            # (2 s of slack: an installed package's files are written in any order)
            if os.path.exists(base + suffix) and os.path.getmtime(base + suffix) + 2 < os.path.getmtime(source):
                out.append(name)
                break
    return out


def _is_extension(module: ModuleType) -> bool:
    return (module.__file__ or "").endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
