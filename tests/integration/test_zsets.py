"""Sorted-set commands: differential tests against real redis-server (RESP2 and RESP3),
hypothesis-generated command sequences, and redis-py round trips."""

from __future__ import annotations

import time

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Pair


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(request, keystream_server, redis_server):
    p = Pair(keystream_server.port, redis_server.port, request.param)
    p.ks.call("FLUSHALL")
    p.ref.call("FLUSHALL")
    yield p
    p.close()


def run_all(pair: Pair, *commands: tuple) -> None:
    for cmd in commands:
        pair.run(*cmd)


def test_zadd_options_and_errors(pair: Pair) -> None:
    run_all(
        pair,
        ("ZADD", "z", "1", "a", "2", "b", "3", "c"),
        ("ZADD", "z", "NX", "5", "a", "6", "d"),
        ("ZADD", "z", "XX", "CH", "5", "a", "7", "e"),
        ("ZADD", "z", "GT", "CH", "1", "a", "9", "b"),
        ("ZADD", "z", "LT", "CH", "0", "a", "99", "b"),
        ("ZADD", "z", "XX", "GT", "INCR", "1", "c"),
        ("ZADD", "z", "XX", "LT", "INCR", "1", "c"),
        ("ZADD", "z", "NX", "INCR", "1", "c"),
        ("ZADD", "z", "INCR", "2.5", "newone"),
        ("ZADD", "z", "NX", "XX", "1", "a"),
        ("ZADD", "z", "GT", "LT", "1", "a"),
        ("ZADD", "z", "GT", "NX", "1", "a"),
        ("ZADD", "z", "INCR", "1", "a", "2", "b"),
        ("ZADD", "z", "1", "a", "2"),
        ("ZADD", "z", "NX"),
        ("ZADD", "z", "nan", "a"),
        ("ZADD", "z", "abc", "a"),
        ("ZADD", "z", " 1", "a"),
        ("ZADD", "z", "1e400", "a"),
        ("ZADD", "z", "0x10", "hex"),
        ("ZADD", "z", "+inf", "top", "-inf", "bottom"),
        ("ZADD", "z", "INCR", "-inf", "top"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("ZADD", "missing", "XX", "1", "a"),
        ("ZADD", "missing", "XX", "INCR", "1", "a"),
        ("EXISTS", "missing"),
        ("ZINCRBY", "z", "3", "a"),
        ("ZINCRBY", "z", "x", "a"),
        ("ZINCRBY", "z", "nx", "a"),
        ("ZINCRBY", "z", "1e308", "q"),
        ("ZINCRBY", "z", "1e308", "q"),
        ("ZSCORE", "z", "q"),
        ("ZSCORE", "z", "0.1"),
        ("ZADD", "z", "0.1", "pointone", "-0", "negzero", "1e-300", "tiny", "123456789012345678", "big"),
        ("ZMSCORE", "z", "pointone", "negzero", "tiny", "big", "nope"),
        ("ZMSCORE", "nokey", "a", "b"),
        ("ZSCORE", "nokey", "a"),
        ("ZCARD", "z"),
        ("ZCARD", "nokey"),
    )


def test_wrongtype_and_arity(pair: Pair) -> None:
    pair.run("SET", "s", "x")
    for cmd in (("ZADD", "s", "1", "a"), ("ZSCORE", "s", "a"), ("ZRANGE", "s", "0", "1"),
                ("ZCARD", "s"), ("ZREM", "s", "a"), ("ZPOPMIN", "s"), ("ZRANDMEMBER", "s"),
                ("ZUNION", "1", "s"), ("ZMPOP", "1", "s", "MIN"), ("ZSCAN", "s", "0"),
                ("ZADD", "z"), ("ZRANGE", "z", "0"), ("ZCARD",), ("ZRANGESTORE", "a", "b", "0"),
                ("ZRANGE", "s", "x", "1"), ("ZRANGEBYSCORE", "s", "x", "1")):
        pair.run(*cmd)


def test_ranges_by_rank_score_lex(pair: Pair) -> None:
    pair.run("ZADD", "z", "1", "a", "2", "b", "2", "bb", "3", "c", "4", "d", "-inf", "m", "+inf", "p")
    for args in (
        ("0", "-1"), ("1", "3"), ("-3", "-1"), ("5", "2"), ("-100", "100"), ("10", "20"),
        ("0", "-1", "WITHSCORES"), ("0", "-1", "REV"), ("0", "1", "REV", "WITHSCORES"),
        ("(1", "3", "BYSCORE"), ("1", "(3", "BYSCORE", "WITHSCORES"), ("-inf", "+inf", "BYSCORE"),
        ("(-inf", "(+inf", "BYSCORE"), ("+inf", "-inf", "BYSCORE", "REV"), ("3", "1", "BYSCORE", "REV"),
        ("-inf", "inf", "BYSCORE", "LIMIT", "1", "2"), ("-inf", "inf", "BYSCORE", "LIMIT", "2", "-1"),
        ("inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "3", "WITHSCORES"),
        ("-inf", "inf", "BYSCORE", "LIMIT", "-1", "2"), ("-inf", "inf", "BYSCORE", "LIMIT", "0", "0"),
        ("x", "1", "BYSCORE"), ("1", "nan", "BYSCORE"), ("(", "3", "BYSCORE"), (" 1", "3", "BYSCORE"),
        ("0x1", "3", "BYSCORE"), ("1e999", "-1e999", "BYSCORE", "REV"),
        ("0", "-1", "LIMIT", "0", "1"), ("0", "-1", "LIMIT", "0", "-1"), ("-", "+", "BYLEX", "WITHSCORES"),
        ("0", "-1", "BYSCORE", "BYLEX"), ("0", "-1", "REV", "REV"), ("0", "-1", "LIMIT", "1"),
        ("0", "-1", "FOO"), ("0", "1", "LIMIT", "a", "1", "BYSCORE"),
    ):
        pair.run("ZRANGE", "z", *args)
        pair.run("ZRANGESTORE", "dst", "z", *[a for a in args if a.upper() != "WITHSCORES"])
        pair.run("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    pair.run("ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "")
    for lo, hi in (("-", "+"), ("[b", "[d"), ("(b", "(d"), ("(a", "+"), ("-", "(c"), ("+", "-"),
                   ("[", "[c"), ("(", "+"), ("[z", "+"), ("a", "b"), ("[a", "+x"), ("-x", "+"),
                   ("[c", "[b"), ("", "+")):
        pair.run("ZRANGEBYLEX", "l", lo, hi)
        pair.run("ZREVRANGEBYLEX", "l", hi, lo)
        pair.run("ZRANGEBYLEX", "l", lo, hi, "LIMIT", "1", "2")
        pair.run("ZREVRANGEBYLEX", "l", hi, lo, "LIMIT", "1", "2")
        pair.run("ZLEXCOUNT", "l", lo, hi)
        pair.run("ZRANGE", "l", lo, hi, "BYLEX")
        pair.run("ZRANGE", "l", hi, lo, "BYLEX", "REV", "LIMIT", "0", "2")
    for lo, hi in (("-inf", "+inf"), ("(1", "4"), ("2", "2"), ("(2", "(2"), ("4", "1"), ("x", "1")):
        pair.run("ZRANGEBYSCORE", "z", lo, hi, "WITHSCORES")
        pair.run("ZREVRANGEBYSCORE", "z", hi, lo, "WITHSCORES", "LIMIT", "1", "10")
        pair.run("ZRANGEBYSCORE", "z", lo, hi, "LIMIT", "1")
        pair.run("ZCOUNT", "z", lo, hi)
    pair.run("ZRANGEBYSCORE", "z", "0", "1", "REV")
    pair.run("ZREVRANGE", "z", "0", "2", "WITHSCORES")
    pair.run("ZREVRANGE", "z", "0", "2", "BYSCORE")
    pair.run("ZRANGE", "nokey", "0", "-1")
    pair.run("ZRANGESTORE", "dst", "nokey", "0", "-1")
    pair.run("EXISTS", "dst")
    pair.run("ZRANGESTORE", "dst", "z", "0", "-1", "WITHSCORES")
    for m in ("a", "bb", "p", "m", "zz"):
        pair.run("ZRANK", "z", m)
        pair.run("ZREVRANK", "z", m)
    pair.run("ZRANK", "nokey", "a")


def test_big_set_ranges_and_removals(pair: Pair) -> None:
    args = [x for i in range(300) for x in (str(i % 50), f"m{i}")]
    pair.run("ZADD", "big", *args)
    pair.run("OBJECT", "ENCODING", "big")
    for rng in (("0", "-1"), ("10", "20", "REV"), ("(5", "10", "BYSCORE"), ("10", "5", "BYSCORE", "REV"),
                ("0", "+inf", "BYSCORE", "LIMIT", "3", "7")):
        pair.run("ZRANGE", "big", *rng)
        pair.run("ZRANGE", "big", *rng, "WITHSCORES")
    pair.run("ZADD", "lex", *[x for i in range(300) for x in ("0", f"m{i}")])
    for rng in (("[m1", "(m2"), ("(m250", "+"), ("-", "[m100")):
        pair.run("ZRANGE", "lex", *rng, "BYLEX")
        pair.run("ZRANGE", "lex", *reversed(rng), "BYLEX", "REV", "LIMIT", "2", "5")
        pair.run("ZLEXCOUNT", "lex", *rng)
    run_all(pair, ("ZREM", "big", "m1", "m2"), ("ZREMRANGEBYRANK", "big", "0", "9"), ("ZPOPMAX", "big", "3"),
            ("ZREMRANGEBYSCORE", "big", "40", "45"), ("ZADD", "big", "7", "m1"), ("ZRANGE", "big", "0", "-1"),
            ("ZRANGEBYSCORE", "big", "-inf", "+inf", "LIMIT", "5", "20"))


def test_remove_and_rem_ranges(pair: Pair) -> None:
    def fill() -> None:
        pair.run("DEL", "z")
        pair.run("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")

    fill()
    run_all(pair, ("ZREM", "z", "a", "x", "b"), ("ZRANGE", "z", "0", "-1"), ("ZREM", "z", "c", "d", "e"),
            ("EXISTS", "z"), ("ZREM", "z", "a"))
    for args in (("1", "2"), ("-2", "-1"), ("3", "1"), ("0", "100"), ("10", "20"), ("x", "1")):
        fill()
        pair.run("ZREMRANGEBYRANK", "z", *args)
        pair.run("ZRANGE", "z", "0", "-1")
    for args in (("2", "4"), ("(2", "(4"), ("-inf", "+inf"), ("x", "1"), ("5", "1")):
        fill()
        pair.run("ZREMRANGEBYSCORE", "z", *args)
        pair.run("ZRANGE", "z", "0", "-1")
    for args in (("[b", "[d"), ("-", "+"), ("(a", "(c"), ("x", "+")):
        fill()
        pair.run("ZADD", "z", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e")
        pair.run("ZREMRANGEBYLEX", "z", *args)
        pair.run("ZRANGE", "z", "0", "-1")
    pair.run("EXISTS", "z")


def test_pops(pair: Pair) -> None:
    run_all(
        pair,
        ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"),
        ("ZPOPMIN", "z"), ("ZPOPMAX", "z"), ("ZPOPMIN", "z", "0"), ("ZPOPMIN", "z", "-1"),
        ("ZPOPMIN", "z", "x"), ("ZPOPMIN", "z", "1", "2"), ("ZPOPMAX", "z", "1"), ("ZPOPMIN", "z", "10"),
        ("EXISTS", "z"), ("ZPOPMIN", "z"), ("ZPOPMIN", "z", "3"),
        ("ZADD", "z2", "1", "a", "2", "b", "3", "c"),
        ("ZMPOP", "2", "nokey", "z2", "MIN"), ("ZMPOP", "2", "nokey", "z2", "MAX", "COUNT", "10"),
        ("ZMPOP", "1", "nokey", "MIN"), ("ZMPOP", "0", "z2", "MIN"), ("ZMPOP", "1", "z2"),
        ("ZMPOP", "1", "z2", "MID"), ("ZMPOP", "1", "z2", "MIN", "COUNT", "0"),
        ("ZMPOP", "1", "z2", "MIN", "COUNT", "1", "COUNT", "1"), ("ZMPOP", "x", "z2", "MIN"),
        ("ZMPOP", "5", "z2", "MIN"), ("ZMPOP", "1", "z2", "MIN", "COUNT"),
    )


def test_setops(pair: Pair) -> None:
    run_all(
        pair,
        ("ZADD", "a", "1", "x", "2", "y", "3", "z"),
        ("ZADD", "b", "10", "y", "20", "z", "30", "w"),
        ("ZADD", "c", "inf", "x", "-inf", "y"),
        ("SADD", "s", "x", "w", "v"),
    )
    for op in ("ZUNION", "ZINTER", "ZDIFF"):
        for rest in (("2", "a", "b"), ("3", "a", "b", "s"), ("2", "a", "c"), ("2", "a", "nokey"),
                     ("1", "nokey"), ("2", "a", "b", "WEIGHTS", "2", "0.5"),
                     ("2", "a", "b", "AGGREGATE", "MIN"), ("2", "a", "b", "AGGREGATE", "max"),
                     ("2", "a", "c", "WEIGHTS", "0", "1"), ("2", "a", "c", "WEIGHTS", "-1", "1"),
                     ("2", "a", "b", "AGGREGATE", "avg"), ("2", "a", "b", "WEIGHTS", "1"),
                     ("2", "a", "b", "WEIGHTS", "x", "1"), ("0", "a"), ("-1", "a"), ("3", "a", "b"),
                     ("x", "a"), ("2", "a", "str"), ("2", "a", "b", "FOO")):
            pair.run(op, *rest)
            pair.run(op, *rest, "WITHSCORES")
            pair.run(op + "STORE", "dst", *rest)
            pair.run("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    pair.run("SET", "str", "x")
    pair.run("ZUNION", "2", "a", "str")
    pair.run("ZUNIONSTORE", "dst", "2", "a", "str")
    pair.run("ZUNIONSTORE", "dst", "2", "a", "b", "WITHSCORES")
    for rest in (("2", "a", "b"), ("2", "a", "b", "LIMIT", "1"), ("2", "a", "b", "LIMIT", "0"),
                 ("2", "a", "b", "LIMIT", "-1"), ("1", "s"), ("2", "a", "nokey"), ("0", "a"),
                 ("2", "a", "b", "WITHSCORES"), ("2", "a", "str"), ("3", "a", "b")):
        pair.run("ZINTERCARD", *rest)


def test_randmember_shapes(pair: Pair) -> None:
    pair.run("ZADD", "z", "1", "a", "2", "b", "3", "c")
    for args in (("10",), ("3",), ("10", "WITHSCORES"), ("0",), ("x",), ("1", "FOO"),
                 ("-9223372036854775808",), ("9223372036854775807", "WITHSCORES"), ("1", "2", "3")):
        pair.run("ZRANDMEMBER", "z", *args)
    pair.run("ZRANDMEMBER", "nokey")
    pair.run("ZRANDMEMBER", "nokey", "5")
    pair.run("ZADD", "one", "5", "only")
    pair.run("ZRANDMEMBER", "one")
    pair.run("ZRANDMEMBER", "one", "-3", "WITHSCORES")


def test_zscan(pair: Pair) -> None:
    pair.run("ZADD", "z", "1", "a", "2.5", "b", "inf", "c", "0.1", "dd")
    run_all(pair, ("ZSCAN", "z", "0"), ("ZSCAN", "z", "0", "MATCH", "d*"), ("ZSCAN", "z", "0", "COUNT", "0"),
            ("ZSCAN", "z", "x"), ("ZSCAN", "nokey", "0", "BAD"), ("ZSCAN", "z", "0", "BAD"),
            ("ZSCAN", "z", "0", "COUNT", "x"))


def test_zscan_large_set_visits_everything(r: redis.Redis) -> None:
    r.zadd("big", {f"m{i}": i for i in range(500)})
    assert r.object("encoding", "big") == b"skiplist"
    seen = dict(r.zscan_iter("big", count=37))
    assert len(seen) == 500 and seen[b"m42"] == 42.0


def test_encodings_follow_thresholds(r: redis.Redis) -> None:
    r.zadd("small", {"a": 1})
    assert r.object("encoding", "small") == b"listpack"
    r.zadd("long", {"x" * 65: 1})
    assert r.object("encoding", "long") == b"skiplist"
    r.zadd("grow", {f"m{i}": i for i in range(128)})
    assert r.object("encoding", "grow") == b"listpack"
    r.zadd("grow", {"m128": 128})
    assert r.object("encoding", "grow") == b"skiplist"
    r.zremrangebyrank("grow", 0, 100)
    assert r.object("encoding", "grow") == b"skiplist"
    r.zunionstore("u", ["grow"])
    assert r.object("encoding", "u") == b"listpack"


def test_redis_py_resp3_shapes(r3: redis.Redis) -> None:
    r3.zadd("z", {"a": 1, "b": 2.5})
    assert r3.zscore("z", "b") == 2.5
    assert r3.zrange("z", 0, -1, withscores=True) == [[b"a", 1.0], [b"b", 2.5]]
    assert r3.zpopmin("z") == [b"a", 1.0]
    assert r3.zmpop(1, ["z"], min=True) == [b"z", [[b"b", 2.5]]]


scores = st.sampled_from(["0", "1", "-1", "2.5", "+inf", "-inf", "(1", "(2.5", "1e3", "x", "0.1"])
members = st.sampled_from(["a", "b", "c", "d", "e", "f"])
keys = st.sampled_from(["k1", "k2", "str"])
lex = st.sampled_from(["-", "+", "[a", "(b", "[c", "(e", "x"])
ints = st.sampled_from(["0", "1", "2", "-1", "-3", "10", "x"])
command = st.one_of(
    st.tuples(st.just("ZADD"), keys, st.sampled_from(["NX", "XX", "GT", "LT", "CH", "INCR", "1"]),
              scores, members),
    st.tuples(st.just("ZADD"), keys, scores, members, scores, members),
    st.tuples(st.just("ZINCRBY"), keys, scores, members),
    st.tuples(st.just("ZREM"), keys, members, members),
    st.tuples(st.sampled_from(["ZRANGE", "ZREVRANGE", "ZREMRANGEBYRANK"]), keys, ints, ints),
    st.tuples(st.sampled_from(["ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZCOUNT", "ZREMRANGEBYSCORE"]),
              keys, scores, scores),
    st.tuples(st.sampled_from(["ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZLEXCOUNT", "ZREMRANGEBYLEX"]),
              keys, lex, lex),
    st.tuples(st.just("ZRANGE"), keys, scores, scores, st.just("BYSCORE"), st.just("LIMIT"), ints, ints),
    st.tuples(st.sampled_from(["ZSCORE", "ZRANK", "ZREVRANK", "ZMSCORE"]), keys, members),
    st.tuples(st.sampled_from(["ZPOPMIN", "ZPOPMAX"]), keys, ints),
    st.tuples(st.sampled_from(["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]), keys, st.just("2"), keys, keys),
    st.tuples(st.sampled_from(["ZUNION", "ZINTER", "ZDIFF"]), st.just("2"), keys, keys,
              st.just("WITHSCORES")),
    st.tuples(st.just("ZRANGE"), keys, st.just("0"), st.just("-1"), st.just("WITHSCORES")),
    st.tuples(st.just("ZCARD"), keys),
    st.tuples(st.just("SET"), st.just("str"), members),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(command, min_size=1, max_size=25))
def test_hypothesis_sequences(pair: Pair, cmds: list[tuple]) -> None:
    pair.ks.call("FLUSHALL")
    pair.ref.call("FLUSHALL")
    for cmd in cmds:
        pair.run(*cmd)
    for k in ("k1", "k2"):
        pair.run("ZRANGE", k, "0", "-1", "WITHSCORES")


def test_blocking_pops_served_at_once_and_errors(pair: Pair) -> None:
    run_all(
        pair,
        ("ZADD", "z", "1", "a", "2", "b", "3", "c"),
        ("BZPOPMIN", "nokey", "z", "0"), ("BZPOPMAX", "z", "0.5"),
        ("BZMPOP", "0", "2", "nokey", "z", "MIN", "COUNT", "5"),
        ("BZPOPMIN", "z", "-1"), ("BZPOPMIN", "z", "x"), ("BZMPOP", "x", "0", "z", "MIN"),
        ("BZMPOP", "0", "1", "z", "MID"), ("SET", "s", "v"), ("BZPOPMIN", "s", "0"),
        ("MULTI",), ("BZPOPMIN", "z", "0"), ("BZMPOP", "0", "1", "z", "MAX"), ("EXEC",),
    )


def test_bzpopmin_timeout_and_wakeup(keystream_server) -> None:
    from tests.differential import RawClient

    c = redis.Redis(port=keystream_server.port, socket_timeout=10)
    c.delete("bz")
    assert c.bzpopmin("bz", timeout=0.1) is None
    blocker = RawClient(keystream_server.port)
    blocker.send("BZPOPMAX", "nokey", "bz", "5")
    deadline = time.monotonic() + 5
    while b"cmd=bzpopmax" not in c.execute_command("CLIENT", "LIST"):
        assert time.monotonic() < deadline, "the client never blocked"
    c.zadd("bz", {"a": 1, "b": 2})
    assert blocker.read() == [b"bz", b"b", b"2"]
    assert c.zrange("bz", 0, -1) == [b"a"]
    blocker.close()
    c.close()


def test_bzpopmin_not_woken_by_key_turned_string(keystream_server) -> None:
    from tests.differential import RawClient

    c = redis.Redis(port=keystream_server.port, socket_timeout=10)
    c.delete("bz")
    blocker = RawClient(keystream_server.port)
    blocker.send("BZPOPMIN", "bz", "5")
    deadline = time.monotonic() + 5
    while b"cmd=bzpopmin" not in c.execute_command("CLIENT", "LIST"):
        assert time.monotonic() < deadline, "the client never blocked"
    with c.pipeline(transaction=True) as p:
        p.zadd("bz", {"foo": 0}).delete("bz").set("bz", "foo").execute()
    c.delete("bz")
    c.zadd("bz", {"bar": 1})
    assert blocker.read() == [b"bz", b"bar", b"1"]
    blocker.close()
    c.close()
