"""What each write command propagates (the stream the AOF and replicas will consume), compared
with what real Redis 7.0 writes to its append-only file for the same commands.

Keystream runs in-process and `server.propagate` is recorded; redis-server runs with
`appendonly yes` / `appendfsync always` and its incremental AOF file is parsed after each
command. The recorded stream is rendered as Redis's AOF would be: a SELECT whenever the
database changes, and MULTI/EXEC around one command's several effects (as Redis 7.0 wraps
them). SELECTs are then folded into the commands they precede (each command is compared with
its database), and absolute millisecond times (PXAT, PEXPIREAT) within a tolerance.
"""

from __future__ import annotations

import glob
import os
import time
from collections import deque
from collections.abc import Callable

import pytest

from keystream.client import Client
from keystream.commands import executor
from keystream.config import Config
from keystream.engine import Engine
from tests.conftest import start_redis
from tests.differential import RawClient


class _AofReader:
    """Real redis-server with an AOF; `run` returns what one command appended to it."""

    def __init__(self) -> None:
        self.handle = start_redis("--appendonly", "yes", "--appendfsync", "always")
        self.client = RawClient(self.handle.port)
        self.offset = 0
        self.path = ""
        self.db = 0

    def _file(self) -> str:
        if not self.path:
            found = glob.glob(os.path.join(self.handle.data_dir, "appendonlydir", "*.incr.aof"))
            if not found:
                return ""
            self.path = found[0]
        return self.path

    def run(self, *args: str) -> list[tuple[int | None, list[bytes]]]:
        self.client.call(*args)
        path = self._file()
        if not path:
            return []
        with open(path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        effects: list[tuple[int | None, list[bytes]]] = []
        for cmd in _parse_commands(data):
            if cmd[0].upper() == b"SELECT":
                self.db = int(cmd[1])
            else:
                effects.append((_db_of(cmd, self.db), cmd))
        return effects

    def close(self) -> None:
        self.client.close()
        self.handle.stop()


def _parse_commands(data: bytes) -> list[list[bytes]]:
    cmds = []
    pos = 0
    while pos < len(data):
        assert data[pos:pos + 1] == b"*", data[pos:pos + 40]
        end = data.index(b"\r\n", pos)
        n = int(data[pos + 1:end])
        pos = end + 2
        argv = []
        for _ in range(n):
            end = data.index(b"\r\n", pos)
            size = int(data[pos + 1:end])
            argv.append(data[end + 2:end + 2 + size])
            pos = end + 2 + size + 2
        cmds.append(argv)
    return cmds


def _db_of(cmd: list[bytes], db: int) -> int | None:
    return None if cmd[0].upper() in (b"MULTI", b"EXEC") else db


class _Recorder:
    """Keystream in-process; `run` returns what one command propagated (the engine's effects
    stream: one list per execution unit, MULTI/EXEC-wrapped by the engine)."""

    def __init__(self) -> None:
        self.engine = Engine(Config())
        self.seen: list[tuple[int | None, list[bytes]]] = []
        self.engine.effect_subscribers.append(self._record)
        self.client = self.engine.fake_client()

    def _record(self, effects: list[tuple[int, list[bytes]]]) -> None:
        for db, cmd in effects:
            self.seen.append((_db_of(cmd, db), cmd))

    def run(self, *args: str) -> list[tuple[int | None, list[bytes]]]:
        out: list[bytes] = []
        executor.execute(self.client, [a.encode() for a in args], out)
        seen, self.seen = self.seen, []
        return seen


def _is_time(arg: bytes) -> bool:
    return arg.isdigit() and 10**12 <= int(arg) < 10**14 and abs(int(arg) - time.time() * 1000) < 10**9


def _same_effects(got: list[tuple[int | None, list[bytes]]], want: list[tuple[int | None, list[bytes]]]) -> bool:
    """Equal, with names compared case-insensitively and absolute ms times within 5 s."""
    if len(got) != len(want):
        return False
    for (gdb, g), (wdb, w) in zip(got, want, strict=True):
        if gdb != wdb or len(g) != len(w) or g[0].upper() != w[0].upper():
            return False
        for a, b in zip(g[1:], w[1:], strict=True):
            if a == b or a.upper() == b.upper() and not a.isdigit():
                continue
            if not (_is_time(a) and _is_time(b) and abs(int(a) - int(b)) < 5000):
                return False
    return True


@pytest.fixture(scope="module")
def aof():
    reader = _AofReader()
    yield reader
    reader.close()


SEQUENCES = {
    "strings": [
        "SET k v", "SET k v EX 100", "SET k v2 PX 100000 GET", "SET k v3 KEEPTTL", "SET k v4 EXAT 99999999999",
        "SET k v5 PXAT 99999999999000 XX", "SET k v NX", "SETNX k2 v", "SETNX k2 v", "SETEX k 100 v",
        "PSETEX k 100000 v", "MSET a 1 b 2", "MSETNX a 1 c 3", "MSETNX x 1 y 2", "GETSET a 5", "GETDEL a",
        "GETDEL a", "GETEX k EX 100", "GETEX k PERSIST", "GETEX k", "GETEX k PXAT 99999999999000", "APPEND k x",
        "INCR n", "DECR n", "INCRBY n 5", "DECRBY n 2", "INCRBYFLOAT f 1.5", "INCRBYFLOAT f 1e2",
        "SET f 10 EX 100", "INCRBYFLOAT f 0.1", "SETRANGE k 10 z", "SETRANGE k 0 ''", "GET k", "STRLEN k",
        "SET k v GET EX 100",
    ],
    "bitmaps": [
        "SETBIT b 7 1", "SETBIT b 7 1", "BITOP OR d b b", "BITOP AND d nokey", "BITFIELD bf SET u8 0 200",
        "BITFIELD bf GET u8 0", "BITFIELD bf INCRBY u8 0 100 OVERFLOW FAIL INCRBY u8 0 200",
        "BITFIELD_RO bf GET u8 0",
    ],
    "keys": [
        "SET k v", "SET k2 v", "DEL k2 nokey", "UNLINK nokey", "UNLINK k", "SET k v", "RENAME k k3",
        "RENAMENX k3 k4", "COPY k4 k5", "COPY k4 k5 REPLACE", "COPY k4 k6 DB 3", "EXPIRE k4 100",
        "PEXPIRE k4 200000 GT", "PEXPIRE k4 50000 GT", "EXPIREAT k4 99999999999",
        "PEXPIREAT k4 99999999999000 NX", "PERSIST k4", "PERSIST k4", "EXPIRE k4 -1", "MOVE k5 2", "SELECT 2", "SET x 1", "SELECT 0", "SWAPDB 0 2", "TOUCH x",
        "SET e v", "PEXPIREAT e 1", "SET v v EX 100", "RENAME v w", "FLUSHDB", "FLUSHALL ASYNC",
    ],
    "hashes": [
        "HSET h a 1 b 2", "HSETNX h a 3", "HSETNX h c 3", "HMSET h d 4", "HDEL h a nofield", "HINCRBY h b 5",
        "HINCRBYFLOAT h b 1.5", "HINCRBYFLOAT h n 1e3", "HDEL h b c d n",
    ],
    "lists": [
        "LPUSH l a b", "RPUSH l c", "LPUSHX nol a", "RPOP l", "LPOP l 2", "RPUSH l a b c d", "LINSERT l BEFORE b x",
        "LSET l 0 y", "LREM l 0 x", "LTRIM l 0 1", "LMOVE l l2 LEFT RIGHT", "BLPOP l 0", "BRPOP nol l2 0",
        "RPUSH l a b", "BLMOVE l l3 RIGHT LEFT 0", "BRPOPLPUSH l l3 0", "RPOPLPUSH l3 l3", "LMPOP 1 l3 LEFT COUNT 5",
        "RPUSH l a", "BLMPOP 0 1 l RIGHT",
    ],
    "sets": [
        "SADD s a b", "SADD s a", "SREM s a nomember", "SPOP s", "SADD s a", "SPOP s 5", "SADD s a b",
        "SMOVE s s2 a", "SINTERSTORE d s s2", "SUNIONSTORE d s s2", "SDIFFSTORE d s s2", "SINTERSTORE d s nokey",
    ],
    "zsets": [
        "ZADD z 1 a 2 b", "ZADD z XX CH 5 a", "ZADD z INCR 1.5 a", "ZINCRBY z 1 b", "ZREM z nomember b",
        "ZADD z 1 c 2 d 3 e", "ZPOPMIN z", "ZPOPMAX z 2", "BZPOPMIN z 0", "ZADD z 1 a 2 b 3 c 4 d",
        "BZPOPMAX z 0", "ZMPOP 1 z MIN COUNT 1", "BZMPOP 0 1 z MAX", "ZREMRANGEBYSCORE z -inf +inf",
        "ZADD z 1 a 2 b 3 c", "ZREMRANGEBYRANK z 0 0", "ZREMRANGEBYLEX z - +", "ZADD z 1 a 2 b",
        "ZUNIONSTORE u 1 z", "ZINTERSTORE u 1 z WEIGHTS 2", "ZDIFFSTORE u 1 z", "ZRANGESTORE u z 0 -1",
    ],
    "geo_hll_sort": [
        "GEOADD g 13.361389 38.115556 Palermo", "GEOADD g NX 13.361389 38.115556 Palermo",
        "GEOSEARCHSTORE g2 g FROMLONLAT 15 37 BYRADIUS 200 km", "GEORADIUS g 15 37 200 km STORE g3",
        "PFADD h a b", "PFADD h a", "PFCOUNT h", "PFMERGE h2 h", "RPUSH l 3 1 2", "SORT l STORE l2",
        "SORT l LIMIT 0 1",
    ],
    "transactions": [
        "MULTI", "SET a 1", "INCRBYFLOAT a 1.5", "SET b 1 EX 100", "EXEC", "MULTI", "GET a", "EXEC",
        "MULTI", "SELECT 3", "SET c 1", "EXEC", "SELECT 0", "MULTI", "SET d 1", "DISCARD",
        "MULTI", "GET a", "SET e 1", "GET e", "EXEC", "MULTI", "GET a", "INCR e", "LLEN nol", "SADD s x", "EXEC",
        "SET str v", "MULTI", "INCR str", "SET f 1", "EXEC", "MULTI", "BLPOP nol 0", "RPUSH q a", "BLPOP q 0", "EXEC",
        "MULTI", "SET x 1", "SPOP nos", "SREM nos a", "EXEC",
    ],
    "noops": [
        "SET k v XX", "SREM s a", "EXPIRE nokey 10", "PEXPIRE nokey 10", "PERSIST nokey", "DEL nokey",
        "UNLINK nokey", "GETDEL nokey", "GETEX nokey EX 10", "SADD s a", "SREM s nomember", "SADD s a",
        "HSET h f v", "HDEL h nofield", "HSETNX h f v2", "RPUSH l a", "LREM l 0 x", "LPUSHX nol a",
        "RPUSHX nol a", "LINSERT l BEFORE nopivot x", "LTRIM l 0 -1", "ZADD z 1 a", "ZREM z b",
        "ZADD z XX 1 b", "ZADD z NX 2 a", "ZADD z 1 a", "ZREMRANGEBYSCORE z 5 6", "SMOVE s s2 nomember",
        "RENAMENX s l", "MSETNX k v s v", "SETNX s v", "SET s2 v", "COPY s2 s", "MOVE nokey 1",
        "SETRANGE nokey 0 ''", "INCRBY n 0", "APPEND k ''", "PFADD hll", "PFADD hll", "SINTERSTORE d nokey",
        "ZUNIONSTORE d 1 nokey", "LPOP nol", "SPOP nos", "ZPOPMIN noz", "EXPIRE l 100 XX", "EXPIRE l 100 NX",
        "EXPIRE l 100 NX", "EXPIRE l 50 GT", "PERSIST k",
    ],
    # PUBLISH and SPUBLISH propagate to replicas only (forceCommandPropagation PROPAGATE_REPL):
    # never to the AOF, alone, in a transaction or in a script.
    "pubsub": [
        "PUBLISH ch m", "SPUBLISH ch m", "MULTI", "SET a 1", "PUBLISH ch x", "EXEC", "MULTI", "PUBLISH ch y",
        "EXEC", "EVAL redis.call('SET',KEYS[1],'v');redis.call('PUBLISH','ch','m');return(1) 1 b",
        "EVAL redis.call('SPUBLISH','ch','m');return(1) 0",
    ],
    "rename_copy_move_swapdb": [
        "SET a 1", "SET b 2 EX 100", "RENAME a b", "RENAME b b", "RENAMENX b c", "RPUSH l x", "RENAME l c",
        "COPY c d", "COPY c d", "COPY c d REPLACE", "COPY c e DB 5", "COPY c e DB 5 REPLACE", "MOVE d 5",
        "MOVE c 5", "SELECT 5", "GET c", "SWAPDB 0 5", "SWAPDB 0 0", "SET n 1", "SELECT 0", "MOVE e 5",
        "FLUSHDB SYNC", "SELECT 5", "FLUSHDB", "SELECT 0",
    ],
}


@pytest.mark.parametrize("family", list(SEQUENCES))
def test_effects_match_redis_aof(aof, family) -> None:
    rec = _Recorder()
    aof.run("FLUSHALL")
    aof.run("SELECT", "0")
    mismatches = []
    for line in SEQUENCES[family]:
        args = [a if a != "''" else "" for a in line.split()]
        ours = rec.run(*args)
        theirs = aof.run(*args)
        if not _same_effects(ours, theirs):
            mismatches.append(f"{line}: keystream {ours} != redis {theirs}")
    assert not mismatches, "\n".join(mismatches)


class _Conn:
    """A connection as the command layer needs one (for a client that blocks)."""

    def __init__(self) -> None:
        self.closed = False
        self.pending: deque[list[bytes]] = deque()
        self.written: list[bytes] = []
        self.out: list[bytes] | None = None
        self.deferred: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def defer(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True

    def run_pending(self) -> None:
        pass


def _wait(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def _blocked_clients(aof: _AofReader) -> int:
    info = aof.client.call("INFO", "clients")
    text = info.decode() if isinstance(info, bytes) else str(info)
    return int(text.split("blocked_clients:")[1].split()[0])


BLOCKED_SERVED = [
    ("BLPOP q 0", ["RPUSH q v"]),
    ("BRPOP q 0", ["LPUSH q a b"]),
    ("BRPOPLPUSH q d 0", ["RPUSH q v"]),
    ("BLMOVE q d LEFT RIGHT 0", ["RPUSH q v w"]),
    ("BLMPOP 0 2 x q RIGHT COUNT 5", ["RPUSH q a b"]),
    ("BZPOPMIN z 0", ["ZADD z 1 a 2 b"]),
    ("BZPOPMAX z 0", ["ZADD z 1 a"]),
    ("BZMPOP 0 1 z MIN COUNT 2", ["ZADD z 1 a"]),
    ("BLPOP q 0", ["MULTI", "RPUSH q a", "RPUSH q b", "GET q2", "EXEC"]),
    ("BLMOVE q d RIGHT LEFT 0", ["MULTI", "DEL q", "RPUSH q a", "EXEC"]),
]


@pytest.mark.parametrize("blocking,pushes", BLOCKED_SERVED)
def test_blocked_pop_served_after_a_push_matches_redis_aof(aof, blocking, pushes) -> None:
    rec = _Recorder()
    aof.run("FLUSHALL")
    waiter = RawClient(aof.handle.port)
    try:
        waiter.send(*blocking.split())
        _wait(lambda: _blocked_clients(aof) == 1, "redis-server to block the client")
        ours_waiter = Client(rec.engine, 7, _Conn())
        executor.execute(ours_waiter, [a.encode() for a in blocking.split()], [])
        assert ours_waiter.blocked is not None
        mismatches = []
        for line in pushes:
            ours = rec.run(*line.split())
            theirs = aof.run(*line.split())
            if not _same_effects(ours, theirs):
                mismatches.append(f"{line}: keystream {ours} != redis {theirs}")
        assert not mismatches, "\n".join(mismatches)
        waiter.read()
        assert ours_waiter.blocked is None
    finally:
        waiter.close()


def _expire_both(aof: _AofReader, rec: _Recorder, lines: list[str]) -> None:
    """Give each key of `SET key v PX 30`-style lines a short life on both, then wait past it."""
    deadline = 0.0
    for line in lines:
        rec.run(*line.split())
        aof.run(*line.split())
        deadline = time.time() + 0.05
    _wait(lambda: time.time() > deadline, "the keys' deadline")


def test_lazy_expiry_matches_redis_aof(aof) -> None:
    rec = _Recorder()
    aof.run("FLUSHALL")
    aof.run("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        _expire_both(aof, rec, ["SET r v PX 30", "SET x v PX 30", "SET w v PX 30", "SET e v PX 30",
                                "RPUSH l a", "PEXPIRE l 30", "SADD s a", "PEXPIRE s 30", "SET c v PX 30"])
        mismatches = []
        # A read, a no-op write (SET XX), a write, EXPIRE and SREM on expired keys, a push.
        for line in ["GET r", "SET x v2 XX", "SET w v2", "EXPIRE e 100", "LPUSH l b", "SREM s a", "GET c"]:
            ours = rec.run(*line.split())
            theirs = aof.run(*line.split())
            if not _same_effects(ours, theirs):
                mismatches.append(f"{line}: keystream {ours} != redis {theirs}")
        assert not mismatches, "\n".join(mismatches)
    finally:
        aof.run("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_active_expiry_matches_redis_aof(aof) -> None:
    rec = _Recorder()
    aof.run("FLUSHALL")
    aof.run("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    for line in ["SET a v PX 30", "SET b v PX 30", "SET keep v"]:
        rec.run(*line.split())
        aof.run(*line.split())
    _wait(lambda: time.time() * 1000 > rec.engine.dbs[0].expires[b"a"] + 20, "the keys' deadline")
    aof.client.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    _wait(lambda: aof.client.call("DBSIZE") == 1, "redis-server's active expiry")
    theirs = aof.run("PING")
    rec.engine.cron()
    ours, rec.seen = rec.seen, []
    assert sorted(ours, key=repr) == sorted(theirs, key=repr), f"keystream {ours} != redis {theirs}"
    assert len(ours) == 2
