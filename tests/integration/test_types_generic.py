"""What every data type shares, against real redis-server: the encoding settings (defaults,
accepted values, aliases) and the OBJECT ENCODING each one drives, SCAN TYPE, COPY (also
across databases) and RENAME of every type, and range queries that cost O(log n + m)."""

from __future__ import annotations

import time

import pytest

from tests.differential import Pair

_ENCODING_SETTINGS = (
    "hash-max-listpack-entries", "hash-max-listpack-value", "hash-max-ziplist-entries",
    "hash-max-ziplist-value", "set-max-intset-entries", "zset-max-listpack-entries",
    "zset-max-listpack-value", "zset-max-ziplist-entries", "zset-max-ziplist-value",
    "list-max-listpack-size", "list-max-ziplist-size",
)
_DEFAULTS = {
    "hash-max-listpack-entries": "512", "hash-max-listpack-value": "64",
    "set-max-intset-entries": "512", "zset-max-listpack-entries": "128",
    "zset-max-listpack-value": "64", "list-max-listpack-size": "-2",
}


def _restore_defaults(p: Pair) -> None:
    for name, value in _DEFAULTS.items():
        p.both("CONFIG", "SET", name, value)


def test_encoding_setting_defaults_match_a_fresh_redis(keystream_server, redis_server) -> None:
    # First test of the module: both servers are fresh (module-scoped fixtures).
    p = Pair(keystream_server.port, redis_server.port, 2)
    try:
        for name in _ENCODING_SETTINGS:
            assert p.run("CONFIG", "GET", name)[1] == _DEFAULTS[
                name.replace("ziplist-size", "listpack-size").replace("ziplist", "listpack")].encode()
    finally:
        p.close()


def test_encoding_settings_accept_what_redis_accepts(pair: Pair) -> None:
    try:
        for name in _ENCODING_SETTINGS:
            for value in ("0", "7", "-1", "-6", "x", "1.5", "1k", "2kb", "-0", " 1",
                          "9223372036854775807", "9223372036854775808", "2147483648",
                          "-2147483649", "-9223372036854775809"):
                pair.run("CONFIG", "SET", name, value)
                pair.run("CONFIG", "GET", name)
    finally:
        _restore_defaults(pair)


def _enc(p: Pair, key: str) -> None:
    p.run("OBJECT", "ENCODING", key)


@pytest.mark.parametrize("entries,value", [
    ("hash-max-listpack-entries", "hash-max-listpack-value"),
    ("hash-max-ziplist-entries", "hash-max-ziplist-value"),
])
@pytest.mark.parametrize("limits", [(0, 0), (1, 1), (3, 5), (4, 0), (512, 64)])
def test_hash_encoding_follows_every_threshold(pair: Pair, entries, value, limits) -> None:
    n, size = limits
    try:
        pair.run("CONFIG", "SET", entries, n, value, size)
        for i in range(6):
            pair.run("HSET", "h", f"f{i}", "v")
            _enc(pair, "h")
        for key, args in (("v", ("HSET", "f", "x" * size)), ("v2", ("HSET", "f", "x" * (size + 1))),
                          ("v3", ("HSET", "x" * (size + 1), "1")),
                          ("v4", ("HSETNX", "x" * (size + 1), "1")),
                          ("i", ("HINCRBYFLOAT", "f", "0.1234567890123")),
                          ("j", ("HINCRBY", "f", "12345678901234")),
                          ("m", ("HMSET", "a", "1", "b", "2"))):
            pair.run(args[0], key, *args[1:])
            _enc(pair, key)
        pair.run("COPY", "h", "hc")
        _enc(pair, "hc")
        pair.run("RENAME", "hc", "hr")
        _enc(pair, "hr")
        pair.run("HDEL", "h", "f0", "f1", "f2", "f3")
        _enc(pair, "h")
    finally:
        _restore_defaults(pair)


@pytest.mark.parametrize("limit", [0, 1, 3, 512])
def test_set_encoding_follows_intset_threshold(pair: Pair, limit) -> None:
    try:
        pair.run("CONFIG", "SET", "set-max-intset-entries", limit)
        for i in range(6):
            pair.run("SADD", "s", i)
            _enc(pair, "s")
        for key, members in (("t", ("1", "2", "3", "4", "5")), ("a", ("a",)),
                             ("n", ("-9223372036854775808", "9223372036854775807")),
                             ("n2", ("9223372036854775808",)), ("n3", ("01",)), ("n4", ("+1",)),
                             ("n5", (" 1",)), ("n6", ("-0",))):
            pair.run("SADD", key, *members)
            _enc(pair, key)
        for cmd, changed in ((("SINTERSTORE", "d", "s", "t"), ("d",)),
                             (("SUNIONSTORE", "d2", "s", "t"), ("d2",)),
                             (("SDIFFSTORE", "d3", "t", "a"), ("d3",)),
                             (("SUNIONSTORE", "d4", "a", "t"), ("d4",)),
                             (("SMOVE", "a", "t", "a"), ("t",)), (("SMOVE", "t", "e", "1"), ("t", "e")),
                             (("SPOP", "d2", "2"), ("d2",)), (("COPY", "s", "sc"), ("sc",)),
                             (("SORT", "t", "ALPHA", "STORE", "srt"), ("srt",))):
            if cmd[0] == "SPOP":
                pair.both(*cmd)  # random members; the encoding left behind is what counts
            else:
                pair.run(*cmd)
            for key in changed:
                _enc(pair, key)
    finally:
        _restore_defaults(pair)


@pytest.mark.parametrize("entries,value", [
    ("zset-max-listpack-entries", "zset-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-ziplist-value"),
])
@pytest.mark.parametrize("limits", [(0, 0), (1, 1), (3, 5), (4, 0), (128, 64)])
def test_zset_encoding_follows_every_threshold(pair: Pair, entries, value, limits) -> None:
    n, size = limits
    try:
        pair.run("CONFIG", "SET", entries, n, value, size)
        for i in range(6):
            pair.run("ZADD", "z", i, f"m{i}")
            _enc(pair, "z")
        pair.run("SADD", "set", "a", "b")
        for cmd in (("ZADD", "v", 1, "x" * size), ("ZADD", "v2", 1, "x" * (size + 1)),
                    ("ZINCRBY", "v3", 1, "x" * (size + 1)), ("ZADD", "w", 1, "a", 2, "b", 3, "c"),
                    ("GEOADD", "g", 13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania")):
            pair.run(*cmd)
            _enc(pair, cmd[1])
        for cmd in (("ZUNIONSTORE", "u", 2, "z", "w"), ("ZINTERSTORE", "u", 2, "z", "w"),
                    ("ZDIFFSTORE", "u", 1, "w"), ("ZRANGESTORE", "u", "z", 0, 1),
                    ("ZRANGESTORE", "u", "z", 0, 0), ("ZRANGESTORE", "u", "v2", 0, -1),
                    ("ZUNIONSTORE", "u", 1, "v2"), ("ZUNIONSTORE", "u", 1, "set"),
                    ("GEOSEARCHSTORE", "u", "g", "FROMLONLAT", 15, 37, "BYRADIUS", 500, "km"),
                    ("GEORADIUS", "g", 15, 37, 500, "km", "STORE", "u"), ("COPY", "z", "u")):
            pair.run("DEL", "u")
            pair.run(*cmd)
            _enc(pair, "u")
        pair.run("ZREMRANGEBYRANK", "z", 0, 3)
        _enc(pair, "z")
    finally:
        _restore_defaults(pair)


@pytest.mark.parametrize("name", ["list-max-listpack-size", "list-max-ziplist-size"])
@pytest.mark.parametrize("size", [-5, -2, -1, 1, 2, 128])
def test_list_encoding_under_every_node_size(pair: Pair, name, size) -> None:
    try:
        pair.run("CONFIG", "SET", name, size)
        for _ in range(3):
            pair.run("RPUSH", "l", "x" * 10000)
            _enc(pair, "l")
        pair.run("LPUSH", "s", "a")
        _enc(pair, "s")
        pair.run("SORT", "s", "ALPHA", "STORE", "srt")
        _enc(pair, "srt")
    finally:
        _restore_defaults(pair)


def _fill_every_type(p: Pair) -> None:
    p.run("SET", "str", "v")
    p.run("SET", "int", "12")
    p.run("SET", "raw", "r" * 50)
    p.run("RPUSH", "list", "a", "b", "c")
    p.run("HSET", "hash", "f", "v", "g", "w")
    p.run("HSET", "bighash", "f", "x" * 100)
    p.run("SADD", "set", "a", "b")
    p.run("SADD", "iset", "1", "2", "3")
    p.run("ZADD", "zset", "1", "a", "2", "b")
    p.run("ZADD", "bigzset", "1", "x" * 100)
    p.run("GEOADD", "geo", "13.361389", "38.115556", "Palermo")
    p.run("PFADD", "hll", "a", "b", "c")


_KEYS = ("str", "int", "raw", "list", "hash", "bighash", "set", "iset", "zset", "bigzset", "geo",
         "hll")
_READ = {"str": ("GET",), "int": ("GET",), "raw": ("GET",), "hll": ("PFCOUNT",),
         "list": ("LRANGE", 0, -1), "hash": ("HGETALL",), "bighash": ("HGETALL",),
         "set": ("SMEMBERS",), "iset": ("SMEMBERS",), "zset": ("ZRANGE", 0, -1, "WITHSCORES"),
         "bigzset": ("ZRANGE", 0, -1, "WITHSCORES"), "geo": ("GEOPOS", "Palermo")}
_CHANGE = {"str": ("APPEND", "x"), "int": ("INCR",), "raw": ("APPEND", "x"), "hll": ("PFADD", "z"),
           "list": ("RPUSH", "d"), "hash": ("HSET", "f", "changed"), "bighash": ("HDEL", "f"),
           "set": ("SREM", "a"), "iset": ("SADD", "4"), "zset": ("ZADD", "9", "a"),
           "bigzset": ("ZINCRBY", "1", "x" * 100), "geo": ("ZREM", "Palermo")}


def _read(p: Pair, key: str, kind: str) -> None:
    cmd = _READ[kind]
    p.run(cmd[0], key, *cmd[1:], unordered=cmd[0] == "SMEMBERS")


def test_scan_type_for_every_type(pair: Pair) -> None:
    _fill_every_type(pair)
    for kind in ("string", "list", "hash", "set", "zset", "stream", "STRING", "ZSet", "nosuch"):
        got, want = pair.both("SCAN", "0", "TYPE", kind, "COUNT", "1000")
        assert got[0] == want[0] == b"0"
        assert sorted(got[1]) == sorted(want[1]), kind
    for key in _KEYS:
        pair.run("TYPE", key)


def test_copy_of_every_type_is_deep_and_keeps_encoding(pair: Pair) -> None:
    _fill_every_type(pair)
    for key in _KEYS:
        pair.run("COPY", key, f"{key}:c")
        pair.run("OBJECT", "ENCODING", f"{key}:c")
        pair.run(_CHANGE[key][0], key, *_CHANGE[key][1:])
        _read(pair, key, key)
        _read(pair, f"{key}:c", key)
        pair.run("COPY", key, f"{key}:c")
        pair.run("COPY", key, f"{key}:c", "REPLACE")
        _read(pair, f"{key}:c", key)


def test_copy_of_every_type_to_another_db(pair: Pair) -> None:
    _fill_every_type(pair)
    for key in _KEYS:
        pair.run("PEXPIRE", key, "100000")
        pair.run("COPY", key, key, "DB", "1")
        pair.run("COPY", key, key, "DB", "1")
    pair.run("SELECT", "1")
    for key in _KEYS:
        _read(pair, key, key)
        pair.run("OBJECT", "ENCODING", key)
        pair.run("TYPE", key)
        assert pair.ks.call("TTL", key) > 0
        pair.run(_CHANGE[key][0], key, *_CHANGE[key][1:])
    pair.run("SELECT", "0")
    for key in _KEYS:
        _read(pair, key, key)
    pair.run("FLUSHALL")


def test_rename_of_every_type(pair: Pair) -> None:
    _fill_every_type(pair)
    for key in _KEYS:
        pair.run("RENAME", key, f"{key}:r")
        pair.run("EXISTS", key)
        pair.run("TYPE", f"{key}:r")
        pair.run("OBJECT", "ENCODING", f"{key}:r")
        _read(pair, f"{key}:r", key)
        pair.run("RENAMENX", f"{key}:r", "str:r" if key != "str" else "int")


def _median_call_seconds(p: Pair, small: tuple, big: tuple, n: int = 200) -> tuple[float, float]:
    """Median round trips of two commands, timed alternately so that a load burst on a shared
    machine slows both alike instead of one of them."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(n):
        for args, out in ((small, times[0]), (big, times[1])):
            t0 = time.perf_counter()
            p.ks.call(*args)
            out.append(time.perf_counter() - t0)
    return sorted(times[0])[n // 2], sorted(times[1])[n // 2]


def test_range_queries_cost_log_n_plus_m(keystream_server, redis_server) -> None:
    """An O(n) implementation would be ~20x slower on 200k members than on 10k; a sorted
    structure answers both in about the time of a round trip. The bound is generous."""
    p = Pair(keystream_server.port, redis_server.port, 2)
    try:
        p.ks.call("DEL", "small", "big")
        for key, n in (("small", 10_000), ("big", 200_000)):
            for start in range(0, n, 10_000):
                args = []
                for i in range(start, min(n, start + 10_000)):
                    args += [i, f"m{i:07d}"]
                p.ks.call("ZADD", key, *args)
        p.ks.call("DEL", "lex")
        for start in range(0, 200_000, 10_000):
            p.ks.call("ZADD", "lex", *[a for i in range(start, start + 10_000)
                                       for a in (0, f"m{i:07d}")])
        p.ks.call("ZADD", "lexsmall", *[a for i in range(10_000) for a in (0, f"m{i:07d}")])
        queries = [
            lambda k, n: ("ZRANGEBYSCORE", k, n // 2, f"({n // 2 + 10}", "WITHSCORES"),
            lambda k, n: ("ZREVRANGEBYSCORE", k, n // 2 + 10, n // 2, "LIMIT", 0, 5),
            lambda k, n: ("ZRANGE", k, n // 2, n // 2 + 9),
            lambda k, n: ("ZRANGE", k, f"({n // 2}", n // 2 + 10, "BYSCORE", "LIMIT", 2, 5),
            lambda k, n: ("ZCOUNT", k, 1, f"({n - 1}"),
            lambda k, n: ("ZRANK", k, f"m{n // 2:07d}"),
        ]
        lex_queries = [
            lambda k, n: ("ZRANGEBYLEX", k, f"[m{n // 2:07d}", f"(m{n // 2 + 10:07d}"),
            lambda k, n: ("ZLEXCOUNT", k, "[m0000001", f"(m{n - 1:07d}"),
        ]
        for build, small, big in [(q, "small", "big") for q in queries] + [
                (q, "lexsmall", "lex") for q in lex_queries]:
            t_small, t_big = _median_call_seconds(p, build(small, 10_000), build(big, 200_000))
            assert t_big < 4 * t_small + 0.0005, (build(big, 200_000), t_small, t_big)
        p.ks.call("DEL", "small", "big", "lex", "lexsmall")
    finally:
        p.close()
