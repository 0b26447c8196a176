"""MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE / HELP.

Errors, arities and reply shapes are compared with real redis-server (RESP2 and RESP3).
The numbers are ours, so for MEMORY USAGE only null vs integer is compared, and MEMORY
STATS is compared by its field names, their order and the reply type of each value.
Our own figures are checked for what they promise: they grow with the value, SAMPLES 0
measures everything, and looking a key up does not count as an access.
"""

from __future__ import annotations

import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Pair


def _shape(reply):
    """A reply with every number replaced by its type (what we compare for our figures)."""
    if isinstance(reply, dict):
        return {k: _shape(v) for k, v in reply.items()}
    if isinstance(reply, list):
        return [x if isinstance(x, bytes) and i % 2 == 0 else _shape(x)
                for i, x in enumerate(reply)]
    if isinstance(reply, bytes):  # RESP2 doubles are bulk strings
        float(reply)
        return "number"
    return type(reply).__name__


def _fill(p: Pair) -> None:
    for args in (("SET", "str", "v"), ("SET", "int", "12345"), ("HSET", "h", "a", "1", "b", "2"),
                 ("SADD", "iset", "1", "2", "3"), ("SADD", "set", "a", "b"),
                 ("RPUSH", "list", "a", "b", "c"), ("ZADD", "z", "1", "a", "2", "b"),
                 ("PFADD", "hll", "a", "b"), ("GEOADD", "geo", "13.36", "38.11", "palermo")):
        p.both(*args)


# -- errors and arity --------------------------------------------------------------------
def test_errors_and_arity(pair):
    pair.both("SET", "k", "v")
    for args in (
        ("MEMORY",), ("MEMORY", "foo"), ("MEMORY", "foo", "bar"), ("MEMORY", "USAGE"),
        ("MEMORY", "usage", "k", "SAMPLES"), ("MEMORY", "usage", "k", "samples", "-1"),
        ("MEMORY", "usage", "k", "samples", "x"), ("MEMORY", "usage", "k", "samples", "1.5"),
        ("MEMORY", "usage", "k", "samples", "99999999999999999999"),
        ("MEMORY", "usage", "k", "foo"), ("MEMORY", "usage", "k", "samples", "1", "foo"),
        ("MEMORY", "usage", "k", "samples", "1", "samples"),
        ("MEMORY", "usage", "nokey", "samples", "-1"), ("MEMORY", "usage", "nokey", "foo"),
        ("MEMORY", "STATS", "x"), ("MEMORY", "DOCTOR", "x"), ("MEMORY", "PURGE", "x"),
        ("MEMORY", "MALLOC-STATS", "x"), ("MEMORY", "HELP", "x"), ("MEMORY", "PURGE"),
    ):
        pair.run(*args)


def test_help_shape(pair):
    ours, theirs = pair.both("MEMORY", "HELP")
    assert len(ours) == len(theirs)
    assert ours[0] == theirs[0]
    assert [x for x in ours if not x.startswith(b" ")] == [x for x in theirs if not x.startswith(b" ")]


# -- MEMORY USAGE ------------------------------------------------------------------------
def test_usage_null_and_types(pair):
    _fill(pair)
    for key in ("str", "int", "h", "iset", "set", "list", "z", "hll", "geo", "nokey"):
        for extra in ((), ("SAMPLES", "0"), ("samples", "1"), ("SAMPLES", "3", "SAMPLES", "0")):
            ours, theirs = pair.both("MEMORY", "USAGE", key, *extra)
            assert type(ours) is type(theirs), (key, extra, ours, theirs)
            assert (ours is None) == (key == "nokey"), (key, ours)
            assert ours is None or ours > 0


def test_usage_sees_expired_entry_like_dictfind(pair):
    # Redis looks the key up without the expiry check; a key with a future deadline is there.
    pair.both("SET", "k", "v", "PX", "100000")
    ours, theirs = pair.both("MEMORY", "USAGE", "k")
    assert isinstance(ours, int) and isinstance(theirs, int)
    pair.run("TTL", "k")


def test_usage_grows_with_the_value(r):
    r.set("s", "x")
    small = r.memory_usage("s")
    assert 0 < small < 200
    r.set("s", "x" * 33000)
    assert 33000 < r.memory_usage("s") < 42000
    r.set("s", "x" * 100)
    assert r.memory_usage("s") < 300


@pytest.mark.parametrize("kind", ["hash", "set", "intset", "list", "zset"])
def test_usage_of_containers_grows(r, kind):
    def add(lo: int, hi: int) -> None:
        items = [str(i) for i in range(lo, hi)]
        if kind == "hash":
            r.hset("c", mapping={f"field:{i}": f"value:{i}" for i in items})
        elif kind == "set":
            r.sadd("c", *[f"member:{i}" for i in items])
        elif kind == "intset":
            r.sadd("c", *items)
        elif kind == "list":
            r.rpush("c", *[f"element:{i}" for i in items])
        else:
            r.zadd("c", {f"member:{i}": int(i) for i in items})

    add(0, 3)
    small = r.memory_usage("c")
    add(3, 1000)
    big = r.memory_usage("c")
    assert big > small * 10
    exact = r.memory_usage("c", samples=0)
    assert abs(exact - big) < big * 0.2


def test_usage_samples_all_measures_every_element(r):
    # Five short members sampled, then long ones: only SAMPLES 0 sees the long ones.
    r.rpush("l", *["a"] * 5, *["x" * 1000] * 5)
    assert r.memory_usage("l", samples=0) > r.memory_usage("l") + 4000
    assert r.memory_usage("l", samples=0) == r.execute_command("MEMORY", "USAGE", "l",
                                                                "SAMPLES", "100")


def test_usage_is_not_an_access(pair):
    # Under LFU a new key's counter is 5 and its first access always increments it.
    pair.both("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    try:
        pair.both("SET", "k", "v")
        pair.run("MEMORY", "USAGE", "nokey")
        pair.both("MEMORY", "USAGE", "k")
        pair.run("OBJECT", "FREQ", "k")
    finally:
        pair.both("CONFIG", "SET", "maxmemory-policy", "noeviction")


def test_usage_in_multi(pair):
    pair.both("SET", "k", "v")
    pair.run("MULTI")
    pair.run("MEMORY", "USAGE", "nokey")
    pair.run("MEMORY", "USAGE", "k", "SAMPLES", "-1")
    ours, theirs = pair.both("EXEC")
    assert ours[0] is None and theirs[0] is None
    assert ours[1] == theirs[1]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["SET", "HSET", "SADD", "RPUSH", "ZADD", "DEL", "PFADD"]),
                          st.sampled_from(["a", "b", "c"]),
                          st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=6)),
                max_size=12),
       st.sampled_from([None, 0, 1, 5]))
def test_usage_follows_key_existence(pair, ops, samples):
    pair.both("FLUSHALL")
    for name, key, vals in ops:
        if name == "SET":
            args = [name, key, vals[0]]
        elif name in ("HSET", "ZADD"):
            args = [name, key, "1", vals[0]]
        elif name == "DEL":
            args = [name, key]
        else:
            args = [name, key, *vals]
        pair.both(*args)
    for key in ("a", "b", "c"):
        extra = () if samples is None else ("SAMPLES", samples)
        ours, theirs = pair.both("MEMORY", "USAGE", key, *extra)
        assert type(ours) is type(theirs)


# -- MEMORY STATS / DOCTOR / MALLOC-STATS / PURGE ----------------------------------------
def test_stats_fields_and_types(pair):
    ours, theirs = pair.both("MEMORY", "STATS")
    assert _shape(ours) == _shape(theirs)
    _fill(pair)
    pair.both("SELECT", "3")
    pair.both("SET", "k", "v", "EX", "100")
    ours, theirs = pair.both("MEMORY", "STATS")
    assert _shape(ours) == _shape(theirs)
    pair.both("FLUSHALL")


def test_stats_values(r3):
    r3.mset({f"k{i}": "v" * 100 for i in range(100)})
    r3.expire("k1", 100)
    stats = r3.execute_command("MEMORY", "STATS")
    stats = {k.decode() if isinstance(k, bytes) else k: v for k, v in stats.items()}
    assert stats["keys.count"] == 100
    assert stats["peak.allocated"] >= stats["total.allocated"] > 0
    assert stats["startup.allocated"] > 0
    db0 = {k.decode() if isinstance(k, bytes) else k: v for k, v in stats["db.0"].items()}
    assert db0["overhead.hashtable.main"] > 0 and db0["overhead.hashtable.expires"] > 0
    assert "db.1" not in stats
    assert isinstance(stats["dataset.percentage"], float)
    assert 0 < stats["peak.percentage"] <= 100.0


def _raw_first_line(port: int, *commands: bytes) -> list[bytes]:
    """The type line of each reply to commands sent on a fresh RESP3 connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rb")
        s.sendall(b"HELLO 3\r\n")
        hello = f.readline()
        for _ in range(int(hello[1:]) * 2):  # skip the HELLO map (flat values)
            line = f.readline()
            if line[:1] in b"$=":
                f.read(int(line[1:]) + 2)
            elif line[:1] in b"*~%":
                for _ in range(int(line[1:]) * (2 if line[:1] == b"%" else 1)):
                    item = f.readline()
                    if item[:1] == b"$":
                        f.read(int(item[1:]) + 2)
        out = []
        for cmd in commands:
            s.sendall(cmd + b"\r\n")
            line = f.readline()
            out.append(line[:1])
            if line[:1] in b"$=":
                f.read(int(line[1:]) + 2)
        return out


def test_doctor_malloc_stats_purge(pair, keystream_server, redis_server):
    for sub in ("DOCTOR", "MALLOC-STATS"):
        ours, theirs = pair.both("MEMORY", sub)
        assert isinstance(ours, bytes) and isinstance(theirs, bytes)
    assert pair.both("MEMORY", "MALLOC-STATS")[0] == b"Stats not supported for the current allocator"
    assert pair.both("MEMORY", "DOCTOR")[0].startswith(b"Hi Sam")
    pair.run("MEMORY", "PURGE")
    pair.run("memory", "purge")
    cmds = (b"MEMORY DOCTOR", b"MEMORY PURGE", b"MEMORY USAGE nokey")
    assert _raw_first_line(keystream_server.port, *cmds) == [b"=", b"+", b"_"]
    assert _raw_first_line(redis_server.port, *cmds) == [b"=", b"+", b"_"]


# -- COMMAND metadata --------------------------------------------------------------------
def test_command_info_and_getkeys(pair):
    ours, theirs = pair.both("COMMAND", "INFO", "memory")
    ours[0][9] = sorted(ours[0][9], key=lambda c: c[0])
    theirs[0][9] = sorted(theirs[0][9], key=lambda c: c[0])
    assert ours == theirs
    pair.run("COMMAND", "GETKEYS", "MEMORY", "USAGE", "key")
    pair.run("COMMAND", "GETKEYS", "MEMORY", "USAGE", "key", "SAMPLES", "3")


def _raw_reply(port: int, command: bytes) -> bytes:
    """The raw bytes of HELLO 3 and one reply (read up to the PONG sent after them)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"HELLO 3\r\n" + command + b"\r\nPING\r\n")
        data = b""
        while not data.endswith(b"+PONG\r\n"):
            chunk = s.recv(65536)
            assert chunk, "connection closed"
            data += chunk
    return data


def test_command_docs_arguments(keystream_server, redis_server):
    ours = _raw_reply(keystream_server.port, b"COMMAND DOCS memory|usage")
    theirs = _raw_reply(redis_server.port, b"COMMAND DOCS memory|usage")
    assert ours[ours.index(b"arguments"):] == theirs[theirs.index(b"arguments"):]
