"""The keyspace's memory accounting (keyspace/db.py) through every write path, driven by real
commands on a connectionless engine: after any sequence of writes, each database's `used`
equals a fresh estimate of what it holds, and it is 0 once the keys are gone; eviction's
time limit and lazy free's effort follow Redis's formulas."""

from __future__ import annotations

import random
import tempfile

import pytest

from keystream.config import Config
from keystream.engine import Engine
from keystream.keyspace.db import STRING_ENTRY, Database
from keystream.keyspace.evict import time_limit_us
from keystream.keyspace.lazyfree import THRESHOLD, free_effort
from keystream.keyspace.memsize import entry_size


def _engine() -> Engine:
    config = Config()
    config.set_text("dir", tempfile.mkdtemp(prefix="ks-acct-"))
    return Engine(config)


def _fresh(db: Database) -> int:
    """What db's `used` should be: every entry estimated now."""
    total = 0
    for key, value in db.data.items():
        total += STRING_ENTRY + len(key) + len(value) if type(value) is bytes else entry_size(key, value)
    return total


COMMANDS = [
    "SET {k} {v}", "APPEND {k} {v}", "INCR n{i}", "SETRANGE {k} 3 {v}", "GETDEL {k}", "DEL {k}",
    "UNLINK {k}", "RPUSH l{i} {v} {v}", "LPOP l{i}", "LTRIM l{i} 0 0", "SADD s{i} {v} x{i}", "SPOP s{i}",
    "SREM s{i} {v}", "HSET h{i} f{i} {v}", "HDEL h{i} f{i}", "ZADD z{i} {i} {v}", "ZREM z{i} {v}",
    "ZPOPMIN z{i}", "XADD x{i} * f {v}", "XTRIM x{i} MAXLEN 0", "RENAME {k} r{i}", "RENAME l{i} {k}",
    "COPY s{i} c{i} REPLACE", "MOVE {k} 1", "SWAPDB 0 1", "EXPIRE {k} 100", "PEXPIRE {k} -1",
    "PERSIST {k}", "SUNIONSTORE {k} s{i} s{j}", "SET {k} {v} KEEPTTL", "RESTORE r{i} 0 {dump} REPLACE",
    "FLUSHDB", "SINTERSTORE s{i} s{j} s{i}", "LMOVE l{i} l{j} LEFT RIGHT", "HINCRBY h{i} c 1",
    "PFADD p{i} {v}", "GETEX {k} PX 1",
]


@pytest.mark.parametrize("seed", range(5))
def test_used_matches_a_fresh_estimate_after_random_writes(seed: int) -> None:
    rnd = random.Random(seed)
    engine = _engine()
    client = engine.fake_client()
    engine.call(client, [b"SET", b"proto", b"x" * 40])
    dump = engine.call(client, [b"DUMP", b"proto"])
    for _ in range(3000):
        i, j = rnd.randrange(8), rnd.randrange(8)
        template = rnd.choice(COMMANDS)
        words = template.split()
        argv = [w.format(k=f"k{i}", v="v" * rnd.randrange(1, 50), i=i, j=j, dump="").encode() for w in words]
        if template.startswith("RESTORE"):
            argv[3] = dump
        engine.call(client, argv)
        if rnd.random() < 0.1:
            client.select(rnd.randrange(2))
    for db in engine.dbs:
        db.refresh_used()
        assert db.used == _fresh(db), f"db {db.id}"
    for db in engine.dbs:
        for key in list(db.data):
            db.delete(key)
        assert db.used == 0 and db.memory() == 0


def test_flush_and_swap_keep_the_figures() -> None:
    engine = _engine()
    client = engine.fake_client()
    engine.call(client, [b"SADD", b"s", *[b"m%d" % n for n in range(100)]])
    engine.call(client, [b"SET", b"k", b"v"])
    before = engine.dbs[0].memory()
    assert before > 100 * 30
    engine.call(client, [b"SWAPDB", b"0", b"3"])
    assert engine.dbs[0].memory() == 0 and engine.dbs[3].memory() == before
    engine.call(client, [b"FLUSHALL"])
    assert all(db.memory() == 0 for db in engine.dbs)


def test_eviction_time_limit_as_redis() -> None:
    assert time_limit_us(0) == 0
    assert time_limit_us(10) == 500
    assert time_limit_us(11) == int(500 * 1.15)
    assert time_limit_us(99) == int(500 * 1.15 ** 89)
    assert time_limit_us(100) > 10**15


def test_free_effort_as_redis() -> None:
    engine = _engine()
    client = engine.fake_client()
    engine.call(client, [b"SADD", b"small", b"1", b"2"])
    engine.call(client, [b"SADD", b"big", *[b"m%d" % n for n in range(1000)]])
    engine.call(client, [b"HSET", b"h", *[b"f%d" % (n // 2) for n in range(1200)]])
    engine.call(client, [b"ZADD", b"z", *[b"%d" % (n // 2) for n in range(400)]])
    data = engine.dbs[0].data
    assert free_effort(data[b"small"]) == 1       # an intset: one allocation
    assert free_effort(data[b"big"]) == 1000      # a hash table: one per element
    assert free_effort(data[b"h"]) == 600 > THRESHOLD
    assert free_effort(data[b"z"]) == 200
