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

import pytest

from keystream.commands import executor
from keystream.config import Config
from keystream.resp.connection import Client
from keystream.server import Server
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
    """Keystream in-process; `run` returns what one command propagated, rendered as an AOF."""

    def __init__(self) -> None:
        self.server = Server(Config())
        self.seen: list[tuple[int | None, list[bytes]]] = []
        self.in_multi = False
        self.server.propagate_listeners.append(self._record)
        self.client = Client(self.server, 1, None)
        self.client.select(0)

    def _record(self, db: int, cmds: list[list[bytes]]) -> None:
        if cmds and cmds[0][0].upper() == b"MULTI":
            self.in_multi = True
        wrap = len(cmds) > 1 and not self.in_multi
        for cmd in ([[b"MULTI"]] if wrap else []) + cmds + ([[b"EXEC"]] if wrap else []):
            self.seen.append((_db_of(cmd, db), cmd))
        if cmds and cmds[-1][0].upper() == b"EXEC":
            self.in_multi = False

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
        "PEXPIRE k4 100000 GT", "EXPIREAT k4 99999999999", "PEXPIREAT k4 99999999999000 NX", "PERSIST k4",
        "PERSIST k4", "EXPIRE k4 -1", "MOVE k5 2", "SELECT 2", "SET x 1", "SELECT 0", "SWAPDB 0 2", "TOUCH x",
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
