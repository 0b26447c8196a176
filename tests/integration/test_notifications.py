"""Keyspace notifications against real Redis: for every command family, the exact events (names,
channels, order) a subscriber receives, per notify-keyspace-events class (new keys too); expired
events (lazy and active); RESP3 notifications interleaved with the writer's own replies;
CONFIG SET/GET. Not here: evicted (tests/integration/test_maxmemory.py) and keymiss
events (read lookups do not report misses yet)."""

from __future__ import annotations

import time

import pytest

from tests.conftest import wait_until
from tests.differential import Pair, Sessions

FAMILIES: dict[str, list[str]] = {
    "strings": [
        "SET s v", "SET s v2 KEEPTTL", "SET s v3 EX 100", "SET s v4 PX 100000 GET", "SET s v NX",
        "SETNX s2 x", "SETNX s2 y", "SETEX s3 100 v", "PSETEX s4 100000 v", "MSET m1 a m2 b",
        "MSETNX m3 a m4 b", "MSETNX m3 a m5 b", "APPEND s x", "APPEND new-append y", "SETRANGE s 2 zz",
        "SETRANGE s 0 ''", "INCR n", "INCRBY n 5", "DECR n", "DECRBY n 2", "INCRBYFLOAT f 1.5",
        "GETSET s g", "GETDEL s", "GETDEL missing", "GETEX m1 EX 100", "GETEX m1 PERSIST",
        "GETEX m1", "GETEX m2 PX 0", "SET k1 a", "GETRANGE k1 0 -1", "STRLEN k1",
    ],
    "bitmaps_hll": [
        "SETBIT b 7 1", "SETBIT b 7 1", "BITFIELD bf SET u8 0 255 GET u8 0", "BITFIELD bf GET u8 0",
        "BITFIELD bf INCRBY u8 0 1", "BITOP AND dest b bf", "BITOP OR dest2 nothing nothing2",
        "PFADD h a b c", "PFADD h a", "PFADD h2 x", "PFMERGE h3 h h2", "PFCOUNT h h2",
    ],
    "keys": [
        "SET a 1", "SET b 2", "DEL a nothing", "UNLINK b", "SET c 3", "EXPIRE c 100", "EXPIRE c 100 NX",
        "PEXPIRE c 100000 XX", "EXPIREAT c 9999999999", "PEXPIREAT c 9999999999000", "PERSIST c",
        "PERSIST c", "EXPIRE c -1", "SET d 4", "RENAME d e", "RENAMENX e f", "SET g 1", "RENAMENX f g",
        "RENAME f f", "COPY g h", "COPY g h", "COPY g h REPLACE", "MOVE h 1", "SET t 1", "TOUCH t",
        "EXPIRE t 0", "SET u 1", "PEXPIRE u -5", "RPUSH l a", "RENAME l l2", "SELECT 1", "SET inone 1",
        "DEL inone h", "SELECT 0",
    ],
    "lists": [
        "LPUSH l a b", "RPUSH l c", "LPUSHX l d", "RPUSHX nol x", "LINSERT l BEFORE a z",
        "LINSERT l AFTER nothere q", "LSET l 0 y", "LPOP l", "RPOP l 2", "LRANGE l 0 -1", "LREM l 0 a",
        "LTRIM l 0 0", "RPUSH l2 1 2 3", "LMOVE l2 l LEFT RIGHT", "RPOPLPUSH l2 l2", "LMPOP 2 nol l2 LEFT COUNT 5",
        "LPOP l 10", "RPUSH l3 1", "LTRIM l3 1 0", "RPUSH s1 3 1 2", "SORT s1 STORE sorted",
        "SORT s1 BY nosort STORE sorted", "SORT nothing STORE sorted", "BLPOP l2 s1 1",
    ],
    "hashes": [
        "HSET h f v g w", "HSET h f v2", "HSETNX h f x", "HSETNX h n x", "HMSET h a 1", "HINCRBY h a 2",
        "HINCRBYFLOAT h a 0.5", "HDEL h f nothere", "HDEL h g n a", "HGETALL h", "HINCRBY h2 c 1",
        "HDEL h2 c",
    ],
    "sets": [
        "SADD s a b c", "SADD s a", "SREM s a x", "SMOVE s t b", "SMOVE s t zz", "SPOP t", "SADD u 1 2 3",
        "SPOP u 5", "SADD v 1 2", "SADD w 2 3", "SINTERSTORE dst v w", "SUNIONSTORE dst v w",
        "SDIFFSTORE dst v w", "SDIFFSTORE dst v v", "SINTERSTORE dst nothing v", "SMEMBERS v",
    ],
    "zsets": [
        "ZADD z 1 a 2 b 3 c", "ZADD z XX 5 a", "ZADD z NX 1 a", "ZADD z INCR 1 b", "ZINCRBY z 2 c",
        "ZREM z a nothere", "ZADD z 1 x 2 y 3 zz 4 w", "ZREMRANGEBYSCORE z 0 1", "ZREMRANGEBYRANK z 0 0",
        "ZADD lex 0 a 0 b 0 c", "ZREMRANGEBYLEX lex [a [b", "ZPOPMIN z", "ZPOPMAX z 2",
        "ZADD z2 1 p 2 q", "ZUNIONSTORE d 2 z z2", "ZINTERSTORE d 2 z z2", "ZDIFFSTORE d 1 z2",
        "ZRANGESTORE d2 z2 0 -1", "ZRANGESTORE d2 nothing 0 -1", "ZMPOP 1 z2 MIN COUNT 5",
        "ZPOPMIN lex 10", "BZPOPMIN d 1",
    ],
    "geo": [
        "GEOADD g 13.36 38.11 palermo 15.08 37.50 catania", "GEOADD g XX 13.37 38.12 palermo",
        "GEORADIUS g 15 37 200 km STORE gr", "GEORADIUSBYMEMBER g palermo 300 km STOREDIST grd",
        "GEOSEARCHSTORE gs g FROMLONLAT 15 37 BYRADIUS 200 km", "GEOSEARCHSTORE gs g FROMLONLAT 0 0 BYRADIUS 1 m",
        "ZREM g palermo catania",
    ],
}


@pytest.fixture
def sub_pair(keystream_server, redis_server):
    """Connection 0 subscribes to every keyspace and keyevent channel, 1 writes."""
    s = Sessions(keystream_server.port, redis_server.port, [2, 2])
    s.run(1, "FLUSHALL")
    s.run(1, "CONFIG", "SET", "notify-keyspace-events", "KEA")
    s.run(0, "PSUBSCRIBE", "__key*__:*")
    yield s
    s.run(1, "CONFIG", "SET", "notify-keyspace-events", "")
    s.run(1, "FLUSHALL")
    s.close()


def _script(s: Sessions, lines: list[str]) -> None:
    import shlex

    for line in lines:
        s.run(1, *shlex.split(line))


@pytest.mark.parametrize("classes", ["KEA", "KEAn"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_events_of_each_family_match_redis(sub_pair: Sessions, family: str, classes: str) -> None:
    sub_pair.run(1, "CONFIG", "SET", "notify-keyspace-events", classes)
    _script(sub_pair, FAMILIES[family])


@pytest.mark.parametrize("classes", ["K$", "Eg", "Kl", "Es", "Khz", "KEA", "KEn", "E$n", "Kx", "KEgn"])
def test_class_selection(sub_pair: Sessions, classes: str) -> None:
    s = sub_pair
    s.run(1, "CONFIG", "SET", "notify-keyspace-events", classes)
    _script(s, ["SET a 1", "LPUSH l x", "SADD s m", "HSET h f v", "ZADD z 1 m", "DEL a l",
                "SET e 1 PX 1"])


def test_expired_events(sub_pair: Sessions) -> None:
    s = sub_pair
    _script(s, ["SET lazy v PX 20", "SET active v PX 20", "HSET h f v", "PEXPIRE h 20"])
    time.sleep(0.05)                   # past the deadlines
    s.send(1, "GET", "lazy")           # lazily expired on access (unless the cycle was first)
    for side in (s.ks[1], s.ref[1]):   # the active cycle deletes the others
        wait_until(lambda side=side: side.call("DBSIZE") == 0, what="active expiry")
    s.sync(sort=True)                  # the cycle's order and timing are the server's


def test_resp3_writer_gets_its_own_events_before_its_reply(keystream_server, redis_server) -> None:
    s = Sessions(keystream_server.port, redis_server.port, [3])
    try:
        s.run(0, "CONFIG", "SET", "notify-keyspace-events", "KEA")
        s.run(0, "SUBSCRIBE", "__keyevent@0__:set", "__keyspace@0__:k")
        s.run(0, "SET", "k", "v")
        s.send(0, "MULTI")
        s.send(0, "SET", "k", "w")
        s.send(0, "LPUSH", "k2", "x")
        s.send(0, "EXEC")
        s.sync()
    finally:
        s.run(0, "CONFIG", "SET", "notify-keyspace-events", "")
        s.run(0, "FLUSHALL")
        s.close()


@pytest.mark.parametrize("value", ["KEA", "AKE", "gKE$", "Ag", "Kx", "lshzxetdn", "K", "m", "", "KEAmn",
                                   "Q", "KE!"])
def test_config_set_get(keystream_server, redis_server, value: str) -> None:
    p = Pair(keystream_server.port, redis_server.port)
    try:
        p.run("CONFIG", "SET", "notify-keyspace-events", value)
        p.run("CONFIG", "GET", "notify-keyspace-events")
    finally:
        p.run("CONFIG", "SET", "notify-keyspace-events", "")
        p.close()
