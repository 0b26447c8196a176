"""Kafka transactions with real clients: confluent-kafka, aiokafka and kafka-python transactional producers,
read_committed consumers in confluent-kafka, kafka-python and aiokafka, fencing, timeouts,
send_offsets_to_transaction in a consume-transform-produce loop, broker restarts."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.conftest import ServerHandle, start_keystream, wait_until

TXN_ARGS = ("--group.initial.rebalance.delay.ms", "0", "--offsets.topic.num.partitions", "3",
            "--transaction.state.log.num.partitions", "3",
            "--transaction.abort.timed.out.transaction.cleanup.interval.ms", "200")


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    h = start_keystream(*TXN_ARGS, kafka=True)
    yield h
    h.stop()
    log = h.log()
    if "Traceback" in log:
        sys.stderr.write(log)
    shutil.rmtree(h.data_dir, ignore_errors=True)


def bootstrap_of(h: ServerHandle) -> str:
    return f"127.0.0.1:{h.kafka_port}"


def create_topic(bs: str, partitions: int = 1, configs: dict[str, str] | None = None) -> str:
    name = "tx-" + uuid.uuid4().hex[:10]
    admin = AdminClient({"bootstrap.servers": bs})
    for f in admin.create_topics([NewTopic(name, partitions, 1, config=configs or {})]).values():
        f.result(10)
    return name


def txn_producer(bs: str, txn_id: str | None = None, **extra: object) -> Producer:
    p = Producer({"bootstrap.servers": bs, "transactional.id": txn_id or "tid-" + uuid.uuid4().hex[:8],
                  "linger.ms": 5, **extra})
    p.init_transactions(20)
    return p


def consume_all(bs: str, topic: str, isolation: str, expect: int, timeout: float = 20.0,
                partitions: int = 1) -> list[bytes]:
    """Values read from the beginning until expect records arrived (or timeout)."""
    c = Consumer({"bootstrap.servers": bs, "group.id": "r-" + uuid.uuid4().hex[:8], "isolation.level": isolation,
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and len(got) < expect:
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            got.append(m.value())
        # and nothing more shows up soon after
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            m = c.poll(0.1)
            if m is not None and not m.error():
                got.append(m.value())
    finally:
        c.close()
    return got


def test_confluent_commit_and_abort_read_committed(server: ServerHandle) -> None:
    bs = bootstrap_of(server)
    topic = create_topic(bs, 2)
    p = txn_producer(bs)
    p.begin_transaction()
    for i in range(10):
        p.produce(topic, key=b"%d" % i, value=b"c1-%d" % i)
    p.commit_transaction(20)
    p.begin_transaction()
    for i in range(7):
        p.produce(topic, key=b"%d" % i, value=b"ab-%d" % i)
    p.flush(10)
    p.abort_transaction(20)
    p.begin_transaction()
    for i in range(5):
        p.produce(topic, key=b"%d" % i, value=b"c2-%d" % i)
    p.commit_transaction(20)
    committed = consume_all(bs, topic, "read_committed", 15, partitions=2)
    assert sorted(committed) == sorted([b"c1-%d" % i for i in range(10)] + [b"c2-%d" % i for i in range(5)])
    everything = consume_all(bs, topic, "read_uncommitted", 22, partitions=2)
    assert len(everything) == 22 and b"ab-3" in everything


def test_other_clients_read_committed(server: ServerHandle) -> None:
    from kafka import KafkaConsumer

    bs = bootstrap_of(server)
    topic = create_topic(bs)
    p = txn_producer(bs)
    for tag, commit in (("a", True), ("x", False), ("b", True)):
        p.begin_transaction()
        for i in range(4):
            p.produce(topic, value=f"{tag}{i}".encode())
        p.flush(10)
        if commit:
            p.commit_transaction(20)
        else:
            p.abort_transaction(20)
    want = [b"a0", b"a1", b"a2", b"a3", b"b0", b"b1", b"b2", b"b3"]

    kc = KafkaConsumer(topic, bootstrap_servers=bs, isolation_level="read_committed",
                       auto_offset_reset="earliest", consumer_timeout_ms=3000, enable_auto_commit=False)
    assert [m.value for m in kc] == want
    kc.close()

    async def aio() -> list[bytes]:
        from aiokafka import AIOKafkaConsumer

        c = AIOKafkaConsumer(topic, bootstrap_servers=bs, isolation_level="read_committed",
                             auto_offset_reset="earliest", enable_auto_commit=False)
        await c.start()
        out: list[bytes] = []
        try:
            deadline = time.monotonic() + 15
            while len(out) < len(want) and time.monotonic() < deadline:
                batch = await c.getmany(timeout_ms=500)
                for msgs in batch.values():
                    out.extend(m.value for m in msgs)
            more = await c.getmany(timeout_ms=500)
            out.extend(m.value for msgs in more.values() for m in msgs)
        finally:
            await c.stop()
        return out

    assert asyncio.run(aio()) == want


def test_aiokafka_transactional_producer(server: ServerHandle) -> None:
    from aiokafka import AIOKafkaProducer

    bs = bootstrap_of(server)
    topic = create_topic(bs)

    async def run() -> None:
        p = AIOKafkaProducer(bootstrap_servers=bs, transactional_id="aio-" + uuid.uuid4().hex[:8])
        await p.start()
        try:
            async with p.transaction():
                for i in range(3):
                    await p.send(topic, value=b"ok%d" % i)
            await p.begin_transaction()
            await p.send_and_wait(topic, value=b"gone")
            await p.abort_transaction()
            async with p.transaction():
                await p.send(topic, value=b"ok3")
        finally:
            await p.stop()

    asyncio.run(run())
    assert consume_all(bs, topic, "read_committed", 4) == [b"ok0", b"ok1", b"ok2", b"ok3"]


def test_read_committed_waits_at_the_lso(server: ServerHandle) -> None:
    bs = bootstrap_of(server)
    topic = create_topic(bs)
    plain = Producer({"bootstrap.servers": bs})
    plain.produce(topic, value=b"before")
    plain.flush(10)
    p = txn_producer(bs)
    p.begin_transaction()
    p.produce(topic, value=b"in-txn")
    p.flush(10)
    plain.produce(topic, value=b"after-open")      # behind the open transaction: invisible too
    plain.flush(10)
    c = Consumer({"bootstrap.servers": bs, "group.id": "lso-" + uuid.uuid4().hex[:6],
                  "isolation.level": "read_committed"})
    c.assign([TopicPartition(topic, 0, 0)])
    got: list[bytes] = []
    end = time.monotonic() + 2
    while time.monotonic() < end:
        m = c.poll(0.1)
        if m is not None and not m.error():
            got.append(m.value())
    assert got == [b"before"]
    p.commit_transaction(20)
    wait_until(lambda: len(got) == 3, what="records after the commit",
               step=lambda: [got.append(m.value()) for m in [c.poll(0.1)] if m is not None and not m.error()])
    assert got == [b"before", b"in-txn", b"after-open"]
    c.close()


def test_new_instance_fences_the_old_and_aborts_its_transaction(server: ServerHandle) -> None:
    bs = bootstrap_of(server)
    topic = create_topic(bs)
    tid = "fence-" + uuid.uuid4().hex[:8]
    old = txn_producer(bs, tid)
    old.begin_transaction()
    old.produce(topic, value=b"zombie")
    old.flush(10)
    new = txn_producer(bs, tid)          # aborts the old instance's transaction
    new.begin_transaction()
    new.produce(topic, value=b"fresh")
    new.commit_transaction(20)
    old.produce(topic, value=b"zombie-2")
    with pytest.raises(KafkaException) as e:
        old.commit_transaction(10)
    assert e.value.args[0].fatal() or e.value.args[0].code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                                                                  KafkaError.INVALID_PRODUCER_EPOCH)
    assert consume_all(bs, topic, "read_committed", 1) == [b"fresh"]


def test_transaction_past_its_timeout_is_aborted(server: ServerHandle) -> None:
    bs = bootstrap_of(server)
    topic = create_topic(bs)
    p = txn_producer(bs, **{"transaction.timeout.ms": 1000})
    p.begin_transaction()
    p.produce(topic, value=b"late")
    p.flush(10)
    time.sleep(1.6)            # the broker aborts after 1 s (checked every 200 ms)
    with pytest.raises(KafkaException):
        p.commit_transaction(10)
    assert consume_all(bs, topic, "read_committed", 1, timeout=2) == []
    assert consume_all(bs, topic, "read_uncommitted", 1) == [b"late"]


def test_send_offsets_to_transaction_loop(server: ServerHandle) -> None:
    bs = bootstrap_of(server)
    src = create_topic(bs, 2)
    dst = create_topic(bs, 2)
    feeder = Producer({"bootstrap.servers": bs})
    for i in range(60):
        feeder.produce(src, key=b"%d" % i, value=b"in-%d" % i)
    feeder.flush(10)
    group = "ctp-" + uuid.uuid4().hex[:6]

    def run(limit: int, abort_last: bool) -> int:
        c = Consumer({"bootstrap.servers": bs, "group.id": group, "isolation.level": "read_committed",
                      "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        c.subscribe([src])
        p = txn_producer(bs, "ctp-" + group)
        done = 0
        deadline = time.monotonic() + 30
        while done < limit and time.monotonic() < deadline:
            msgs = c.consume(10, 0.5)
            msgs = [m for m in msgs if not m.error()]
            if not msgs:
                continue
            p.begin_transaction()
            for m in msgs:
                p.produce(dst, key=m.key(), value=m.value().replace(b"in-", b"out-"))
            p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 10)
            if abort_last and done + len(msgs) >= limit:
                p.abort_transaction(20)
                break
            p.commit_transaction(20)
            done += len(msgs)
        c.close()
        return done

    first = run(25, abort_last=True)        # the last transaction (and its offsets) is aborted
    rest = run(60 - first, abort_last=False)
    assert first + rest == 60
    out = consume_all(bs, dst, "read_committed", 60, partitions=2)
    assert sorted(out) == sorted(b"out-%d" % i for i in range(60))
    c = Consumer({"bootstrap.servers": bs, "group.id": group})
    committed = c.committed([TopicPartition(src, 0), TopicPartition(src, 1)], 10)
    c.close()
    assert sum(tp.offset for tp in committed) == 60


def test_open_transaction_survives_broker_kill_and_is_completed() -> None:
    data = tempfile.mkdtemp(prefix="ks-txn-")
    try:
        h = start_keystream(*TXN_ARGS, data_dir=data, kafka=True)
        bs = bootstrap_of(h)
        topic = create_topic(bs)
        tid = "kill-" + uuid.uuid4().hex[:6]
        p = txn_producer(bs, tid)
        p.begin_transaction()
        p.produce(topic, value=b"committed")
        p.commit_transaction(20)
        p.begin_transaction()
        p.produce(topic, value=b"open-at-kill")
        p.flush(10)
        h.stop(signal.SIGKILL)
        del p
        h = start_keystream(*TXN_ARGS, "--kafka-port", str(h.kafka_port), data_dir=data, kafka=True)
        # the open transaction still holds the LSO after recovery; a new instance aborts it
        assert consume_all(bs, topic, "read_committed", 1, timeout=3) == [b"committed"]
        p2 = txn_producer(bs, tid)
        p2.begin_transaction()
        p2.produce(topic, value=b"after")
        p2.commit_transaction(20)
        assert consume_all(bs, topic, "read_committed", 2) == [b"committed", b"after"]
        h.stop()
    finally:
        shutil.rmtree(data, ignore_errors=True)


def test_kafka_python_transactional_producer(server: ServerHandle) -> None:
    from kafka import KafkaProducer

    bs = bootstrap_of(server)
    topic = create_topic(bs)
    p = KafkaProducer(bootstrap_servers=bs, transactional_id="kp-" + uuid.uuid4().hex[:8])
    p.init_transactions()
    p.begin_transaction()
    p.send(topic, b"kp-1")
    p.commit_transaction()
    p.begin_transaction()
    p.send(topic, b"kp-gone")
    p.flush()
    p.abort_transaction()
    p.close()
    assert consume_all(bs, topic, "read_committed", 1) == [b"kp-1"]
