"""Keyspace notifications against real Redis: for every command family, the exact events (names,
channels, order) a subscriber receives, per notify-keyspace-events class (new keys too); expired
events (lazy and active); RESP3 notifications interleaved with the writer's own replies;
CONFIG SET/GET; keymiss events (class m) of read commands, of the write commands that read
their sources as reads, inside scripts, and their absence under A. Not here: evicted
(tests/integration/test_maxmemory.py)."""

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
        try:
            s.run(1, *shlex.split(line))
        except AssertionError as e:
            raise AssertionError(f"after {line!r}: {e}") from None


@pytest.mark.parametrize("classes", ["KEA", "KEAn"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_events_of_each_family_match_redis(sub_pair: Sessions, family: str, classes: str) -> None:
    sub_pair.run(1, "CONFIG", "SET", "notify-keyspace-events", classes)
    _script(sub_pair, FAMILIES[family])


# Reads of missing keys (and write commands' lookups of missing keys): which fire keymiss.
MISSES: list[str] = [
    "GET nk", "MGET nk1 nk2 nk1", "EXISTS nk nk2", "TYPE nk", "TTL nk", "PTTL nk", "EXPIRETIME nk",
    "PEXPIRETIME nk", "OBJECT ENCODING nk", "OBJECT REFCOUNT nk", "OBJECT IDLETIME nk", "DUMP nk",
    "TOUCH nk nk2", "MEMORY USAGE nk", "STRLEN nk", "GETRANGE nk 0 1", "SUBSTR nk 0 1", "LCS nk nk2",
    "BITCOUNT nk", "BITPOS nk 1", "GETBIT nk 3", "BITFIELD_RO nk GET u8 0", "BITFIELD nk GET u8 0",
    "BITFIELD nk2 SET u8 0 1", "GETEX nk", "GETEX nk EX 100", "GETDEL nk",
    "GETSET nk12 v", "SET nk13 v GET", "SET nk14 v NX GET", "SET nk14 w XX GET", "SET nk15 v XX", "INCR nk3", "APPEND nk4 x",
    "HGET nk f", "HGETALL nk", "HMGET nk a b", "HEXISTS nk f", "HLEN nk", "HKEYS nk", "HVALS nk",
    "HSTRLEN nk f", "HRANDFIELD nk", "HSCAN nk 0", "HSET nk5 f v", "HDEL nk f",
    "LRANGE nk 0 -1", "LINDEX nk 0", "LLEN nk", "LPOS nk a", "LPOP nk", "RPOPLPUSH nk nk2",
    "LMOVE nk nk2 LEFT RIGHT", "LPUSHX nk a", "LREM nk 0 a",
    "SMEMBERS nk", "SISMEMBER nk a", "SMISMEMBER nk a b", "SCARD nk", "SRANDMEMBER nk", "SSCAN nk 0",
    "SINTER nk nk2", "SUNION nk nk2", "SDIFF nk nk2", "SINTERCARD 2 nk nk2", "SMOVE nk nk2 a",
    "SADD src a", "SINTERSTORE dst src nk", "SUNIONSTORE dst nk src", "SDIFFSTORE dst src nk",
    "SUNIONSTORE dst dst nk", "SREM nk a", "SPOP nk",
    "ZRANGE nk 0 -1", "ZSCORE nk a", "ZMSCORE nk a b", "ZCARD nk", "ZCOUNT nk 0 1", "ZLEXCOUNT nk - +",
    "ZRANK nk a", "ZREVRANK nk a", "ZRANGEBYSCORE nk 0 1", "ZRANDMEMBER nk", "ZSCAN nk 0",
    "ZINTER 2 nk nk2", "ZINTERCARD 2 nk nk2", "ZADD zsrc 1 a", "ZUNIONSTORE zd 2 zsrc nk",
    "ZINTERSTORE zd 2 nk zsrc", "ZDIFFSTORE zd 2 zsrc nk", "ZRANGESTORE zd nk 0 -1",
    "ZRANGESTORE zd zsrc 0 -1", "ZREM nk a", "ZPOPMIN nk", "ZINCRBY nk6 1 a",
    "XRANGE nk - +", "XREVRANGE nk + -", "XLEN nk", "XREAD COUNT 1 STREAMS nk nk2 0 0",
    "XINFO STREAM nk", "XPENDING nk g", "XACK nk g 1-1", "XCLAIM nk g c 0 1-1",
    "XAUTOCLAIM nk g c 0 0", "XREADGROUP GROUP g c STREAMS nk >", "XDEL nk 1-1", "XTRIM nk MAXLEN 0",
    "XADD st 1-1 f v", "XGROUP CREATE st g 0", "XREADGROUP GROUP g c STREAMS st >",
    "XADD nk7 NOMKSTREAM 1-1 f v",
    "PFCOUNT nk nk2", "PFADD hll a", "PFMERGE hd hll nk", "PFMERGE nk8 nk",
    "GEOPOS nk a", "GEODIST nk a b", "GEOHASH nk a", "GEOSEARCH nk FROMLONLAT 0 0 BYRADIUS 1 km",
    "GEOADD geo 13.36 38.11 p", "GEOSEARCHSTORE gd nk FROMLONLAT 0 0 BYRADIUS 1 km",
    "GEORADIUS nk 0 0 1 km STORE gd", "GEORADIUSBYMEMBER geo p 1 km STORE nk9",
    "BITOP OR bd nk nk2", "SET bs x", "BITOP AND bd bs nk",
    "COPY nk cd", "SET cs v", "COPY cs nk10", "RENAME nk x", "DEL nk", "EXPIRE nk 10", "PERSIST nk",
    "RPUSH sl 2 1", "SORT sl BY w_* GET o_* GET #", "SORT sl BY w_* STORE nk11", "SORT_RO nk",
    "SORT nk STORE sd", "KEYS zz*", "DBSIZE",
    "EVAL \"return redis.call('GET', KEYS[1])\" 1 nk",
    "EVAL \"return redis.pcall('HGET', KEYS[1], 'f')\" 1 nk",
]


@pytest.mark.parametrize("classes", ["KEm", "Em", "Km", "KEA", "KEAm"])
def test_keymiss_events(sub_pair: Sessions, classes: str) -> None:
    sub_pair.run(1, "CONFIG", "SET", "notify-keyspace-events", classes)
    _script(sub_pair, MISSES)


def test_keymiss_in_transaction(sub_pair: Sessions) -> None:
    sub_pair.run(1, "CONFIG", "SET", "notify-keyspace-events", "KEm")
    for line in ["MULTI", "GET a", "SET a 1", "GET a", "HGET h f", "EXEC"]:
        sub_pair.send(1, *line.split())
    sub_pair.sync()


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
