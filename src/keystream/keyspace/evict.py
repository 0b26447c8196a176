"""maxmemory: when used memory is over the limit, evict keys as Redis's evict.c does.

`perform` runs before every command while `maxmemory` is set (Redis's performEvictions in
processCommand; the executor asks through `Engine.memory_refusal`) and after CONFIG SET
lowers the limit. While the estimated used memory (`Engine.used_memory`, the keyspace's
accounting plus client buffers) is over `maxmemory`, it picks a key by the policy and
evicts it (`Database.evict`: a DEL effect, or UNLINK under lazyfree-lazy-eviction, the
`evicted` keyspace event, `evicted_keys`):

- `allkeys-random` / `volatile-random`: a random key of the keyspace / of the keys with a
  deadline, the databases taken in turn.
- `*-lru`, `*-lfu`, `volatile-ttl`: Redis's approximation. Each round samples
  `maxmemory-samples` keys per database into an eviction pool of the `POOL_SIZE` best
  candidates seen so far (largest idle time; lowest decayed LFU counter; nearest deadline),
  and evicts the best candidate that still exists.
- `noeviction`: nothing; commands flagged `denyoom` are refused with `OOM_ERROR`.

Keys of a bridge view (bridge/views.py) are never evicted: a view must equal a replay of its
topic, and the topic, not Redis's memory limit, decides what it holds. When only view keys
are left to choose from (`_ROUNDS_WITHOUT_CANDIDATE` rounds find nothing else), eviction
fails as with an empty keyspace: OOM for denyoom commands.

The time spent is bounded by `maxmemory-eviction-tenacity` (Redis's formula: 50 us per
step up to 10, then growing 15% per step, unlimited at 100), checked every 16 keys; when
the budget runs out the rest is done from the event loop, turn after turn, while commands
are let through (Redis's eviction time proc). Each eviction is an execution unit of its own.
"""

from __future__ import annotations

import time
from bisect import insort
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keystream.engine import Engine

__all__ = ["EVICT_FAIL", "EVICT_OK", "EVICT_RUNNING", "POOL_SIZE", "Evictor", "time_limit_us"]

POOL_SIZE = 16  # Redis's EVPOOL_SIZE
EVICT_OK = 0       # under the limit (or nothing to do)
EVICT_RUNNING = 1  # over the limit, eviction continues from the event loop
EVICT_FAIL = 2     # over the limit and nothing can be evicted

_UNLIMITED = 1 << 62
# Sampling rounds that find only view keys before eviction gives up (see the module docstring).
_ROUNDS_WITHOUT_CANDIDATE = 16


def time_limit_us(tenacity: int) -> int:
    """Redis's evictionTimeLimitUs: the time one eviction pass may take."""
    if tenacity <= 10:
        return 50 * max(tenacity, 0)
    if tenacity < 100:
        return int(500.0 * 1.15 ** (tenacity - 10))
    return _UNLIMITED


class Evictor:
    __slots__ = ("_next_db", "_pool", "_scheduled", "engine")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # (score, db index, key), ascending: the best candidate is the last one
        self._pool: list[tuple[int, int, bytes]] = []
        self._next_db = 0
        self._scheduled = False

    def over_limit(self) -> int:
        """Bytes over maxmemory (<= 0: within the limit, or no limit)."""
        engine = self.engine
        maxmemory = engine.maxmemory
        if not maxmemory:
            return 0
        return engine.used_memory(False) - maxmemory

    def perform(self) -> int:
        """Evict until under maxmemory or out of time: EVICT_OK, EVICT_RUNNING or EVICT_FAIL."""
        engine = self.engine
        if engine.pause is not None or engine.snapshots.loading:
            return EVICT_OK  # the dataset stays as it is while clients are paused or it loads
        if self.over_limit() <= 0:
            return EVICT_OK
        config = engine.config
        policy: str = config["maxmemory-policy"]
        if policy == "noeviction":
            return EVICT_FAIL
        lazy = bool(config["lazyfree-lazy-eviction"])
        limit_ns = time_limit_us(config["maxmemory-eviction-tenacity"]) * 1000
        start = time.perf_counter_ns()
        evicted = 0
        while True:
            victim = self._random(policy) if policy.endswith("random") else self._from_pool(policy)
            if victim is None:
                return EVICT_FAIL
            db_index, key = victim
            engine.dbs[db_index].evict(key, lazy)
            if engine.effects and not engine.unit_depth:
                engine.emit_effects()
            evicted += 1
            if self.over_limit() <= 0:
                return EVICT_OK
            if evicted % 16 == 0 and time.perf_counter_ns() - start > limit_ns:
                self.schedule()
                return EVICT_RUNNING

    def schedule(self) -> None:
        """Continue evicting from the event loop (after CONFIG SET maxmemory, or when a
        pass ran out of time)."""
        loop = self.engine.loop
        if loop is not None and not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._timer)

    def _timer(self) -> None:
        self._scheduled = False
        self.engine.cmd_time_ms = time.time_ns() // 1_000_000
        if self.perform() == EVICT_RUNNING:
            self.schedule()

    # -- choosing the victim ----------------------------------------------------------
    def _protected(self, db_index: int) -> Callable[[bytes], bool] | None:
        """The test of the keys of a database that eviction must leave alone (a bridge
        view's), or None when there are none."""
        views = self.engine.views
        if not views.guarding:
            return None
        return lambda key: views.owner(db_index, key) is not None

    def _random(self, policy: str) -> tuple[int, bytes] | None:
        """(db index, key) of a random key, the databases taken in turn."""
        volatile = policy.startswith("volatile")
        dbs = self.engine.dbs
        for _ in range(_ROUNDS_WITHOUT_CANDIDATE):
            for _ in range(len(dbs)):
                self._next_db = (self._next_db + 1) % len(dbs)
                db = dbs[self._next_db]
                keys = db.sample_keys(1, volatile, self._protected(db.id))
                if keys:
                    return db.id, keys[0]
        return None

    def _from_pool(self, policy: str) -> tuple[int, bytes] | None:
        """(db index, key) of the best candidate: the pool is filled from every
        database's sample, then its best entry that still exists is taken."""
        volatile = policy.startswith("volatile")
        ttl = policy == "volatile-ttl"
        lfu = policy.endswith("lfu")
        engine = self.engine
        samples: int = engine.config["maxmemory-samples"]
        pool = self._pool
        rounds_without_candidate = 0
        while True:
            total = 0
            for db in engine.dbs:
                table = db.expires if volatile else db.data
                if not table:
                    continue
                total += len(table)
                for key in db.sample_keys(samples, volatile, self._protected(db.id)):
                    if ttl:
                        when = db.expires.get(key)
                        if when is None:
                            continue
                        score = -when
                    elif key not in db.data:
                        continue
                    elif lfu:
                        score = 255 - db.frequency(key)
                    else:
                        score = db.idle_ms(key)
                    entry = (score, db.id, key)
                    if len(pool) < POOL_SIZE:
                        insort(pool, entry)
                    elif entry > pool[0]:
                        insort(pool, entry)
                        del pool[0]
            if not total:
                return None
            if not pool:
                rounds_without_candidate += 1
                if rounds_without_candidate == _ROUNDS_WITHOUT_CANDIDATE:
                    return None
            while pool:
                _, db_index, key = pool.pop()
                db = engine.dbs[db_index]
                if key in (db.expires if volatile else db.data):
                    return db_index, key
