"""Online migration between classic and KIP-848 consumer groups with real clients:

- a group of confluent-kafka (librdkafka) consumers using the classic protocol, consuming a topic
  that is being produced to, rolled over member by member to `group.protocol=consumer` (each one
  closed and started again with the new protocol), then back to classic (the group is downgraded
  when its last consumer-protocol member leaves): no partition owned by two members at any
  moment (tracked through the rebalance callbacks), nothing lost, nothing read twice beyond the
  commits that failed (each member commits every record synchronously: at-least-once);
- kafka-python and aiokafka (classic protocol only) members in one group with a librdkafka
  consumer-protocol member, and back to a classic group when that one leaves.

ListGroups, DescribeGroups and ConsumerGroupDescribe are checked to show the group's type as Kafka
does during and after. Each consumer polls in its own thread; every wait is on a condition with a
deadline.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from keystream.kafka.groups.client import MiniClient
from tests.conftest import ServerHandle, serve_keystream, start_keystream, wait_until
from tests.integration.kafka.groupkit import Ownership, make_topic

PARTITIONS = 6
ARGS = ("--group.initial.rebalance.delay.ms", "0", "--offsets.topic.num.partitions", "4",
        "--group.consumer.heartbeat.interval.ms", "200", "--group.consumer.session.timeout.ms", "10000")


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    yield from serve_keystream(*ARGS, kafka=True)


@pytest.fixture
def bs(server: ServerHandle) -> str:
    return f"127.0.0.1:{server.kafka_port}"


class Ledger:
    """Every record read (by whom) and every commit that failed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.read: list[bytes] = []
        self.failed_commits = 0

    def add(self, value: bytes) -> None:
        with self.lock:
            self.read.append(value)

    def failed(self) -> None:
        with self.lock:
            self.failed_commits += 1

    def values(self) -> set[bytes]:
        with self.lock:
            return set(self.read)


class Writer:
    """Produces to every partition, a few records at a time, until stopped; `sent` holds the
    records the broker acknowledged."""

    def __init__(self, bs: str, topic: str) -> None:
        # idempotent: a retry across a broker restart writes no duplicate
        self.producer = Producer({"bootstrap.servers": bs, "linger.ms": 5, "enable.idempotence": True})
        self.topic = topic
        self.sent: set[bytes] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        i = 0
        while not self.stop.wait(0.02):
            for _ in range(PARTITIONS):
                self.producer.produce(self.topic, f"r-{i}".encode(), partition=i % PARTITIONS,
                                      on_delivery=self._delivered)
                i += 1
            self.producer.poll(0)
        assert self.producer.flush(10) == 0

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is None:
            self.sent.add(msg.value())

    def finish(self) -> set[bytes]:
        self.stop.set()
        self.thread.join(20)
        return self.sent


class Rdkafka:
    """A confluent-kafka consumer with either group protocol, committing each record, in its own thread."""

    def __init__(self, bs: str, group: str, topic: str, name: str, protocol: str, own: Ownership,
                 ledger: Ledger) -> None:
        self.name, self.own, self.ledger = name, own, ledger
        conf: dict[str, Any] = {"bootstrap.servers": bs, "group.id": group, "group.protocol": protocol,
                                "auto.offset.reset": "earliest", "enable.auto.commit": False}
        if protocol == "classic":
            conf.update({"session.timeout.ms": 6000, "heartbeat.interval.ms": 300,
                         "partition.assignment.strategy": "range"})
        self.consumer = Consumer(conf)
        self.consumer.subscribe([topic], on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._revoked)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _assigned(self, _c: Consumer, parts: list[TopicPartition]) -> None:
        self.own.assign(self.name, [tp.partition for tp in parts])

    def _revoked(self, _c: Consumer, parts: list[TopicPartition]) -> None:
        self.own.revoke(self.name, [tp.partition for tp in parts])

    def _run(self) -> None:
        while not self.stop.is_set():
            m = self.consumer.poll(0.05)
            if m is None or m.error():
                continue
            self.ledger.add(m.value())
            try:
                self.consumer.commit(message=m, asynchronous=False)
            except KafkaException:
                self.ledger.failed()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.consumer.close()          # revocation callback, then the leave


class KafkaPython:
    """A kafka-python consumer (classic protocol only) in its own thread."""

    def __init__(self, bs: str, group: str, topic: str, name: str, own: Ownership, ledger: Ledger) -> None:
        from kafka import ConsumerRebalanceListener, KafkaConsumer

        self.name, self.own, self.ledger = name, own, ledger
        outer = self

        class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
            def on_partitions_revoked(self, revoked: Any) -> None:
                outer.own.revoke(outer.name, [tp.partition for tp in revoked])

            def on_partitions_assigned(self, assigned: Any) -> None:
                outer.own.assign(outer.name, [tp.partition for tp in assigned])

        self.consumer = KafkaConsumer(bootstrap_servers=bs, group_id=group, auto_offset_reset="earliest",
                                      enable_auto_commit=False, session_timeout_ms=6000, heartbeat_interval_ms=300)
        self.consumer.subscribe([topic], listener=Listener())
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from kafka.errors import KafkaError

        while not self.stop.is_set():
            batches = self.consumer.poll(timeout_ms=50)
            for records in batches.values():
                for r in records:
                    self.ledger.add(r.value)
            if batches:
                try:
                    self.consumer.commit()
                except KafkaError:
                    self.ledger.failed()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.consumer.close()


class AioKafka:
    """An aiokafka consumer (classic protocol only) on its own event loop in its own thread."""

    def __init__(self, bs: str, group: str, topic: str, name: str, own: Ownership, ledger: Ledger) -> None:
        self.bs, self.group, self.topic = bs, group, topic
        self.name, self.own, self.ledger = name, own, ledger
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self.thread.start()

    async def _main(self) -> None:
        from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
        from aiokafka.errors import KafkaError

        outer = self

        class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
            async def on_partitions_revoked(self, revoked: Any) -> None:
                outer.own.revoke(outer.name, [tp.partition for tp in revoked])

            async def on_partitions_assigned(self, assigned: Any) -> None:
                outer.own.assign(outer.name, [tp.partition for tp in assigned])

        consumer = AIOKafkaConsumer(bootstrap_servers=self.bs, group_id=self.group, auto_offset_reset="earliest",
                                    enable_auto_commit=False, session_timeout_ms=6000, heartbeat_interval_ms=300)
        consumer.subscribe([self.topic], listener=Listener())
        await consumer.start()
        try:
            while not self.stop.is_set():
                batches = await consumer.getmany(timeout_ms=50)
                for records in batches.values():
                    for r in records:
                        self.ledger.add(r.value)
                if batches:
                    try:
                        await consumer.commit()
                    except KafkaError:
                        self.ledger.failed()
        finally:
            await consumer.stop()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(15)


def listed_type(bs: str, group: str) -> str | None:
    host, port = bs.rsplit(":", 1)
    with MiniClient(host, int(port)) as mc:
        for g in mc.request(16, 5, states_filter=(), types_filter=()).groups:
            if g.group_id == group:
                return str(g.group_type)
    return None


def member_types(bs: str, group: str) -> dict[str, int] | None:
    """ConsumerGroupDescribe: member id -> member type (0 classic, 1 consumer); None if not a consumer group."""
    host, port = bs.rsplit(":", 1)
    with MiniClient(host, int(port)) as mc:
        d = mc.request(69, 1, group_ids=(group,), include_authorized_operations=False).groups[0]
    return None if d.error_code else {m.member_id: m.member_type for m in d.members}


def classic_described(bs: str, group: str) -> tuple[str, int]:
    host, port = bs.rsplit(":", 1)
    with MiniClient(host, int(port)) as mc:
        d = mc.request(15, 5, groups=(group,), include_authorized_operations=False).groups[0]
    return d.group_state, len(d.members)


def settled(own: Ownership, names: set[str]) -> bool:
    counts = own.counts()
    return set(counts) == names and sum(counts.values()) == PARTITIONS and \
        max(counts.values()) - min(counts.values()) <= 1


def check_reads(ledger: Ledger, sent: set[bytes]) -> None:
    wait_until(lambda: ledger.values() >= sent, 60, "every record produced was read")
    with ledger.lock:
        twice = sum(c - 1 for c in Counter(ledger.read).values() if c > 1)
        assert twice <= ledger.failed_commits, f"{twice} records read twice, {ledger.failed_commits} failed commits"


def test_rolling_upgrade_and_downgrade_of_librdkafka_members(bs: str) -> None:
    topic = make_topic(bs, PARTITIONS, "mig-")
    group = "mig-" + uuid.uuid4().hex[:8]
    own, ledger = Ownership(), Ledger()
    writer = Writer(bs, topic)
    members: dict[str, Rdkafka] = {}
    try:
        for n in "abc":
            members[n] = Rdkafka(bs, group, topic, n, "classic", own, ledger)
        wait_until(lambda: settled(own, set("abc")), 60, "the classic group assigned every partition")
        assert listed_type(bs, group) == "classic"
        for i, n in enumerate("abc"):                           # classic -> consumer, one member at a time
            members.pop(n).close()
            wait_until(lambda n=n: settled(own, set("abc") - {n}), 60, f"{n}'s partitions went to the others")
            members[n] = Rdkafka(bs, group, topic, n, "consumer", own, ledger)
            wait_until(lambda: settled(own, set("abc")), 60, f"{n} rejoined with the consumer protocol")
            assert listed_type(bs, group) == "consumer"
            types = member_types(bs, group)
            assert types is not None and sorted(types.values()) == [0] * (2 - i) + [1] * (i + 1)
        assert classic_described(bs, group) == ("Dead", 0)     # DescribeGroups: classic groups only
        for i, n in enumerate("abc"):                           # consumer -> classic
            members.pop(n).close()
            wait_until(lambda n=n: settled(own, set("abc") - {n}), 60, f"{n}'s partitions went to the others")
            if i == 2:                                          # the last consumer-protocol member left
                assert listed_type(bs, group) == "classic" and member_types(bs, group) is None
            members[n] = Rdkafka(bs, group, topic, n, "classic", own, ledger)
            wait_until(lambda: settled(own, set("abc")), 60, f"{n} rejoined with the classic protocol")
        assert listed_type(bs, group) == "classic"
        wait_until(lambda: classic_described(bs, group) == ("Stable", 3), 30, "a Stable classic group of three")
        check_reads(ledger, writer.finish())
        assert own.violations == []
    finally:
        writer.stop.set()
        for m in members.values():
            m.close()


def test_kafka_python_and_aiokafka_with_a_librdkafka_consumer_protocol_member(bs: str) -> None:
    topic = make_topic(bs, PARTITIONS, "mig-")
    group = "mig-" + uuid.uuid4().hex[:8]
    own, ledger = Ownership(), Ledger()
    writer = Writer(bs, topic)
    members: dict[str, Any] = {}
    try:
        members["kp"] = KafkaPython(bs, group, topic, "kp", own, ledger)
        members["aio"] = AioKafka(bs, group, topic, "aio", own, ledger)
        wait_until(lambda: settled(own, {"kp", "aio"}), 60, "the classic group of kafka-python and aiokafka")
        assert listed_type(bs, group) == "classic"
        members["rd"] = Rdkafka(bs, group, topic, "rd", "consumer", own, ledger)
        wait_until(lambda: settled(own, {"kp", "aio", "rd"}), 60, "the upgraded group of three")
        assert listed_type(bs, group) == "consumer"
        types = member_types(bs, group)
        assert types is not None and sorted(types.values()) == [0, 0, 1]
        members.pop("rd").close()
        wait_until(lambda: settled(own, {"kp", "aio"}), 60, "back to the two classic members")
        assert listed_type(bs, group) == "classic" and member_types(bs, group) is None
        wait_until(lambda: classic_described(bs, group) == ("Stable", 2), 30, "a Stable classic group of two")
        check_reads(ledger, writer.finish())
        assert own.violations == []
    finally:
        writer.stop.set()
        for m in members.values():
            m.close()


def test_broker_restart_mid_migration(tmp_path: Any) -> None:
    """Two classic librdkafka members and one consumer-protocol member; the broker restarts: the
    group is loaded back as a consumer group with its classic members, everyone keeps consuming,
    and the consumer-protocol member's leave downgrades it afterwards."""
    from tests.conftest import free_port

    kport = free_port()
    h = start_keystream(*ARGS, "--kafka-port", str(kport), data_dir=str(tmp_path), kafka=True)
    bs = f"127.0.0.1:{kport}"
    own, ledger = Ownership(), Ledger()
    members: dict[str, Rdkafka] = {}
    writer: Writer | None = None
    try:
        topic = make_topic(bs, PARTITIONS, "mig-")
        group = "mig-" + uuid.uuid4().hex[:8]
        writer = Writer(bs, topic)
        for n in "ab":
            members[n] = Rdkafka(bs, group, topic, n, "classic", own, ledger)
        wait_until(lambda: settled(own, set("ab")), 60, "the classic group of two")
        members["c"] = Rdkafka(bs, group, topic, "c", "consumer", own, ledger)
        wait_until(lambda: settled(own, set("abc")), 60, "the upgraded group of three")
        before = member_types(bs, group)
        assert before is not None and sorted(before.values()) == [0, 0, 1]
        h.stop()
        h = start_keystream(*ARGS, "--kafka-port", str(kport), data_dir=str(tmp_path), kafka=True)
        wait_until(lambda: member_types(bs, group) is not None, 30, "the group loaded")
        assert member_types(bs, group) == before and listed_type(bs, group) == "consumer"
        mark = len(ledger.read)
        wait_until(lambda: len(ledger.read) > mark + 100 and settled(own, set("abc")), 60,
                   "the three consume again after the restart")
        members.pop("c").close()
        wait_until(lambda: settled(own, set("ab")), 60, "the two classic members own everything")
        assert listed_type(bs, group) == "classic"
        check_reads(ledger, writer.finish())
        assert own.violations == []
    finally:
        if writer is not None:
            writer.stop.set()
        for m in members.values():
            m.close()
        h.stop()
        if "Traceback" in h.log():
            sys.stderr.write(h.log())
