"""Table views end to end: Kafka producers (confluent-kafka) write topics, redis-py reads the
views; write-through views take writes from both; views are rebuilt from the log after a
clean restart and after kill -9; wrong use gets clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.conftest import ServerHandle, free_port, serve_keystream, start_keystream, stop_checked, wait_until


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    yield from serve_keystream(kafka=True)


def _bootstrap(h: ServerHandle) -> str:
    return f"127.0.0.1:{h.kafka_port}"


def _topic(h: ServerHandle, partitions: int = 1, configs: dict[str, str] | None = None) -> str:
    name = "v-" + uuid.uuid4().hex[:10]
    admin = AdminClient({"bootstrap.servers": _bootstrap(h)})
    for fut in admin.create_topics([NewTopic(name, partitions, 1, config=configs or {})]).values():
        fut.result(timeout=20)
    return name


def _producer(h: ServerHandle) -> Producer:
    return Producer({"bootstrap.servers": _bootstrap(h), "linger.ms": 0})


def _produce(p: Producer, topic: str, key: bytes, value: bytes | None) -> None:
    p.produce(topic, key=key, value=value)
    assert p.flush(20) == 0


def _log_records(h: ServerHandle, topic: str, partitions: int = 1) -> list[tuple[bytes, bytes | None]]:
    """Every record of the topic (partition by partition) as a consumer reads it."""
    c = Consumer({"bootstrap.servers": _bootstrap(h), "group.id": "g-" + uuid.uuid4().hex[:8],
                  "enable.auto.commit": False, "enable.partition.eof": True})
    out: list[tuple[bytes, bytes | None]] = []
    try:
        for p in range(partitions):
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=20)
            if high == low:
                continue
            c.assign([TopicPartition(topic, p, low)])
            while True:
                m = c.poll(10)
                assert m is not None, "consumer timed out"
                if m.error():
                    assert m.error().code() == -191, m.error()   # _PARTITION_EOF
                    break
                out.append((m.key(), m.value()))
                if m.offset() == high - 1:
                    break
    finally:
        c.close()
    return out


def _replay(records: list[tuple[bytes, bytes | None]]) -> dict[bytes, bytes]:
    state: dict[bytes, bytes] = {}
    for k, v in records:
        if v is None:
            state.pop(k, None)
        else:
            state[k] = v
    return state


def _map(reply: Any) -> dict[bytes, Any]:
    """A map reply as redis-py gives it (a dict, or a flat list under RESP2)."""
    return reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2], strict=True))


def _r(h: ServerHandle) -> redis.Redis:
    return redis.Redis(port=h.port, socket_timeout=20)


def test_hash_view_sees_each_record_as_it_is_produced(server: ServerHandle) -> None:
    topic = _topic(server)
    r = _r(server)
    assert r.execute_command("VIEW.CREATE", "users:" + topic, "FROM", topic, "AS", "HASH") == b"OK"
    p = _producer(server)
    for i in range(20):
        _produce(p, topic, b"user%d" % (i % 7), b"v%d" % i)
        wait_until(lambda i=i: r.hget("users:" + topic, b"user%d" % (i % 7)) == b"v%d" % i, timeout=10,
                   what=f"record {i} in the view")
    _produce(p, topic, b"user3", None)
    wait_until(lambda: not r.hexists("users:" + topic, "user3"), timeout=10, what="the tombstone")
    assert r.hgetall("users:" + topic) == _replay(_log_records(server, topic))
    info = r.execute_command("VIEW.INFO", "users:" + topic)
    info = _map(info)
    assert info[b"topic"] == topic.encode() and info[b"type"] == b"hash"
    assert info[b"records_applied"] == 21 and info[b"lag"] == 0 and info[b"offsets_applied"] == [20]
    bridge = r.info("bridge")
    assert any(v.get("topic") == topic and v["records_applied"] == 21
               for v in bridge.values() if isinstance(v, dict))
    assert r.execute_command("VIEW.DROP", "users:" + topic) == b"OK"
    assert not r.exists("users:" + topic)


def test_strings_view_existing_records_then_live(server: ServerHandle) -> None:
    topic = _topic(server)
    p = _producer(server)
    for i in range(5):
        _produce(p, topic, b"k%d" % i, b"old%d" % i)
    _produce(p, topic, b"k0", None)
    r = _r(server)
    prefix = f"s:{topic}:"
    r.execute_command("VIEW.CREATE", prefix, "FROM", topic, "AS", "STRINGS")
    assert r.get(prefix + "k1") == b"old1" and not r.exists(prefix + "k0")
    _produce(p, topic, b"k9", b"new")
    wait_until(lambda: r.get(prefix + "k9") == b"new", timeout=10, what="live record")
    _produce(p, topic, b"k1", None)
    wait_until(lambda: not r.exists(prefix + "k1"), timeout=10, what="tombstone")
    keys = {k[len(prefix):]: r.get(k) for k in r.keys(prefix + "*")}
    assert keys == _replay(_log_records(server, topic))
    r.execute_command("VIEW.DROP", prefix)


def test_hashes_view_json_objects(server: ServerHandle) -> None:
    topic = _topic(server)
    r = _r(server)
    prefix = f"h:{topic}:"
    r.execute_command("VIEW.CREATE", prefix, "FROM", topic, "AS", "HASHES")
    p = _producer(server)
    _produce(p, topic, b"u1", json.dumps({"name": "Ann", "age": 31, "tags": ["a"]}).encode())
    wait_until(lambda: r.exists(prefix + "u1"), timeout=10, what="u1")
    assert r.hgetall(prefix + "u1") == {b"name": b"Ann", b"age": b"31", b"tags": b'["a"]'}
    _produce(p, topic, b"u1", json.dumps({"name": "Ann B"}).encode())   # the whole object replaces
    wait_until(lambda: r.hgetall(prefix + "u1") == {b"name": b"Ann B"}, timeout=10, what="replaced object")
    _produce(p, topic, b"u2", b"not json")
    _produce(p, topic, b"u3", b"[1, 2]")
    _produce(p, topic, b"u1", None)
    wait_until(lambda: not r.exists(prefix + "u1"), timeout=10, what="tombstone")
    assert not r.exists(prefix + "u2") and not r.exists(prefix + "u3")
    info = r.execute_command("VIEW.INFO", prefix)
    info = _map(info)
    assert info[b"records_skipped"] == 2 and info[b"records_applied"] == 3
    r.execute_command("VIEW.DROP", prefix)


def test_transactional_records_applied_on_commit_only(server: ServerHandle) -> None:
    topic = _topic(server)
    r = _r(server)
    r.execute_command("VIEW.CREATE", "tx:" + topic, "FROM", topic, "AS", "HASH")
    p = Producer({"bootstrap.servers": _bootstrap(server), "transactional.id": "tx-" + topic})
    p.init_transactions(20)
    p.begin_transaction()
    p.produce(topic, key=b"a", value=b"aborted")
    p.flush(20)
    p.abort_transaction(20)
    p.begin_transaction()
    p.produce(topic, key=b"b", value=b"committed")
    p.flush(20)
    assert not r.exists("tx:" + topic)
    p.commit_transaction(20)
    wait_until(lambda: r.hget("tx:" + topic, "b") == b"committed", timeout=10, what="committed record")
    assert r.hgetall("tx:" + topic) == {b"b": b"committed"}
    r.execute_command("VIEW.DROP", "tx:" + topic)


def test_view_errors(server: ServerHandle) -> None:
    topic = _topic(server)
    r = _r(server)
    with pytest.raises(redis.ResponseError, match="no such topic 'missing-topic'"):
        r.execute_command("VIEW.CREATE", "x", "FROM", "missing-topic", "AS", "HASH")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("VIEW.CREATE", "x", "FROM", topic, "AS", "LIST")
    with pytest.raises(redis.ResponseError, match="no such view"):
        r.execute_command("VIEW.DROP", "nothing")
    r.execute_command("VIEW.CREATE", f"e:{topic}:", "FROM", topic, "AS", "STRINGS")
    with pytest.raises(redis.ResponseError, match="already exists"):
        r.execute_command("VIEW.CREATE", f"e:{topic}:", "FROM", topic, "AS", "STRINGS")
    with pytest.raises(redis.ResponseError, match=f"overlaps view 'e:{topic}:'"):
        r.execute_command("VIEW.CREATE", f"e:{topic}:sub:", "FROM", topic, "AS", "HASHES")
    with pytest.raises(redis.ResponseError, match="overlaps"):
        r.execute_command("VIEW.CREATE", f"e:{topic}:one", "FROM", topic, "AS", "HASH")
    r.set(f"taken:{topic}", "user data")
    with pytest.raises(redis.ResponseError, match="already exist"):
        r.execute_command("VIEW.CREATE", f"taken:{topic}", "FROM", topic, "AS", "HASH")
    assert r.get(f"taken:{topic}") == b"user data"
    # read-only view keys, for every path into the engine
    for write in (lambda: r.set(f"e:{topic}:k", "v"), lambda: r.delete(f"e:{topic}:k"),
                  lambda: r.rename(f"taken:{topic}", f"e:{topic}:k"), lambda: r.expire(f"e:{topic}:k", 10),
                  lambda: r.eval("return redis.call('SET', KEYS[1], 'x')", 1, f"e:{topic}:k")):
        with pytest.raises(redis.ResponseError, match=f"belongs to view 'e:{topic}:' of topic '{topic}'"):
            write()
    pipe = r.pipeline(transaction=True)
    pipe.set(f"e:{topic}:k", "v")
    with pytest.raises(redis.ResponseError, match="read-only"):
        pipe.execute()
    assert not r.exists(f"e:{topic}:k") and r.get(f"taken:{topic}") == b"user data"
    assert r.get(f"e:{topic}") is None    # reads are fine; a key outside the prefix is not the view's
    for cmd in (("FLUSHALL",), ("FLUSHDB",), ("SWAPDB", "0", "1")):
        with pytest.raises(redis.ResponseError, match="drop the view first"):
            r.execute_command(*cmd)
    names = [_map(v)[b"name"] for v in r.execute_command("VIEW.LIST")]
    assert f"e:{topic}:".encode() in names
    r.execute_command("VIEW.DROP", f"e:{topic}:")
    assert r.set(f"e:{topic}:k", "v")


def test_writethrough_with_both_clients_at_once(server: ServerHandle) -> None:
    topic = _topic(server, partitions=3)
    r = _r(server)
    key = "wt:" + topic
    r.execute_command("VIEW.CREATE", key, "FROM", topic, "AS", "HASH", "WRITETHROUGH")
    assert r.hset(key, mapping={"a": "1", "b": "2"}) == 2
    assert r.hget(key, "a") == b"1"        # applied by the time the reply came
    assert r.hset(key, "a", "1b") == 0
    assert r.hdel(key, "b", "zz") == 1
    with pytest.raises(redis.ResponseError, match="cannot write through"):
        r.hincrby(key, "n", 1)
    with pytest.raises(redis.ResponseError, match="may touch keys of that view only"):
        r.delete(key, "other-key")
    errors: list[BaseException] = []

    def redis_writer() -> None:
        try:
            c = _r(server)
            for i in range(150):
                c.hset(key, f"r{i % 20}", f"redis{i}")
                if i % 17 == 0:
                    c.hdel(key, f"r{i % 20}")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def kafka_writer() -> None:
        try:
            p = _producer(server)
            for i in range(150):
                p.produce(topic, key=f"k{i % 20}".encode(), value=f"kafka{i}".encode())
                if i % 10 == 0:
                    p.flush(20)
            assert p.flush(20) == 0
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=redis_writer), threading.Thread(target=kafka_writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    records = _log_records(server, topic, partitions=3)
    assert len(records) == 2 + 1 + 1 + 150 + 150 + 9
    wait_until(lambda: r.hgetall(key) == _replay(records), timeout=10, what="view equal to the log")
    r.execute_command("VIEW.DROP", key)


def test_writethrough_strings_and_hashes(server: ServerHandle) -> None:
    topic = _topic(server)
    r = _r(server)
    r.execute_command("VIEW.CREATE", f"ws:{topic}:", "FROM", topic, "AS", "STRINGS", "WRITETHROUGH")
    assert r.set(f"ws:{topic}:a", "1") is True
    with pytest.raises(redis.ResponseError, match="cannot write through"):
        r.set(f"ws:{topic}:a", "1", nx=True)
    assert r.delete(f"ws:{topic}:a", f"ws:{topic}:missing") == 1
    assert _log_records(server, topic) == [(b"a", b"1"), (b"a", None)]
    r.execute_command("VIEW.DROP", f"ws:{topic}:")
    topic2 = _topic(server)
    r.execute_command("VIEW.CREATE", f"wh:{topic2}:", "FROM", topic2, "AS", "HASHES", "WRITETHROUGH")
    assert r.hset(f"wh:{topic2}:u", mapping={"name": "Bo", "age": "3"}) == 2
    assert r.hdel(f"wh:{topic2}:u", "age") == 1
    assert r.hgetall(f"wh:{topic2}:u") == {b"name": b"Bo"}
    recs = _log_records(server, topic2)
    assert [(k, json.loads(v or b"null")) for k, v in recs] == [(b"u", {"name": "Bo", "age": "3"}),
                                                                 (b"u", {"name": "Bo"})]
    r.execute_command("VIEW.DROP", f"wh:{topic2}:")


def _view_state(r: redis.Redis, key: str) -> dict[bytes, bytes]:
    return r.hgetall(key)


@pytest.mark.parametrize("how", ["restart", "kill9"])
def test_view_rebuilt_from_the_log_after_restart(tmp_path, how: str) -> None:
    data = str(tmp_path)
    kport = free_port()
    args = ("--kafka-port", str(kport), "--appendonly", "yes", "--appendfsync", "always")
    h = start_keystream(*args, data_dir=data, kafka=True)
    try:
        topic = _topic(h, partitions=2)
        r = _r(h)
        r.execute_command("VIEW.CREATE", "t", "FROM", topic, "AS", "HASH")
        r.execute_command("VIEW.CREATE", "s:", "FROM", topic, "AS", "STRINGS")
        p = _producer(h)
        stop = threading.Event()

        def load() -> None:
            i = 0
            while not stop.is_set():
                p.produce(topic, key=b"k%d" % (i % 50), value=None if i % 13 == 0 else b"v%d" % i)
                p.poll(0)
                i += 1
                if i % 100 == 0:
                    p.flush(5)

        t = threading.Thread(target=load)
        t.start()
        wait_until(lambda: len(r.hkeys("t")) >= 40, timeout=20, what="records in the view")
        if how == "kill9":
            h.stop(signal.SIGKILL)
            stop.set()
            t.join(30)
            # what the producer still holds must not reach the restarted server
            p.purge(in_queue=True, in_flight=True)
            p.flush(5)
        else:
            stop.set()
            t.join(30)
            p.flush(20)
            stop_checked(h)
        t.join(30)
        h = start_keystream(*args, data_dir=data, kafka=True)
        r = _r(h)
        records = _log_records(h, topic, partitions=2)
        expected = _replay(records)
        assert r.hgetall("t") == expected
        assert {k[2:]: r.get(k) for k in r.keys("s:*")} == expected
        listed = sorted(_map(v)[b"name"] for v in r.execute_command("VIEW.LIST"))
        assert listed == [b"s:", b"t"]
        info = r.execute_command("VIEW.INFO", "t")
        info = _map(info)
        assert info[b"records_applied"] == len(records) and info[b"lag"] == 0
        # still live after the restart
        _produce(_producer(h), topic, b"after", b"restart")
        wait_until(lambda: r.hget("t", "after") == b"restart", timeout=10, what="live after restart")
    finally:
        stop_checked(h)


def test_views_declared_in_a_redis_conf(tmp_path) -> None:
    kport = free_port()
    conf = tmp_path / "redis.conf"
    conf.write_text('bridge-views "cfg FROM decl AS HASH; cs: FROM decl AS STRINGS WRITETHROUGH"\n')
    h = start_keystream(str(conf), "--kafka-port", str(kport), data_dir=str(tmp_path), kafka=True)
    try:
        r = _r(h)
        views = [_map(v) for v in r.execute_command("VIEW.LIST")]
        assert sorted((v[b"name"], v[b"declared"]) for v in views) == [(b"cfg", 1), (b"cs:", 1)]
        admin = AdminClient({"bootstrap.servers": _bootstrap(h)})
        for fut in admin.create_topics([NewTopic("decl", 1, 1)]).values():
            fut.result(timeout=20)
        assert r.set("cs:x", "1")
        _produce(_producer(h), "decl", b"y", b"2")
        wait_until(lambda: r.hgetall("cfg") == {b"x": b"1", b"y": b"2"}, timeout=10, what="declared views live")
        assert r.config_get("bridge-views")["bridge-views"].startswith("cfg FROM decl")
        assert not os.path.exists(os.path.join(str(tmp_path), "meta", "bridge-views.json"))
    finally:
        stop_checked(h)


def test_keystream_bridge_cli_lists_views_and_captures(server: ServerHandle) -> None:
    topic = _topic(server)
    r = _r(server)
    r.execute_command("VIEW.CREATE", "cli:" + topic, "FROM", topic, "AS", "HASH")
    r.execute_command("CAPTURE.CREATE", "cap-" + topic, "MATCH", "zz:*")
    _produce(_producer(server), topic, b"a", b"1")
    wait_until(lambda: r.hget("cli:" + topic, "a") == b"1", timeout=10, what="record in the view")
    out = subprocess.run([sys.executable, "-m", "keystream", "bridge", "--redis", f"127.0.0.1:{server.port}"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    view_line = next(line for line in out.splitlines() if line.startswith("cli:" + topic))
    assert view_line.split() == ["cli:" + topic, topic, "HASH", "0", "no", "0", "0", "1", "0"]
    cap_line = next(line for line in out.splitlines() if line.startswith("cap-" + topic))
    assert cap_line.split() == ["cap-" + topic, "zz:*", "all", "VALUE", "0", "-1"]
    r.execute_command("VIEW.DROP", "cli:" + topic)
    r.execute_command("CAPTURE.DROP", "cap-" + topic)


def test_view_writes_are_seen_by_watch_and_keyspace_notifications(server: ServerHandle) -> None:
    """A view applies records through the engine's call path: WATCH sees them and keyspace
    notifications fire."""
    topic = _topic(server)
    r = _r(server)
    key = "w:" + topic
    r.execute_command("VIEW.CREATE", key, "FROM", topic, "AS", "HASH")
    r.config_set("notify-keyspace-events", "KEA")
    sub = r.pubsub()
    sub.subscribe(f"__keyspace@0__:{key}")
    wait_until(lambda: sub.get_message(timeout=0.1) is not None, timeout=10, what="subscription")
    watcher = _r(server)
    pipe = watcher.pipeline(transaction=True)
    pipe.watch(key)
    pipe.multi()
    pipe.set("w-unrelated-" + topic, "1")
    _produce(_producer(server), topic, b"f", b"v")
    wait_until(lambda: r.hget(key, "f") == b"v", timeout=10, what="record in the view")
    with pytest.raises(redis.WatchError):
        pipe.execute()
    events = []
    wait_until(lambda: (m := sub.get_message(timeout=0.1)) is not None and events.append(m["data"]) is None
               and b"hset" in events, timeout=10, what="the hset notification")
    r.config_set("notify-keyspace-events", "")
    sub.close()
    r.execute_command("VIEW.DROP", key)


@pytest.mark.parametrize("policy", ["allkeys-random", "allkeys-lru"])
def test_maxmemory_never_evicts_view_keys(server: ServerHandle, policy: str) -> None:
    """Eviction takes other keys and leaves a view's alone: the view still equals its log."""
    topic = _topic(server)
    p = _producer(server)
    for i in range(200):
        p.produce(topic, key=b"k%d" % i, value=b"v" * 100)
    assert p.flush(20) == 0
    r = _r(server)
    prefix = f"m:{topic}:"
    r.execute_command("VIEW.CREATE", prefix, "FROM", topic, "AS", "STRINGS")
    evicted_before = int(r.info("stats")["evicted_keys"])
    try:
        r.config_set("maxmemory-policy", policy)
        r.config_set("maxmemory", int(r.info("memory")["used_memory"]) + 40 * 1024)
        pipe = r.pipeline(transaction=False)
        for i in range(3000):
            pipe.set(f"other:{policy}:{i}", "x" * 100)
        pipe.execute()
        assert int(r.info("stats")["evicted_keys"]) > evicted_before
    finally:
        r.config_set("maxmemory", 0)
    view = {k[len(prefix):]: r.get(k) for k in r.keys(prefix + "*")}
    assert view == _replay(_log_records(server, topic))
    assert len(view) == 200
    r.execute_command("VIEW.DROP", prefix)
    r.delete(*r.keys(f"other:{policy}:*") or ["none"])


def _writes_to(dst: str, src: str, other_db_key: str) -> list[tuple[str, ...]]:
    """Commands that write dst (never in the first key position, or in another database)."""
    return [("LMOVE", src + "l", dst, "LEFT", "RIGHT"), ("BLMOVE", src + "l", dst, "LEFT", "RIGHT", "0"),
            ("RPOPLPUSH", src + "l", dst), ("BRPOPLPUSH", src + "l", dst, "0"), ("SMOVE", src + "s", dst, "m"),
            ("RENAME", src + "s", dst), ("RENAMENX", src + "s", dst), ("COPY", src + "s", dst),
            ("COPY", src + "s", dst, "REPLACE"), ("SORT", src + "l", "STORE", dst),
            ("SORT", src + "l", "BY", "nosort", "STORE", dst), ("SUNIONSTORE", dst, src + "s"),
            ("SINTERSTORE", dst, src + "s"), ("SDIFFSTORE", dst, src + "s"), ("ZUNIONSTORE", dst, "1", src + "z"),
            ("ZINTERSTORE", dst, "1", src + "z"), ("ZDIFFSTORE", dst, "1", src + "z"),
            ("ZRANGESTORE", dst, src + "z", "0", "-1"), ("BITOP", "OR", dst, src + "b"), ("PFMERGE", dst, src + "h"),
            ("GEORADIUS", src + "g", "0", "0", "100", "km", "STORE", dst),
            ("GEORADIUSBYMEMBER", src + "g", "p", "100", "km", "STOREDIST", dst),
            ("GEOSEARCHSTORE", dst, src + "g", "FROMLONLAT", "0", "0", "BYRADIUS", "100", "km"),
            ("MSET", src + "x", "1", dst, "2"), ("MSETNX", src + "x", "1", dst, "2"),
            ("MOVE", other_db_key, "1"), ("COPY", src + "s", other_db_key, "DB", "1")]


def _sources(r: redis.Redis, src: str) -> None:
    r.rpush(src + "l", "3", "1", "2")
    r.sadd(src + "s", "m")
    r.zadd(src + "z", {"m": 1})
    r.set(src + "b", "x")
    r.pfadd(src + "h", "a")
    r.geoadd(src + "g", (0.001, 0.001, "p"))


@pytest.mark.parametrize("writethrough", [False, True])
def test_every_key_a_command_writes_is_checked(server: ServerHandle, writethrough: bool) -> None:
    """Writes whose view key is not the first key (destinations, STORE options) or is in
    another database (MOVE, COPY DB) get the view's error, and leave the view and sources alone."""
    topic = _topic(server)
    r = _r(server)
    r1 = redis.Redis(port=server.port, db=1, socket_timeout=20)
    prefix = f"g:{topic}:"
    extra = ("WRITETHROUGH",) if writethrough else ()
    r.execute_command("VIEW.CREATE", prefix, "FROM", topic, "AS", "STRINGS", *extra)
    r1.execute_command("VIEW.CREATE", f"mv:{topic}:", "FROM", topic, "AS", "STRINGS", *extra)
    _produce(_producer(server), topic, b"k", b"from-kafka")
    wait_until(lambda: r.get(prefix + "k") == r1.get(f"mv:{topic}:k") == b"from-kafka", timeout=10,
               what="the views")
    src = f"src:{topic}:"
    _sources(r, src)
    moved = f"mv:{topic}:m"          # an ordinary key of db 0, named as a key of db 1's view
    r.set(moved, "db0")
    before = {k: r.dump(k) for k in r.keys(src + "*")}
    if writethrough:
        want = "cannot write through|may touch keys of that view only"
    else:
        want = f"belongs to view '(g|mv):{topic}:' of topic '{topic}' and is read-only"
    for dst in (prefix + "k", prefix + "new"):
        for cmd in _writes_to(dst, src, moved):
            with pytest.raises(redis.ResponseError, match=want):
                r.execute_command(*cmd)
    assert {k: r.dump(k) for k in r.keys(src + "*")} == before
    assert r.keys(prefix + "*") == [(prefix + "k").encode()] and r.get(prefix + "k") == b"from-kafka"
    assert r.get(moved) == b"db0" and r1.keys(f"mv:{topic}:*") == [f"mv:{topic}:k".encode()]
    assert _log_records(server, topic) == [(b"k", b"from-kafka")]     # nothing written through
    r1.execute_command("VIEW.DROP", f"mv:{topic}:")
    assert r.move(moved, 1) and r1.get(moved) == b"db0"
    r1.delete(moved)
    r.execute_command("VIEW.DROP", prefix)
    r.delete(*r.keys(src + "*"))


def test_blocked_move_served_after_its_destination_became_a_view_key(server: ServerHandle) -> None:
    """A client blocked in BLMOVE before a view took its destination gets the view's error when
    served, and the element stays in the source."""
    topic = _topic(server)
    r = _r(server)
    src, dst = f"bsrc:{topic}", f"b:{topic}:dst"
    result: list[Any] = []

    def blocked() -> None:
        c = _r(server)
        try:
            result.append(c.blmove(src, dst, 0, "LEFT", "RIGHT"))
        except redis.ResponseError as e:
            result.append(e)

    t = threading.Thread(target=blocked)
    t.start()
    wait_until(lambda: r.info("clients")["blocked_clients"] >= 1, timeout=10, what="the blocked client")
    r.execute_command("VIEW.CREATE", f"b:{topic}:", "FROM", topic, "AS", "STRINGS")
    r.rpush(src, "elem")
    t.join(20)
    assert len(result) == 1 and isinstance(result[0], redis.ResponseError), result
    assert f"belongs to view 'b:{topic}:'" in str(result[0])
    assert r.lrange(src, 0, -1) == [b"elem"] and not r.exists(dst)
    r.execute_command("VIEW.DROP", f"b:{topic}:")
    r.delete(src)


def test_view_follows_its_topic_deleted_and_created_again(server: ServerHandle) -> None:
    """The view equals a replay of its topic's log: a deleted topic empties it, the topic
    created again under that name is applied from its offset 0."""
    topic = _topic(server)
    r = _r(server)
    key = "dv:" + topic
    r.execute_command("VIEW.CREATE", key, "FROM", topic, "AS", "HASH")
    p = _producer(server)
    for i in range(30):
        p.produce(topic, key=b"k%d" % i, value=b"old%d" % i)
    assert p.flush(20) == 0
    wait_until(lambda: r.hlen(key) == 30, timeout=10, what="the first topic's records")
    admin = AdminClient({"bootstrap.servers": _bootstrap(server)})
    for fut in admin.delete_topics([topic]).values():
        fut.result(timeout=20)
    assert not r.exists(key)
    info = _map(r.execute_command("VIEW.INFO", key))
    assert info[b"records_applied"] == 0 and info[b"offsets_applied"] == [] and info[b"lag"] == 0
    wait_until(lambda: admin.list_topics(timeout=10).topics.get(topic) is None, timeout=10, what="deletion")
    for fut in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        fut.result(timeout=20)
    p2 = _producer(server)
    _produce(p2, topic, b"k1", b"new1")
    _produce(p2, topic, b"fresh", b"x")
    wait_until(lambda: r.hlen(key) == 2, timeout=10, what="the new topic's records")
    assert r.hgetall(key) == {b"k1": b"new1", b"fresh": b"x"} == _replay(_log_records(server, topic))
    info = _map(r.execute_command("VIEW.INFO", key))
    assert info[b"records_applied"] == 2 and info[b"offsets_applied"] == [1]
    r.execute_command("VIEW.DROP", key)
