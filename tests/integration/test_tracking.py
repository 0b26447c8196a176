"""Client-side caching against real Redis: CLIENT TRACKING (default, BCAST, OPTIN, OPTOUT,
NOLOOP, REDIRECT to RESP2 subscribers and RESP3 clients), invalidation order among replies
(after the modifying command's reply, after EXEC's whole reply), flushes, broken redirects,
CLIENT CACHING / GETREDIR / TRACKINGINFO, tracking-table-max-keys; redis-py's client cache."""

from __future__ import annotations

import time

import pytest
import redis
import redis.connection
from redis.cache import CacheConfig

from tests.conftest import wait_until
from tests.differential import ClientId, Pair, RawClient, Sessions


@pytest.fixture
def s3(keystream_server, redis_server):
    """Connections 0 and 1 in RESP3, 2 in RESP2 (a writer, or a redirect target)."""
    s = Sessions(keystream_server.port, redis_server.port, [3, 3, 2])
    s.run(2, "FLUSHALL")
    yield s
    s.run(2, "FLUSHALL")
    s.close()


def test_default_mode_invalidates_once_per_read(s3: Sessions) -> None:
    s = s3
    s.run(0, "CLIENT", "TRACKING", "ON")
    s.run(2, "MSET", "a", "1", "b", "2", "c", "3")
    s.run(0, "MGET", "a", "b")
    s.run(0, "GET", "c")
    s.run(2, "SET", "a", "x")     # invalidate a
    s.run(2, "SET", "a", "y")     # not tracked any more: nothing
    s.run(2, "DEL", "b", "c")
    s.run(0, "HGETALL", "h")      # a missing key is tracked too
    s.run(2, "HSET", "h", "f", "v")
    s.run(0, "GET", "a")
    s.run(0, "SET", "a", "z")     # its own write: the invalidation follows the reply
    s.run(0, "CLIENT", "TRACKINGINFO")
    s.run(0, "CLIENT", "GETREDIR")


def test_invalidations_after_reply_and_after_exec(s3: Sessions) -> None:
    s = s3
    s.run(0, "CLIENT", "TRACKING", "ON")
    s.run(0, "MGET", "k1", "k2", "k3")
    for cmd in (("MSET", "k1", "1", "k2", "2"), ("HSET", "k3", "f", "v"), ("GET", "k1")):
        s.send(0, *cmd)
    s.sync()
    s.run(0, "MGET", "k1", "k2", "k3")
    s.send(0, "MULTI")
    s.send(0, "SET", "k1", "a")
    s.send(0, "GET", "k2")
    s.send(0, "DEL", "k2", "k3")
    s.send(0, "EXEC")
    s.sync()


def test_scripts_track_their_declared_keys_when_they_read(s3: Sessions) -> None:
    """A script's read-only command tracks the script's KEYS (not the key it read); a script
    that only writes tracks nothing; EVAL_RO/FCALL_RO are not tracked as reads themselves."""
    s = s3
    s.run(0, "FUNCTION", "LOAD", "REPLACE",
          "#!lua name=trk\nredis.register_function{function_name='rd', callback=function(k, a) "
          "return redis.call('get', a[1]) end, flags={'no-writes'}}\n"
          "redis.register_function('ping', function() return redis.call('ping') end)")
    s.run(0, "CLIENT", "TRACKING", "ON")
    s.run(2, "MSET", "k1", "1", "k2", "1", "k3", "1")
    s.run(0, "EVAL", "redis.call('set', 'k3', 'bar')", "2", "k1", "k2")
    s.run(2, "MSET", "k2", "2", "k1", "2")
    s.run(0, "EVAL", "return redis.call('get', 'k3')", "2", "k1", "k2")
    s.run(2, "MSET", "k2", "3", "k1", "3", "k3", "3")
    s.run(0, "EVAL_RO", "return redis.call('ping')", "2", "k1", "k2")
    s.run(2, "MSET", "k2", "4", "k1", "4")
    s.run(0, "EVALSHA_RO", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "1", "k1")
    s.run(0, "FCALL_RO", "rd", "2", "k1", "k2", "k3")
    s.run(2, "MSET", "k1", "5", "k2", "5", "k3", "5")
    s.run(0, "FCALL", "ping", "1", "k3")
    s.run(2, "SET", "k3", "6")
    s.run(0, "FUNCTION", "DELETE", "trk")


def test_expired_keys_invalidate(s3: Sessions) -> None:
    s = s3
    s.run(0, "CLIENT", "TRACKING", "ON")
    s.run(2, "SET", "short", "v", "PX", "30")
    s.run(0, "GET", "short")
    time.sleep(0.05)
    s.run(2, "GET", "short")      # lazy expiry of a tracked key
    s.run(0, "GET", "nothing")


def test_redirect_to_resp2_subscriber_and_resp3_client(s3: Sessions) -> None:
    s = s3
    s.run(2, "SUBSCRIBE", "__redis__:invalidate")
    s.run(0, "CLIENT", "TRACKING", "ON", "REDIRECT", ClientId(2))
    s.run(0, "GET", "r")
    s.run(1, "SET", "r", "1")
    s.run(0, "GET", "r")
    s.run(1, "FLUSHDB")           # null key list on the RESP2 subscriber
    s.run(0, "CLIENT", "TRACKING", "ON", "REDIRECT", ClientId(1))
    s.run(0, "GET", "r2")
    s.run(0, "SET", "r2", "x")
    s.run(2, "UNSUBSCRIBE")


def test_bcast_prefixes_and_noloop(s3: Sessions) -> None:
    s = s3
    s.run(0, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "order:")
    s.run(1, "CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP")
    s.run(2, "SET", "user:1", "a")
    s.run(2, "SET", "other", "a")
    s.run(1, "SET", "order:9", "b")   # 1 is NOLOOP: not told of its own write
    s.run(0, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user")      # overlaps
    s.run(0, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "x", "PREFIX", "xy")
    s.run(0, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "cart:")
    s.run(0, "CLIENT", "TRACKINGINFO")
    s.run(2, "SET", "cart:1", "c")
    s.run(0, "CLIENT", "TRACKING", "ON")                                  # switch BCAST off: refused
    s.run(0, "CLIENT", "TRACKING", "OFF")
    s.run(2, "SET", "user:2", "a")


def test_optin_optout_and_caching(s3: Sessions) -> None:
    s = s3
    s.run(0, "CLIENT", "TRACKING", "ON", "OPTIN")
    s.run(0, "GET", "a")
    s.run(2, "SET", "a", "1")         # not cached without CACHING YES
    s.run(0, "CLIENT", "CACHING", "YES")
    s.run(0, "CLIENT", "TRACKINGINFO")
    s.run(0, "GET", "a")
    s.run(0, "GET", "b")              # CACHING YES covered one command only
    s.run(2, "MSET", "a", "2", "b", "2")
    s.run(0, "CLIENT", "CACHING", "YES")
    s.send(0, "MULTI")
    s.send(0, "GET", "a")
    s.send(0, "GET", "b")
    s.send(0, "EXEC")                 # ... or one transaction
    s.sync()
    s.run(2, "MSET", "a", "3", "b", "3")
    s.run(0, "CLIENT", "CACHING", "NO")
    s.run(0, "CLIENT", "TRACKING", "ON", "OPTOUT")
    s.run(0, "CLIENT", "TRACKING", "OFF")
    s.run(0, "CLIENT", "TRACKING", "ON", "OPTOUT", "NOLOOP")
    s.run(0, "GET", "c")
    s.run(0, "CLIENT", "CACHING", "NO")
    s.run(0, "GET", "d")
    s.run(0, "CLIENT", "TRACKINGINFO")
    s.run(2, "MSET", "c", "1", "d", "1")


ERRORS = [
    ("CLIENT", "TRACKING"), ("CLIENT", "TRACKING", "maybe"), ("CLIENT", "TRACKING", "on", "bogus"),
    ("CLIENT", "TRACKING", "on", "REDIRECT"), ("CLIENT", "TRACKING", "on", "REDIRECT", "x"),
    ("CLIENT", "TRACKING", "on", "REDIRECT", "999999"), ("CLIENT", "TRACKING", "off", "REDIRECT", "999999"),
    ("CLIENT", "TRACKING", "on", "PREFIX", "a"), ("CLIENT", "TRACKING", "on", "BCAST", "OPTIN"),
    ("CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"), ("CLIENT", "TRACKING", "on", "PREFIX"),
    ("CLIENT", "CACHING", "yes"), ("CLIENT", "CACHING", "maybe"), ("CLIENT", "CACHING"),
    ("CLIENT", "GETREDIR", "x"), ("CLIENT", "TRACKINGINFO", "x"), ("CLIENT", "GETREDIR"),
    ("CLIENT", "TRACKINGINFO"), ("CLIENT", "TRACKING", "off"),
]


@pytest.mark.parametrize("args", ERRORS, ids=lambda a: " ".join(a))
def test_errors_and_replies_match_redis(pair: Pair, args) -> None:
    pair.run(*args)
    pair.run("CLIENT", "TRACKING", "off")


def test_mode_switch_errors(pair: Pair) -> None:
    pair.run("CLIENT", "TRACKING", "on", "OPTIN")
    pair.run("CLIENT", "TRACKING", "on", "OPTOUT")
    pair.run("CLIENT", "CACHING", "no")
    pair.run("CLIENT", "TRACKING", "on", "BCAST")
    pair.run("CLIENT", "TRACKING", "on", "OPTIN", "REDIRECT", "1", "REDIRECT", "1")
    pair.run("CLIENT", "TRACKING", "off")


def test_broken_redirect(keystream_server, redis_server) -> None:
    s = Sessions(keystream_server.port, redis_server.port, [3, 2, 2])
    try:
        s.run(0, "CLIENT", "TRACKING", "ON", "REDIRECT", ClientId(1))
        s.run(0, "GET", "br")
        for side in (s.ks, s.ref):
            side[1].call("QUIT")
        probe = {"ks": RawClient(keystream_server.port), "ref": RawClient(redis_server.port)}
        for side in ("ks", "ref"):
            gone, conn = s.ids[side][1], probe[side]
            wait_until(lambda gone=gone, conn=conn: f"id={gone} " not in conn.call("CLIENT", "LIST").decode(),
                       what="redirect target gone")
            probe[side].call("SET", "br", "1")
            probe[side].close()
        got = [s._collect(c, b"x") for c in (s.ks[0], s.ref[0])]
        assert got[0][0][0] == got[1][0][0] == b"tracking-redir-broken"
        info = [c.call("CLIENT", "TRACKINGINFO") for c in (s.ks[0], s.ref[0])]
        assert info[0][b"flags"] == info[1][b"flags"] == [b"on", b"broken_redirect"]
        flags = [c.call("CLIENT", "INFO").decode().split("flags=")[1].split()[0] for c in (s.ks[0], s.ref[0])]
        assert flags[0] == flags[1] == "tR"
    finally:
        s.ks[0].close()
        s.ref[0].close()
        s.ks[2].close()
        s.ref[2].close()


def test_tracking_table_max_keys(keystream_server) -> None:
    c, redirect, other = (RawClient(keystream_server.port, p) for p in (2, 3, 2))
    try:
        rid = redirect.call("CLIENT", "ID")
        c.call("CLIENT", "TRACKING", "ON", "REDIRECT", rid)
        c.call("MSET", "m1", "1", "m2", "2", "m3", "3")
        c.call("MGET", "m1", "m2", "m3")
        assert b"tracking_total_keys:3" in other.call("INFO", "stats")
        other.call("CONFIG", "SET", "tracking-table-max-keys", "1")
        got = [redirect.read(), redirect.read()]
        assert all(m[0] == b"invalidate" and m[1][0] in (b"m1", b"m2", b"m3") for m in got)
        assert b"tracking_total_keys:1" in other.call("INFO", "stats")
    finally:
        other.call("CONFIG", "SET", "tracking-table-max-keys", "1000000")
        for x in (c, redirect, other):
            x.close()


def test_info_counts(keystream_server, redis_server) -> None:
    def counts(port: int) -> list[str]:
        a, b = RawClient(port, 3), RawClient(port)
        a.call("FLUSHALL")  # empties the tracking table too
        a.call("CLIENT", "TRACKING", "ON")
        a.call("MGET", "i1", "i2")
        b.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "p1", "PREFIX", "p2")
        stats = a.call("INFO", "everything").decode().split()
        a.close()
        b.close()
        return [x for x in stats if x.startswith("tracking_")]

    assert counts(keystream_server.port) == counts(redis_server.port)


def test_redis_py_client_side_cache(keystream_server) -> None:
    """redis-py's cache (RESP3 cache_config) keeps values until Keystream invalidates them.
    redis-py 8 enables it only for servers that say they are Redis >= 7.4 (HELLO's version);
    Keystream says 7.0.15, the Redis whose commands it implements, so the test lowers that
    gate: everything else is redis-py's own client-side caching."""
    old = redis.connection.CacheProxyConnection.MIN_ALLOWED_VERSION
    redis.connection.CacheProxyConnection.MIN_ALLOWED_VERSION = "7.0.0"
    try:
        cached = redis.Redis(port=keystream_server.port, protocol=3, cache_config=CacheConfig())
        writer = redis.Redis(port=keystream_server.port)
        writer.set("csc", "v1")
        assert cached.get("csc") == b"v1"
        cache = cached.get_cache()
        assert cache.size == 1
        writer.set("csc", "v2")
        wait_until(lambda: cached.get("csc") == b"v2", what="invalidation reached redis-py")
        writer.hset("csch", "f", "1")
        assert cached.hgetall("csch") == {b"f": b"1"}
        writer.hset("csch", "f", "2")
        wait_until(lambda: cached.hgetall("csch") == {b"f": b"2"}, what="hash invalidated")
        writer.flushall()
        wait_until(lambda: cached.get("csc") is None, what="flush invalidated")
        cached.close()
        writer.close()
    finally:
        redis.connection.CacheProxyConnection.MIN_ALLOWED_VERSION = old


def test_served_blocked_client_gets_invalidation_after_its_reply(s3: Sessions) -> None:
    """BLMOVE served by another client's push: its own invalidation follows its reply."""
    s = s3
    s.run(2, "RPUSH", "list2", "a")
    s.run(0, "CLIENT", "TRACKING", "ON")
    s.run(0, "LRANGE", "list2", "0", "-1")
    s.send(0, "BLMOVE", "list1", "list2", "LEFT", "LEFT", "0")
    for side in (s.ks[2], s.ref[2]):
        wait_until(lambda side=side: b"blocked_clients:1" in side.call("INFO", "clients"),
                   what="BLMOVE blocked")
    s.send(2, "RPUSH", "list1", "foo")
    s.sync()
