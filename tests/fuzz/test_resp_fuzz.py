"""Fuzz the RESP listener: random, truncated and oversized frames never crash the server,
never disturb another client, and do not make its memory grow without bound.

Each fuzzed byte string is sent to Keystream and to a real redis-server, the writing side is then
closed, and everything each server sends until it closes is compared byte for byte (the reply to
the fuzzed connection itself: errors and closes as Redis does). Named normalisations: the client
id in a HELLO reply. Inputs holding a NUL byte are only checked for a well-formed reply stream:
Redis scans request lines with C string functions that stop at NUL, a quirk not reproduced.
"""

from __future__ import annotations

import os
import re
import socket

import hiredis
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import _serve, check_servers, serve_keystream, start_redis

EXAMPLES = 2000 if os.environ.get("SLOW_TESTS") else 150


@pytest.fixture(scope="module")
def fuzz_server():
    yield from serve_keystream()


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.fixture(scope="module")
def fuzz_reference():
    yield from _serve(start_redis())


def exchange(port: int, data: bytes) -> bytes:
    """Send data, close the writing side, return all the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server closed first (a protocol error): its reply is still readable
        out = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out.append(chunk)
    return b"".join(out)


HELLO_ID = re.compile(rb"(\$2\r\nid\r\n:)\d+\r\n")


def _normalised(reply: bytes) -> bytes:
    return HELLO_ID.sub(rb"\1<id>\r\n", reply)


def assert_well_formed(reply: bytes) -> None:
    """reply is a sequence of whole RESP values with no internal error among them."""
    reader = hiredis.Reader(notEnoughData=None)
    reader.feed(reply)
    while (value := reader.gets()) is not None:
        assert not (isinstance(value, hiredis.ReplyError) and "internal error" in str(value)), value
    assert not reader.has_data(), f"a partial reply: {reply[-200:]!r}"


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
def test_random_frames_reply_as_redis_does(fuzz_server, fuzz_reference, parts) -> None:
    data = b"".join(parts)
    got = exchange(fuzz_server.port, data)
    check_servers([fuzz_server])
    assert_well_formed(got)
    if b"\0" not in data:
        want = exchange(fuzz_reference.port, data)
        assert _normalised(got) == _normalised(want), f"{data!r}: keystream {got!r} != redis {want!r}"
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
