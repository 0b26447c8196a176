"""Change capture end to end: redis-py writes, kcat and kafka-python consumer groups read the
capture topic; definitions survive a restart; with `appendfsync always` the topic and the
restored keyspace agree after kill -9 under load, and after a crash that lost the topic's
last appends (rebuilt from the AOF's marks)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from kafka import KafkaConsumer

from tests.conftest import (
    ServerHandle,
    free_port,
    require_tool,
    serve_keystream,
    start_keystream,
    stop_checked,
    wait_until,
)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    yield from serve_keystream(kafka=True)


def _map(reply: Any) -> dict[bytes, Any]:
    return reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2], strict=True))


def _r(h: ServerHandle) -> redis.Redis:
    return redis.Redis(port=h.port, socket_timeout=20)


def _kcat(h: ServerHandle, topic: str) -> list[dict[str, Any]]:
    """Every record of partition 0 through kcat (-J): offset, key, value (None: null), headers."""
    kcat = require_tool("kcat")
    out = subprocess.run([kcat, "-b", f"127.0.0.1:{h.kafka_port}", "-C", "-t", topic, "-p", "0", "-o",
                          "beginning", "-e", "-q", "-J"], capture_output=True, timeout=60, check=True).stdout
    recs = []
    for line in out.splitlines():
        m = json.loads(line)
        hdrs = m.get("headers") or []
        recs.append({"offset": m["offset"], "key": m["key"].encode(),
                     "value": None if m["payload"] is None else m["payload"].encode(),
                     "headers": {hdrs[i].encode(): hdrs[i + 1].encode() for i in range(0, len(hdrs), 2)}})
    return recs


def test_redis_writes_captured_and_read_by_kcat(server: ServerHandle) -> None:
    topic = "cap-" + uuid.uuid4().hex[:8]
    r = _r(server)
    assert r.execute_command("CAPTURE.CREATE", topic, "MATCH", "c:*") == b"OK"
    r.set("c:s", "one")
    r.set("other", "not captured")
    r.hset("c:h", mapping={"f": "1", "g": "2"})
    r.incrbyfloat("c:f", 1.5)                 # captured as its effect: a SET of the result
    r.rpush("c:l", "a", "b")
    r.delete("c:s")
    r.set("c:e", "gone soon", px=50)
    with r.pipeline(transaction=True) as p:     # one unit: both records see the state after EXEC
        p.set("c:t", "1")
        p.append("c:t", "2")
        p.execute()
    db1 = redis.Redis(port=server.port, db=1)
    db1.set("c:db1", "x")
    wait_until(lambda: not r.exists("c:e") and r.get("c:e") is None, timeout=10, what="expiry")
    wait_until(lambda: len(_kcat(server, topic)) >= 10, timeout=20, what="records in the topic")
    recs = _kcat(server, topic)
    got = [(x["key"], x["headers"][b"operation"], x["headers"][b"type"], x["value"]) for x in recs]
    assert len(got) == 10
    # exact expectations (values are the key's state at the end of the unit that wrote it)
    assert got[0] == (b"c:s", b"set", b"string", b"one")
    assert got[1] == (b"c:h", b"hset", b"hash", b'{"f":"1","g":"2"}')
    assert got[2] == (b"c:f", b"set", b"string", b"1.5")
    assert got[3] == (b"c:l", b"rpush", b"list", b"*4\r\n$5\r\nRPUSH\r\n$3\r\nc:l\r\n$1\r\na\r\n$1\r\nb\r\n")
    assert got[4] == (b"c:s", b"del", b"none", None)
    assert got[5][:3] == (b"c:e", b"set", b"string")
    assert got[6] == (b"c:t", b"set", b"string", b"12") and got[7] == (b"c:t", b"append", b"string", b"12")
    assert got[8] == (b"c:db1", b"set", b"string", b"x") and recs[8]["headers"][b"db"] == b"1"
    assert got[9] == (b"c:e", b"del", b"none", None)        # the expiration
    assert [x["headers"][b"seq"] for x in recs] == [b"%d" % i for i in range(len(recs))]
    assert all(x["headers"][b"db"] == b"0" for i, x in enumerate(recs) if i != 8)
    info = _map(r.execute_command("CAPTURE.INFO", topic))
    assert info[b"records_written"] == len(recs) and info[b"last_offset"] == len(recs) - 1
    r.execute_command("CAPTURE.DROP", topic)
    r.set("c:after-drop", "1")
    assert len(_kcat(server, topic)) == len(recs)


def test_capture_format_effect_and_db_filter_for_a_consumer_group(server: ServerHandle) -> None:
    topic = "cap-" + uuid.uuid4().hex[:8]
    r = _r(server)
    r.execute_command("CAPTURE.CREATE", topic, "DB", "2", "FORMAT", "EFFECT")
    db2 = redis.Redis(port=server.port, db=2)
    r.set("db0-key", "ignored")
    for i in range(30):
        db2.set(f"k{i}", i)
    db2.delete("k0")
    consumer = KafkaConsumer(topic, bootstrap_servers=f"127.0.0.1:{server.kafka_port}",
                             group_id="g-" + topic, auto_offset_reset="earliest", consumer_timeout_ms=20000,
                             enable_auto_commit=False)
    got = []
    for msg in consumer:
        got.append(msg)
        if len(got) == 31:
            break
    consumer.commit()
    consumer.close()
    assert [m.key for m in got] == [b"k%d" % i for i in range(30)] + [b"k0"]
    assert got[5].value == b"*3\r\n$3\r\nSET\r\n$2\r\nk5\r\n$1\r\n5\r\n"
    assert got[30].value == b"*2\r\n$3\r\nDEL\r\n$2\r\nk0\r\n"
    assert dict(got[30].headers) == {"db": b"2", "operation": b"del", "type": b"none", "seq": b"30"}
    r.execute_command("CAPTURE.DROP", topic)


def test_capture_errors(server: ServerHandle) -> None:
    r = _r(server)
    topic = "cap-" + uuid.uuid4().hex[:8]
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("CAPTURE.CREATE", topic, "FORMAT", "XML")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("CAPTURE.CREATE", topic, "MATCH")
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        r.execute_command("CAPTURE.CREATE", topic, "DB", "99")
    with pytest.raises(redis.ResponseError, match="internal topic"):
        r.execute_command("CAPTURE.CREATE", "__consumer_offsets")
    with pytest.raises(redis.ResponseError, match="no capture into topic"):
        r.execute_command("CAPTURE.DROP", topic)
    with pytest.raises(redis.ResponseError, match="only read back"):
        r.execute_command("CAPTURE.MARK", topic, "0", "1")
    r.execute_command("CAPTURE.CREATE", topic)
    with pytest.raises(redis.ResponseError, match="already exists"):
        r.execute_command("CAPTURE.CREATE", topic)
    with pytest.raises(redis.ResponseError, match="written by a change capture"):
        r.execute_command("VIEW.CREATE", "v", "FROM", topic, "AS", "HASH")
    r.execute_command("CAPTURE.DROP", topic)


def _partition_dir(data: str, topic: str) -> str:
    return os.path.join(data, "kafka", f"{topic}-0")


def _check_agreement(h: ServerHandle, topic: str, keys: list[str]) -> list[dict[str, Any]]:
    """The capture topic and the keyspace agree: sequence numbers 0..n-1 once each, and the last
    record of each key holds the key's value."""
    r = _r(h)
    recs = _kcat(h, topic)
    assert [x["headers"][b"seq"] for x in recs] == [b"%d" % i for i in range(len(recs))]
    last: dict[bytes, bytes | None] = {}
    for x in recs:
        last[x["key"]] = x["value"]
    for k in keys:
        assert last.get(k.encode()) == r.get(k), k
    return recs


def _args(kport: int) -> tuple[str, ...]:
    return ("--kafka-port", str(kport), "--appendonly", "yes", "--appendfsync", "always")


def test_capture_agrees_with_the_keyspace_after_kill9_under_load(tmp_path) -> None:
    data = str(tmp_path)
    kport = free_port()
    h = start_keystream(*_args(kport), data_dir=data, kafka=True)
    keys = [f"k{i}" for i in range(40)]
    try:
        r = _r(h)
        r.execute_command("CAPTURE.CREATE", "changes", "MATCH", "k*")
        acked: dict[str, int] = {}
        stop = threading.Event()

        def writer(n: int) -> None:
            c = _r(h)
            i = 0
            try:
                while not stop.is_set():
                    k = keys[(i * 7 + n) % len(keys)]
                    if i % 11 == 0:
                        c.delete(k)
                        acked[k] = -1
                    else:
                        c.set(k, f"{n}-{i}")
                        acked[k] = i
                    i += 1
            except (redis.ConnectionError, redis.TimeoutError):
                pass

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        wait_until(lambda: int(_map(r.execute_command("CAPTURE.INFO", "changes"))[b"records_written"]) > 600,
                   timeout=60, what="load")
        h.stop(signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join(30)
        h = start_keystream(*_args(kport), data_dir=data, kafka=True)
        recs = _check_agreement(h, "changes", keys)
        assert len(recs) > 600
        # the capture carries on from where it was
        r = _r(h)
        r.set("k0", "after")
        wait_until(lambda: _kcat(h, "changes")[-1]["value"] == b"after", timeout=10, what="capture after restart")
        assert _kcat(h, "changes")[-1]["headers"][b"seq"] == b"%d" % len(recs)
    finally:
        stop_checked(h)


def test_capture_rebuilds_records_the_crash_kept_from_the_topic(tmp_path) -> None:
    """The crash window: the AOF holds a unit, the topic lost its records (cut here by hand
    after kill -9). The restart appends them again from the AOF's marks, once."""
    data = str(tmp_path)
    kport = free_port()
    h = start_keystream(*_args(kport), data_dir=data, kafka=True)
    keys = [f"k{i}" for i in range(5)]
    try:
        r = _r(h)
        r.execute_command("CAPTURE.CREATE", "changes")
        for i in range(5):
            r.set(keys[i], f"v{i}")
        with r.pipeline(transaction=True) as p:
            p.set("k1", "multi")
            p.hset("k9", "f", "v")
            p.execute()
        before = _kcat(h, "changes")
        assert len(before) == 7
        h.stop(signal.SIGKILL)
        # cut the last two appends (batches) off the segment, as if the crash came before them
        seg = os.path.join(_partition_dir(data, "changes"), "0" * 20 + ".log")
        with open(seg, "rb") as f:
            blob = f.read()
        starts = []
        pos = 0
        while pos < len(blob):
            starts.append(pos)
            pos += 12 + int.from_bytes(blob[pos + 8:pos + 12], "big")
        # one batch per AOF flush (an event-loop turn may hold several of the writes above)
        assert len(starts) >= 3
        os.truncate(seg, starts[-2])
        h = start_keystream(*_args(kport), data_dir=data, kafka=True)
        after = _check_agreement(h, "changes", keys)
        assert [(x["key"], x["value"], x["headers"]) for x in after] == \
               [(x["key"], x["value"], x["headers"]) for x in before]
    finally:
        stop_checked(h)


def test_captures_persist_and_are_declared_in_settings(tmp_path) -> None:
    data = str(tmp_path)
    kport = free_port()
    args = ("--kafka-port", str(kport), "--bridge-captures", "declared MATCH d:* FORMAT EFFECT")
    h = start_keystream(*args, data_dir=data, kafka=True)
    try:
        r = _r(h)
        r.execute_command("CAPTURE.CREATE", "made", "MATCH", "m:*", "DB", "0")
        r.set("m:1", "x")
        r.set("d:1", "y")
        stop_checked(h)
        h = start_keystream(*args, data_dir=data, kafka=True)
        r = _r(h)
        caps = {_map(c)[b"topic"]: _map(c) for c in r.execute_command("CAPTURE.LIST")}
        assert set(caps) == {b"made", b"declared"}
        assert caps[b"declared"][b"declared"] == 1 and caps[b"declared"][b"format"] == b"effect"
        assert caps[b"made"][b"match"] == b"m:*" and caps[b"made"][b"db"] == 0 and caps[b"made"][b"next_seq"] == 1
        r.set("m:2", "z")
        wait_until(lambda: len(_kcat(h, "made")) == 2, timeout=10, what="second record")
        assert [x["headers"][b"seq"] for x in _kcat(h, "made")] == [b"0", b"1"]
        assert _kcat(h, "declared")[0]["value"] == b"*3\r\n$3\r\nSET\r\n$3\r\nd:1\r\n$1\r\ny\r\n"
    finally:
        stop_checked(h)


def test_whole_database_operations_are_captured_in_every_partition(server: ServerHandle) -> None:
    """FLUSHDB, SWAPDB and FLUSHALL name no key: each is one record (empty key, the effect as
    its value, type none) in every partition of the topic, in order with the keys' records,
    whatever MATCH says; a DB capture gets the ones that change its database."""
    from kafka.admin import KafkaAdminClient, NewTopic

    every, only5 = "cap-" + uuid.uuid4().hex[:8], "cap-" + uuid.uuid4().hex[:8]
    admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{server.kafka_port}")
    admin.create_topics([NewTopic(every, 3, 1)])
    admin.close()
    r = _r(server)
    r.execute_command("CAPTURE.CREATE", every, "MATCH", "f:*")
    r.execute_command("CAPTURE.CREATE", only5, "MATCH", "f:*", "DB", "5")
    db3 = redis.Redis(port=server.port, db=3)
    r.set("f:a", "1")
    r.publish("f:channel", "x")      # propagated, but names no key and changes no database: no record
    db3.set("f:b", "2")
    db3.flushdb()
    r.swapdb(3, 4)
    r.flushall(asynchronous=True)
    r.set("f:c", "3")
    consumer = KafkaConsumer(every, only5, bootstrap_servers=f"127.0.0.1:{server.kafka_port}",
                             group_id="g-" + every, auto_offset_reset="earliest", consumer_timeout_ms=20000)
    got: dict[tuple[str, int], list[Any]] = {}
    n = 0
    for msg in consumer:
        got.setdefault((msg.topic, msg.partition), []).append(msg)
        n += 1
        if n == 12 + 1:
            break
    consumer.close()
    assert n == 13, got

    def whole(m: Any) -> tuple[bytes, str, bytes, bytes]:
        h = dict(m.headers)
        return m.key, h["operation"].decode(), h["type"], h["db"]

    for p in range(3):
        recs = got[(every, p)]
        flushes = [whole(m) for m in recs if m.key == b""]
        assert flushes == [(b"", "flushdb", b"none", b"3"), (b"", "swapdb", b"none", b"0"),
                           (b"", "flushall", b"none", b"0")]
        ops = [m.value for m in recs if m.key == b""]
        assert ops[0] == b"*1\r\n$7\r\nFLUSHDB\r\n" and ops[1] == b"*3\r\n$6\r\nSWAPDB\r\n$1\r\n3\r\n$1\r\n4\r\n"
        assert ops[2].upper().startswith((b"*1\r\n$8\r\nFLUSHALL\r\n", b"*2\r\n$8\r\nFLUSHALL\r\n"))
        keyed = [m.key for m in recs if m.key != b""]
        # each key's record is in its own partition, before (f:a, f:b) or after (f:c) the flushes
        order = [m.key or dict(m.headers)["operation"] for m in recs]
        for k in keyed:
            assert (order.index(k) < order.index(b"flushdb")) == (k != b"f:c")
        seqs = [int(dict(m.headers)["seq"]) for m in recs]
        assert seqs == sorted(seqs)
    assert sorted(m.key for p in range(3) for m in got[(every, p)] if m.key) == [b"f:a", b"f:b", b"f:c"]
    only = got[(only5, 0)]
    assert [whole(m) for m in only] == [(b"", "flushall", b"none", b"0")]
    r.execute_command("CAPTURE.DROP", every)
    r.execute_command("CAPTURE.DROP", only5)
