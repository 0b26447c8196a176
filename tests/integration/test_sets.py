"""Set commands: differential against real redis-server (RESP2 and RESP3), redis-py, and
hypothesis-generated command sequences mixing sets with other types."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Pair


def test_sadd_srem_basics(pair):
    pair.run("SADD", "s", "a", "b", "c", "a")
    pair.run("SADD", "s", "a")
    pair.run("SADD", "s", "d", "d")
    pair.run("SCARD", "s")
    pair.run("SCARD", "nokey")
    pair.run("SISMEMBER", "s", "a")
    pair.run("SISMEMBER", "s", "zz")
    pair.run("SISMEMBER", "nokey", "zz")
    pair.run("SMISMEMBER", "s", "a", "zz", "d")
    pair.run("SMISMEMBER", "nokey", "a", "b")
    pair.run("SMEMBERS", "s", unordered=True)
    pair.run("SMEMBERS", "nokey")
    pair.run("SREM", "s", "a", "zz", "a")
    pair.run("SREM", "nokey", "a")
    pair.run("SREM", "s", "b", "c", "d")
    pair.run("SCARD", "s")
    pair.run("SET", "s", "free again")
    pair.run("SADD")
    pair.run("SADD", "s")


def test_intset_members_come_sorted(pair):
    pair.run("SADD", "i", "5", "-3", "100", "0", "42", "9223372036854775807", "-9223372036854775808")
    pair.run("SMEMBERS", "i")
    pair.run("SRANDMEMBER", "i", "100")
    pair.run("SSCAN", "i", "0")
    pair.run("SADD", "j", "5", "7", "-3")
    pair.run("SINTER", "i", "j")
    pair.run("SUNION", "i", "j")
    pair.run("SDIFF", "i", "j")
    pair.run("SPOP", "j", "10")


def test_wrongtype_errors(pair):
    pair.run("SET", "str", "v")
    pair.run("SADD", "s", "a")
    for cmd in (("SADD", "str", "a"), ("SREM", "str", "a"), ("SCARD", "str"),
                ("SISMEMBER", "str", "a"), ("SMISMEMBER", "str", "a"), ("SMEMBERS", "str"),
                ("SRANDMEMBER", "str"), ("SRANDMEMBER", "str", "3"), ("SPOP", "str"),
                ("SPOP", "str", "2"), ("SPOP", "str", "0"), ("SMOVE", "str", "s", "a"),
                ("SMOVE", "s", "str", "a"), ("SINTER", "s", "str"), ("SINTER", "nokey", "str"),
                ("SINTERCARD", "2", "nokey", "str"), ("SINTERSTORE", "d", "s", "str"),
                ("SUNION", "s", "str"), ("SUNIONSTORE", "d", "str"), ("SDIFF", "nokey", "str"),
                ("SDIFFSTORE", "d", "s", "str"), ("SSCAN", "str", "0")):
        pair.run(*cmd)
    pair.run("SMOVE", "nokey", "str", "a")  # missing source: 0 before the type check
    pair.run("SPOP", "str", "x")  # the count is checked before the key
    pair.run("SINTERSTORE", "str", "s")  # a store overwrites any type
    pair.run("TYPE", "str")


def test_srandmember(pair):
    members = [f"m{i}" for i in range(30)]
    pair.run("SADD", "s", *members)
    pair.run("SRANDMEMBER", "s", "30", unordered=True)
    pair.run("SRANDMEMBER", "s", "1000", unordered=True)
    pair.run("SRANDMEMBER", "s", "0")
    pair.run("SRANDMEMBER", "nokey")
    pair.run("SRANDMEMBER", "nokey", "5")
    pair.run("SRANDMEMBER", "nokey", "-5")
    pair.run("SRANDMEMBER", "s", "x")
    pair.run("SRANDMEMBER", "s", "1", "2")
    pair.run("SRANDMEMBER", "s", "-9223372036854775808")
    all_members = {m.encode() for m in members}
    for client in (pair.ks, pair.ref):
        assert client.call("SRANDMEMBER", "s") in all_members
        for count in (1, 5, 12, 25, -3, -100):
            got = client.call("SRANDMEMBER", "s", count)
            assert len(got) == abs(count)
            assert set(got) <= all_members
            if count > 0:
                assert len(set(got)) == count


@pytest.mark.parametrize("size,count", [(10, 1), (10, 3), (10, 9), (10, 10), (10, 20), (200, 190)])
def test_spop_with_count(pair, size, count):
    members = [str(i) for i in range(size)]
    pair.run("SADD", "s", *members)
    got = {}
    for name, client in (("ks", pair.ks), ("ref", pair.ref)):
        popped = client.call("SPOP", "s", count)
        rest = client.call("SMEMBERS", "s")
        assert len(popped) == min(count, size)
        assert set(popped) | set(rest) == {m.encode() for m in members}
        assert not set(popped) & set(rest)
        got[name] = (len(popped), len(rest))
    assert got["ks"] == got["ref"]
    pair.run("EXISTS", "s")


def test_spop_errors_and_edges(pair):
    pair.run("SPOP", "nokey")
    pair.run("SPOP", "nokey", "3")
    pair.run("SPOP", "nokey", "0")
    pair.run("SPOP", "s", "-1")
    pair.run("SPOP", "s", "x")
    pair.run("SPOP", "s", "1", "2")
    pair.run("SADD", "s", "only")
    pair.run("SPOP", "s", "0")
    pair.run("SPOP", "s")
    pair.run("EXISTS", "s")


def test_smove(pair):
    pair.run("SADD", "a", "1", "2", "x")
    pair.run("SADD", "b", "3")
    pair.run("SMOVE", "a", "b", "1")
    pair.run("SMOVE", "a", "b", "nope")
    pair.run("SMOVE", "a", "a", "2")
    pair.run("SMOVE", "a", "a", "nope")
    pair.run("SMOVE", "a", "new", "x")
    pair.run("SMOVE", "a", "b", "2")  # empties a
    pair.run("EXISTS", "a")
    pair.run("SMEMBERS", "b")
    pair.run("SMEMBERS", "new")
    pair.run("SADD", "c", "3")
    pair.run("SMOVE", "b", "c", "3")  # already in the destination
    pair.run("SMEMBERS", "c")
    pair.run("SMOVE", "nokey", "c", "3")


def test_set_algebra(pair):
    pair.run("SADD", "a", "1", "2", "3", "x", "y")
    pair.run("SADD", "b", "2", "3", "4", "y")
    pair.run("SADD", "c", "3", "y", "z")
    pair.run("SADD", "i1", "1", "2", "3")
    pair.run("SADD", "i2", "2", "3", "4")
    for op in ("SINTER", "SUNION", "SDIFF"):
        for keys in (("a",), ("a", "b"), ("a", "b", "c"), ("b", "a", "nokey"), ("nokey", "a"),
                     ("a", "a"), ("i1", "i2"), ("i2", "i1", "a")):
            pair.run(op, *keys, unordered=True)
            pair.run(op + "STORE", "dst", *keys)
            pair.run("SMEMBERS", "dst", unordered=True)
    pair.run("SET", "dst", "v")
    pair.run("EXPIRE", "dst", "100")
    pair.run("SUNIONSTORE", "dst", "a")
    pair.run("TTL", "dst")
    pair.run("SINTERSTORE", "dst", "a", "nokey")
    pair.run("EXISTS", "dst")
    pair.run("SDIFFSTORE", "a2", "a", "a")
    pair.run("SINTER")
    pair.run("SINTERSTORE", "d")


def test_sintercard(pair):
    pair.run("SADD", "a", "1", "2", "3", "x", "y")
    pair.run("SADD", "b", "2", "3", "4", "y")
    for args in (("1", "a"), ("2", "a", "b"), ("2", "a", "b", "LIMIT", "0"),
                 ("2", "a", "b", "LIMIT", "2"), ("2", "a", "b", "limit", "100"),
                 ("2", "a", "nokey"), ("1", "nokey"), ("0", "a"), ("-1", "a"), ("x", "a"),
                 ("3", "a", "b"), ("2", "a", "b", "LIMIT"), ("2", "a", "b", "LIMIT", "-1"),
                 ("2", "a", "b", "LIMIT", "x"), ("2", "a", "b", "FOO", "1"), ("1", "a", "b"),
                 ("1",)):
        pair.run("SINTERCARD", *args)


def test_sscan(pair):
    pair.run("SADD", "small", "a", "b", "foo")
    pair.run("SSCAN", "small", "0", unordered=True)
    pair.run("SADD", "ints", "3", "1", "2")
    pair.run("SSCAN", "ints", "0")
    pair.run("SSCAN", "ints", "77", "COUNT", "1")
    pair.run("SSCAN", "ints", "0", "MATCH", "1*")
    pair.run("SSCAN", "ints", "0", "COUNT", "0")
    pair.run("SSCAN", "ints", "0", "TYPE", "set")
    pair.run("SSCAN", "ints", "x")
    pair.run("SSCAN", "nokey", "0")


def test_sscan_hashtable_full_iteration(r):
    members = {f"m{i}".encode() for i in range(2000)}
    r.sadd("big", *members)
    seen = set()
    cursor = 0
    while True:
        cursor, items = r.sscan("big", cursor, count=100)
        seen.update(items)
        if cursor == 0:
            break
    assert seen == members


def test_resp3_shapes(r3):
    r3.sadd("s", "a", "b")
    assert r3.smembers("s") == {b"a", b"b"}
    assert r3.sinter("s") == {b"a", b"b"}
    assert r3.sunion("s", "nokey") == {b"a", b"b"}
    assert r3.sdiff("s", "nokey") == {b"a", b"b"}
    assert r3.spop("s", 1) in ([b"a"], [b"b"], {b"a"}, {b"b"})


def test_object_encoding_against_redis(pair):
    pair.run("CONFIG", "SET", "set-max-intset-entries", "4")
    try:
        pair.run("SADD", "s", "1", "2", "3")
        pair.run("OBJECT", "ENCODING", "s")
        pair.run("SADD", "s", "4", "5")
        pair.run("OBJECT", "ENCODING", "s")
        pair.run("SREM", "s", "4", "5")
        pair.run("OBJECT", "ENCODING", "s")
        pair.run("SADD", "t", "1", "a")
        pair.run("OBJECT", "ENCODING", "t")
        pair.run("SUNIONSTORE", "u", "s")
        pair.run("OBJECT", "ENCODING", "u")
    finally:
        pair.both("CONFIG", "SET", "set-max-intset-entries", "512")


_members = st.sampled_from(["a", "b", "1", "2", "-3", "10", "x" * 10])
_keys = st.sampled_from(["s1", "s2", "s3", "str"])
_cmds = st.one_of(
    st.tuples(st.just("SADD"), _keys, _members),
    st.tuples(st.just("SADD"), _keys, _members, _members, _members),
    st.tuples(st.just("SREM"), _keys, _members, _members),
    st.tuples(st.just("SCARD"), _keys),
    st.tuples(st.just("SISMEMBER"), _keys, _members),
    st.tuples(st.just("SMISMEMBER"), _keys, _members, _members),
    st.tuples(st.just("SMEMBERS"), _keys),
    st.tuples(st.just("SMOVE"), _keys, _keys, _members),
    st.tuples(st.sampled_from(["SINTER", "SUNION", "SDIFF"]), _keys, _keys),
    st.tuples(st.sampled_from(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), _keys, _keys, _keys),
    st.tuples(st.just("SINTERCARD"), st.just("2"), _keys, _keys),
    st.tuples(st.just("SRANDMEMBER"), _keys, st.sampled_from(["0", "100"])),
    st.tuples(st.just("SPOP"), _keys, st.sampled_from(["0", "100"])),
    st.tuples(st.just("SSCAN"), _keys, st.just("0")),
    st.tuples(st.just("SET"), _keys, _members),
    st.tuples(st.just("GET"), _keys),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_cmds, min_size=1, max_size=25))
def test_hypothesis_sequences(keystream_server, redis_server, seq):
    p = Pair(keystream_server.port, redis_server.port, 3)
    try:
        p.both("FLUSHALL")
        for cmd in seq:
            p.run(*cmd, unordered=True)
        for key in ("s1", "s2", "s3"):
            p.run("SMEMBERS", key, unordered=True)
    finally:
        p.close()
