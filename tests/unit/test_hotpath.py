"""The compiled hot path's switch: which mode a process runs in, and KEYSTREAM_PURE=1.

Run in both modes by scripts/test (compiled after the build, interpreted with KEYSTREAM_PURE=1).
"""

from __future__ import annotations

import importlib.machinery
import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

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


# mypyc (1.17-1.20 at least) compiles `bytes + bytes` to a helper declared to take over its left
# operand's reference, which the helper never releases: every concatenation in compiled code kept
# its left operand alive for good (a ZSCORE leaked its 6-byte needle, an APPEND the whole old
# value). Compiled modules join bytes with b"".join or %-formatting instead.
_GENERATED = sorted((ROOT / "build").glob("__native*.c"), key=lambda p: p.stat().st_mtime)[-1:]   # the last build


@pytest.mark.skipif(not _GENERATED, reason="no compiled build in this checkout")
def test_compiled_code_has_no_bytes_concatenation() -> None:
    sites: set[str] = set()
    for path in _GENERATED:
        lines = path.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if "CPyBytes_Concat(" in line:
                where = next((m.group(1) for m in map(_TRACEBACK.search, lines[i:i + 6]) if m), line.strip())
                sites.add(where)
    assert not sites, f"bytes + bytes in compiled modules (write b''.join((a, b))): {sorted(sites)}"


_TRACEBACK = re.compile(r'CPy_AddTraceback\("([^"]+", "[^"]+", \d+)')


def test_hot_commands_do_not_leak() -> None:
    from keystream.client import Client
    from keystream.commands import executor
    from keystream.config import Config
    from keystream.engine import Engine

    client = Client(Engine(Config()), 1, None)
    cycle = [[b"RPUSH", b"l", b"x"], [b"RPOP", b"l"], [b"ZADD", b"z", b"1", b"m"], [b"ZSCORE", b"z", b"m"],
             [b"ZREM", b"z", b"m"], [b"APPEND", b"s", b"abc"], [b"SETRANGE", b"s", b"1", b"x"], [b"DEL", b"s"],
             [b"LPUSH", b"l", b"y"], [b"LPOP", b"l", b"1"]]

    def run(n: int) -> None:
        for _ in range(n):
            for argv in cycle:
                executor.execute(client, argv, [], 0)

    run(200)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run(2000)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 20_000, f"{grown} bytes kept by 2000 rounds of push/pop/zadd/zscore/append"
