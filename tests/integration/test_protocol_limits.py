"""Protocol limits and broken frames, compared with real Redis: the same bytes get the same
`-ERR Protocol error: ...` reply and the connection is closed; the limits follow
`proto-max-bulk-len` and `client-query-buffer-limit` as CONFIG SET changes them.

Deliberate difference: a client over `client-query-buffer-limit` is sent
`-ERR Protocol error: query buffer limit exceeded` before the close (Redis closes silently).
"""

from __future__ import annotations

import socket

import pytest

from tests.differential import RawClient


def _send_and_drain(port: int, chunks: list[bytes], timeout: float = 5.0) -> tuple[bytes, bool]:
    """Send chunks, then read until the server closes (True) or goes quiet (False)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        for chunk in chunks:
            try:
                s.sendall(chunk)
            except OSError:
                break
        data = b""
        while True:
            try:
                d = s.recv(1 << 16)
            except ConnectionResetError:
                return data, True
            except TimeoutError:
                return data, False
            if not d:
                return data, True
            data += d
    finally:
        s.close()


BROKEN = {
    "bulk-over-max": [b"*1\r\n$600000000\r\n"],
    "negative-bulk": [b"*1\r\n$-5\r\n"],
    "bulk-not-a-number": [b"*1\r\n$abc\r\n"],
    "no-dollar": [b"*1\r\nfoo\r\n"],
    "unbalanced-quotes": [b'SET "a b\r\n'],
    "inline-too-big": [b"x" * (70 * 1024)],
    "mbulk-count-too-long": [b"*1" + b"1" * 70000],
    "multibulk-not-a-number": [b"*x\r\n"],
    "multibulk-over-int-max": [b"*3000000000\r\n"],
    "replies-then-error": [b"PING\r\n*1\r\n$4\r\nPING\r\n*1\r\nfoo\r\n"],
    "bulk-missing-crlf": [b"*1\r\n$4\r\nPINGxx"],
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_frames_like_redis(keystream_server, redis_server, name) -> None:
    got = _send_and_drain(keystream_server.port, BROKEN[name], timeout=2)
    want = _send_and_drain(redis_server.port, BROKEN[name], timeout=2)
    assert got == want
    assert RawClient(keystream_server.port).call("PING") == b"PONG"


@pytest.fixture
def limits(keystream_server, redis_server):
    clients = [RawClient(keystream_server.port), RawClient(redis_server.port)]
    yield clients
    for c in clients:
        c.call("CONFIG", "SET", "proto-max-bulk-len", "512mb", "client-query-buffer-limit", "1gb")
        c.close()


def test_proto_max_bulk_len_follows_config_set(keystream_server, redis_server, limits) -> None:
    for c in limits:
        assert c.call("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"OK"
    frame = [b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (1024 * 1024 + 1)]
    for port in (keystream_server.port, redis_server.port):
        assert _send_and_drain(port, frame) == (b"-ERR Protocol error: invalid bulk length\r\n", True)
    ok = [b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%s\r\n" % (1024 * 1024, b"v" * 1024 * 1024)]
    for port in (keystream_server.port, redis_server.port):
        assert _send_and_drain(port, ok, timeout=1) == (b"+OK\r\n", False)


def test_query_buffer_limit_closes_the_client(keystream_server, redis_server, limits) -> None:
    for c in limits:
        assert c.call("CONFIG", "SET", "client-query-buffer-limit", "1mb") == b"OK"
    frame = [b"*2\r\n$3\r\nGET\r\n$3000000\r\n", b"x" * 1_500_000]
    got, closed = _send_and_drain(keystream_server.port, frame)
    assert closed and got in (b"", b"-ERR Protocol error: query buffer limit exceeded\r\n")
    assert _send_and_drain(redis_server.port, frame)[1]
    # Other clients are not disturbed.
    assert limits[0].call("PING") == b"PONG"
