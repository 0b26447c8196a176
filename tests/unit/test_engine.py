"""The engine in-process: call() with a connectionless client, the effects buffer (one emission
per execution unit, MULTI/EXEC-wrapped when several), typed write events in Redis's order,
blocking wake-ups served through the same path, and the partition log with Kafka off."""

from __future__ import annotations

import asyncio
import time
from collections import deque

import pytest

from keystream.client import Client
from keystream.commands import executor
from keystream.config import Config
from keystream.engine import Effect, Engine
from keystream.log.batch import build_batch
from keystream.resp.errors import CommandError
from keystream.server import Server


class _Conn:
    """A connection as the command layer sees it (keystream.client.Connection)."""

    def __init__(self) -> None:
        self.closed = False
        self.pending: deque[list[bytes]] = deque()
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True

    def run_pending(self) -> None:
        pass


class _Rig:
    def __init__(self) -> None:
        self.engine = Engine(Config())
        self.units: list[list[Effect]] = []
        self.events: list[tuple[str, int, bytes]] = []
        self.engine.effect_subscribers.append(lambda unit: self.units.append(unit))
        self.engine.event_subscribers.append(lambda kind, db, key: self.events.append((kind, db, key)))
        self.client = self.engine.fake_client()

    def call(self, line: str) -> object:
        return self.engine.call(self.client, [a.encode() for a in line.split()])

    def take(self) -> tuple[list[list[Effect]], list[tuple[str, int, bytes]]]:
        units, events = self.units, self.events
        self.units, self.events = [], []
        return units, events


@pytest.fixture
def rig() -> _Rig:
    return _Rig()


# -- call() --------------------------------------------------------------------------------
def test_call_returns_reply_values_not_encoded_bytes(rig: _Rig) -> None:
    assert rig.call("SET k v") == b"OK"
    assert rig.call("GET k") == b"v"
    assert rig.call("INCR n") == 1
    reply = rig.call("LPUSH k x")
    assert isinstance(reply, CommandError) and reply.text.startswith("WRONGTYPE")
    unknown = rig.call("NOSUCHCOMMAND a")
    assert isinstance(unknown, CommandError) and unknown.text.startswith("ERR unknown command")
    arity = rig.call("GET")
    assert isinstance(arity, CommandError) and "wrong number of arguments" in arity.text


def test_call_counts_statistics_like_a_connection(rig: _Rig) -> None:
    cmd_calls = rig.engine.stats.total_errors
    rig.call("GET missing")
    rig.call("LPUSH")
    assert rig.engine.stats.total_errors == cmd_calls + 1
    assert rig.engine.stats.rejected_calls == 1


def test_connectionless_call_sees_the_same_effects_as_a_connection() -> None:
    script = ["SET a 1", "INCRBYFLOAT f 1.5", "RPUSH l x y", "LPOP l", "SADD s m", "SPOP s",
              "EXPIREAT a 99999999999", "SET a 2 XX", "DEL nothing", "GETDEL f", "BLPOP l 0"]
    fake = _Rig()
    for line in script:
        fake.call(line)
    conn_rig = _Rig()
    client = Client(conn_rig.engine, 1, _Conn())
    for line in script:
        executor.execute(client, [a.encode() for a in line.split()], [])
    assert fake.units == conn_rig.units
    assert fake.events == conn_rig.events
    assert len(fake.units) == 10


def _argvs(unit: list[Effect]) -> list[list[bytes]]:
    return [argv for _, argv in unit]


# -- the effects buffer --------------------------------------------------------------------
def test_each_command_is_one_unit_and_no_op_writes_emit_nothing(rig: _Rig) -> None:
    rig.call("SET k v")
    rig.call("SET nokey v XX")
    rig.call("SREM k2 member")
    rig.call("EXPIRE nokey 10")
    rig.call("GET k")
    units, _ = rig.take()
    assert units == [[(0, [b"SET", b"k", b"v"])]]


def test_lazily_expired_key_emits_its_del_and_not_the_no_op_write(rig: _Rig) -> None:
    rig.call("SET k v PX 1")
    rig.take()
    time.sleep(0.01)
    assert rig.call("SET k v2 XX") is None
    units, events = rig.take()
    assert units == [[(0, [b"DEL", b"k"])]]
    assert events == [("expired", 0, b"k")]


def test_expiry_and_the_write_that_met_it_are_one_unit(rig: _Rig) -> None:
    rig.call("SET k v PX 1")
    rig.take()
    time.sleep(0.01)
    rig.call("SET k v2")
    units, _ = rig.take()
    assert units == [[(0, [b"MULTI"]), (0, [b"DEL", b"k"]), (0, [b"SET", b"k", b"v2"]), (0, [b"EXEC"])]]


def test_exec_is_one_unit_with_reads_left_out() -> None:
    rig = _Rig()
    client = Client(rig.engine, 1, _Conn())
    for line in ["MULTI", "SET a 1", "GET a", "SELECT 3", "INCR c", "EXEC"]:
        executor.execute(client, [a.encode() for a in line.split()], [])
    units, _ = rig.take()
    assert units == [[(0, [b"MULTI"]), (0, [b"SET", b"a", b"1"]), (3, [b"INCR", b"c"]), (3, [b"EXEC"])]]


def test_exec_with_one_effect_is_not_wrapped() -> None:
    rig = _Rig()
    client = Client(rig.engine, 1, _Conn())
    for line in ["MULTI", "GET a", "SET a 1", "EXEC", "MULTI", "GET a", "EXEC"]:
        executor.execute(client, [a.encode() for a in line.split()], [])
    units, _ = rig.take()
    assert units == [[(0, [b"SET", b"a", b"1"])]]


def test_nothing_is_buffered_without_subscribers() -> None:
    engine = Engine(Config())
    client = engine.fake_client()
    engine.call(client, [b"SET", b"k", b"v"])
    assert engine.effects == []


# -- typed write events ----------------------------------------------------------------------
@pytest.mark.parametrize("setup,line,events", [
    ([], "SET k v EX 100", [("set", b"k"), ("expire", b"k")]),
    (["RPUSH l a"], "LPOP l", [("lpop", b"l"), ("del", b"l")]),
    (["RPUSH l a b"], "RPOP l", [("rpop", b"l")]),
    (["RPUSH s a"], "LMOVE s d LEFT RIGHT", [("rpush", b"d"), ("lpop", b"s"), ("del", b"s")]),
    (["HSET h f v"], "HDEL h f", [("hdel", b"h"), ("del", b"h")]),
    ([], "HINCRBYFLOAT h f 1.5", [("hincrbyfloat", b"h")]),
    (["SADD s a"], "SMOVE s d a", [("srem", b"s"), ("del", b"s"), ("sadd", b"d")]),
    ([], "ZADD z INCR 1 a", [("zincr", b"z")]),
    (["ZADD z 1 a 2 b"], "ZPOPMIN z 2", [("zpopmin", b"z"), ("del", b"z")]),
    (["SET a v EX 100"], "RENAME a b", [("rename_from", b"a"), ("rename_to", b"b")]),
    (["SET a v", "SET b w"], "COPY a b REPLACE", [("copy_to", b"b")]),
    (["SET a v"], "INCR n", [("incrby", b"n")]),
    (["SET a v"], "APPEND a w", [("append", b"a")]),
    (["SADD s a b"], "SINTERSTORE d s", [("sinterstore", b"d")]),
    (["SET d v"], "SINTERSTORE d nokey", [("del", b"d")]),
    (["RPUSH l 2 1"], "SORT l STORE d", [("sortstore", b"d")]),
    (["SET k v EX 100"], "PERSIST k", [("persist", b"k")]),
    (["SET k v"], "PEXPIREAT k 1", [("del", b"k")]),
    (["RPUSH l a b c"], "LTRIM l 0 -1", [("ltrim", b"l")]),
])
def test_write_events_in_redis_order(rig: _Rig, setup: list[str], line: str,
                                     events: list[tuple[str, bytes]]) -> None:
    for s in setup:
        rig.call(s)
    rig.take()
    rig.call(line)
    assert rig.take()[1] == [(kind, 0, key) for kind, key in events]


def test_move_events_name_both_databases(rig: _Rig) -> None:
    rig.call("SET k v")
    rig.take()
    rig.call("MOVE k 2")
    assert rig.take()[1] == [("move_from", 0, b"k"), ("move_to", 2, b"k")]


def test_ltrim_that_removes_nothing_notifies_but_does_not_propagate(rig: _Rig) -> None:
    rig.call("RPUSH l a b")
    rig.take()
    rig.call("LTRIM l 0 -1")
    units, events = rig.take()
    assert units == [] and events == [("ltrim", 0, b"l")]


def test_watch_is_invalidated_by_a_write_event() -> None:
    engine = Engine(Config())
    watcher = Client(engine, 1, _Conn())
    writer = engine.fake_client()
    out: list[bytes] = []
    executor.execute(watcher, [b"WATCH", b"k"], out)
    engine.call(writer, [b"RPUSH", b"k", b"x"])
    assert watcher.dirty_cas


# -- blocking ----------------------------------------------------------------------------------
def test_blocked_client_is_served_through_the_engine_as_its_own_unit() -> None:
    rig = _Rig()
    waiter = Client(rig.engine, 1, _Conn())
    pusher = Client(rig.engine, 2, _Conn())
    out: list[bytes] = []
    executor.execute(waiter, [b"BLPOP", b"q", b"0"], out)
    assert out == [] and waiter.blocked is not None
    assert rig.engine.blocking.count == 1 and rig.engine.event_subscribers
    executor.execute(pusher, [b"RPUSH", b"q", b"v"], [])
    assert waiter.blocked is None
    assert waiter.conn is not None
    assert b"".join(waiter.conn.written) == b"*2\r\n$1\r\nq\r\n$1\r\nv\r\n"  # type: ignore[attr-defined]
    units, events = rig.take()
    assert units == [[(0, [b"RPUSH", b"q", b"v"])], [(0, [b"LPOP", b"q"])]]
    assert events == [("rpush", 0, b"q"), ("lpop", 0, b"q"), ("del", 0, b"q")]
    assert rig.engine.blocking.count == 0 and len(rig.engine.event_subscribers) == 1


def test_push_inside_exec_serves_the_waiter_after_the_exec() -> None:
    rig = _Rig()
    waiter = Client(rig.engine, 1, _Conn())
    pusher = Client(rig.engine, 2, _Conn())
    executor.execute(waiter, [b"BZPOPMIN", b"z", b"0"], [])
    for line in ["MULTI", "ZADD z 1 a", "ZADD z 2 b", "EXEC"]:
        executor.execute(pusher, [a.encode() for a in line.split()], [])
    units, _ = rig.take()
    assert units == [
        [(0, [b"MULTI"]), (0, [b"ZADD", b"z", b"1", b"a"]), (0, [b"ZADD", b"z", b"2", b"b"]), (0, [b"EXEC"])],
        [(0, [b"ZPOPMIN", b"z"])],
    ]
    assert waiter.blocked is None


def test_blocking_pop_inside_multi_does_not_block() -> None:
    rig = _Rig()
    client = Client(rig.engine, 1, _Conn())
    out: list[bytes] = []
    for line in ["MULTI", "BLPOP q 0", "EXEC"]:
        executor.execute(client, [a.encode() for a in line.split()], out)
    assert out[-1:] == [b"*-1\r\n"] or b"".join(out).endswith(b"*1\r\n*-1\r\n")
    assert client.blocked is None and rig.take()[0] == []


# -- plain values for non-RESP readers -------------------------------------------------------
def test_types_that_cache_encoded_replies_expose_plain_values(rig: _Rig) -> None:
    rig.call("RPUSH l a bb")
    rig.call("LRANGE l 0 -1")
    lst = rig.engine.dbs[0].data[b"l"]
    assert list(lst.values()) == [b"a", b"bb"]
    rig.call("CONFIG SET zset-max-listpack-entries 0")
    rig.call("ZADD z 2 b 1 a")
    assert rig.call("ZRANGE z 0 -1") == [b"a", b"b"]  # fills the big form's reply cache
    zs = rig.engine.dbs[0].data[b"z"]
    assert zs.big is not None and zs.big.bulk
    assert zs.entries() == [(b"a", 1.0), (b"b", 2.0)]


# -- the log belongs to the engine ---------------------------------------------------------
def test_partition_log_exists_with_the_kafka_listener_off(tmp_path) -> None:
    config = Config()
    config.set_text("dir", str(tmp_path))
    config.set_text("port", "0")
    config.set_text("kafka-port", "0")

    async def first_run() -> None:
        server = Server(config)
        assert server.kafka is None
        await server.start()
        logs = server.engine.logs
        logs.create_topic("events", 1, {})
        plog = logs.partition("events", 0)
        assert plog is not None
        plog.append(build_batch([(b"k", b"v")], int(time.time() * 1000)), int(time.time() * 1000))
        await server.stop()

    async def second_run() -> int:
        engine = Engine(config)
        await engine.start()
        plog = engine.logs.partition("events", 0)
        assert plog is not None
        end = plog.log_end_offset
        await engine.stop()
        return end

    asyncio.run(first_run())
    assert asyncio.run(second_run()) == 1
