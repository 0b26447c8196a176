"""List commands: differential against real redis-server (RESP2 and RESP3), redis-py, hypothesis."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Pair


def test_push_pop_basics(pair):
    for cmd in [
        ("LPUSH", "l", "a", "b", "c"), ("RPUSH", "l", "d", "e"), ("LRANGE", "l", 0, -1),
        ("LPUSHX", "nol", "x"), ("RPUSHX", "nol", "x"), ("EXISTS", "nol"),
        ("LPUSHX", "l", "x", "y"), ("RPUSHX", "l", "z"), ("LLEN", "l"), ("LLEN", "nol"),
        ("LPOP", "l"), ("RPOP", "l"), ("LPOP", "l", 2), ("RPOP", "l", 2), ("LPOP", "l", 0),
        ("LPOP", "nol"), ("LPOP", "nol", 0), ("LPOP", "nol", 3), ("RPOP", "nol", 1),
        ("LPOP", "l", -1), ("LPOP", "l", "x"), ("LPOP", "l", 1, 2), ("RPOP", "l", 100),
        ("EXISTS", "l"), ("RPUSH", "big", *[str(i) for i in range(300)]), ("RPOP", "big", 250),
        ("LPOP", "big", 250), ("EXISTS", "big"),
        ("RPUSH", "e", ""), ("LRANGE", "e", 0, -1), ("LPOP", "e"), ("EXISTS", "e"),
    ]:
        pair.run(*cmd)


def test_wrongtype_and_arity(pair):
    pair.run("SET", "s", "v")
    for cmd in [
        ("LPUSH", "s", "a"), ("RPUSH", "s", "a"), ("LPUSHX", "s", "a"), ("RPUSHX", "s", "a"),
        ("LPOP", "s"), ("RPOP", "s", 2), ("LLEN", "s"), ("LRANGE", "s", 0, 1), ("LINDEX", "s", 0),
        ("LSET", "s", 0, "x"), ("LINSERT", "s", "BEFORE", "a", "b"), ("LREM", "s", 0, "a"),
        ("LTRIM", "s", 0, 1), ("LPOS", "s", "a"), ("LMOVE", "s", "d", "LEFT", "LEFT"),
        ("RPOPLPUSH", "s", "d"), ("LMPOP", 1, "s", "LEFT"), ("BLPOP", "s", 0),
        ("BRPOP", "nol", "s", 0), ("BLMOVE", "s", "d", "LEFT", "LEFT", 0), ("BRPOPLPUSH", "s", "d", 0),
        ("BLMPOP", 0, 1, "s", "LEFT"),
        ("LPUSH", "s"), ("LPOP",), ("LLEN",), ("LRANGE", "s", 0), ("LINSERT", "s", "a"),
        ("LPOS", "s"), ("LMPOP", 1), ("BLPOP", "s"), ("BLMOVE", "a", "b", "LEFT", "LEFT"),
        ("BLMPOP", 0, 1), ("RPOPLPUSH", "a"),
    ]:
        pair.run(*cmd)
    pair.run("RPUSH", "l", "a")
    pair.run("RPOPLPUSH", "l", "s")
    pair.run("LMOVE", "l", "s", "LEFT", "RIGHT")
    pair.run("BLMOVE", "l", "s", "LEFT", "RIGHT", 0)
    pair.run("LRANGE", "l", 0, -1)


def test_index_range_set(pair):
    pair.run("RPUSH", "l", *"abcdefghij")
    for a, b in [(0, -1), (-3, -1), (2, 5), (5, 2), (-100, 100), (9, 9), (10, 20), (-1, -2),
                 (0, 0), (-11, -10), (3, -3), ("x", 1), (1, "y"), (0, "9223372036854775807"),
                 ("-9223372036854775808", 2)]:
        pair.run("LRANGE", "l", a, b)
        pair.run("LRANGE", "nol", a, b)
    for i in [0, 9, 10, -1, -10, -11, "x", "1.5", "9223372036854775808"]:
        pair.run("LINDEX", "l", i)
        pair.run("LINDEX", "nol", i)
        pair.run("LSET", "l", i, "new")
        pair.run("LSET", "nol", i, "new")
    pair.run("LRANGE", "l", 0, -1)


def test_linsert_lrem_ltrim(pair):
    pair.run("RPUSH", "l", "a", "b", "c", "b", "a", "b")
    for cmd in [
        ("LINSERT", "l", "BEFORE", "b", "X"), ("LINSERT", "l", "after", "b", "Y"),
        ("LINSERT", "l", "after", "zz", "Y"), ("LINSERT", "l", "middle", "b", "Y"),
        ("LINSERT", "nol", "BEFORE", "b", "X"), ("LINSERT", "nol", "bad", "b", "X"),
        ("LRANGE", "l", 0, -1),
        ("LREM", "l", 1, "b"), ("LREM", "l", -1, "b"), ("LRANGE", "l", 0, -1), ("LREM", "l", 0, "a"),
        ("LREM", "l", "x", "a"), ("LREM", "nol", 0, "a"), ("LRANGE", "l", 0, -1),
        ("LREM", "l", 0, "X"), ("LREM", "l", 0, "Y"), ("LREM", "l", 0, "c"), ("LREM", "l", 0, "b"),
        ("EXISTS", "l"),
        ("RPUSH", "t", *"abcdefghij"), ("LTRIM", "t", 1, -2), ("LRANGE", "t", 0, -1),
        ("LTRIM", "t", -3, 100), ("LRANGE", "t", 0, -1), ("LTRIM", "t", "a", 1),
        ("LTRIM", "nol", 0, 1), ("LTRIM", "t", 5, 1), ("EXISTS", "t"),
        ("RPUSH", "t", *"abcdefghij"), ("LTRIM", "t", 0, 0), ("LRANGE", "t", 0, -1),
        ("LTRIM", "t", -100, -50), ("EXISTS", "t"),
    ]:
        pair.run(*cmd)


def test_lpos(pair):
    pair.run("RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c")
    opts = [(), ("RANK", 1), ("RANK", 2), ("RANK", -1), ("RANK", -3), ("RANK", 5), ("RANK", 0),
            ("COUNT", 0), ("COUNT", 2), ("COUNT", -1), ("MAXLEN", 0), ("MAXLEN", 3),
            ("MAXLEN", -1), ("RANK", -2, "COUNT", 0), ("RANK", 2, "COUNT", 1, "MAXLEN", 7),
            ("RANK",), ("COUNT", "x"), ("MAXLEN", "x"), ("RANK", "x"), ("FOO", 1),
            ("RANK", -1, "MAXLEN", 1), ("RANK", "-9223372036854775808")]
    for ele in ["c", "a", "zz"]:
        for o in opts:
            pair.run("LPOS", "l", ele, *o)
            pair.run("LPOS", "nol", ele, *o)


def test_lmove_rpoplpush(pair):
    pair.run("RPUSH", "a", "1", "2", "3")
    for src_side in ["LEFT", "RIGHT"]:
        for dst_side in ["LEFT", "right"]:
            pair.run("LMOVE", "a", "b", src_side, dst_side)
            pair.run("LRANGE", "b", 0, -1)
    pair.run("LMOVE", "a", "b", "UP", "LEFT")
    pair.run("LMOVE", "a", "b", "LEFT", "UP")
    pair.run("LMOVE", "nol", "b", "UP", "LEFT")
    pair.run("LMOVE", "nol", "b", "LEFT", "LEFT")
    pair.run("RPOPLPUSH", "b", "b")
    pair.run("LMOVE", "b", "b", "LEFT", "RIGHT")
    pair.run("LRANGE", "b", 0, -1)
    pair.run("RPOPLPUSH", "nol", "b")
    pair.run("RPUSH", "one", "x")
    pair.run("RPOPLPUSH", "one", "one")
    pair.run("RPOPLPUSH", "one", "two")
    pair.run("EXISTS", "one")
    pair.run("LRANGE", "two", 0, -1)


def test_lmpop(pair):
    pair.run("RPUSH", "a", "1", "2", "3")
    pair.run("RPUSH", "b", "4", "5")
    for cmd in [
        ("LMPOP", 2, "nol", "a", "LEFT"), ("LMPOP", 2, "nol", "a", "RIGHT", "COUNT", 10),
        ("LMPOP", 1, "nol", "LEFT"), ("LMPOP", 0, "a", "LEFT"), ("LMPOP", -1, "a", "LEFT"),
        ("LMPOP", "x", "a", "LEFT"), ("LMPOP", 5, "a", "LEFT"), ("LMPOP", 1, "a", "MIDDLE"),
        ("LMPOP", 1, "b", "LEFT", "COUNT"), ("LMPOP", 1, "b", "LEFT", "COUNT", 0),
        ("LMPOP", 1, "b", "LEFT", "COUNT", -1), ("LMPOP", 1, "b", "LEFT", "COUNT", "x"),
        ("LMPOP", 1, "b", "LEFT", "COUNT", 1, "COUNT", 1), ("LMPOP", 1, "b", "LEFT", "foo"),
        ("LMPOP", 2, "a", "b", "LEFT", "COUNT", 1), ("LMPOP", 1, "b", "RIGHT", "COUNT", 5),
        ("EXISTS", "b"),
        ("BLMPOP", 0.01, 1, "nol", "LEFT"), ("BLMPOP", "x", 1, "nol", "LEFT"),
        ("BLMPOP", -1, 1, "nol", "LEFT"), ("BLMPOP", 0, 0, "nol", "LEFT"),
        ("BLMPOP", "x", 1, "nol", "bad"), ("BLMPOP", 0, 1, "nol", "LEFT", "COUNT", 0),
        ("RPUSH", "c", "1", "2"), ("BLMPOP", 0, 2, "nol", "c", "RIGHT", "COUNT", 3),
    ]:
        pair.run(*cmd)


def test_blocking_immediate_and_errors(pair):
    pair.run("RPUSH", "a", *"123456789")
    for cmd in [
        ("BLPOP", "nol", "a", 0), ("BRPOP", "a", 0.5), ("BLPOP", "a", "x"), ("BLPOP", "a", -1),
        ("BLPOP", "a", "-0.0001"), ("BLPOP", "a", "inf"), ("BLPOP", "a", "nan"),
        ("BLPOP", "a", "1e100"), ("BLPOP", "a", " 1"), ("BLPOP", "a", "0x10"),
        ("BLMOVE", "nol", "d", "LEFT", "RIGHT", -1), ("BLMOVE", "nol", "d", "X", "RIGHT", -1),
        ("BRPOPLPUSH", "nol", "d", "abc"), ("BRPOPLPUSH", "nol", "d", 0.01),
        ("BLMOVE", "nol", "d", "LEFT", "RIGHT", 0.01), ("BLPOP", "nol", 0.01),
        ("RPUSH", "a", "4"), ("BLMOVE", "a", "d", "RIGHT", "LEFT", 0), ("BRPOPLPUSH", "a", "d", 0),
        ("LRANGE", "d", 0, -1), ("EXISTS", "a"),
    ]:
        pair.run(*cmd)


def test_blocking_inside_multi(pair):
    for cmd in [
        ("MULTI",), ("BLPOP", "nol", 0), ("BRPOP", "nol", 1), ("BLMOVE", "nol", "d", "LEFT", "LEFT", 0),
        ("BRPOPLPUSH", "nol", "d", 0), ("BLMPOP", 0, 1, "nol", "LEFT"), ("RPUSH", "x", "1"),
        ("BLPOP", "x", 0), ("EXEC",),
    ]:
        pair.run(*cmd)


def test_object_encoding_and_type(pair):
    pair.run("RPUSH", "l", "a")
    pair.run("OBJECT", "ENCODING", "l")
    pair.run("TYPE", "l")
    pair.run("RPUSH", "l", "x" * 10000)
    pair.run("OBJECT", "ENCODING", "l")


def test_large_and_binary_elements(pair):
    big = "v" * 5000
    pair.run("RPUSH", "l", big, "a\r\nb", "\x00\xff", "1", "-1", "007")
    pair.run("LRANGE", "l", 0, -1)
    pair.run("LPOS", "l", "a\r\nb")
    pair.run("LREM", "l", 0, big)
    pair.run("LINDEX", "l", 1)


def test_redis_py_shapes(r, r3):
    for c in (r, r3):
        c.delete("l")
        assert c.rpush("l", "a", "b", "c") == 3
        assert c.lrange("l", 0, -1) == [b"a", b"b", b"c"]
        assert c.lpop("l", 2) == [b"a", b"b"]
        assert c.lmpop(1, "l", direction="LEFT") == [b"l", [b"c"]]
        assert c.blpop(["l"], timeout=0.05) is None
        assert c.lpop("l", 1) is None
        c.rpush("l", "x")
        assert c.blpop(["l"], timeout=1) in ([b"l", b"x"], (b"l", b"x"))


_KEYS = st.sampled_from(["k1", "k2", "s"])
_VALS = st.sampled_from(["a", "b", "c", "1", "", "zz"])
_INTS = st.integers(-6, 6).map(str)
_SIDE = st.sampled_from(["LEFT", "RIGHT"])
_CMDS = st.one_of(
    st.tuples(st.sampled_from(["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]), _KEYS, _VALS, _VALS),
    st.tuples(st.sampled_from(["LPOP", "RPOP"]), _KEYS),
    st.tuples(st.sampled_from(["LPOP", "RPOP"]), _KEYS, st.integers(0, 4).map(str)),
    st.tuples(st.just("LRANGE"), _KEYS, _INTS, _INTS),
    st.tuples(st.just("LTRIM"), _KEYS, _INTS, _INTS),
    st.tuples(st.just("LINDEX"), _KEYS, _INTS),
    st.tuples(st.just("LSET"), _KEYS, _INTS, _VALS),
    st.tuples(st.just("LREM"), _KEYS, _INTS, _VALS),
    st.tuples(st.just("LINSERT"), _KEYS, st.sampled_from(["BEFORE", "AFTER"]), _VALS, _VALS),
    st.tuples(st.just("LPOS"), _KEYS, _VALS, st.just("RANK"), st.sampled_from(["1", "-1", "2"]),
              st.just("COUNT"), st.sampled_from(["0", "1", "2"])),
    st.tuples(st.just("LMOVE"), _KEYS, _KEYS, _SIDE, _SIDE),
    st.tuples(st.just("RPOPLPUSH"), _KEYS, _KEYS),
    st.tuples(st.just("LMPOP"), st.just("2"), _KEYS, _KEYS, _SIDE, st.just("COUNT"),
              st.sampled_from(["1", "3"])),
    st.tuples(st.just("BLPOP"), _KEYS, _KEYS, st.just("0.01")),
    st.tuples(st.just("SET"), st.just("s"), _VALS),
    st.tuples(st.just("LLEN"), _KEYS),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cmds=st.lists(_CMDS, min_size=1, max_size=25), proto=st.sampled_from([2, 3]))
def test_hypothesis_sequences(keystream_server, redis_server, cmds, proto):
    p = Pair(keystream_server.port, redis_server.port, proto)
    try:
        p.run("FLUSHALL")
        for cmd in cmds:
            p.run(*cmd)
        for key in ("k1", "k2"):
            p.run("LRANGE", key, 0, -1)
            p.run("TYPE", key)
    finally:
        p.close()


_LIST_COMMANDS = [
    "lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "llen", "lrange", "lindex", "lset",
    "linsert", "lrem", "ltrim", "lpos", "lmove", "rpoplpush", "lmpop", "blpop", "brpop", "blmove",
    "brpoplpush", "blmpop",
]


def test_command_info_and_getkeys(pair):
    for name in _LIST_COMMANDS:
        pair.run("COMMAND", "INFO", name)
    pair.run("COMMAND", "GETKEYS", "LMPOP", 2, "a", "b", "LEFT")
    pair.run("COMMAND", "GETKEYS", "BLMPOP", 0, 2, "a", "b", "LEFT", "COUNT", 2)
    pair.run("COMMAND", "GETKEYS", "BLPOP", "a", "b", 0)
    pair.run("COMMAND", "GETKEYS", "BLMOVE", "a", "b", "LEFT", "LEFT", 0)
