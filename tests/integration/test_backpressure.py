"""Output back-pressure: a client that pipelines faster than it reads stops being served
(and read from) until it drains its replies, so the server's memory stays bounded."""

from __future__ import annotations

import socket
import time

import redis

from tests.conftest import start_keystream


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_slow_reader_is_paused_and_then_gets_every_reply() -> None:
    h = start_keystream()
    try:
        value = b"v" * 256 * 1024
        c = redis.Redis(port=h.port, protocol=2, socket_timeout=10)
        c.set("big", value)
        before = rss_kb(h.proc.pid)
        n = 2000  # 500 MB of replies if all were produced at once
        s = socket.create_connection(("127.0.0.1", h.port), timeout=10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.sendall(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * n + b"*1\r\n$4\r\nPING\r\n")
        # While this client reads nothing, others are served and memory stays bounded.
        deadline = time.monotonic() + 3
        peak = before
        while time.monotonic() < deadline:
            assert c.ping() is True
            peak = max(peak, rss_kb(h.proc.pid))
        assert peak - before < 200 * 1024, f"RSS grew by {peak - before} KB"
        # Once it reads, every reply arrives, in order, and the trailing PING too.
        expected = (b"$%d\r\n" % len(value) + value + b"\r\n") * n + b"+PONG\r\n"
        got = bytearray()
        while len(got) < len(expected):
            chunk = s.recv(1 << 20)
            assert chunk, "server closed the connection"
            got += chunk
        assert bytes(got) == expected
        s.close()
    finally:
        h.stop()


def test_protocol_error_after_blocked_command_waits_for_earlier_replies(keystream_server) -> None:
    c = redis.Redis(port=keystream_server.port, protocol=2, socket_timeout=10)
    c.delete("bp:list")
    s = socket.create_connection(("127.0.0.1", keystream_server.port), timeout=10)
    s.sendall(b"*3\r\n$5\r\nBLPOP\r\n$7\r\nbp:list\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n*1\r\nxx\r\n")
    deadline = time.monotonic() + 5
    while b"cmd=blpop" not in c.execute_command("CLIENT", "LIST"):
        assert time.monotonic() < deadline, "client never blocked"
        time.sleep(0.01)
    c.rpush("bp:list", "x")
    got = b""
    while not got.endswith(b"got 'x'\r\n"):
        chunk = s.recv(4096)
        assert chunk, f"closed early after {got!r}"
        got += chunk
    assert got == (b"*2\r\n$7\r\nbp:list\r\n$1\r\nx\r\n+PONG\r\n"
                   b"-ERR Protocol error: expected '$', got 'x'\r\n")
    assert s.recv(10) == b""
    s.close()
