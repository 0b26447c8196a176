"""kcat, kafka-python and aiokafka against Keystream, and codecs crossing between clients."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from tests.conftest import require_tool

KCAT = shutil.which("kcat")


@pytest.fixture
def needs_kcat() -> None:
    require_tool("kcat")


def _confluent_read(bootstrap: str, topic: str, count: int) -> list:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    out = []
    deadline = time.monotonic() + 15
    try:
        while len(out) < count and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None:
                assert m.error() is None, m.error()
                out.append(m)
    finally:
        c.close()
    return out


def _kafka_python_read(bootstrap: str, topic: str, count: int) -> list:
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KTP

    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=10000)
    c.assign([KTP(topic, 0)])
    c.seek_to_beginning()
    out = []
    for m in c:
        out.append(m)
        if len(out) == count:
            break
    c.close()
    return out


@pytest.mark.usefixtures("needs_kcat")
def test_kcat_metadata_produce_consume(bootstrap: str, topic_name: str) -> None:
    md = subprocess.run([KCAT, "-b", bootstrap, "-L"], capture_output=True, text=True, timeout=30, check=True)
    assert "1 brokers" in md.stdout and "(controller)" in md.stdout
    lines = "".join(f"k{i}:v{i}\n" for i in range(20))
    subprocess.run([KCAT, "-b", bootstrap, "-P", "-t", topic_name, "-K:", "-z", "lz4"], input=lines, text=True,
                   check=True, timeout=30)
    out = subprocess.run([KCAT, "-b", bootstrap, "-C", "-t", topic_name, "-e", "-f", "%k=%s@%o\n"],
                         capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.splitlines() == [f"k{i}=v{i}@{i}" for i in range(20)]
    out = subprocess.run([KCAT, "-b", bootstrap, "-C", "-t", topic_name, "-o", "-3", "-e", "-f", "%s\n"],
                         capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.splitlines() == ["v17", "v18", "v19"]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_codec_confluent_to_kafka_python(bootstrap: str, topic_name: str, codec: str) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 10})
    for i in range(100):
        p.produce(topic_name, key=b"%d" % i, value=b"payload-%d" % i * 20, headers=[("n", b"%d" % i)])
    assert p.flush(10) == 0
    msgs = _kafka_python_read(bootstrap, topic_name, 100)
    assert [m.value for m in msgs] == [b"payload-%d" % i * 20 for i in range(100)]
    assert msgs[5].headers == [("n", b"5")] and msgs[5].key == b"5"


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_codec_kafka_python_to_confluent(bootstrap: str, topic_name: str, codec: str) -> None:
    from kafka import KafkaProducer

    # kafka-python 3 is idempotent by default (InitProducerId, sequence numbers): kept on.
    p = KafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, linger_ms=10)
    for i in range(100):
        p.send(topic_name, key=b"%d" % i, value=None if i == 7 else b"kp-%d" % i, timestamp_ms=1_700_000_000_000 + i)
    p.flush(10)
    p.close()
    msgs = _confluent_read(bootstrap, topic_name, 100)
    assert [m.value() for m in msgs] == [None if i == 7 else b"kp-%d" % i for i in range(100)]
    assert msgs[3].timestamp() == (1, 1_700_000_000_003)


@pytest.mark.parametrize("codec", ["gzip", "lz4", "zstd"])
def test_codec_aiokafka_round_trip_and_to_confluent(bootstrap: str, topic_name: str, codec: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.structs import TopicPartition as ATP

    async def run() -> list:
        p = AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, linger_ms=5)
        await p.start()
        try:
            for i in range(50):
                await p.send(topic_name, key=b"a%d" % i, value=b"aio-%d" % i, headers=[("h", b"1")])
            await p.flush()
        finally:
            await p.stop()
        c = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
        await c.start()
        try:
            c.assign([ATP(topic_name, 0)])
            await c.seek_to_beginning(ATP(topic_name, 0))
            out = []
            while len(out) < 50:
                batch = await asyncio.wait_for(c.getmany(timeout_ms=1000), 15)
                for msgs in batch.values():
                    out.extend(msgs)
            return out
        finally:
            await c.stop()

    got = asyncio.run(run())
    assert [m.value for m in got] == [b"aio-%d" % i for i in range(50)]
    assert list(got[0].headers) == [("h", b"1")]
    assert [m.value() for m in _confluent_read(bootstrap, topic_name, 50)] == [b"aio-%d" % i for i in range(50)]


def test_kafka_python_admin_and_offsets(bootstrap: str, topic_name: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer
    from kafka import TopicPartition as KTP
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic_name, 2, 1, topic_configs={"retention.ms": "60000"})])
        assert topic_name in admin.list_topics()
        res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic_name)])
        entry = res["topic"][topic_name]["retention.ms"]  # kafka-python lists the non-default ones
        assert entry["value"] == "60000" and entry["config_source"] == "DYNAMIC_TOPIC_CONFIG"
        admin.create_partitions({topic_name: NewPartitions(3)})
        p = KafkaProducer(bootstrap_servers=bootstrap)
        for i in range(5):
            p.send(topic_name, value=b"%d" % i, partition=1, timestamp_ms=5000 + i).get(10)
        p.close()
        c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        tp = KTP(topic_name, 1)
        assert c.beginning_offsets([tp])[tp] == 0 and c.end_offsets([tp])[tp] == 5
        assert c.offsets_for_times({tp: 5003})[tp].offset == 3
        c.close()
        admin.delete_topics([topic_name])
        assert topic_name not in admin.list_topics()
    finally:
        admin.close()
