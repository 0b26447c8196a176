"""Random Lua scripts run by EVAL on Keystream and on real Redis 7.0, every raw reply compared.

Each script is a few `redis.call` / `redis.pcall` of commands over strings, lists, hashes,
sets, sorted sets, streams and generic key commands, on three keys (KEYS[1..3], so wrong-type
mixes happen), with random arguments passed as Lua strings or Lua numbers (integers, floats,
huge ones), wrong arities and unknown commands among them; the results are gathered in a table
(or the last call's result returned directly), sometimes under `redis.setresp(3)`, so the
conversions both ways (nil/false, floats truncated in RESP2, error and status tables inside
arrays, RESP3 maps/sets/doubles), script errors (`redis.call` failing, with its
`script: <sha>, on @user_script:<line>.` suffix) and the data the scripts leave behind are
compared byte for byte, in RESP2 and RESP3 (the data read back per type: DUMP payloads may
legitimately differ where LZF finds another compression).

Commands whose replies follow hash-table order (SMEMBERS, HGETALL of big hashes...) are left
out or made deterministic (small hashes keep insertion order in both). The default run is
bounded; SLOW_TESTS=1 runs many more scripts.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Pair

EXAMPLES = 1000 if os.environ.get("SLOW_TESTS") else 60

KEY = st.sampled_from(["KEYS[1]", "KEYS[2]", "KEYS[3]"])
WORDS = ["'a'", "'b'", "'x y'", "''", "'1'", "'-3'", "'1.5'", "'abc'", "'9223372036854775807'", "'inf'"]
LUA_NUMBERS = ["0", "1", "-2", "3.0", "1.5", "-0.25", "1e20", "2^53", "0.1", "100"]
ARG = st.one_of(st.sampled_from(WORDS), st.sampled_from(LUA_NUMBERS), st.sampled_from(["ARGV[1]", "ARGV[2]"]))
FIELD = st.sampled_from(["'f'", "'g'", "'h'"])
INT = st.integers(-3, 5).map(str)
ID = st.builds(lambda ms, seq: f"'{ms}-{seq}'", st.integers(0, 9), st.integers(0, 2))


@st.composite
def call(draw) -> str:
    """One redis.call/pcall expression."""
    k = draw(KEY)
    a = draw(ARG)
    f = draw(FIELD)
    i, j = draw(INT), draw(INT)
    forms = [
        f"'SET', {k}, {a}", f"'GET', {k}", f"'INCR', {k}", f"'INCRBYFLOAT', {k}, {a}", f"'APPEND', {k}, {a}",
        f"'STRLEN', {k}", f"'GETRANGE', {k}, {i}, {j}", f"'MGET', {k}, {draw(KEY)}", f"'GETDEL', {k}",
        f"'SETRANGE', {k}, {abs(int(i))}, {a}", f"'INCRBY', {k}, {a}",
        f"'LPUSH', {k}, {a}", f"'RPUSH', {k}, {a}, {draw(ARG)}", f"'RPOP', {k}", f"'LPOP', {k}, {abs(int(i))}",
        f"'LRANGE', {k}, {i}, {j}", f"'LLEN', {k}", f"'LPOS', {k}, {a}", f"'LINDEX', {k}, {i}",
        f"'HSET', {k}, {f}, {a}", f"'HGET', {k}, {f}", f"'HGETALL', {k}", f"'HINCRBY', {k}, {f}, {a}",
        f"'HINCRBYFLOAT', {k}, {f}, {a}", f"'HDEL', {k}, {f}", f"'HMGET', {k}, {f}, {draw(FIELD)}",
        f"'SADD', {k}, {a}", f"'SREM', {k}, {a}", f"'SCARD', {k}", f"'SISMEMBER', {k}, {a}",
        f"'SMISMEMBER', {k}, {a}, {draw(ARG)}",
        f"'ZADD', {k}, {a}, {f}", f"'ZINCRBY', {k}, {a}, {f}", f"'ZSCORE', {k}, {f}",
        f"'ZRANGE', {k}, {i}, {j}, 'WITHSCORES'", f"'ZRANK', {k}, {f}", f"'ZCARD', {k}",
        f"'ZRANGEBYSCORE', {k}, '-inf', {a}", f"'ZPOPMIN', {k}",
        f"'XADD', {k}, {draw(ID)}, 'f', {a}", f"'XLEN', {k}", f"'XRANGE', {k}, '-', '+'",
        f"'XDEL', {k}, {draw(ID)}",
        f"'DEL', {k}", f"'EXISTS', {k}, {draw(KEY)}", f"'TYPE', {k}", f"'EXPIRE', {k}, {a}", f"'TTL', {k}",
        f"'PERSIST', {k}", f"'RENAME', {k}, {draw(KEY)}", f"'COPY', {k}, {draw(KEY)}",
        f"'OBJECT', 'ENCODING', {k}",
        "'GET'", f"'NOSUCHCOMMAND', {k}", f"'SET', {k}", "'PING'", f"'ECHO', {a}",
    ]
    fn = draw(st.sampled_from(["redis.pcall", "redis.pcall", "redis.call"]))
    return f"{fn}({draw(st.sampled_from(forms))})"


@st.composite
def scripts(draw) -> str:
    calls = draw(st.lists(call(), min_size=1, max_size=8))
    lines = ["redis.setresp(3)"] if draw(st.booleans()) else []
    shape = draw(st.sampled_from(["table", "table", "last", "typed"]))
    if shape == "last":
        lines += calls[:-1] + [f"return {calls[-1]}"]
    elif shape == "typed":  # what the values look like on the Lua side
        lines.append("local r = {}")
        for c in calls:
            lines.append(f"do local v = {c}; r[#r+1] = type(v); "
                         "if type(v) == 'table' then r[#r+1] = v.err or v.ok or v.double or #v "
                         "else r[#r+1] = tostring(v) end end")
        lines.append("return r")
    else:
        lines.append("local r = {}")
        lines += [f"r[#r+1] = {c}" for c in calls]
        lines.append("return r")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def pairs(keystream_server, redis_server):
    made = [Pair(keystream_server.port, redis_server.port, proto) for proto in (2, 3)]
    yield made
    for p in made:
        p.close()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(scripts(), min_size=1, max_size=3), st.integers(0, 1),
       st.lists(st.sampled_from(["1", "x", "2.5", ""]), min_size=2, max_size=2))
def test_random_scripts_match_redis(pairs, bodies, proto, argv) -> None:
    pair = pairs[proto]
    pair.both("FLUSHALL")
    for body in bodies:
        pair.run("EVAL", body, "3", "k1", "k2", "k3", *argv)
    for key in ("k1", "k2", "k3"):
        kind = pair.run("TYPE", key)
        read = _READ_BACK.get(kind)
        if read is not None:
            pair.run(*read(key), unordered=kind == b"set")


_READ_BACK = {
    b"string": lambda k: ("GET", k),
    b"list": lambda k: ("LRANGE", k, "0", "-1"),
    b"hash": lambda k: ("HGETALL", k),
    b"set": lambda k: ("SMEMBERS", k),
    b"zset": lambda k: ("ZRANGE", k, "0", "-1", "WITHSCORES"),
    b"stream": lambda k: ("XRANGE", k, "-", "+"),
}
