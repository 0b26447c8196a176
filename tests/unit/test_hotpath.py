"""The compiled hot path's switch: which mode a process runs in, and KEYSTREAM_PURE=1.

Run in both modes by scripts/test (compiled after the build, interpreted with KEYSTREAM_PURE=1).
"""

from __future__ import annotations

import importlib.machinery
import os
import subprocess
import sys
from pathlib import Path

from keystream import hotpath
from tests.conftest import ROOT, start_keystream, stop_checked, wait_until

_EXT = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def _mode_in_subprocess(pure: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != hotpath.PURE_ENV}
    if pure:
        env[hotpath.PURE_ENV] = "1"
    env["PYTHONPATH"] = str(ROOT / "src")
    code = "from keystream import hotpath; import keystream.engine; print(hotpath.mode())"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True, timeout=120).stdout.strip()


def test_mode_names_what_this_process_imported() -> None:
    from keystream.commands import executor

    compiled = (executor.__file__ or "").endswith(_EXT)
    assert hotpath.mode() == ("compiled (mypyc)" if compiled else "interpreted")
    assert (os.environ.get(hotpath.PURE_ENV) == "1") <= (not compiled)


def test_pure_env_runs_every_hot_path_module_from_its_source() -> None:
    assert _mode_in_subprocess(pure=True) == "interpreted"


def test_without_pure_env_compiled_modules_are_used_when_built() -> None:
    built = any(
        os.path.exists(str(ROOT / "src" / name.replace(".", "/")) + suffix)
        for name in hotpath.HOT_PATH_MODULES for suffix in importlib.machinery.EXTENSION_SUFFIXES
    )
    assert _mode_in_subprocess(pure=False) == ("compiled (mypyc)" if built else "interpreted")


def test_server_logs_its_mode_and_accepts_the_pure_switch() -> None:
    h = start_keystream(env={hotpath.PURE_ENV: "1"})  # not refused as an unknown setting
    try:
        wait_until(lambda: "hot path: interpreted" in Path(h.log_path).read_text(), what="the mode log line")
    finally:
        stop_checked(h)
