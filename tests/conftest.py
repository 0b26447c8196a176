"""Shared fixtures: a real Keystream server (subprocess, free port) and a real redis-server.

Integration tests talk to these over TCP with real client libraries. Servers are started
once per test module; tests that change server-wide state should restore it or use
their own server via `start_keystream()`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.differential import Pair

ROOT = Path(__file__).resolve().parents[1]


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

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def stop(self, sig: int | None = None) -> int:
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


def start_keystream(*args: str, data_dir: str | None = None, kafka: bool = False,
                    env: dict[str, str] | None = None) -> ServerHandle:
    """Start `keystream serve` on free ports; returns once it answers PING."""
    port = free_port()
    kafka_port = free_port() if kafka else 0
    if "--kafka-port" in args:  # the caller chose the Kafka port (e.g. to keep it across restarts)
        kafka_port = int(args[list(args).index("--kafka-port") + 1])
    data_dir = data_dir or tempfile.mkdtemp(prefix="ks-test-")
    log_path = os.path.join(data_dir, "server.log")
    # No save points unless a test asks (as the reference redis-server below): a FLUSHALL or a
    # stop would otherwise write a dump each time.
    cmd = [sys.executable, "-m", "keystream", "serve", "--port", str(port),
           "--kafka-port", str(kafka_port), "--dir", data_dir, "--save", "", *args]
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
    return ServerHandle(port, proc, data_dir, kafka_port, log_path)


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
    """Start Debian's redis-server on a free port (skips the test if it is not installed)."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (scripts/test installs it)")
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="redis-ref-")
    log_path = os.path.join(data_dir, "redis.log")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", data_dir, "--logfile", log_path, "--enable-debug-command", "yes", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc)
    return ServerHandle(port, proc, data_dir, 0, log_path)


def _serve(h: ServerHandle) -> Iterator[ServerHandle]:
    """Yield a started server, then stop it and remove its data directory."""
    yield h
    h.stop()
    shutil.rmtree(h.data_dir, ignore_errors=True)


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
