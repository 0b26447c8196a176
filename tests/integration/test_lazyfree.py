"""Lazy freeing: UNLINK, FLUSHALL/FLUSHDB ASYNC and the lazyfree-lazy-* settings free big
values in slices while the server keeps answering; INFO's lazyfree_pending_objects and
lazyfreed_objects count as Redis's do (compared with a real redis-server for the same
operations: which values are big enough to be freed lazily, which paths free lazily).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis

from tests.conftest import ServerHandle, serve_keystream, start_redis, wait_until


@pytest.fixture(scope="module")
def ks() -> ServerHandle:
    yield from serve_keystream()


@pytest.fixture(scope="module")
def real() -> ServerHandle:
    h = start_redis()
    yield h
    h.stop()


_SETTINGS = ("lazyfree-lazy-user-del", "lazyfree-lazy-user-flush", "lazyfree-lazy-server-del",
             "lazyfree-lazy-expire", "lazyfree-lazy-eviction")


def _client(h: ServerHandle) -> redis.Redis:
    c = redis.Redis(port=h.port, socket_timeout=60)
    for name in _SETTINGS:
        c.config_set(name, "no")
    c.flushall()
    wait_until(lambda: _pending(c) == 0, what="earlier lazy frees done")
    c.config_resetstat()
    return c


def _pending(c: redis.Redis) -> int:
    return int(c.info("memory")["lazyfree_pending_objects"])


def _freed(c: redis.Redis) -> int:
    wait_until(lambda: _pending(c) == 0, what="lazy frees done")
    return int(c.info("memory")["lazyfreed_objects"])


def _big_values(c: redis.Redis) -> None:
    c.sadd("bigset", *range(1000))
    c.hset("bighash", mapping={f"f{i}": i for i in range(1000)})
    c.zadd("bigzset", {f"m{i}": i for i in range(1000)})
    c.rpush("biglist", *range(20_000))
    c.sadd("smallset", *range(10))
    c.set("str", "x" * 100_000)


CASES: dict[str, Callable[[redis.Redis], None]] = {
    "unlink": lambda c: c.unlink("bigset", "bighash", "bigzset", "biglist", "smallset", "str"),
    "del": lambda c: c.delete("bigset", "bighash", "bigzset", "biglist", "smallset", "str"),
    "del-lazy-user-del": lambda c: (c.config_set("lazyfree-lazy-user-del", "yes"),
                                    c.delete("bigset", "bighash", "smallset")),
    "overwrite-lazy-server-del": lambda c: (c.config_set("lazyfree-lazy-server-del", "yes"),
                                            c.set("bigset", "x"), c.set("smallset", "x")),
    "overwrite": lambda c: (c.set("bigset", "x"), c.set("bighash", "x")),
    "flushall-async": lambda c: c.flushall(asynchronous=True),
    "flushdb-async": lambda c: c.flushdb(asynchronous=True),
    "flushall-lazy-user-flush": lambda c: (c.config_set("lazyfree-lazy-user-flush", "yes"), c.flushall()),
    "flushall-sync": lambda c: (c.config_set("lazyfree-lazy-user-flush", "yes"),
                                c.execute_command("FLUSHALL", "SYNC")),
    "expire-lazy-expire": lambda c: (c.config_set("lazyfree-lazy-expire", "yes"),
                                     c.expire("bigset", 0), c.pexpire("bighash", -1)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_lazyfreed_objects_as_redis(ks: ServerHandle, real: ServerHandle, case: str) -> None:
    counts = []
    for h in (ks, real):
        c = _client(h)
        try:
            _big_values(c)
            CASES[case](c)
            counts.append(_freed(c))
        finally:
            for name in _SETTINGS:
                c.config_set(name, "no")
            c.close()
    assert counts[0] == counts[1], f"lazyfreed_objects: keystream {counts[0]}, redis {counts[1]}"


def test_unlink_reclaims_memory(ks: ServerHandle) -> None:
    c = _client(ks)
    base = int(c.info("memory")["used_memory"])
    c.sadd("myset", *range(100_000))
    peak = int(c.info("memory")["used_memory"])
    assert peak > base + 1_000_000
    assert c.unlink("myset") == 1
    wait_until(lambda: int(c.info("memory")["used_memory"]) < base + 100_000, what="memory reclaimed")
    assert _freed(c) == 1


def test_ping_answered_while_a_big_flushall_async_runs(ks: ServerHandle) -> None:
    """A FLUSHALL ASYNC of a million keys does not stall the loop: it replies at once, and
    PINGs sent while the old keyspace is being freed are answered, nine in ten faster than
    half the time a FLUSHALL SYNC of the same keyspace takes."""
    c = _client(ks)
    c.execute_command("DEBUG", "POPULATE", 1_000_000)
    t0 = time.perf_counter()
    c.execute_command("FLUSHALL", "SYNC")
    sync_s = time.perf_counter() - t0
    c.execute_command("DEBUG", "POPULATE", 1_000_000)
    latencies: list[float] = []
    t0 = time.perf_counter()
    c.flushall(asynchronous=True)
    async_reply_s = time.perf_counter() - t0
    deadline = time.monotonic() + 120
    while _pending(c) and time.monotonic() < deadline:
        t = time.perf_counter()
        c.ping()
        latencies.append(time.perf_counter() - t)
    assert _pending(c) == 0 and c.dbsize() == 0
    assert len(latencies) >= 5, "the lazy free ended before PINGs could be sent"
    latencies.sort()
    assert async_reply_s < sync_s / 2, (async_reply_s, sync_s)
    assert latencies[len(latencies) * 9 // 10] < sync_s / 2, (latencies, sync_s)
    assert int(c.info("memory")["lazyfreed_objects"]) == 1_000_000
