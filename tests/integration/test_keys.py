"""Generic keyspace commands (DEL UNLINK EXISTS TYPE KEYS SCAN RANDOMKEY RENAME RENAMENX COPY
MOVE SWAPDB TOUCH OBJECT): differential against real redis-server in RESP2 and RESP3, glob
matching compared with Redis's on generated patterns, and hypothesis-generated sequences."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import start_keystream
from tests.differential import Pair


@pytest.fixture
def pair2(keystream_server, redis_server):
    p = Pair(keystream_server.port, redis_server.port, 2)
    p.both("FLUSHALL")
    yield p
    p.close()


def test_del_unlink_exists_type(pair):
    pair.run("SET", "a", "1")
    pair.run("SET", "b", "2")
    pair.run("HSET", "h", "f", "v")
    pair.run("EXISTS", "a", "a", "b", "nope")
    pair.run("TYPE", "a")
    pair.run("TYPE", "h")
    pair.run("TYPE", "nope")
    pair.run("DEL", "a", "nope", "a")
    pair.run("UNLINK", "b", "h", "nope")
    pair.run("EXISTS", "a", "b", "h")
    pair.run("DEL")
    pair.run("UNLINK")
    pair.run("EXISTS")
    pair.run("TYPE")
    pair.run("TYPE", "a", "b")


def test_touch(pair):
    pair.run("SET", "k1", "1")
    pair.run("SET", "k2", "2")
    pair.run("TOUCH", "k0", "k1", "k2", "k3", "k1")
    pair.run("TOUCH")


def test_keys_patterns(pair):
    for k in ["foo_a", "foo_b", "foo_c", "key_x", "key_y", "key_z", "", "a*b", "a?b", "[x]", "h\\llo"]:
        pair.run("SET", k, "v")
    for pattern in ["*", "foo*", "*_?", "key_[xy]", "key_[^x]", "key_[a-y]", "key_[y-a]", "a\\*b",
                    "a\\?b", "\\[x\\]", "[[]x]", "h\\\\llo", "h\\llo", "**", "", "?", "[", "foo_[a",
                    "*[", "a[^]b", "a[]b", "key_[x-]", "*\\"]:
        pair.run("KEYS", pattern, unordered=True)
    pair.run("KEYS")


def test_keys_skip_expired_without_deleting(pair):
    pair.run("SET", "gone", "v", "PX", "1")
    pair.run("SET", "kept", "v")
    time.sleep(0.01)
    pair.run("KEYS", "*", unordered=True)


def test_scan_full_iteration_and_options(keystream_server, r):
    for i in range(300):
        r.set(f"key:{i}", i)
    for i in range(20):
        r.hset(f"hash:{i}", "f", "v")
    assert set(r.scan_iter(count=7)) == {f"key:{i}".encode() for i in range(300)} | {
        f"hash:{i}".encode() for i in range(20)}
    assert set(r.scan_iter(match="key:1*")) == {k.encode() for k in (f"key:{i}" for i in range(300))
                                                 if k.startswith("key:1")}
    assert set(r.scan_iter(_type="hash", count=50)) == {f"hash:{i}".encode() for i in range(20)}
    assert set(r.scan_iter(_type="HASH", count=50)) == {f"hash:{i}".encode() for i in range(20)}
    assert list(r.scan_iter(_type="nosuchtype")) == []
    cursor, keys = r.scan(0, count=1000)
    assert cursor == 0 and len(keys) == 320


def test_scan_skips_and_deletes_expired(keystream_server, r):
    r.set("live", "1")
    r.set("dead", "1", px=1)
    time.sleep(0.01)
    assert set(r.scan_iter()) == {b"live"}


def test_scan_errors(pair):
    pair.run("SET", "a", "1")
    for cursor in ["x", " 1", "1 ", "-", "+", "18446744073709551616", "1.5", "0x10"]:
        pair.run("SCAN", cursor)
    for cursor in ["", "0", "+0", "-0"]:
        pair.run("SCAN", cursor)
    # Any other number is a valid cursor (which keys it resumes at is implementation-specific).
    for cursor in ["007", "-1", "18446744073709551615"]:
        got = pair.ks.call("SCAN", cursor)
        assert isinstance(got, list) and isinstance(got[1], list)
    pair.run("SCAN", "0", "COUNT", "0")
    pair.run("SCAN", "0", "COUNT", "-1")
    pair.run("SCAN", "0", "COUNT", "x")
    pair.run("SCAN", "0", "COUNT")
    pair.run("SCAN", "0", "MATCH")
    pair.run("SCAN", "0", "TYPE")
    pair.run("SCAN", "0", "FOO", "bar")
    pair.run("SCAN", "0", "MATCH", "a", "COUNT", "5", "TYPE", "string")
    pair.run("SCAN", "0", "match", "*", "type", "list")
    pair.run("SCAN")


def test_randomkey(pair, keystream_server, r):
    pair.run("RANDOMKEY")
    pair.run("SET", "only", "1")
    pair.run("RANDOMKEY")
    pair.run("RANDOMKEY", "x")
    r.flushall()
    r.set("foo", "x")
    r.set("bar", "y")
    seen = {r.randomkey() for _ in range(200)}
    assert seen == {b"foo", b"bar"}


def test_randomkey_big_keyspace_is_fast(keystream_server, r):
    pipe = r.pipeline(transaction=False)
    for i in range(50_000):
        pipe.set(f"k{i}", "v")
    pipe.execute()
    t0 = time.monotonic()
    pipe = r.pipeline(transaction=False)
    for _ in range(2000):
        pipe.randomkey()
    seen = set(pipe.execute())
    assert time.monotonic() - t0 < 60   # a guard against O(keys) per call (2000 x 50k), not a speed test
    assert len(seen) > 1500
    # New keys become reachable and deleted ones never come back.
    r.delete(*[f"k{i}" for i in range(25_000)])
    got = {r.randomkey() for _ in range(300)}
    assert all(int(k[1:]) >= 25_000 for k in got)


def test_randomkey_all_expired(keystream_server, r):
    for i in range(10):
        r.set(f"k{i}", "v", px=1)
    time.sleep(0.01)
    assert r.randomkey() is None
    assert r.dbsize() == 0


def test_rename_and_renamenx(pair):
    pair.run("RENAME", "nokey", "x")
    pair.run("RENAMENX", "nokey", "x")
    pair.run("RENAME", "nokey", "nokey")
    pair.run("SET", "a", "1")
    pair.run("RENAME", "a", "a")
    pair.run("RENAMENX", "a", "a")
    pair.run("RENAME", "a", "b")
    pair.run("EXISTS", "a", "b")
    pair.run("SET", "c", "3")
    pair.run("RENAMENX", "b", "c")
    pair.run("RENAME", "b", "c")
    pair.run("GET", "c")
    pair.run("HSET", "h", "f", "v")
    pair.run("RENAMENX", "h", "d")
    pair.run("HGETALL", "d")
    pair.run("RENAME", "a")
    pair.run("RENAMENX", "a", "b", "c")


def test_rename_moves_ttl_and_drops_target_ttl(pair):
    pair.run("SET", "src", "1", "EX", "100")
    pair.run("SET", "dst", "2", "EX", "50")
    pair.run("RENAME", "src", "dst")
    pair.run("EXPIRETIME", "src")
    got, want = pair.both("TTL", "dst")
    assert abs(got - want) <= 1 and 98 <= got <= 100
    pair.run("SET", "p", "1")
    pair.run("SET", "q", "2", "EX", "100")
    pair.run("RENAME", "p", "q")
    pair.run("TTL", "q")


def test_copy(pair):
    pair.run("COPY", "nokey", "x")
    pair.run("SET", "s", "hello")
    pair.run("COPY", "s", "s")
    pair.run("COPY", "s", "s", "DB", "0")
    pair.run("COPY", "s", "t")
    pair.run("COPY", "s", "t")
    pair.run("SET", "s", "world")
    pair.run("COPY", "s", "t", "REPLACE")
    pair.run("GET", "t")
    pair.run("COPY", "s", "t", "DB", "1")
    pair.run("COPY", "s", "s", "DB", "1", "REPLACE")
    pair.run("SELECT", "1")
    pair.run("GET", "t")
    pair.run("GET", "s")
    pair.run("SELECT", "0")
    pair.run("COPY", "s", "t", "DB", "x")
    pair.run("COPY", "s", "t", "DB", "99")
    pair.run("COPY", "s", "t", "DB", "-1")
    pair.run("COPY", "s", "t", "DB", "4294967296")
    pair.run("COPY", "s", "t", "DB")
    pair.run("COPY", "s", "t", "FOO")
    pair.run("COPY", "s")
    pair.run("HSET", "h", "a", "1", "b", "2")
    pair.run("COPY", "h", "h2")
    pair.run("HSET", "h", "a", "changed")
    pair.run("HGETALL", "h2")
    pair.run("SET", "e", "1", "EX", "100")
    pair.run("COPY", "e", "e2")
    got, want = pair.both("TTL", "e2")
    assert abs(got - want) <= 1 and got > 90
    pair.run("COPY", "s", "nottl")
    pair.run("TTL", "nottl")


def test_move(pair):
    pair.run("SET", "m", "1", "EX", "100")
    pair.run("MOVE", "m", "0")
    pair.run("MOVE", "m", "x")
    pair.run("MOVE", "m", "16")
    pair.run("MOVE", "m", "-1")
    pair.run("MOVE", "m", "4294967296")
    pair.run("MOVE", "nokey", "1")
    pair.run("MOVE", "m", "1")
    pair.run("EXISTS", "m")
    pair.run("SELECT", "1")
    got, want = pair.both("TTL", "m")
    assert abs(got - want) <= 1 and got > 90
    pair.run("SET", "n", "in1")
    pair.run("SELECT", "0")
    pair.run("SET", "n", "in0")
    pair.run("MOVE", "n", "1")
    pair.run("GET", "n")
    pair.run("SET", "plain", "1")
    pair.run("MOVE", "plain", "1")
    pair.run("SELECT", "1")
    pair.run("TTL", "plain")
    pair.run("SELECT", "0")
    pair.run("MOVE", "n")


def test_swapdb(pair):
    pair.run("SET", "k", "db0", "EX", "100")
    pair.run("SELECT", "1")
    pair.run("SET", "k", "db1")
    pair.run("SWAPDB", "0", "1")
    pair.run("GET", "k")
    got, want = pair.both("TTL", "k")
    assert abs(got - want) <= 1 and got > 90
    pair.run("SELECT", "0")
    pair.run("GET", "k")
    pair.run("TTL", "k")
    pair.run("SWAPDB", "0", "0")
    pair.run("SWAPDB", "0", "16")
    pair.run("SWAPDB", "-1", "0")
    pair.run("SWAPDB", "x", "0")
    pair.run("SWAPDB", "0", "x")
    pair.run("SWAPDB", "x", "y")
    pair.run("SWAPDB", "2147483648", "0")
    pair.run("SWAPDB", "0")
    pair.run("SWAPDB", "1", "0")
    pair.run("DBSIZE")


def test_object_subcommands(pair):
    pair.run("SET", "int", "12345")
    pair.run("SET", "neg", "-12")
    pair.run("SET", "big", "99999999999999999999")
    pair.run("SET", "lead0", "012")
    pair.run("SET", "emb", "x" * 44)
    pair.run("SET", "raw", "x" * 45)
    pair.run("SET", "s", "hello")
    for key in ["int", "neg", "big", "lead0", "emb", "raw", "s", "nokey"]:
        pair.run("OBJECT", "ENCODING", key)
    pair.run("SET", "shared", "100")
    for key in ["shared", "int", "neg", "s", "nokey"]:
        pair.run("OBJECT", "REFCOUNT", key)
    pair.run("OBJECT", "IDLETIME", "s")
    pair.run("OBJECT", "IDLETIME", "nokey")
    pair.run("OBJECT", "FREQ", "s")
    pair.run("OBJECT", "FREQ", "nokey")
    pair.run("OBJECT", "HELP")
    pair.run("OBJECT", "help")
    pair.run("OBJECT", "HELP", "x")
    pair.run("OBJECT", "ENCODING")
    pair.run("OBJECT", "ENCODING", "s", "x")
    pair.run("OBJECT", "FOO", "s")
    pair.run("OBJECT")


def test_object_encoding_after_append_and_incr(pair):
    pair.run("SET", "a", "foo")
    pair.run("APPEND", "a", "bar")
    pair.run("OBJECT", "ENCODING", "a")
    pair.run("APPEND", "fresh", "123")
    pair.run("OBJECT", "ENCODING", "fresh")
    pair.run("SETRANGE", "r1", "0", "12")
    pair.run("OBJECT", "ENCODING", "r1")
    pair.run("SET", "r2", "abc")
    pair.run("SETRANGE", "r2", "1", "x")
    pair.run("OBJECT", "ENCODING", "r2")
    pair.run("SET", "a", "foo")
    pair.run("OBJECT", "ENCODING", "a")
    pair.run("SET", "n", "1")
    pair.run("INCR", "n")
    pair.run("OBJECT", "ENCODING", "n")


def test_object_idletime_and_touch(keystream_server, r):
    r.set("foo", "bar")
    r.set("other", "x")
    time.sleep(2.1)
    # TTL, TYPE, EXISTS, OBJECT and SCAN do not count as accesses.
    r.ttl("foo")
    r.type("foo")
    r.exists("foo")
    r.object("encoding", "foo")
    list(r.scan_iter(_type="string"))
    assert r.object("idletime", "foo") >= 2
    assert r.touch("foo") == 1
    assert r.object("idletime", "foo") == 0
    r.get("other")
    assert r.object("idletime", "other") == 0
    r.rename("other", "renamed")
    assert r.object("idletime", "renamed") == 0


def test_object_freq_under_lfu():
    h = start_keystream("--maxmemory-policy", "allkeys-lfu", "--lfu-log-factor", "0")
    try:
        import redis

        c = redis.Redis(port=h.port)
        c.set("k", "v")
        assert c.object("freq", "k") == 5  # LFU_INIT_VAL
        for _ in range(10):
            c.get("k")
        assert c.object("freq", "k") == 15  # log factor 0: every access counts
        with pytest.raises(redis.ResponseError, match="An LFU maxmemory policy is selected"):
            c.object("idletime", "k")
        c.close()
    finally:
        h.stop()


def test_watch_dirtied_by_rename_move_swapdb(keystream_server, r):
    import redis

    other = redis.Redis(port=keystream_server.port)
    try:
        for action in (lambda: other.rename("src", "w"), lambda: other.move("w", 1),
                       lambda: other.swapdb(0, 1), lambda: other.expire("w", 100),
                       lambda: other.persist("w")):
            r.flushall()
            r.set("w", "1")
            r.set("src", "2")
            r.expire("w", 50)
            pipe = r.pipeline()
            pipe.watch("w")
            action()
            pipe.multi()
            pipe.get("w")
            with pytest.raises(redis.WatchError):
                pipe.execute()
            pipe.reset()
    finally:
        other.close()


# -- glob matching against Redis's own ---------------------------------------------------
_GLOB_ALPHABET = "ab*?[]^-\\xA"


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.text(alphabet="abxA[]-\\*?^", max_size=6), min_size=1, max_size=8, unique=True),
       st.lists(st.text(alphabet=_GLOB_ALPHABET, max_size=7), min_size=1, max_size=6))
def test_glob_matches_like_redis(pair2, keys, patterns):
    pair2.both("FLUSHALL")
    for k in keys:
        pair2.run("SET", k, "v")
    for p in patterns:
        pair2.run("KEYS", p, unordered=True)


# -- hypothesis: sequences of keyspace commands ------------------------------------------
_KEYS = ["k1", "k2", "k3", "{t}a"]
_op = st.one_of(
    st.tuples(st.just("SET"), st.sampled_from(_KEYS), st.sampled_from(["1", "v", "x" * 50])),
    st.tuples(st.just("HSET"), st.sampled_from(_KEYS), st.just("f"), st.just("v")),
    st.tuples(st.sampled_from(["DEL", "UNLINK", "EXISTS", "TOUCH"]),
              st.sampled_from(_KEYS), st.sampled_from(_KEYS)),
    st.tuples(st.sampled_from(["TYPE", "TTL", "PERSIST", "GET", "EXPIRETIME"]), st.sampled_from(_KEYS)),
    st.tuples(st.sampled_from(["RENAME", "RENAMENX", "COPY"]), st.sampled_from(_KEYS),
              st.sampled_from(_KEYS)),
    st.tuples(st.just("COPY"), st.sampled_from(_KEYS), st.sampled_from(_KEYS), st.just("REPLACE")),
    st.tuples(st.just("MOVE"), st.sampled_from(_KEYS), st.sampled_from(["0", "1"])),
    st.tuples(st.just("SWAPDB"), st.just("0"), st.just("1")),
    st.tuples(st.just("SELECT"), st.sampled_from(["0", "1"])),
    st.tuples(st.sampled_from(["EXPIRE", "PEXPIRE"]), st.sampled_from(_KEYS),
              st.sampled_from(["-1", "0", "100", "200000", "x"]),
              st.sampled_from(["", "NX", "XX", "GT", "LT"])),
    st.tuples(st.sampled_from(["EXPIREAT", "PEXPIREAT"]), st.sampled_from(_KEYS),
              st.sampled_from(["1", "99999999999", "9999999999999"])),
    st.tuples(st.just("KEYS"), st.sampled_from(["*", "k?", "{*"])),
    st.tuples(st.just("DBSIZE")),
    st.tuples(st.just("OBJECT"), st.just("ENCODING"), st.sampled_from(_KEYS)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_op, min_size=1, max_size=30))
def test_keyspace_sequences(pair2, ops):
    pair2.both("FLUSHALL")
    pair2.both("SELECT", "0")
    for op in ops:
        args = [a for a in op if a != ""]
        if args[0] == "TTL":
            got, want = pair2.both(*args)
            if isinstance(want, int) and want > 1:
                assert isinstance(got, int) and abs(got - want) <= 1, (args, got, want)
            else:
                assert got == want, (args, got, want)
        elif args[0] == "EXPIRETIME":
            got, want = pair2.both(*args)
            if isinstance(want, int) and want > 0:
                assert isinstance(got, int) and abs(got - want) <= 1, (args, got, want)
            else:
                assert got == want, (args, got, want)
        elif args[0] == "KEYS":
            pair2.run(*args, unordered=True)
        else:
            pair2.run(*args)


def test_watch_flush_dirties_only_existing_keys(keystream_server, r):
    import redis

    other = redis.Redis(port=keystream_server.port)
    try:
        r.set("exists", "1")
        pipe = r.pipeline()
        pipe.watch("missing")
        other.flushall()
        pipe.multi()
        pipe.set("x", "1")
        assert pipe.execute() == [True]
        pipe.reset()
        r.set("exists", "1")
        pipe.watch("exists")
        other.flushall()
        pipe.multi()
        pipe.set("x", "1")
        with pytest.raises(redis.WatchError):
            pipe.execute()
        pipe.reset()
    finally:
        other.close()


def test_glob_nocase_and_pathological_patterns():
    from keystream.keyspace.glob import compile_matcher, stringmatch

    assert stringmatch(b"H*LLO", b"hello", nocase=True)
    assert not stringmatch(b"H*LLO", b"hello")
    assert stringmatch(b"[A-C]x", b"bx", nocase=True)
    assert compile_matcher(b"MAXMEMORY*", nocase=True)(b"maxmemory-policy")
    assert compile_matcher(b"hz", nocase=True)(b"HZ")
    subject = b"a" * 5000
    t0 = time.monotonic()
    assert not stringmatch(b"a*" * 40 + b"b", subject)
    assert time.monotonic() - t0 < 30   # a guard against exponential backtracking, not a speed test
