"""The bridge, part 1: a Kafka topic partition is a Redis stream key, read from the log itself.

Real clients only: confluent-kafka producers (plain and transactional), its admin client
(DeleteRecords, topic configs) and consumers on the Kafka side; redis-py on the Redis side.
Range semantics are checked differentially: a native stream holding the same entries (same
IDs, same fields) must answer every XRANGE / XREVRANGE / XREAD exactly as the topic's key.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.conftest import ServerHandle, free_port, require_tool, serve_keystream, wait_until

ARGS = ("--group.initial.rebalance.delay.ms", "0", "--offsets.topic.num.partitions", "1",
        "--transaction.state.log.num.partitions", "1", "--log.retention.check.interval.ms", "100",
        "--log.cleaner.backoff.ms", "50")


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    yield from serve_keystream(*ARGS, kafka=True)


@pytest.fixture
def bs(server: ServerHandle) -> str:
    return f"127.0.0.1:{server.kafka_port}"


@pytest.fixture
def r(server: ServerHandle) -> Iterator[redis.Redis]:
    c = redis.Redis(port=server.port)
    yield c
    c.close()


def topic(bs: str, partitions: int = 1, config: dict[str, str] | None = None) -> str:
    name = "b-" + uuid.uuid4().hex[:10]
    admin = AdminClient({"bootstrap.servers": bs})
    admin.create_topics([NewTopic(name, partitions, 1, config=config or {})])[name].result(10)
    return name


def produce(bs: str, name: str, records: list[dict], partition: int = 0, **conf: object) -> None:
    p = Producer({"bootstrap.servers": bs, "linger.ms": 5, **conf})
    for rec in records:
        p.produce(name, partition=partition, **rec)
    assert p.flush(10) == 0


def consume(bs: str, name: str, n: int, partition: int = 0) -> list:
    c = Consumer({"bootstrap.servers": bs, "group.id": "x-" + uuid.uuid4().hex[:6], "enable.auto.commit": False,
                  "fetch.wait.max.ms": 50})
    c.assign([TopicPartition(name, partition, OFFSET_BEGINNING)])
    out: list = []
    try:
        wait_until(lambda: len(out) >= n, what=f"{n} records",
                   step=lambda: [out.append(m) for m in [c.poll(0.1)] if m is not None and m.error() is None])
    finally:
        c.close()
    return out


def values(entries: list) -> list[bytes | None]:
    return [fields.get(b"value") for _id, fields in entries]


# -- reading ------------------------------------------------------------------------------------
def test_type_exists_and_fields(bs: str, r: redis.Redis) -> None:
    name = topic(bs, partitions=2)
    ts = int(time.time() * 1000)   # recent: the server checks retention often
    produce(bs, name, [
        {"key": b"k0", "value": b"v0", "headers": [("h1", b"a"), ("h2", b"b"), ("h1", b"c")], "timestamp": ts},
        {"key": None, "value": b"v1", "timestamp": ts + 1},
        {"key": b"k2", "value": None, "headers": [("n", None)], "timestamp": ts + 2},
    ])
    key = f"kafka:{name}:0"
    assert r.type(key) == b"stream"
    assert r.exists(key, f"kafka:{name}:1", f"kafka:{name}:2", "nokey") == 2
    assert r.type(f"kafka:{name}:2") == b"none"
    assert r.type(f"kafka:{name}:01") == b"none"
    r.set_response_callback("XRANGE", lambda x, **_kw: x)   # the entries as sent (repeated fields)
    got = r.execute_command("XRANGE", key, "-", "+")
    assert got == [
        [b"0-1", [b"timestamp", b"%d" % ts, b"key", b"k0", b"value", b"v0",
                  b"header:h1", b"a", b"header:h2", b"b", b"header:h1", b"c"]],
        [b"1-1", [b"timestamp", b"%d" % (ts + 1), b"value", b"v1"]],
        [b"2-1", [b"timestamp", b"%d" % (ts + 2), b"key", b"k2", b"header:n", b""]],
    ]
    assert r.xlen(key) == 3 and r.xlen(f"kafka:{name}:1") == 0
    assert r.xrange(f"kafka:{name}:1") == []
    # not in the keyspace: not listed, and other read commands see no key there
    assert key.encode() not in r.keys("kafka:*")
    assert r.get(key) is None and r.ttl(key) == -2


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_compressed_batches(bs: str, r: redis.Redis, codec: str) -> None:
    name = topic(bs)
    produce(bs, name, [{"key": b"k%d" % i, "value": b"value-%d" % i} for i in range(50)],
            **{"compression.codec": codec, "linger.ms": 50})
    assert values(r.xrange(f"kafka:{name}:0")) == [b"value-%d" % i for i in range(50)]
    assert r.xlen(f"kafka:{name}:0") == 50


def test_ranges_match_a_native_stream_with_the_same_entries(bs: str, r: redis.Redis) -> None:
    name = topic(bs)
    n = 700
    # many batches of different sizes: linger and a small batch size; timestamps going backwards
    now = int(time.time() * 1000)
    produce(bs, name, [{"key": b"%d" % i, "value": b"x" * (i % 37), "timestamp": now - i}
                       for i in range(n)], **{"batch.num.messages": 13})
    key = f"kafka:{name}:0"
    native = "native-" + name
    for sid, fields in r.xrange(key):
        r.execute_command("XADD", native, sid, *[x for kv in fields.items() for x in kv])
    assert r.xlen(key) == r.xlen(native) == n
    ranges = [("-", "+"), ("0", "0"), ("5", "5"), ("5-0", "5-1"), ("5-2", "9"), ("(5-1", "(9-1"), ("(0-1", "3"),
              ("650", "+"), ("699", "800"), ("700", "+"), ("-", "(0-1"), ("3-1", "(3-1"), ("100-5", "100-6")]
    for lo, hi in ranges:
        for count in (None, 1, 7, 100, 1000):
            assert r.xrange(key, lo, hi, count) == r.xrange(native, lo, hi, count), (lo, hi, count)
            assert r.xrevrange(key, hi, lo, count) == r.xrevrange(native, hi, lo, count), (lo, hi, count)
    for after in ("0", "0-0", "0-1", "0-2", "41", "41-1", "698-1", "699-1", "5000"):
        for count in (None, 3):
            mine = r.xread({key: after}, count)
            ref = r.xread({native: after}, count)
            assert [e for _k, e in mine] == [e for _k, e in ref], (after, count)
    assert r.execute_command("XRANGE", key, "-", "+", "COUNT", "0") is None
    # XREAD over a native and a topic key together
    both = r.xread({native: "697-1", key: "698-1"})
    assert [k for k, _ in both] == [native.encode(), key.encode()]
    info = r.xinfo_stream(key)
    assert info["length"] == n and info["last-generated-id"] == b"699-1"
    assert info["first-entry"] == r.xrange(key, count=1)[0]
    assert info["last-entry"] == r.xrevrange(key, count=1)[0]
    # XINFO STREAM [FULL] as the native stream's, but for the radix tree's shape
    for full in (False, True):
        mine, ref = r.xinfo_stream(key, full=full), r.xinfo_stream(native, full=full)
        for d in (mine, ref):
            del d["radix-tree-keys"], d["radix-tree-nodes"]
        assert mine == ref


def test_reads_after_the_tail_grew_return_each_record_once(bs: str, r: redis.Redis) -> None:
    """Regression: the decoded tail of the active segment grows in place; a read that made it
    grow must not see its older records again."""
    name = topic(bs)
    key = f"kafka:{name}:0"
    for rnd in range(4):
        produce(bs, name, [{"value": b"%d-%d" % (rnd, i)} for i in range(5)], **{"linger.ms": 0})
        want = [b"%d-%d" % (j, i) for j in range(rnd + 1) for i in range(5)]
        assert values(r.xrange(key)) == want
        assert values(r.xrange(key, "2")) == want[2:]
        assert values(r.xrevrange(key)) == want[::-1]
        assert r.xlen(key) == len(want)


def test_ranges_far_from_an_index_entry(bs: str, r: redis.Redis) -> None:
    """With a sparse offset index (one entry per 100 MB) a read starts decoding at the segment's
    start and must still begin exactly at the offset asked for (1 MB of records: several
    decoding runs of 256 KB)."""
    name = topic(bs, config={"index.interval.bytes": "100000000"})
    key = f"kafka:{name}:0"
    produce(bs, name, [{"value": b"%04d" % i + b"x" * 1000} for i in range(1000)],
            **{"batch.num.messages": 7})
    for lo, hi in ((500, 510), (251, 260), (999, 999), (0, 3), (700, 1200)):
        got = [int(v[:4]) for v in values(r.xrange(key, str(lo), str(hi)))]
        assert got == list(range(lo, min(hi, 999) + 1)), (lo, hi)
        rev = [int(v[:4]) for v in values(r.xrevrange(key, str(hi), str(lo), count=5))]
        assert rev == list(range(min(hi, 999), lo - 1, -1))[:5], (lo, hi)
    assert r.xlen(key) == 1000
    assert [int(v[:4]) for v in values(r.xread({key: "749-1"}, count=3)[0][1])] == [750, 751, 752]


def test_xread_block_woken_by_a_kafka_produce(bs: str, server: ServerHandle) -> None:
    name = topic(bs)
    produce(bs, name, [{"value": b"old"}])
    key = f"kafka:{name}:0"
    results: dict[str, object] = {}

    def reader(label: str, last: str) -> None:
        c = redis.Redis(port=server.port)
        results[label] = c.xread({key: last}, block=20000)
        c.close()

    threads = [threading.Thread(target=reader, args=("dollar", "$")),
               threading.Thread(target=reader, args=("after0", "0-1"))]
    for t in threads:
        t.start()
    ctl = redis.Redis(port=server.port)
    wait_until(lambda: ctl.info("clients")["blocked_clients"] == 2, what="two blocked readers")
    t0 = time.monotonic()
    produce(bs, name, [{"key": b"k", "value": b"new"}])
    for t in threads:
        t.join(20)
    assert time.monotonic() - t0 < 10
    for label in ("dollar", "after0"):
        got = results[label]
        assert isinstance(got, list) and got[0][0] == key.encode()
        assert [(i, f[b"value"]) for i, f in got[0][1]] == [(b"1-1", b"new")], label
    ctl.close()


def test_resp3_and_other_databases(bs: str, server: ServerHandle) -> None:
    name = topic(bs)
    key = f"kafka:{name}:0"
    produce(bs, name, [{"key": b"k", "value": b"v"}])
    c = redis.Redis(port=server.port, protocol=3, db=5)     # topic keys answer in every database
    try:
        assert c.xread({key: "0"}) == {key.encode(): [[(b"0-1", {b"timestamp": c.xrange(key)[0][1][b"timestamp"],
                                                                  b"key": b"k", b"value": b"v"})]]}
        info = c.xinfo_stream(key)
        assert info["length"] == 1 and info["first-entry"][0] == b"0-1"
        got: list = []
        t = threading.Thread(target=lambda: got.append(c.xread({key: "$"}, block=20000)))
        t.start()
        ctl = redis.Redis(port=server.port)
        wait_until(lambda: ctl.info("clients")["blocked_clients"] == 1, what="a blocked reader in db 5")
        produce(bs, name, [{"value": b"second"}])
        t.join(20)
        assert list(got[0]) == [key.encode()] and got[0][key.encode()][0][0][0] == b"1-1"
        ctl.close()
    finally:
        c.close()


def test_retention_and_delete_records_are_honoured(bs: str, r: redis.Redis) -> None:
    name = topic(bs)
    produce(bs, name, [{"value": b"%d" % i} for i in range(10)], **{"linger.ms": 0})
    key = f"kafka:{name}:0"
    admin = AdminClient({"bootstrap.servers": bs})
    tp = TopicPartition(name, 0, 4)
    assert admin.delete_records([tp])[tp].result(10).low_watermark == 4
    assert values(r.xrange(key)) == [b"%d" % i for i in range(4, 10)]
    assert r.xrange(key, "0", "5") == r.xrange(key, "4", "5")
    assert r.xlen(key) == 6
    assert r.xinfo_stream(key)["max-deleted-entry-id"] == b"3-1"
    assert r.xinfo_stream(key)["recorded-first-entry-id"] == b"4-1"
    assert values(r.xrevrange(key, count=100)) == [b"%d" % i for i in range(9, 3, -1)]
    # the log start inside a batch: the batch's earlier records are gone too
    one = topic(bs)
    produce(bs, one, [{"value": b"%d" % i} for i in range(10)], **{"linger.ms": 200})
    tp = TopicPartition(one, 0, 7)
    assert admin.delete_records([tp])[tp].result(10).low_watermark == 7
    assert values(r.xrange(f"kafka:{one}:0")) == [b"7", b"8", b"9"]
    assert r.xlen(f"kafka:{one}:0") == 3
    # time retention on small segments: whole segments go, the stream key follows the log
    old = topic(bs, config={"segment.bytes": "200", "retention.ms": "60000"})
    produce(bs, old, [{"value": b"old-%d" % i, "timestamp": int(time.time() * 1000) - 3_600_000}
                      for i in range(5)], **{"linger.ms": 0})
    produce(bs, old, [{"value": b"new-%d" % i} for i in range(3)], **{"linger.ms": 0})
    okey = f"kafka:{old}:0"
    wait_until(lambda: r.xlen(okey) == 3, what="retention to delete the old segments")
    assert values(r.xrange(okey)) == [b"new-0", b"new-1", b"new-2"]


def read_offsets(bs: str, name: str) -> list[int]:
    """The offsets a Kafka consumer reads from the beginning to the high watermark now."""
    c = Consumer({"bootstrap.servers": bs, "group.id": "x-" + uuid.uuid4().hex[:6], "enable.auto.commit": False,
                  "fetch.wait.max.ms": 50})
    try:
        _low, high = c.get_watermark_offsets(TopicPartition(name, 0), timeout=10)
        c.assign([TopicPartition(name, 0, OFFSET_BEGINNING)])
        out: list[int] = []
        wait_until(lambda: bool(out) and out[-1] == high - 1, what="the high watermark",
                   step=lambda: [out.append(m.offset()) for m in [c.poll(0.1)] if m is not None and m.error() is None])
        return out
    finally:
        c.close()


def together(r: redis.Redis, key: str) -> tuple[list, int]:
    """XRANGE and XLEN in one MULTI/EXEC: the cleaner cannot run between them."""
    p = r.pipeline(transaction=True)
    p.xrange(key)
    p.xlen(key)
    entries, n = p.execute()
    return entries, n


def test_compaction_is_followed(bs: str, r: redis.Redis) -> None:
    """Records the cleaner removed disappear from the key (cached decoded batches included);
    the survivors keep their offsets, so their IDs."""
    name = topic(bs, config={"cleanup.policy": "compact", "segment.bytes": "2048",
                             "min.cleanable.dirty.ratio": "0.01"})
    key = f"kafka:{name}:0"
    latest: dict[bytes, bytes] = {}
    by_id: dict[bytes, dict] = {}
    for half in (0, 1):
        for rnd in range(25 * half, 25 * half + 25):
            records = [{"key": b"key-%d" % k, "value": b"value-%d-%d-" % (k, rnd) + b"x" * 40} for k in range(8)]
            produce(bs, name, records, **{"linger.ms": 0})
            latest.update((rec["key"], rec["value"]) for rec in records)
        before, n = together(r, key)            # read (and cached) before the cleaner is done
        assert len(before) == n
        by_id.update(before)
    wait_until(lambda: r.xlen(key) < 100, what="the cleaner to compact the topic")
    # the cleaner goes on in passes: compare with what a Kafka consumer reads until both agree
    # (a stale view of the key would never agree)
    after: list = []

    def agree() -> bool:
        kafka = read_offsets(bs, name)
        after[:] = together(r, key)[0]
        return kafka == [int(sid[:-2]) for sid, _f in after] == [int(sid[:-2]) for sid, _f in r.xrange(key)]

    wait_until(agree, what="the key and a Kafka consumer to agree after compaction")
    for sid, fields in after:
        assert by_id[sid] == fields
    assert {f[b"key"]: f[b"value"] for _sid, f in after} == latest
    assert r.xrevrange(key) == after[::-1]


def test_read_committed_transactions(bs: str, server: ServerHandle, r: redis.Redis) -> None:
    name = topic(bs)
    key = f"kafka:{name}:0"
    plain = Producer({"bootstrap.servers": bs})
    tx = Producer({"bootstrap.servers": bs, "transactional.id": "t-" + uuid.uuid4().hex[:8]})
    tx.init_transactions(20)
    plain.produce(name, value=b"before")
    plain.flush(10)
    tx.begin_transaction()
    for i in range(3):
        tx.produce(name, value=b"aborted-%d" % i)
    tx.flush(10)
    tx.abort_transaction(20)
    tx.begin_transaction()
    tx.produce(name, value=b"committed")
    tx.flush(10)
    plain.produce(name, value=b"behind-open")
    plain.flush(10)
    # the transaction is open: its record and everything after it are invisible
    assert values(r.xrange(key)) == [b"before"]
    assert r.xlen(key) == 1
    results: dict[str, object] = {}

    def reader() -> None:
        c = redis.Redis(port=server.port)
        results["got"] = c.xread({key: "$"}, block=20000)
        c.close()

    t = threading.Thread(target=reader)
    t.start()
    ctl = redis.Redis(port=server.port)
    wait_until(lambda: ctl.info("clients")["blocked_clients"] == 1, what="a blocked reader")
    tx.commit_transaction(20)          # the marker moves the LSO: the reader wakes
    t.join(20)
    got = results["got"]
    assert isinstance(got, list)
    assert values(got[0][1]) == [b"committed", b"behind-open"]
    assert values(r.xrange(key)) == [b"before", b"committed", b"behind-open"]
    assert values(r.xrevrange(key)) == [b"behind-open", b"committed", b"before"]
    assert r.xlen(key) == 3
    ids = [i for i, _ in r.xrange(key)]
    assert ids[0] == b"0-1" and ids[1] > b"4-1"          # offsets of the aborted records and markers are skipped
    ctl.close()


# -- writing ------------------------------------------------------------------------------------
def test_xadd_produces_a_record_kafka_consumers_read(bs: str, r: redis.Redis) -> None:
    name = topic(bs)
    key = f"kafka:{name}:0"
    ts = int(time.time() * 1000) - 5000
    assert r.execute_command("XADD", key, "*", "key", "user-1", "value", "hello", "header:trace", "abc",
                             "header:trace", "def", "timestamp", str(ts)) == b"0-1"
    assert r.execute_command("XADD", key, "*", "key", "user-1") == b"1-1"   # no value: a tombstone
    assert r.execute_command("XADD", key, "*", "value", "no key") == b"2-1"
    msgs = consume(bs, name, 3)
    assert [(m.key(), m.value(), m.offset()) for m in msgs] == [
        (b"user-1", b"hello", 0), (b"user-1", None, 1), (None, b"no key", 2)]
    assert msgs[0].headers() == [("trace", b"abc"), ("trace", b"def")]
    assert msgs[0].timestamp()[1] == ts
    assert abs(msgs[1].timestamp()[1] - time.time() * 1000) < 60_000
    assert r.xrange(key, "0", "0")[0][1] == {b"timestamp": b"%d" % ts, b"key": b"user-1",
                                             b"value": b"hello", b"header:trace": b"def"}


def test_xadd_wakes_a_blocked_reader_and_kcat_reads_it(bs: str, server: ServerHandle, r: redis.Redis) -> None:
    kcat = require_tool("kcat")
    name = topic(bs)
    key = f"kafka:{name}:0"
    got: list = []

    def reader() -> None:
        c = redis.Redis(port=server.port)
        got.append(c.xread({key: "$"}, block=20000, count=1))
        c.close()

    t = threading.Thread(target=reader)
    t.start()
    wait_until(lambda: r.info("clients")["blocked_clients"] == 1, what="a blocked reader")
    assert r.execute_command("XADD", key, "*", "key", "a", "value", "b", "header:h", "c") == b"0-1"
    t.join(20)
    assert got[0][0][1] == [(b"0-1", {b"timestamp": got[0][0][1][0][1][b"timestamp"], b"key": b"a", b"value": b"b",
                                      b"header:h": b"c"})]
    out = subprocess.run([kcat, "-b", bs, "-t", name, "-C", "-e", "-f", "%k|%s|%h|%o\\n"],
                         capture_output=True, timeout=30, check=True).stdout
    assert out == b"a|b|h=c|0\n"


def test_xadd_follows_the_topics_settings(bs: str, r: redis.Redis) -> None:
    gz = topic(bs, config={"compression.type": "gzip", "message.timestamp.type": "LogAppendTime"})
    r.execute_command("XADD", f"kafka:{gz}:0", "*", "value", "z" * 1000, "timestamp", "5")
    m = consume(bs, gz, 1)[0]
    assert m.value() == b"z" * 1000 and m.timestamp()[1] > 5      # the broker's time, not ours
    small = topic(bs, config={"max.message.bytes": "200"})
    with pytest.raises(redis.ResponseError, match=f"XADD to Kafka topic '{small}' partition 0 failed: .*larger"):
        r.execute_command("XADD", f"kafka:{small}:0", "*", "value", "x" * 500)
    compacted = topic(bs, config={"cleanup.policy": "compact"})
    with pytest.raises(redis.ResponseError, match="Compacted topic cannot accept message without key"):
        r.execute_command("XADD", f"kafka:{compacted}:0", "*", "value", "v")
    assert r.xlen(f"kafka:{small}:0") == 0 and r.xlen(f"kafka:{compacted}:0") == 0


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_xadd_compressed_with_the_topics_codec_is_read_by_a_kafka_consumer(bs: str, r: redis.Redis,
                                                                           codec: str) -> None:
    name = topic(bs, config={"compression.type": codec})
    value = b"abc" * 2000
    assert r.execute_command("XADD", f"kafka:{name}:0", "*", "key", "k", "value", value, "header:h", "v") == b"0-1"
    m = consume(bs, name, 1)[0]
    assert (m.key(), m.value(), m.headers()) == (b"k", value, [("h", b"v")])


def test_xadd_fields_the_mapping_cannot_hold(bs: str, r: redis.Redis) -> None:
    name = topic(bs)
    key = f"kafka:{name}:0"
    where = f"XADD to Kafka topic '{name}' partition 0"
    for argv, text in [
        (["*", "colour", "red"], f"{where}: field 'colour' cannot be held by a Kafka record"),
        (["*", "value", "a", "value", "b"], f"{where}: field 'value' is given twice"),
        (["*", "timestamp", "soon"], f"{where}: field 'timestamp' must be a timestamp in ms"),
        (["5-1", "value", "a"], f"{where}: the ID is the offset the log assigns, use \\*"),
        (["MAXLEN", "10", "*", "value", "a"], f"{where}: MAXLEN would remove records"),
    ]:
        with pytest.raises(redis.ResponseError, match=text):
            r.execute_command("XADD", key, *argv)
    with pytest.raises(redis.ResponseError, match="internal topics are written by their coordinators only"):
        r.execute_command("XADD", "kafka:__consumer_offsets:0", "*", "value", "a")
    assert r.xlen(key) == 0


def test_history_rewrites_are_refused_naming_the_topic(bs: str, r: redis.Redis) -> None:
    name = topic(bs)
    key = f"kafka:{name}:0"
    produce(bs, name, [{"value": b"v"}])
    text = f"refused: '{key}' is partition 0 of Kafka topic '{name}', an append-only log"
    for argv in (["XDEL", key, "0-1"], ["XTRIM", key, "MAXLEN", "0"], ["XSETID", key, "9-9"], ["DEL", key],
                 ["UNLINK", "other", key], ["RENAME", key, "x"], ["SET", "x", "1"], ["RENAME", "x", key],
                 ["EXPIRE", key, "10"], ["SET", key, "v"], ["XGROUP", "CREATE", key, "g", "$"],
                 ["XREADGROUP", "GROUP", "g", "c", "STREAMS", key, ">"], ["XACK", key, "g", "0-1"],
                 ["XPENDING", key, "g"], ["XINFO", "GROUPS", key], ["COPY", "x", key]):
        if argv == ["SET", "x", "1"]:
            r.set("x", "1")
            continue
        with pytest.raises(redis.ResponseError, match=text):
            r.execute_command(*argv)
    # the same inside MULTI/EXEC and a script: the one call path
    p = r.pipeline(transaction=True)
    p.delete(key)
    p.get("x")
    res = p.execute(raise_on_error=False)
    assert isinstance(res[0], redis.ResponseError) and text in str(res[0]) and res[1] == b"1"
    with pytest.raises(redis.ResponseError, match=text):
        r.eval("return redis.call('XDEL', KEYS[1], '0-1')", 1, key)
    assert r.xlen(key) == 1 and r.get("x") == b"1"
    # a key under the prefix that names no partition is an ordinary key
    r.set(f"kafka:{name}:7", "plain")
    assert r.get(f"kafka:{name}:7") == b"plain"
    r.delete(f"kafka:{name}:7", "x")


def test_prefix_setting(bs: str, r: redis.Redis) -> None:
    name = topic(bs)
    produce(bs, name, [{"value": b"v"}])
    try:
        assert r.config_get("bridge-stream-prefix") == {"bridge-stream-prefix": "kafka:"}
        r.config_set("bridge-stream-prefix", "topic/")
        assert r.xlen(f"topic/{name}:0") == 1 and r.type(f"kafka:{name}:0") == b"none"
        r.config_set("bridge-stream-prefix", "")    # off: no key is a topic
        assert r.type(f"topic/{name}:0") == b"none"
        r.set(f"kafka:{name}:0", "ordinary")
        assert r.get(f"kafka:{name}:0") == b"ordinary"
        r.delete(f"kafka:{name}:0")
    finally:
        r.config_set("bridge-stream-prefix", "kafka:")
    assert r.xlen(f"kafka:{name}:0") == 1


def test_prefix_from_a_redis_conf(tmp_path) -> None:
    port, kport = free_port(), free_port()
    conf = tmp_path / "redis.conf"
    conf.write_text(f'port {port}\nbind 127.0.0.1\ndir "{tmp_path}"\nkafka-port {kport}\n'
                    f'bridge-stream-prefix "t:"\nsave ""\n')
    proc = subprocess.Popen([sys.executable, "-m", "keystream", "serve", str(conf)], cwd=str(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        c = redis.Redis(port=port)

        def up() -> bool:
            try:
                return bool(c.ping())
            except redis.ConnectionError:
                return False

        wait_until(up, what="keystream to start from redis.conf")
        assert c.config_get("bridge-stream-prefix") == {"bridge-stream-prefix": "t:"}
        name = topic(f"127.0.0.1:{kport}")
        assert c.execute_command("XADD", f"t:{name}:0", "*", "value", "v") == b"0-1"
        assert c.type(f"kafka:{name}:0") == b"none"
        c.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
