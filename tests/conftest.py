"""Shared fixtures: a real Keystream server (subprocess, free port) and a real redis-server.

Integration tests talk to these over TCP with real client libraries. Servers are started
once per test module; tests that change server-wide state should restore it or use
their own server via `start_keystream()`.

Every server started here is watched: right after each test body, again after the test's
fixtures, and when a module's server stops, its log since the previous check is searched for a traceback, an "internal error" reply or an ERROR /
CRITICAL line, and its process for an exit nobody asked for (`stop()` or `expect_exit()`); any of
these fails the test that was running, with the log tail. A test that provokes such a line on
purpose (a disk-error test) says so with `ServerHandle.allow_log(pattern)`.

A missing tool (redis-server, redis-cli, kcat) or client library fails the test; a local run
without them may set TESTS_ALLOW_MISSING_TOOLS=1 to skip instead (not KEYSTREAM_*: the server
refuses unknown KEYSTREAM_* variables in its environment).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.differential import Pair

ROOT = Path(__file__).resolve().parents[1]
ALLOW_MISSING = os.environ.get("TESTS_ALLOW_MISSING_TOOLS") == "1"

# What in a server's log means something went wrong inside it.
LOG_PROBLEM = re.compile(r"Traceback \(most recent call last\)|internal error| (?:ERROR|CRITICAL) ")
LOG_TAIL_LINES = 60


def require_tool(name: str) -> str:
    """The path of an installed executable; fails the test if missing (skips with the opt-out)."""
    exe = shutil.which(name)
    if exe is None:
        message = f"{name} is not installed (scripts/test installs it)"
        if ALLOW_MISSING:
            pytest.skip(message)
        pytest.fail(message + "; set TESTS_ALLOW_MISSING_TOOLS=1 to skip locally", pytrace=False)
    return exe


def require_module(name: str):  # type: ignore[no-untyped-def]
    """Import a client library; fails the test if missing (skips with the opt-out)."""
    if ALLOW_MISSING:
        return pytest.importorskip(name)
    import importlib

    return importlib.import_module(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None, timeout: float = 20.0) -> None:
    """Wait until something answers PING on port (or the process died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith((b"+PONG", b"-NOAUTH", b"-LOADING")):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"nothing answered on port {port} within {timeout}s")


@dataclass
class ServerHandle:
    port: int
    proc: subprocess.Popen
    data_dir: str
    kafka_port: int = 0
    log_path: str = ""
    keystream: bool = True          # False: a reference redis-server (only its exits are watched)
    log_checked: int = 0            # log offset up to which the health check has read
    exit_expected: bool = False
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def expect_exit(self) -> None:
        """The test is about to make the server exit (SHUTDOWN, a signal): not a crash."""
        self.exit_expected = True

    def allow_log(self, pattern: str) -> None:
        """Log lines matching pattern (a regex), and the tracebacks after them, are expected."""
        self.allowed.append(re.compile(pattern))

    def log_size(self) -> int:
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def health_problem(self) -> str | None:
        """What went wrong in the server since the last check (None if nothing); advances the check."""
        problems: list[str] = []
        if self.keystream:
            try:
                with open(self.log_path, "rb") as f:
                    f.seek(self.log_checked)
                    new = f.read()
            except OSError:
                new = b""
            self.log_checked += len(new)
            bad = _unexpected_log_lines(new.decode(errors="replace"), self.allowed)
            if bad:
                problems.append("its log shows: " + " | ".join(bad[:5]))
        code = self.proc.poll()
        if code is not None and not self.exit_expected:
            problems.append(f"it exited unexpectedly with code {code}")
            self.exit_expected = True  # reported once
        if not problems:
            return None
        tail = "\n".join(self.log().splitlines()[-LOG_TAIL_LINES:])
        kind = "keystream" if self.keystream else "redis-server"
        return (f"{kind} on port {self.port} ({self.data_dir}): " + "; ".join(problems)
                + f"\n--- last {LOG_TAIL_LINES} lines of {self.log_path} ---\n{tail}")

    def stop(self, sig: int | None = None) -> int:
        self.exit_expected = True
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return self.proc.returncode

    def log(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""


def _unexpected_log_lines(text: str, allowed: list[re.Pattern[str]]) -> list[str]:
    """Lines of a server log that show a problem, except allowed ones and the tracebacks they carry."""
    bad: list[str] = []
    in_allowed_traceback = False
    for line in text.splitlines():
        if any(p.search(line) for p in allowed):
            in_allowed_traceback = True
            continue
        if in_allowed_traceback and (line.startswith((" ", "Traceback", "\t")) or not line[:4].isdigit()):
            continue  # the traceback (and exception text) logged with an allowed line
        in_allowed_traceback = False
        if LOG_PROBLEM.search(line):
            bad.append(line.strip()[:300])
    return bad


# Servers started by this session's tests and not yet found stopped by the health check.
_WATCHED: list[ServerHandle] = []


def watch(h: ServerHandle) -> ServerHandle:
    """Put a server under the per-test health check (start_keystream/start_redis do this)."""
    _WATCHED.append(h)
    return h


def check_servers(handles: list[ServerHandle]) -> None:
    """Fail (with the log tails) if any of handles crashed, logged an internal error or exited."""
    problems = [p for h in handles if (p := h.health_problem()) is not None]
    if problems:
        pytest.fail("a server the test used went wrong:\n" + "\n\n".join(problems), pytrace=False)


def _check_watched() -> None:
    handles = list(_WATCHED)
    _WATCHED[:] = [h for h in handles if h.proc.poll() is None]
    check_servers(handles)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to test compiled hot-path modules older than their sources (keystream/hotpath.py):
    the tests would run yesterday's code."""
    from keystream import hotpath

    if os.environ.get(hotpath.PURE_ENV) != "1" and hotpath.stale():
        pytest.exit("compiled modules older than their sources: " + ", ".join(hotpath.stale())
                    + "; run `python setup.py build_ext --inplace`, or set KEYSTREAM_PURE=1", returncode=4)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):  # type: ignore[no-untyped-def]
    """Right after each test body (before its fixtures tear down and remove a server's files),
    check every server started so far, module-scoped ones too: a problem fails this test."""
    try:
        return (yield)
    finally:
        _check_watched()


@pytest.fixture(autouse=True)
def _servers_stay_healthy() -> Iterator[None]:
    """And again after the test's fixtures are torn down (a server that went wrong stopping)."""
    yield
    _check_watched()


def start_keystream(*args: str, data_dir: str | None = None, kafka: bool = False,
                    env: dict[str, str] | None = None, launcher: list[str] | None = None) -> ServerHandle:
    """Start `keystream serve` on free ports; returns once it answers PING. launcher replaces
    `python -m keystream` (e.g. a `python -c` wrapper that patches something first)."""
    port = free_port()
    kafka_port = free_port() if kafka else 0
    if "--kafka-port" in args:  # the caller chose the Kafka port (e.g. to keep it across restarts)
        kafka_port = int(args[list(args).index("--kafka-port") + 1])
    data_dir = data_dir or tempfile.mkdtemp(prefix="ks-test-")
    log_path = os.path.join(data_dir, "server.log")
    # No save points unless a test asks (as the reference redis-server below): a FLUSHALL or a
    # stop would otherwise write a dump each time.
    cmd = [*(launcher or [sys.executable, "-m", "keystream"]), "serve", "--port", str(port),
           "--kafka-port", str(kafka_port), "--dir", data_dir, "--save", "", *args]
    log_start = os.path.getsize(log_path) if os.path.exists(log_path) else 0
    log = open(log_path, "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir,
                            env={**os.environ, **(env or {})})
    log.close()
    try:
        wait_for_port(port, proc)
        if kafka_port:
            wait_for_listener(kafka_port, proc)
    except Exception:
        proc.kill()
        raise RuntimeError("keystream did not start:\n" + Path(log_path).read_text(errors="replace"))
    return watch(ServerHandle(port, proc, data_dir, kafka_port, log_path, log_checked=log_start))


def wait_until(cond: Callable[[], bool], timeout: float = 20.0, what: str = "condition",
               step: Callable[[], None] | None = None, interval: float = 0.02) -> None:
    """Wait until cond() is true, calling step() (e.g. a client poll) before each check if given
    (then without sleeping); AssertionError naming what after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if step is not None:
            step()
        if cond():
            return
        if step is None:
            time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_listener(port: int, proc: subprocess.Popen | None, timeout: float = 20.0) -> None:
    """Wait until a TCP connect to port succeeds (a listener that speaks no RESP: Kafka)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port} within {timeout}s")


def start_redis(*args: str) -> ServerHandle:
    """Start Debian's redis-server on a free port (fails the test if it is not installed)."""
    exe = require_tool("redis-server")
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="redis-ref-")
    log_path = os.path.join(data_dir, "redis.log")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", data_dir, "--logfile", log_path, "--enable-debug-command", "yes", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc)
    return watch(ServerHandle(port, proc, data_dir, 0, log_path, keystream=False))


def stop_checked(h: ServerHandle, sig: int | None = None) -> None:
    """Stop a server and fail if it crashed, logged a problem since the last check, or did not exit
    cleanly (code 0) on SIGTERM."""
    problem = h.health_problem()
    code = h.stop(sig)
    after = h.health_problem()
    problems = [p for p in (problem, after) if p]
    if sig is None and h.keystream and code != 0:
        problems.append(f"keystream on port {h.port} exited with code {code} on SIGTERM:\n"
                        + "\n".join(h.log().splitlines()[-LOG_TAIL_LINES:]))
    if problems:
        pytest.fail("a server went wrong:\n" + "\n\n".join(problems), pytrace=False)


def _serve(h: ServerHandle) -> Iterator[ServerHandle]:
    """Yield a started server, then stop it (checking its health) and remove its data directory."""
    try:
        yield h
        stop_checked(h)
    finally:
        h.stop()
        shutil.rmtree(h.data_dir, ignore_errors=True)


def serve_keystream(*args: str, **kwargs) -> Iterator[ServerHandle]:  # type: ignore[no-untyped-def]
    """Body of a fixture serving its own Keystream (start_keystream's arguments)."""
    yield from _serve(start_keystream(*args, **kwargs))


@pytest.fixture(scope="module")
def keystream_server() -> Iterator[ServerHandle]:
    yield from _serve(start_keystream())


@pytest.fixture(scope="module")
def redis_server() -> Iterator[ServerHandle]:
    yield from _serve(start_redis())


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(request, keystream_server: ServerHandle, redis_server: ServerHandle) -> Iterator[Pair]:
    """A differential Pair on flushed Keystream and redis-server, in RESP2 and in RESP3."""
    p = Pair(keystream_server.port, redis_server.port, request.param)
    p.both("FLUSHALL")
    yield p
    p.close()


def _flushed_client(port: int, protocol: int):
    """Yield a redis-py client on a flushed server, then close it."""
    import redis

    c = redis.Redis(host="127.0.0.1", port=port, protocol=protocol, socket_timeout=10)
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def r(keystream_server: ServerHandle):
    """A redis-py RESP2 client on a flushed Keystream."""
    yield from _flushed_client(keystream_server.port, 2)


@pytest.fixture
def r3(keystream_server: ServerHandle):
    """A redis-py RESP3 client on a flushed Keystream."""
    yield from _flushed_client(keystream_server.port, 3)


@pytest.fixture
def ref(redis_server: ServerHandle):
    """A redis-py RESP2 client on a flushed real redis-server."""
    yield from _flushed_client(redis_server.port, 2)
