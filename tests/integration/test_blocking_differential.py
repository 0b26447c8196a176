"""Blocking list and sorted-set commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX
BZMPOP) with several clients, played as the same scenario on Keystream and on real redis-server and compared reply
byte for byte (RESP2 and RESP3): FIFO order across clients, several keys, wake-ups by a write
inside MULTI, fractional timeouts, CLIENT UNBLOCK TIMEOUT|ERROR. A scenario waits until the
server reports its clients blocked (CLIENT LIST flag b) before it writes."""

from __future__ import annotations

import socket
import time

import hiredis
import pytest

from tests.differential import RawClient
from tests.integration.test_blocking import wait_blocked


def _cmd(*args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class Waiter:
    """A connection that returns each reply as the raw bytes the server sent."""

    def __init__(self, port: int, proto: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.reader = hiredis.Reader()
        if proto == 3:
            self.call("HELLO", "3")
        self.id = int(self.call("CLIENT", "ID")[1:-2])

    def send(self, *args) -> None:
        self.sock.sendall(_cmd(*args))

    def read(self) -> bytes:
        raw = b""
        while True:
            data = self.sock.recv(65536)
            assert data, "connection closed"
            raw += data
            self.reader.feed(data)
            if self.reader.gets() is not False:
                return raw

    def call(self, *args) -> bytes:
        self.send(*args)
        return self.read()

    def close(self) -> None:
        self.sock.close()


def play(port: int, proto: int, n: int, steps: list[tuple]) -> list:
    """Run a scenario; returns what every step observed.

    Steps: ("send", i, *cmd) client i sends cmd; ("blocked", i, ...) wait until they block;
    ("ctl", *cmd) a control client runs cmd (its reply is recorded); ("read", i) client i's
    next raw reply; ("elapsed", i, *cmd) client i runs cmd, recording reply and whether it
    took at least the time its timeout asks (checked by the caller).
    """
    ctl = RawClient(port, proto)
    ctl.call("FLUSHALL")
    clients = [Waiter(port, proto) for _ in range(n)]
    seen: list = []
    try:
        for step in steps:
            kind = step[0]
            if kind == "send":
                clients[step[1]].send(*step[2:])
            elif kind == "blocked":
                wait_blocked(ctl, [clients[i].id for i in step[1:]])
            elif kind == "ctl":
                seen.append(ctl.call(*step[1:]))
            elif kind == "read":
                seen.append(clients[step[1]].read())
            elif kind == "unblock":
                seen.append(ctl.call("CLIENT", "UNBLOCK", clients[step[1]].id, *step[2:]))
            elif kind == "timed":
                t0 = time.monotonic()
                seen.append(clients[step[1]].call(*step[3:]))
                # The deadline counts from the command's start in whole ms, as Redis's does.
                seen.append(time.monotonic() - t0 >= step[2] - 0.002)
    finally:
        for c in clients:
            c.close()
        ctl.close()
    return seen


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def check(request, keystream_server, redis_server):
    proto = request.param

    def run(n: int, steps: list[tuple]) -> list:
        want = play(redis_server.port, proto, n, steps)
        got = play(keystream_server.port, proto, n, steps)
        assert got == want
        return want

    return run


def test_bzpop_fifo_across_clients_and_keys(check) -> None:
    check(3, [
        ("send", 0, "BZPOPMIN", "k1", "k2", 0), ("blocked", 0),
        ("send", 1, "BZPOPMAX", "k2", 0), ("blocked", 1),
        ("send", 2, "BZMPOP", 0, 2, "k3", "k2", "MIN", "COUNT", 5), ("blocked", 2),
        ("ctl", "ZADD", "k2", 1, "a", 2, "b", 3, "c", 4, "d"),
        ("read", 0), ("read", 1), ("read", 2),
        ("ctl", "EXISTS", "k2"),
    ])


def test_bzpop_woken_by_zadd_inside_multi(check) -> None:
    check(2, [
        ("send", 0, "BZPOPMAX", "z", 0), ("blocked", 0),
        ("send", 1, "BZMPOP", "0", 1, "z", "MAX", "COUNT", 10), ("blocked", 1),
        ("ctl", "MULTI"), ("ctl", "ZADD", "z", 1, "a"), ("ctl", "ZADD", "z", 5, "b", 3, "c"),
        ("ctl", "ZINCRBY", "z", 10, "a"), ("ctl", "EXEC"),
        ("read", 0), ("read", 1), ("ctl", "EXISTS", "z"),
    ])


def test_bzpop_add_and_remove_in_one_transaction_keeps_waiting(check) -> None:
    check(1, [
        ("send", 0, "BZPOPMIN", "z", 0), ("blocked", 0),
        ("ctl", "MULTI"), ("ctl", "ZADD", "z", 1, "a"), ("ctl", "ZREM", "z", "a"), ("ctl", "EXEC"),
        ("blocked", 0),
        ("ctl", "MULTI"), ("ctl", "ZADD", "z", 1, "a"), ("ctl", "DEL", "z"),
        ("ctl", "RPUSH", "z", "x"), ("ctl", "EXEC"),
        ("blocked", 0), ("ctl", "DEL", "z"),
        ("ctl", "ZADD", "z", 2, "b"), ("read", 0),
    ])


def test_list_and_zset_waiters_on_the_same_key(check) -> None:
    # A list waiter and a zset waiter on one key: each is served by the type it waits for.
    check(2, [
        ("send", 0, "BLPOP", "k", 0), ("blocked", 0),
        ("send", 1, "BZPOPMIN", "k", 0), ("blocked", 1),
        ("ctl", "ZADD", "k", 1, "a"), ("read", 1),
        ("ctl", "RPUSH", "k", "x"), ("read", 0),
    ])


def test_bzpop_fractional_timeouts_and_null_shapes(check) -> None:
    check(1, [
        ("timed", 0, 0.05, "BZPOPMIN", "nokey", "0.05"),
        ("timed", 0, 0.05, "BZPOPMAX", "a", "b", "0.05"),
        ("timed", 0, 0.05, "BZMPOP", "0.05", 2, "a", "b", "MIN"),
        ("timed", 0, 0.0, "BZPOPMIN", "a", "0.001"),
        ("timed", 0, 0.0, "BZPOPMIN", "a", "-0.1"),
        ("timed", 0, 0.0, "BZPOPMIN", "a", "1e999"),
        ("timed", 0, 0.0, "BZMPOP", "nan", 1, "a", "MIN"),
    ])


def test_bzpop_client_unblock(check) -> None:
    check(2, [
        ("send", 0, "BZPOPMIN", "z", 0), ("send", 1, "BZMPOP", 0, 1, "z", "MAX"),
        ("blocked", 0, 1),
        ("unblock", 0, "TIMEOUT"), ("read", 0), ("unblock", 0),
        ("unblock", 1, "ERROR"), ("read", 1),
        ("send", 0, "BZPOPMAX", "z", 0), ("blocked", 0), ("unblock", 0),
        ("read", 0),
        ("ctl", "ZADD", "z", 1, "a"), ("ctl", "ZCARD", "z"),
    ])


def test_server_serves_others_while_zset_clients_wait(check) -> None:
    check(3, [
        ("send", 0, "BZPOPMIN", "z0", 0), ("send", 1, "BZPOPMIN", "z1", 0),
        ("send", 2, "BZMPOP", 0, 1, "z2", "MIN"), ("blocked", 0, 1, 2),
        *[("ctl", "ZADD", "other", i, f"m{i}") for i in range(20)],
        ("ctl", "ZRANGE", "other", 0, 2),
        ("ctl", "ZADD", "z2", 1, "a"), ("read", 2),
        ("ctl", "ZADD", "z0", 1, "a"), ("read", 0),
        ("ctl", "ZADD", "z1", 1, "a"), ("read", 1),
    ])


def test_list_waiters_fifo_across_commands(check) -> None:
    check(5, [
        ("send", 0, "BRPOP", "a", "l", 0), ("blocked", 0),
        ("send", 1, "BLMOVE", "l", "dst", "LEFT", "RIGHT", 0), ("blocked", 1),
        ("send", 2, "BLMPOP", 0, 2, "x", "l", "RIGHT", "COUNT", 2), ("blocked", 2),
        ("send", 3, "BRPOPLPUSH", "l", "dst", 0), ("blocked", 3),
        ("send", 4, "BLPOP", "dst", 0), ("blocked", 4),
        ("ctl", "RPUSH", "l", 1, 2, 3, 4, 5, 6),
        ("read", 0), ("read", 1), ("read", 2), ("read", 3), ("read", 4),
        ("ctl", "LRANGE", "l", 0, -1), ("ctl", "LRANGE", "dst", 0, -1),
    ])


def test_list_waiters_woken_inside_multi(check) -> None:
    check(3, [
        ("send", 0, "BLPOP", "a", 0), ("blocked", 0),
        ("send", 1, "BLMOVE", "b", "a", "RIGHT", "LEFT", 0), ("blocked", 1),
        ("send", 2, "BLMPOP", 0, 1, "a", "LEFT", "COUNT", 3), ("blocked", 2),
        ("ctl", "MULTI"), ("ctl", "RPUSH", "b", "x", "y"), ("ctl", "LPUSH", "a", "z"),
        ("ctl", "LMOVE", "b", "a", "LEFT", "RIGHT"), ("ctl", "EXEC"),
        ("read", 0), ("read", 1), ("read", 2),
        ("ctl", "EXISTS", "a", "b"),
    ])


def test_list_timeouts_and_client_unblock(check) -> None:
    check(2, [
        ("timed", 0, 0.05, "BLPOP", "nokey", "0.05"),
        ("timed", 0, 0.05, "BRPOPLPUSH", "nokey", "d", "0.05"),
        ("timed", 0, 0.05, "BLMOVE", "nokey", "d", "LEFT", "LEFT", "0.05"),
        ("timed", 0, 0.05, "BLMPOP", "0.05", 1, "nokey", "LEFT"),
        ("timed", 0, 0.0, "BLPOP", "nokey", "-1"),
        ("timed", 0, 0.0, "BLPOP", "nokey", "x"),
        ("send", 0, "BRPOPLPUSH", "s", "d", 0), ("send", 1, "BLMPOP", 0, 1, "s", "RIGHT"),
        ("blocked", 0, 1),
        ("unblock", 0, "TIMEOUT"), ("read", 0), ("unblock", 1, "ERROR"), ("read", 1),
        ("unblock", 1, "TIMEOUT"), ("unblock", 1, "FOO"),
    ])


@pytest.mark.parametrize("block,setup,action", [
    (("BLPOP", "k", 0), [("RPUSH", "src", 3, 1, 2)], ("SORT", "src", "STORE", "k")),
    (("BLPOP", "k", 0), [("RPUSH", "src", "a")], ("COPY", "src", "k")),
    (("BLPOP", "k", 0), [("RPUSH", "src", "a")], ("RENAME", "src", "k")),
    (("BLPOP", "k", 0), [("SELECT", 1), ("RPUSH", "k", "a"), ("SELECT", 0)], ("SWAPDB", 0, 1)),
    (("BLPOP", "k", 0), [("SELECT", 1), ("RPUSH", "k", "a")], ("MOVE", "k", 0)),
    (("BZPOPMIN", "k", 0), [("ZADD", "src", 1, "a")], ("ZUNIONSTORE", "k", 1, "src")),
    (("BZPOPMIN", "k", 0), [("ZADD", "src", 1, "a")], ("ZRANGESTORE", "k", "src", 0, -1)),
    (("BZPOPMIN", "k", 0), [("ZADD", "src", 1, "a")], ("ZINTERSTORE", "k", 1, "src")),
    (("BZPOPMIN", "k", 0), [("ZADD", "src", 1, "a")], ("ZDIFFSTORE", "k", 1, "src")),
    (("BZPOPMIN", "k", 0), [("ZADD", "src", 1, "a")], ("COPY", "src", "k")),
    (("BZPOPMIN", "k", 0), [("ZADD", "src", 1, "a")], ("RENAME", "src", "k")),
    (("BZPOPMIN", "k", 0), [("SADD", "src", "a")], ("ZUNIONSTORE", "k", 1, "src")),
    (("BZPOPMIN", "k", 0), [("GEOADD", "src", 1, 1, "a")],
     ("GEOSEARCHSTORE", "k", "src", "FROMLONLAT", 1, 1, "BYRADIUS", 10, "km")),
    (("BZPOPMIN", "k", 0), [("GEOADD", "src", 1, 1, "a")],
     ("GEORADIUS", "src", 1, 1, 10, "km", "STORE", "k")),
    (("BZPOPMIN", "k", 0), [], ("GEOADD", "k", 1, 1, "a")),
    (("BZMPOP", 0, 1, "k", "MAX"), [], ("ZINCRBY", "k", 1, "a")),
    (("BLMOVE", "k", "d", "LEFT", "LEFT", 0), [("RPUSH", "a", "x")], ("LMOVE", "a", "k", "LEFT", "LEFT")),
])
def test_waiter_woken_by_any_command_that_creates_the_key(check, block, setup, action) -> None:
    check(1, [*[("ctl", *c) for c in setup], ("send", 0, *block), ("blocked", 0),
              ("ctl", *action), ("read", 0)])
