"""ListValue storage and what list/blocking commands propagate, tested in-process."""

from __future__ import annotations

from collections import deque

import pytest

from keystream.client import Client
from keystream.commands import executor
from keystream.config import Config
from keystream.engine import Engine
from keystream.keyspace.datatypes.list import ListValue, decode_element, encode_element


def test_encode_decode_roundtrip():
    for v in (b"", b"a", b"x" * 1024, b"y" * 5000, b"a\r\nb", b"\x00\xff"):
        e = encode_element(v)
        assert e == b"$%d\r\n%s\r\n" % (len(v), v)
        assert decode_element(e) == v


def test_list_value_helpers():
    lst = ListValue.from_values([b"a", b"bc"])
    assert list(lst.values()) == [b"a", b"bc"]
    dup = lst.copy()
    dup.append(encode_element(b"z"))
    assert type(dup) is ListValue and len(lst) == 2 and len(dup) == 3
    assert lst.encoding(None) == b"quicklist"


class FakeConn:
    def __init__(self) -> None:
        self.closed = False
        self.pending: deque = deque()
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def run_pending(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def setup():
    engine = Engine(Config())
    propagated: list[list[bytes]] = []
    engine.effect_subscribers.append(lambda effects: propagated.extend(c for _, c in effects))
    a = Client(engine, 1, FakeConn())
    b = Client(engine, 2, FakeConn())
    engine.clients.update({1: a, 2: b})
    return engine, a, b, propagated


def run(client, *args) -> bytes:
    out: list[bytes] = []
    executor.execute(client, [x if isinstance(x, bytes) else str(x).encode() for x in args], out)
    return b"".join(out)


@pytest.mark.parametrize("blocking,served_as,reply", [
    (("BLPOP", "src", "0"), [b"LPOP", b"src"], b"*2\r\n$3\r\nsrc\r\n$1\r\nv\r\n"),
    (("BRPOP", "x", "src", "0"), [b"RPOP", b"src"], b"*2\r\n$3\r\nsrc\r\n$1\r\nv\r\n"),
    (("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"),
     [b"LMOVE", b"src", b"dst", b"LEFT", b"RIGHT"], b"$1\r\nv\r\n"),
    (("BRPOPLPUSH", "src", "dst", "0"), [b"RPOPLPUSH", b"src", b"dst"], b"$1\r\nv\r\n"),
    (("BLMPOP", "0", "1", "src", "LEFT", "COUNT", "5"), [b"LPOP", b"src", b"1"],
     b"*2\r\n$3\r\nsrc\r\n*1\r\n$1\r\nv\r\n"),
])
def test_served_blocking_command_propagates_non_blocking_form(setup, blocking, served_as, reply):
    server, a, b, propagated = setup
    assert run(a, *blocking) == b""
    assert a.blocked is not None and propagated == []
    assert run(b, "RPUSH", "src", "v") == b":1\r\n"
    assert a.blocked is None
    assert b"".join(a.conn.written) == reply
    assert propagated == [[b"RPUSH", b"src", b"v"], served_as]
    assert server.blocking.ready_keys == {}


def test_immediate_blocking_pop_propagates_pop(setup):
    _, a, b, propagated = setup
    run(b, "RPUSH", "k", "1", "2")
    propagated.clear()
    run(a, "BLPOP", "k", "0")
    run(a, "BLMOVE", "k", "d", "RIGHT", "LEFT", "0")
    assert propagated == [[b"LPOP", b"k"], [b"LMOVE", b"k", b"d", b"RIGHT", b"LEFT"]]


def test_nothing_listens_when_nobody_is_blocked(setup):
    server, a, b, _ = setup
    run(a, "BLPOP", "k", "0")
    assert server.event_subscribers
    run(b, "CLIENT", "UNBLOCK", "1")
    assert a.blocked is None and server.event_subscribers == []
