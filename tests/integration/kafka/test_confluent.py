"""confluent-kafka (librdkafka) against Keystream: produce, consume, offsets, admin."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)


def _create(bootstrap: str, name: str, partitions: int = 1, config: dict[str, str] | None = None) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1, config=config or {})])[name].result(10)


def _consume(bootstrap: str, topic: str, partitions: int, count: int, timeout: float = 15.0) -> list:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False,
                  "fetch.wait.max.ms": 100})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    out = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < count and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            assert m.error() is None, m.error()
            out.append(m)
    finally:
        c.close()
    assert len(out) == count
    return out


def test_round_trip_keys_headers_timestamps_nulls(bootstrap: str, topic_name: str) -> None:
    _create(bootstrap, topic_name)
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1})
    p.produce(topic_name, key=b"k1", value=b"v1", headers=[("h1", b"x"), ("h2", None)], timestamp=1_600_000_000_000)
    p.produce(topic_name, key=None, value=None)
    p.produce(topic_name, key=b"k3", value=b"")
    assert p.flush(10) == 0
    msgs = _consume(bootstrap, topic_name, 1, 3)
    assert [(m.key(), m.value(), m.offset()) for m in msgs] == [(b"k1", b"v1", 0), (None, None, 1), (b"k3", b"", 2)]
    assert msgs[0].headers() == [("h1", b"x"), ("h2", None)]
    assert msgs[0].timestamp() == (1, 1_600_000_000_000)


def test_one_megabyte_message(bootstrap: str, topic_name: str) -> None:
    _create(bootstrap, topic_name, config={"max.message.bytes": str(2 * 1024 * 1024)})
    big = bytes(range(256)) * 4096
    p = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 2 * 1024 * 1024})
    p.produce(topic_name, value=big)
    assert p.flush(10) == 0
    (m,) = _consume(bootstrap, topic_name, 1, 1)
    assert m.value() == big


def test_too_large_batch_is_refused(bootstrap: str, topic_name: str) -> None:
    _create(bootstrap, topic_name, config={"max.message.bytes": "1000"})
    errors = []
    p = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 100_000, "retries": 0})
    p.produce(topic_name, value=b"x" * 5000, on_delivery=lambda err, msg: errors.append(err))
    p.flush(10)
    assert errors and errors[0] is not None and errors[0].name() == "MSG_SIZE_TOO_LARGE"


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_every_codec(bootstrap: str, topic_name: str, codec: str) -> None:
    _create(bootstrap, topic_name)
    p = Producer({"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 20})
    for i in range(500):
        p.produce(topic_name, key=b"%d" % i, value=b"value-%d" % i * 10)
    assert p.flush(10) == 0
    msgs = _consume(bootstrap, topic_name, 1, 500)
    assert [m.value() for m in msgs] == [b"value-%d" % i * 10 for i in range(500)]


def test_order_per_partition_and_key_partitioning(bootstrap: str, topic_name: str) -> None:
    _create(bootstrap, topic_name, partitions=4)
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 2})
    for i in range(400):
        p.produce(topic_name, key=b"key-%d" % (i % 10), value=b"%d" % i)
    assert p.flush(10) == 0
    msgs = _consume(bootstrap, topic_name, 4, 400)
    by_key: dict[bytes, set[int]] = {}
    per_partition: dict[int, list[int]] = {}
    for m in msgs:
        by_key.setdefault(m.key(), set()).add(m.partition())
        per_partition.setdefault(m.partition(), []).append(int(m.value()))
    assert all(len(parts) == 1 for parts in by_key.values())
    assert len(per_partition) > 1
    for values in per_partition.values():
        assert values == sorted(values)


def test_watermarks_and_offsets_for_times(bootstrap: str, topic_name: str) -> None:
    _create(bootstrap, topic_name)
    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(10):
        p.produce(topic_name, value=b"%d" % i, timestamp=1_000_000 + i * 1000)
        p.flush(10)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False})
    try:
        assert c.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=10) == (0, 10)
        (tp,) = c.offsets_for_times([TopicPartition(topic_name, 0, 1_004_500)], timeout=10)
        assert tp.offset == 5
        (tp,) = c.offsets_for_times([TopicPartition(topic_name, 0, 9_000_000)], timeout=10)
        assert tp.offset == -1
        tp = TopicPartition(topic_name, 0, 7)
        c.assign([tp])
        m = None
        deadline = time.monotonic() + 10
        while m is None and time.monotonic() < deadline:
            m = c.poll(0.2)
        assert m is not None and m.offset() == 7 and m.value() == b"7"
    finally:
        c.close()


def test_consumer_woken_by_produce(bootstrap: str, topic_name: str) -> None:
    _create(bootstrap, topic_name)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "fetch.wait.max.ms": 30000,
                  "enable.auto.commit": False,
                  "fetch.min.bytes": 1})
    c.assign([TopicPartition(topic_name, 0, 0)])
    try:
        c.poll(0.5)  # the consumer now has a long-polling fetch in flight
        p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        start = time.monotonic()
        p.produce(topic_name, value=b"wake")
        p.flush(10)
        m = None
        while m is None and time.monotonic() - start < 10:
            m = c.poll(0.05)
        assert m is not None and m.value() == b"wake"
        assert time.monotonic() - start < 20  # woken by the produce, not by fetch.wait.max.ms (30 s)
    finally:
        c.close()


def test_admin_topics_and_configs(bootstrap: str, topic_name: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fut = admin.create_topics([NewTopic(topic_name, 2, 1, config={"retention.ms": "12345"})],
                              validate_only=True)[topic_name]
    fut.result(10)
    assert topic_name not in admin.list_topics(timeout=10).topics
    admin.create_topics([NewTopic(topic_name, 2, 1, config={"retention.ms": "12345"})])[topic_name].result(10)
    md = admin.list_topics(timeout=10)
    assert len(md.topics[topic_name].partitions) == 2
    with pytest.raises(KafkaException) as e:
        admin.create_topics([NewTopic(topic_name, 2, 1)])[topic_name].result(10)
    assert e.value.args[0].name() == "TOPIC_ALREADY_EXISTS"
    with pytest.raises(KafkaException) as e:
        admin.create_topics([NewTopic(topic_name + "x", 1, 3)])[topic_name + "x"].result(10)
    assert e.value.args[0].name() == "INVALID_REPLICATION_FACTOR"
    with pytest.raises(KafkaException) as e:
        admin.create_topics([NewTopic(topic_name + "y", 1, 1, config={"retention.ms": "soon"})])[
            topic_name + "y"].result(10)
    assert e.value.args[0].name() == "INVALID_CONFIG"

    res = ConfigResource(ConfigResource.Type.TOPIC, topic_name)
    configs = admin.describe_configs([res])[res].result(10)
    assert configs["retention.ms"].value == "12345"
    assert configs["retention.ms"].source == 1  # DYNAMIC_TOPIC_CONFIG
    assert configs["cleanup.policy"].value == "delete"

    res = ConfigResource(ConfigResource.Type.TOPIC, topic_name, incremental_configs=[
        ConfigEntry("segment.bytes", "1048576", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE)])
    admin.incremental_alter_configs([res])[res].result(10)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic_name)
    configs = admin.describe_configs([res])[res].result(10)
    assert configs["segment.bytes"].value == "1048576"
    assert configs["retention.ms"].value == str(7 * 24 * 3600 * 1000)

    admin.create_partitions([NewPartitions(topic_name, 5)])[topic_name].result(10)
    assert len(admin.list_topics(timeout=10).topics[topic_name].partitions) == 5

    admin.delete_topics([topic_name])[topic_name].result(10)
    assert topic_name not in admin.list_topics(timeout=10).topics


def test_delete_records(bootstrap: str, topic_name: str) -> None:
    _create(bootstrap, topic_name)
    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(10):
        p.produce(topic_name, value=b"%d" % i)
        p.flush(10)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    tp = TopicPartition(topic_name, 0, 4)
    result = admin.delete_records([tp])[tp].result(10)
    assert result.low_watermark == 4
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False})
    try:
        assert c.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=10) == (4, 10)
    finally:
        c.close()


@pytest.mark.parametrize("partitioner", ["consistent_random", "murmur2_random"])
def test_key_placement_is_the_clients_own(bootstrap: str, topic_name: str, partitioner: str) -> None:
    """The broker never re-partitions: librdkafka's default puts a key on crc32(key) % n, and
    murmur2_random on Java's murmur2 (as kafka-python's default partitioner, checked too)."""
    import zlib

    from kafka import KafkaProducer
    from kafka.partitioner.default import murmur2

    n = 7
    _create(bootstrap, topic_name, partitions=n)
    keys = [b"key-%d" % i for i in range(50)]
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": partitioner})
    for k in keys:
        p.produce(topic_name, key=k, value=b"ck")
    assert p.flush(10) == 0
    kp = KafkaProducer(bootstrap_servers=bootstrap)
    for k in keys:
        kp.send(topic_name, key=k, value=b"kp")
    kp.flush(10)
    kp.close()

    def java(k: bytes) -> int:
        return (murmur2(k) & 0x7FFFFFFF) % n

    expected_ck = {k: (zlib.crc32(k) % n if partitioner == "consistent_random" else java(k)) for k in keys}
    got = {(m.key(), m.value()): m.partition() for m in _consume(bootstrap, topic_name, n, 2 * len(keys))}
    assert {k: got[(k, b"ck")] for k in keys} == expected_ck
    assert {k: got[(k, b"kp")] for k in keys} == {k: java(k) for k in keys}
