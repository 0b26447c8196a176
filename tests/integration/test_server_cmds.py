"""Server commands: DBSIZE FLUSHDB FLUSHALL TIME SHUTDOWN DEBUG SLOWLOG LATENCY MONITOR."""

from __future__ import annotations

import signal
import time

import pytest
import redis

from tests.conftest import start_keystream
from tests.differential import Pair, RawClient


@pytest.fixture
def pair(keystream_server, redis_server):
    p = Pair(keystream_server.port, redis_server.port)
    p.run("FLUSHALL")
    yield p
    p.close()


@pytest.mark.parametrize("args", [
    ("flushall", "foo"), ("flushdb", "async", "x"), ("flushdb", "sync"), ("flushall", "async"),
    ("time", "x"), ("dbsize",), ("debug",), ("debug", "foo"), ("debug", "sleep"),
    ("debug", "set-active-expire"), ("debug", "log"), ("debug", "log", "hello"), ("debug", "sleep", "0"),
    ("shutdown", "foo"), ("shutdown", "abort"), ("shutdown", "nosave", "save"), ("shutdown", "abort", "now"),
    ("slowlog", "get", "x"), ("slowlog", "get", "-2"), ("slowlog", "foo"), ("slowlog",),
    ("latency", "foo"), ("latency", "history"), ("latency", "reset", "nosuch"),
    ("function", "flush", "foo"), ("function", "flush", "sync", "x"), ("function", "flush", "async"),
])
def test_matches_redis(pair: Pair, args) -> None:
    pair.run(*args)


def test_flush_and_dbsize(pair: Pair) -> None:
    pair.run("SET", "a", "1")
    pair.run("SELECT", "1")
    pair.run("SET", "b", "1")
    pair.run("DBSIZE")
    pair.run("FLUSHDB")
    pair.run("DBSIZE")
    pair.run("SELECT", "0")
    pair.run("DBSIZE")
    pair.run("FLUSHALL")
    pair.run("DBSIZE")


def test_time(r: redis.Redis) -> None:
    secs, usecs = r.time()
    assert abs(secs - time.time()) < 5 and 0 <= usecs < 1_000_000


def test_slowlog(r: redis.Redis) -> None:
    r.config_set("slowlog-log-slower-than", 0)
    try:
        r.slowlog_reset()
        r.client_setname("slow")
        r.set("a", "b")
        entries = r.execute_command("SLOWLOG", "GET", "-1")
        assert entries[0][3] == [b"SET", b"a", b"b"] and entries[0][5] == b"slow"
        assert len(r.execute_command("SLOWLOG", "GET", "1")) == 1
        p = r.pipeline(transaction=True)
        p.get("a")
        p.execute()
        cmds = [e[3][0].lower() for e in r.execute_command("SLOWLOG", "GET", "3")]
        assert b"exec" not in cmds and b"get" in cmds
    finally:
        r.config_set("slowlog-log-slower-than", 10000)


def test_latency_monitor(r: redis.Redis) -> None:
    r.config_set("latency-monitor-threshold", 10)
    try:
        r.execute_command("LATENCY", "RESET")
        r.execute_command("DEBUG", "SLEEP", "0.05")
        latest = r.execute_command("LATENCY", "LATEST")
        assert latest[0][0] == b"command" and latest[0][2] >= 40
        assert r.execute_command("LATENCY", "HISTORY", "command")[0][1] >= 40
        assert r.execute_command("LATENCY", "RESET", "command") == 1
        assert r.execute_command("LATENCY", "LATEST") == []
    finally:
        r.config_set("latency-monitor-threshold", 0)


def test_monitor_sees_multi_exec_in_order(keystream_server, r: redis.Redis) -> None:
    m = RawClient(keystream_server.port)
    assert m.call("MONITOR") == b"OK"
    r.set("foo", "bar")
    p = r.pipeline(transaction=True)
    p.set("x", "1")
    p.execute()
    lines = [m.read() for _ in range(4)]
    assert b'"set" "foo" "bar"' in lines[0].lower()
    assert b'"multi"' in lines[1].lower() and b'"set" "x" "1"' in lines[2].lower()
    assert b'"exec"' in lines[3].lower()
    m.close()


@pytest.mark.parametrize("how", ["shutdown", "sigterm"])
def test_shutdown_exits_cleanly(how) -> None:
    h = start_keystream()
    h.expect_exit()
    if how == "shutdown":
        c = RawClient(h.port)
        c.send("SHUTDOWN", "NOSAVE")
        with pytest.raises((ConnectionError, OSError)):
            c.read()
        assert h.proc.wait(timeout=15) == 0
    else:
        h.proc.send_signal(signal.SIGTERM)
        assert h.proc.wait(timeout=15) == 0
