"""maxmemory: used_memory accounting, the eight eviction policies, OOM errors, OBJECT FREQ /
IDLETIME under each kind of policy, evicted keyspace events and their propagation (AOF).

Which keys a policy evicts is checked on Keystream and, where the outcome does not depend
on our figures, on a real redis-server given the same workload: LRU keeps recently used
keys (the cold ones are restored with an IDLETIME), LFU keeps frequently used ones
(RESTORE FREQ), volatile-ttl evicts the nearest deadlines first, volatile-* never evict a
key without a deadline. Errors (OOM, EXECABORT, OBJECT FREQ/IDLETIME) are compared byte
for byte with redis-server.
"""

from __future__ import annotations

import os

import pytest
import redis

from tests.conftest import ServerHandle, serve_keystream, start_redis, wait_until
from tests.differential import Pair


@pytest.fixture(scope="module")
def ks() -> ServerHandle:
    yield from serve_keystream()


@pytest.fixture(scope="module")
def real() -> ServerHandle:
    h = start_redis()
    yield h
    h.stop()


def _client(h: ServerHandle) -> redis.Redis:
    c = redis.Redis(port=h.port, socket_timeout=30)
    c.config_set("maxmemory", 0)
    c.config_set("maxmemory-policy", "noeviction")
    c.flushall()
    c.config_resetstat()
    return c


@pytest.fixture
def r(ks: ServerHandle) -> redis.Redis:
    c = _client(ks)
    yield c
    c.config_set("maxmemory", 0)
    c.config_set("maxmemory-policy", "noeviction")
    c.close()


@pytest.fixture
def ref(real: ServerHandle) -> redis.Redis:
    c = _client(real)
    yield c
    c.config_set("maxmemory", 0)
    c.config_set("maxmemory-policy", "noeviction")
    c.close()


def used(c: redis.Redis) -> int:
    return int(c.info("memory")["used_memory"])


def _limit_then_fill(c: redis.Redis, policy: str, fill: int, prefix: str = "new",
                     ttl: int | None = None) -> int:
    """Set maxmemory just above the current use (room for ~fill/3 of the new keys), then
    write fill new keys of 100 bytes; returns the limit."""
    c.config_set("maxmemory-samples", 10)
    c.config_set("maxmemory-policy", policy)
    limit = used(c) + 40 * 1024
    c.config_set("maxmemory", limit)
    pipe = c.pipeline(transaction=False)
    for i in range(fill):
        if ttl is None:
            pipe.set(f"{prefix}:{i}", "v" * 100)
        else:
            pipe.set(f"{prefix}:{i}", "v" * 100, ex=ttl)
    pipe.execute()
    return limit


def _survivors(c: redis.Redis, prefix: str, n: int) -> int:
    pipe = c.pipeline(transaction=False)
    for i in range(n):
        pipe.exists(f"{prefix}:{i}")
    return sum(pipe.execute())


# -- accounting ------------------------------------------------------------------------
def test_used_memory_follows_the_dataset(r: redis.Redis) -> None:
    base = used(r)
    r.sadd("big", *range(100_000))
    grown = used(r)
    assert grown > base + 1_000_000
    r.delete("big")
    # the query buffer that held the SADD is trimmed by the cron, as Redis's
    wait_until(lambda: used(r) < base + 100_000, what="used_memory back near its base")
    info = r.info("memory")
    assert info["used_memory_rss"] > 0 and info["mem_fragmentation_ratio"] > 0
    assert info["maxmemory"] == 0 and info["maxmemory_policy"] == "noeviction"
    r.set("k", "v" * 1000)
    stats = r.memory_stats()
    assert stats["keys.count"] == 1 and stats["dataset.bytes"] > 1000
    assert stats["total.allocated"] == used(r) or abs(stats["total.allocated"] - used(r)) < 10_000


def test_in_place_growth_is_counted(r: redis.Redis) -> None:
    base = used(r)
    for i in range(50):
        r.rpush("l", *[b"x" * 100] * 200)
    assert used(r) > base + 50 * 200 * 100
    r.delete("l")
    wait_until(lambda: used(r) < base + 10_000, what="used_memory back near its base")


# -- policies --------------------------------------------------------------------------
@pytest.mark.parametrize("policy", ["allkeys-random", "allkeys-lru", "allkeys-lfu", "volatile-random",
                                    "volatile-lru", "volatile-lfu", "volatile-ttl"])
def test_limit_is_honoured(r: redis.Redis, policy: str) -> None:
    limit = _limit_then_fill(r, policy, 1500, ttl=10_000)
    assert used(r) <= limit
    assert 0 < int(r.info("stats")["evicted_keys"]) < 1500
    assert r.dbsize() < 1500


@pytest.mark.parametrize("which", ["ks", "real"])
@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-lru"])
def test_lru_keeps_recently_used_keys(request: pytest.FixtureRequest, which: str, policy: str) -> None:
    c = request.getfixturevalue("r" if which == "ks" else "ref")
    c.set("proto", "v" * 100)
    payload = c.dump("proto")
    c.delete("proto")
    pipe = c.pipeline(transaction=False)
    for i in range(300):  # cold: last used 100 s ago
        pipe.restore(f"cold:{i}", 10_000_000, payload, idletime=100)
        pipe.restore(f"hot:{i}", 10_000_000, payload)
    pipe.execute()
    _limit_then_fill(c, policy, 300, ttl=10_000)
    assert int(c.info("stats")["evicted_keys"]) > 50
    hot, cold = 300 - _survivors(c, "hot", 300), 300 - _survivors(c, "cold", 300)
    assert cold > 5 * hot


@pytest.mark.parametrize("which", ["ks", "real"])
@pytest.mark.parametrize("policy", ["allkeys-lfu", "volatile-lfu"])
def test_lfu_keeps_frequently_used_keys(request: pytest.FixtureRequest, which: str, policy: str) -> None:
    c = request.getfixturevalue("r" if which == "ks" else "ref")
    c.config_set("maxmemory-policy", policy)
    c.set("proto", "v" * 100)
    payload = c.dump("proto")
    c.delete("proto")
    pipe = c.pipeline(transaction=False)
    for i in range(300):
        pipe.restore(f"rare:{i}", 10_000_000, payload, frequency=0)
        pipe.restore(f"often:{i}", 10_000_000, payload, frequency=200)
    pipe.execute()
    _limit_then_fill(c, policy, 300, ttl=10_000)
    assert int(c.info("stats")["evicted_keys"]) > 50
    often, rare = 300 - _survivors(c, "often", 300), 300 - _survivors(c, "rare", 300)
    assert rare > 5 * often


@pytest.mark.parametrize("which", ["ks", "real"])
def test_volatile_ttl_evicts_nearest_deadlines(request: pytest.FixtureRequest, which: str) -> None:
    c = request.getfixturevalue("r" if which == "ks" else "ref")
    pipe = c.pipeline(transaction=False)
    for i in range(300):
        pipe.set(f"soon:{i}", "v" * 100, ex=1000)
        pipe.set(f"late:{i}", "v" * 100, ex=100_000)
    pipe.execute()
    _limit_then_fill(c, "volatile-ttl", 300, ttl=1_000_000)
    assert int(c.info("stats")["evicted_keys"]) > 50
    late, soon = 300 - _survivors(c, "late", 300), 300 - _survivors(c, "soon", 300)
    assert soon > 5 * late


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"])
def test_volatile_policies_keep_persistent_keys(r: redis.Redis, policy: str) -> None:
    pipe = r.pipeline(transaction=False)
    for i in range(200):
        pipe.set(f"keep:{i}", "v" * 100)
    pipe.execute()
    limit = _limit_then_fill(r, policy, 600, ttl=10_000)
    assert used(r) <= limit
    assert _survivors(r, "keep", 200) == 200
    # Once no key has a deadline, nothing can be evicted: OOM
    with pytest.raises(redis.exceptions.OutOfMemoryError, match="^command not allowed when used memory"):
        for i in range(2000):
            r.set(f"more:{i}", "v" * 100)
    assert _survivors(r, "keep", 200) == 200


def test_allkeys_random_evicts_any_key(r: redis.Redis) -> None:
    pipe = r.pipeline(transaction=False)
    for i in range(300):
        pipe.set(f"old:{i}", "v" * 100)
    pipe.execute()
    _limit_then_fill(r, "allkeys-random", 600)
    assert _survivors(r, "old", 300) < 300
    assert _survivors(r, "new", 600) < 600


def test_lowering_the_limit_evicts_from_the_loop(r: redis.Redis) -> None:
    """CONFIG SET maxmemory below the current use evicts without another command (Redis's
    eviction timer), a pass at a time."""
    pipe = r.pipeline(transaction=False)
    for i in range(3000):
        pipe.set(f"k:{i}", "v" * 100)
    pipe.execute()
    r.config_set("maxmemory-policy", "allkeys-random")
    r.config_set("maxmemory-eviction-tenacity", 0)
    try:
        limit = used(r) - 100_000
        r.config_set("maxmemory", limit)
        wait_until(lambda: used(r) <= limit, timeout=30, what="evictions down to the limit")
    finally:
        r.config_set("maxmemory-eviction-tenacity", 10)


# -- noeviction: OOM -------------------------------------------------------------------
@pytest.mark.parametrize("proto", [2, 3])
def test_oom_errors_as_redis(ks: ServerHandle, real: ServerHandle, proto: int) -> None:
    p = Pair(ks.port, real.port, proto)
    try:
        p.both("FLUSHALL")
        p.both("SET", "a", "1")
        p.both("CONFIG", "SET", "maxmemory-policy", "noeviction")
        p.both("CONFIG", "SET", "maxmemory", "1")
        p.run("SET", "b", "2")            # denyoom: refused
        p.run("LPUSH", "l", "x")
        p.run("APPEND", "a", "x")
        p.run("GET", "a")                 # not denyoom: runs
        p.run("INCR", "a")                # INCR is denyoom in Redis 7.0
        p.run("EXPIRE", "a", "100")       # write but not denyoom
        p.run("MULTI")
        p.run("GET", "a")                 # inside MULTI any command is refused when over the limit
        p.run("EXEC")
        p.run("DEL", "a")                 # frees memory: allowed
        p.run("CONFIG", "SET", "maxmemory", "0")
        p.run("MULTI")
        p.run("SET", "c", "1")
        p.run("CONFIG", "SET", "maxmemory", "1")
        p.run("EXEC")                     # queued before the limit: runs
        p.run("MULTI")
        p.both("CONFIG", "SET", "maxmemory", "0")
        p.run("SET", "d", "1")
        p.run("CONFIG", "SET", "maxmemory", "1")
        p.both("EXEC")
        p.run("EVAL", "return redis.call('get', 'c')", "0")
        p.run("EVAL", "return redis.call('set', 'c', 'x')", "0")   # a script's first write: OOM
        p.run("EVAL", "return redis.pcall('set', 'c', 'x')", "0")
        p.run("EVAL", "redis.call('del', 'nothing'); return redis.call('set', 'c', 'x')", "0")
        p.run("EVAL", "#!lua flags=allow-oom\nreturn redis.call('set', 'c', 'x')", "0")
        p.run("EVAL", "#!lua\nreturn redis.call('get', 'c')", "0")  # may write: refused
        p.run("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'c')", "0")
        p.run("FUNCTION", "LOAD", "#!lua name=oomlib\nredis.register_function('f', function() "
              "return redis.call('set', 'c', 'y') end)")
        p.run("FCALL", "f", "0")
        p.run("GET", "c")
    finally:
        p.both("CONFIG", "SET", "maxmemory", "0")
        p.close()


def test_memory_settings_as_redis(ks: ServerHandle, real: ServerHandle) -> None:
    p = Pair(ks.port, real.port, 2)
    try:
        for name, values in (("maxmemory-eviction-tenacity", ("101", "-1", "100", "0", "10")),
                             ("maxmemory-samples", ("0", "64", "5")),
                             ("maxmemory-policy", ("lru", "allkeys-lfu", "noeviction")),
                             ("maxmemory", ("-1", "1x", "1gb", "0"))):
            for v in values:
                p.run("CONFIG", "SET", name, v)
                p.run("CONFIG", "GET", name)
    finally:
        p.close()


def test_exec_of_a_denyoom_transaction_is_aborted(ks: ServerHandle, real: ServerHandle) -> None:
    """EXEC whose queue holds a denyoom command, once over the limit: EXECABORT, discarded."""
    p = Pair(ks.port, real.port, 2)
    extra = Pair(ks.port, real.port, 2)
    try:
        p.both("FLUSHALL")
        p.run("MULTI")
        p.run("SET", "x", "1")
        extra.both("CONFIG", "SET", "maxmemory-policy", "noeviction")
        extra.both("CONFIG", "SET", "maxmemory", "1")
        p.run("EXEC")
        p.run("EXEC")  # the transaction was discarded
        extra.both("CONFIG", "SET", "maxmemory", "0")
        p.run("GET", "x")
    finally:
        extra.both("CONFIG", "SET", "maxmemory", "0")
        p.close()
        extra.close()


# -- OBJECT FREQ / IDLETIME ------------------------------------------------------------
@pytest.mark.parametrize("policy", ["noeviction", "allkeys-lru", "volatile-lru", "allkeys-lfu",
                                    "volatile-lfu", "allkeys-random", "volatile-ttl"])
def test_object_freq_idletime_errors_as_redis(ks: ServerHandle, real: ServerHandle, policy: str) -> None:
    p = Pair(ks.port, real.port, 2)
    try:
        p.both("FLUSHALL")
        p.both("CONFIG", "SET", "maxmemory-policy", policy)
        p.run("SET", "k", "v")
        p.run("OBJECT", "FREQ", "k")
        p.run("OBJECT", "FREQ", "missing")
        if "lfu" in policy:
            p.run("OBJECT", "IDLETIME", "k")
        p.run("OBJECT", "IDLETIME", "missing")
    finally:
        p.both("CONFIG", "SET", "maxmemory-policy", "noeviction")
        p.close()


def test_object_freq_counts_accesses(r: redis.Redis) -> None:
    r.config_set("maxmemory-policy", "allkeys-lfu")
    r.config_set("lfu-log-factor", 0)
    try:
        r.set("k", "v")
        assert r.object("freq", "k") == 5
        for _ in range(20):
            r.get("k")
        assert r.object("freq", "k") == 25
    finally:
        r.config_set("lfu-log-factor", 10)


# -- evicted events and propagation ------------------------------------------------------
def test_evicted_keyspace_event(r: redis.Redis) -> None:
    r.config_set("notify-keyspace-events", "Ee")
    sub = r.pubsub()
    try:
        sub.subscribe("__keyevent@0__:evicted")
        assert sub.get_message(timeout=5)["type"] == "subscribe"
        _limit_then_fill(r, "allkeys-random", 1000)
        evicted = int(r.info("stats")["evicted_keys"])
        assert evicted > 0
        keys = []
        wait_until(lambda: len(keys) >= evicted, what="evicted events",
                   step=lambda: keys.extend([m["data"]] if (m := sub.get_message(timeout=0.1)) else []))
        assert len(keys) == evicted
        assert not any(r.exists(k) for k in keys)
    finally:
        sub.close()
        r.config_set("notify-keyspace-events", "")


@pytest.mark.parametrize("lazy", ["no", "yes"])
def test_evictions_reach_the_aof(lazy: str) -> None:
    """Each eviction is an effect of its own: DEL in the AOF (UNLINK under
    lazyfree-lazy-eviction); restarted from its AOF the server has the keys that stayed."""
    gen = serve_keystream("--appendonly", "yes", "--lazyfree-lazy-eviction", lazy)
    h = next(gen)
    try:
        c = redis.Redis(port=h.port)
        _limit_then_fill(c, "allkeys-random", 1000)
        evicted = int(c.info("stats")["evicted_keys"])
        assert evicted > 0
        c.config_set("maxmemory", 0)
        remaining = set(c.keys())
        word = b"$6\r\nUNLINK\r\n" if lazy == "yes" else b"$3\r\nDEL\r\n"
        wait_until(lambda: _aof_text(h).count(word) == evicted, what="evictions in the AOF")
        h.stop()
        g2 = serve_keystream("--appendonly", "yes", data_dir=h.data_dir)
        h2 = next(g2)
        try:
            assert set(redis.Redis(port=h2.port).keys()) == remaining
        finally:
            next(g2, None)
    finally:
        next(gen, None)


def _aof_text(h: ServerHandle) -> bytes:
    d = os.path.join(h.data_dir, "appendonlydir")
    out = b""
    for name in sorted(os.listdir(d)):
        if name.endswith(".aof"):
            with open(os.path.join(d, name), "rb") as f:
                out += f.read()
    return out
