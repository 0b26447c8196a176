"""Fuzz the RESP listener: random, truncated and oversized frames never crash the server,
never disturb another client, and do not make its memory grow without bound."""

from __future__ import annotations

import os
import socket

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import start_keystream

EXAMPLES = 2000 if os.environ.get("SLOW_TESTS") else 150


@pytest.fixture(scope="module")
def fuzz_server():
    h = start_keystream()
    yield h
    h.stop()


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def send_and_drop(port: int, data: bytes) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(data)
            s.settimeout(0.05)
            try:
                s.recv(65536)
            except (TimeoutError, OSError):
                pass
    except OSError:
        pass


frame_parts = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"*", b"$", b"\r\n", b"*1\r\n", b"$3\r\nGET\r\n", b"*2\r\n$3\r\nSET\r\n",
                     b"$-1\r\n", b"*-5\r\n", b"$999999999\r\n", b"*2147483648\r\n", b'"', b"'",
                     b"PING\r\n", b"\x00", b"*1\r\n$4\r\nPING\r\n", b"HELLO 3\r\n"]),
    st.integers(min_value=0, max_value=2**64).map(lambda n: b"*%d\r\n" % n),
    st.integers(min_value=-5, max_value=2**40).map(lambda n: b"$%d\r\n" % n),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(frame_parts, max_size=12))
def test_random_frames_do_not_disturb_others(fuzz_server, parts) -> None:
    send_and_drop(fuzz_server.port, b"".join(parts))
    c = redis.Redis(port=fuzz_server.port, protocol=2, socket_timeout=5)
    assert c.ping() is True
    c.close()


def test_memory_stays_bounded_under_oversized_declarations(fuzz_server) -> None:
    before = rss_kb(fuzz_server.proc.pid)
    socks = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", fuzz_server.port), timeout=2)
        s.sendall(b"*1\r\n$500000000\r\n" + b"x" * 1000)  # declares 500 MB, sends 1 KB
        socks.append(s)
    c = redis.Redis(port=fuzz_server.port, protocol=2, socket_timeout=5)
    assert c.ping() is True
    after = rss_kb(fuzz_server.proc.pid)
    for s in socks:
        s.close()
    assert after - before < 50 * 1024, f"RSS grew {after - before} KB"
    assert c.ping() is True


def test_client_disconnecting_mid_request_and_mid_reply(fuzz_server) -> None:
    c = redis.Redis(port=fuzz_server.port, protocol=2, socket_timeout=5)
    c.set("fuzz:big", b"x" * 5_000_000)
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", fuzz_server.port), timeout=2)
        s.sendall(b"*2\r\n$3\r\nGET\r\n$8\r\nfuzz:big\r\n" * 3)
        s.recv(10)
        s.close()  # leaves ~15 MB of reply unsent
        s = socket.create_connection(("127.0.0.1", fuzz_server.port), timeout=2)
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc")
        s.close()
    assert c.get("fuzz:big") == b"x" * 5_000_000
    assert c.ping() is True
