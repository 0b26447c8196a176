"""Log compaction end to end: confluent-kafka produces keyed records to compacted topics, the
broker's cleaner timer compacts them, and a consumer reading from the start sees the latest
value per key at its original offset; tombstones go after delete.retention.ms."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.conftest import ServerHandle, serve_keystream


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    yield from serve_keystream("--log.cleaner.backoff.ms", "50", kafka=True)


def _bootstrap(h: ServerHandle) -> str:
    return f"127.0.0.1:{h.kafka_port}"


def _create(bootstrap: str, config: dict[str, str]) -> str:
    name = "c-" + uuid.uuid4().hex[:10]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, 1, 1, config=config)])[name].result(10)
    return name


def _read_all(bootstrap: str, topic: str) -> list[tuple[int, bytes | None, bytes | None]]:
    """(offset, key, value) of every record from the beginning to the high watermark."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False,
                  "fetch.wait.max.ms": 50})
    try:
        _low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        out: list[tuple[int, bytes | None, bytes | None]] = []
        deadline = time.monotonic() + 15
        while (not out or out[-1][0] < high - 1) and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            assert m.error() is None, m.error()
            out.append((m.offset(), m.key(), m.value()))
    finally:
        c.close()
    assert out and out[-1][0] == high - 1
    return out


def _wait_until(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_consumer_sees_latest_value_per_key_after_cleaning(server: ServerHandle, codec: str) -> None:
    bootstrap = _bootstrap(server)
    topic = _create(bootstrap, {"cleanup.policy": "compact", "segment.bytes": "2048",
                                "min.cleanable.dirty.ratio": "0.01"})
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "compression.type": codec})
    written: dict[int, tuple[bytes, bytes]] = {}
    latest: dict[bytes, bytes] = {}

    def on_delivery(err, msg) -> None:
        assert err is None
        written[msg.offset()] = (msg.key(), msg.value())

    for r in range(25):
        for k in range(8):
            key, value = b"key-%d" % k, b"value-%d-%d-" % (k, r) + b"x" * 40
            p.produce(topic, key=key, value=value, on_delivery=on_delivery)
            latest[key] = value
        assert p.flush(10) == 0
    total = len(written)

    def compacted():
        recs = _read_all(bootstrap, topic)
        return recs if len(recs) < total / 2 else None

    recs = _wait_until(compacted)
    assert recs, "the cleaner did not compact the topic"
    for offset, key, value in recs:
        assert written[offset] == (key, value)       # offsets and contents unchanged
    seen: dict[bytes, bytes] = {}
    for _o, key, value in recs:
        seen[key] = value
    assert seen == latest


def test_tombstones_removed_after_delete_retention(server: ServerHandle) -> None:
    bootstrap = _bootstrap(server)
    topic = _create(bootstrap, {"cleanup.policy": "compact", "segment.bytes": "1024",
                                "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "1500"})
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for k in range(5):
        p.produce(topic, key=b"doomed-%d" % k, value=b"v")
    p.produce(topic, key=b"kept", value=b"v")
    assert p.flush(10) == 0
    for k in range(5):
        p.produce(topic, key=b"doomed-%d" % k, value=None)
    assert p.flush(10) == 0
    for i in range(40):                   # roll the tombstones out of the active segment
        p.produce(topic, key=b"filler-%d" % (i % 4), value=b"f" * 50)
        assert p.flush(10) == 0

    def only_tombstones_left():
        recs = _read_all(bootstrap, topic)
        doomed = [(k, v) for _o, k, v in recs if k.startswith(b"doomed")]
        return recs if doomed and all(v is None for _k, v in doomed) else None

    recs = _wait_until(only_tombstones_left)
    assert recs, "the old values were not compacted away"
    assert len([1 for _o, k, _v in recs if k.startswith(b"doomed")]) == 5

    def tombstones_gone():
        recs = _read_all(bootstrap, topic)
        return recs if not any(k.startswith(b"doomed") for _o, k, _v in recs) else None

    recs = _wait_until(tombstones_gone)
    assert recs, "tombstones outlived delete.retention.ms"
    assert (b"kept", b"v") in [(k, v) for _o, k, v in recs]
