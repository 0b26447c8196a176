"""MULTI EXEC DISCARD WATCH UNWATCH: replies, EXECABORT, WATCH semantics, propagation."""

from __future__ import annotations

import time

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.differential import Pair, RawClient


@pytest.fixture
def pair(keystream_server, redis_server):
    p = Pair(keystream_server.port, redis_server.port)
    p.run("FLUSHALL")
    yield p
    p.close()


@pytest.fixture
def pair3(keystream_server, redis_server):
    p = Pair(keystream_server.port, redis_server.port, proto=3)
    p.run("FLUSHALL")
    yield p
    p.close()


def test_basic_queue_and_exec(pair: Pair) -> None:
    pair.run("MULTI")
    pair.run("SET", "a", "1")
    pair.run("GET", "a")
    pair.run("PING")
    pair.run("EXEC")


def test_errors_outside_and_inside(pair: Pair) -> None:
    pair.run("EXEC")
    pair.run("DISCARD")
    pair.run("MULTI")
    pair.run("MULTI")
    pair.run("WATCH", "x")
    pair.run("EXEC")


def test_execabort_after_queueing_error(pair: Pair) -> None:
    pair.run("MULTI")
    pair.run("SET", "a", "1")
    pair.run("NOSUCHCOMMAND")
    pair.run("GET")
    pair.run("SET", "b", "2")
    pair.run("EXEC")
    pair.run("EXISTS", "a", "b")
    pair.run("PING")


def test_runtime_error_inside_exec_does_not_abort(pair: Pair) -> None:
    pair.run("SET", "s", "x")
    pair.run("MULTI")
    pair.run("INCR", "s")
    pair.run("SET", "t", "1")
    pair.run("EXEC")
    pair.run("GET", "t")


def test_discard_and_watch_inside(pair: Pair) -> None:
    pair.run("MULTI")
    pair.run("SET", "a", "1")
    pair.run("DISCARD")
    pair.run("GET", "a")
    pair.run("MULTI")
    pair.run("SHUTDOWN")
    pair.run("DISCARD")


@pytest.mark.parametrize("proto", [2, 3])
def test_watch_dirty_returns_null(keystream_server, redis_server, proto) -> None:
    p = Pair(keystream_server.port, redis_server.port, proto=proto)
    other = Pair(keystream_server.port, redis_server.port, proto=proto)
    p.run("SET", "w", "1")
    p.run("WATCH", "w")
    other.run("SET", "w", "2")
    p.run("MULTI")
    p.run("PING")
    p.run("EXEC")
    p.run("WATCH", "w")
    p.run("UNWATCH")
    other.run("SET", "w", "3")
    p.run("MULTI")
    p.run("PING")
    p.run("EXEC")
    p.close()
    other.close()


def test_raw_null_array_bytes(keystream_server) -> None:
    for proto, want in ((2, b"*-1\r\n"), (3, b"_\r\n")):
        a = RawClient(keystream_server.port, proto)
        b = RawClient(keystream_server.port)
        a.call("WATCH", "nk")
        b.call("SET", "nk", "1")
        a.call("MULTI")
        a.sock.sendall(b"*1\r\n$4\r\nEXEC\r\n")
        assert a.sock.recv(100) == want
        a.close()
        b.close()


def test_flushall_and_expire_dirty_watchers(r: redis.Redis, keystream_server) -> None:
    c = RawClient(keystream_server.port)
    r.set("x", "1")
    c.call("WATCH", "x")
    r.flushall()
    c.call("MULTI")
    c.call("PING")
    assert c.call("EXEC") is None
    # watching a missing key is not disturbed by FLUSHALL
    c.call("WATCH", "missing")
    r.flushall()
    c.call("MULTI")
    c.call("PING")
    assert c.call("EXEC") == [b"PONG"]
    # a watched key that expires (logically) before EXEC fails the transaction
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        for px in (50, 500, 5000):        # WATCH must land before the key expires, however slow
            t0 = time.monotonic()
            r.set("e", "1", px=px)
            c.call("WATCH", "e")
            if time.monotonic() - t0 < px / 1000:
                break
            c.call("UNWATCH")
        time.sleep(max(0.0, t0 + px / 1000 + 0.03 - time.monotonic()))   # now it has expired
        c.call("MULTI")
        c.call("PING")
        assert c.call("EXEC") is None
        # a key already expired when watched is no change when deleted
        r.set("st", "1", px=1)
        time.sleep(0.01)
        c.call("WATCH", "st")
        assert r.exists("st") == 0
        c.call("MULTI")
        c.call("PING")
        assert c.call("EXEC") == [b"PONG"]
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    c.close()


def test_watch_remembers_db(r: redis.Redis, keystream_server) -> None:
    c = RawClient(keystream_server.port)
    c.call("SELECT", "5")
    c.call("SET", "x", "30")
    c.call("WATCH", "x")
    c.call("SELECT", "1")
    c.call("SET", "x", "10")
    c.call("SELECT", "5")
    c.call("MULTI")
    c.call("PING")
    assert c.call("EXEC") == [b"PONG"]
    c.close()


def test_exec_stats_and_in_exec(r: redis.Redis) -> None:
    r.config_resetstat()
    p = r.pipeline(transaction=True)
    p.set("a", "1").get("a")
    assert p.execute() == [True, b"1"]
    stats = r.info("commandstats")
    assert stats["cmdstat_exec"]["calls"] == 1
    assert stats["cmdstat_multi"]["calls"] == 1
    assert stats["cmdstat_set"]["calls"] == 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([
    ("SET", "k", "v"), ("GET", "k"), ("DEL", "k"), ("INCR", "n"), ("MULTI",), ("EXEC",), ("DISCARD",),
    ("WATCH", "k"), ("UNWATCH",), ("BOGUS",), ("GET",), ("PING",),
]), max_size=15))
def test_hypothesis_sequences_match_redis(keystream_server, redis_server, cmds) -> None:
    p = Pair(keystream_server.port, redis_server.port)
    try:
        p.run("FLUSHALL")
        for c in cmds:
            p.run(*c)
        p.both("DISCARD")
    finally:
        p.close()
