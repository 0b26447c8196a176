"""KIP-848 consumer groups with librdkafka (confluent-kafka, `group.protocol=consumer`) over TCP:
join and leave, scaling 1 -> 10 -> 1 members over 100 partitions with no partition owned by two
members at any moment (tracked through the rebalance callbacks), committed offsets resumed by
the next member, a broker restart under a live group, and classic and consumer groups side by
side on one topic.

Each consumer polls in its own thread (rebalance callbacks run inside poll, and a revocation is
acknowledged to the coordinator only after its callback returned). Every wait is on a condition
with a deadline.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, ConsumerGroupType, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from keystream.kafka.groups.client import MiniClient, describe_lag
from tests.conftest import ServerHandle, free_port, serve_keystream, start_keystream, wait_until
from tests.integration.kafka.groupkit import Ownership, make_topic

ARGS = ("--group.initial.rebalance.delay.ms", "0", "--offsets.topic.num.partitions", "4",
        "--group.consumer.heartbeat.interval.ms", "200", "--group.consumer.session.timeout.ms", "10000")


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    yield from serve_keystream(*ARGS, kafka=True)


@pytest.fixture
def bs(server: ServerHandle) -> str:
    return f"127.0.0.1:{server.kafka_port}"


def produce(bs: str, topic: str, partitions: int, per_partition: int, tag: str = "m") -> set[bytes]:
    p = Producer({"bootstrap.servers": bs, "linger.ms": 5})
    sent = set()
    for part in range(partitions):
        for i in range(per_partition):
            v = f"{tag}-{part}-{i}".encode()
            p.produce(topic, v, partition=part)
            sent.add(v)
    assert p.flush(10) == 0
    return sent


class Member:
    """One confluent-kafka consumer (group.protocol=consumer) polling in its own thread."""

    def __init__(self, bs: str, group: str, topic: str, name: str, own: Ownership | None = None,
                 **extra: Any) -> None:
        self.name = name
        self.own = own or Ownership()
        self.values: list[bytes] = []
        self.errors: list[str] = []
        conf = {"bootstrap.servers": bs, "group.id": group, "group.protocol": "consumer",
                "auto.offset.reset": "earliest", "enable.auto.commit": False}
        conf.update(extra)
        self.consumer = Consumer(conf)
        self.consumer.subscribe([topic], on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._revoked)
        self.stop = threading.Event()
        self.commit_each = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _assigned(self, _c: Consumer, parts: list[TopicPartition]) -> None:
        self.own.assign(self.name, [tp.partition for tp in parts])

    def _revoked(self, _c: Consumer, parts: list[TopicPartition]) -> None:
        self.own.revoke(self.name, [tp.partition for tp in parts])

    def _run(self) -> None:
        while not self.stop.is_set():
            m = self.consumer.poll(0.05)
            if m is None:
                continue
            if m.error():
                self.errors.append(str(m.error()))
                continue
            self.values.append(m.value())
            if self.commit_each:
                self.consumer.commit(message=m, asynchronous=False)

    def pause(self) -> None:
        """Stop polling (the consumer stays in the group until close)."""
        self.stop.set()
        self.thread.join(10)

    def close(self) -> None:
        """Leave the group (the revocation callback runs inside close)."""
        self.pause()
        self.consumer.close()


def describe(bs: str, group: str) -> Any:
    host, port = bs.rsplit(":", 1)
    with MiniClient(host, int(port)) as mc:
        return mc.request(69, 1, group_ids=(group,), include_authorized_operations=False).groups[0]


def test_join_consume_and_leave(bs: str) -> None:
    topic = make_topic(bs, 3)
    sent = produce(bs, topic, 3, 20)
    group = "cg-" + uuid.uuid4().hex[:8]
    m = Member(bs, group, topic, "a")
    try:
        wait_until(lambda: set(m.values) == sent, 20, "the member reads every record")
        assert m.own.counts() == {"a": 3}
        d = describe(bs, group)
        assert d.group_state == "Stable" and len(d.members) == 1 and d.members[0].member_epoch == d.group_epoch
        m.pause()                     # librdkafka's synchronous calls hang while another thread polls
        m.consumer.commit(asynchronous=False)
        host, port = bs.rsplit(":", 1)
        with MiniClient(host, int(port)) as mc:                    # what `keystream groups` prints
            states, rows = describe_lag(mc, [group])
        assert states == {group: "Stable"}
        assert [(r.partition, r.committed, r.lag, r.member_id) for r in rows] == \
            [(p, 20, 0, d.members[0].member_id) for p in range(3)]
    finally:
        m.close()
    d = describe(bs, group)
    assert d.group_state == "Empty" and d.members == ()
    assert m.own.counts() == {} and not m.errors


def test_scale_1_to_10_to_1_over_100_partitions(bs: str) -> None:
    topic = make_topic(bs, 100)
    group = "cg-" + uuid.uuid4().hex[:8]
    own = Ownership()
    members = [Member(bs, group, topic, "m0", own)]
    try:
        wait_until(lambda: own.counts() == {"m0": 100}, 30, "one member owns all 100 partitions")
        members += [Member(bs, group, topic, f"m{i}", own) for i in range(1, 10)]
        wait_until(lambda: sorted(own.counts().values()) == [10] * 10, 60, "ten members own 10 partitions each")
        d = describe(bs, group)
        assert len(d.members) == 10
        wait_until(lambda: describe(bs, group).group_state == "Stable", 20, "the group is stable")
        while len(members) > 1:
            members.pop().close()
            n = len(members)
            wait_until(lambda n=n: len(own.counts()) == n and sum(own.counts().values()) == 100, 60,
                       f"{n} members own all 100 partitions")
        wait_until(lambda: own.counts() == {"m0": 100}, 30, "the last member owns all 100 partitions again")
        assert own.violations == []
    finally:
        for m in members:
            m.close()
    assert own.violations == []


def test_offsets_committed_and_resumed(bs: str) -> None:
    topic = make_topic(bs, 4)
    first = produce(bs, topic, 4, 25, "first")
    group = "cg-" + uuid.uuid4().hex[:8]
    a = Member(bs, group, topic, "a")
    a.commit_each = True
    try:
        wait_until(lambda: set(a.values) == first, 20, "the first member reads every record")
    finally:
        a.close()
    second = produce(bs, topic, 4, 25, "second")
    b = Member(bs, group, topic, "b")
    try:
        wait_until(lambda: set(b.values) >= second, 20, "the next member reads the new records")
        assert set(b.values) == second                       # resumed from the committed offsets
        b.pause()           # (synchronous calls hang while another thread polls) OffsetFetch v9 with b's epoch
        committed = b.consumer.committed([TopicPartition(topic, p) for p in range(4)], timeout=10)
        assert [tp.offset for tp in committed] == [25] * 4
    finally:
        b.close()


def test_group_survives_a_broker_restart(tmp_path: Any) -> None:
    kport = free_port()
    h = start_keystream(*ARGS, "--kafka-port", str(kport), data_dir=str(tmp_path), kafka=True)
    bs = f"127.0.0.1:{kport}"
    members: list[Member] = []
    try:
        topic = make_topic(bs, 6)
        before = produce(bs, topic, 6, 10, "before")
        group = "cg-" + uuid.uuid4().hex[:8]
        own = Ownership()
        members = [Member(bs, group, topic, n, own) for n in ("a", "b")]
        for m in members:
            m.commit_each = True
        wait_until(lambda: set(members[0].values) | set(members[1].values) == before, 30, "both read everything")
        wait_until(lambda: sorted(own.counts().values()) == [3, 3], 30, "three partitions each")
        epoch = describe(bs, group).group_epoch
        h.stop()
        h = start_keystream(*ARGS, "--kafka-port", str(kport), data_dir=str(tmp_path), kafka=True)
        after = produce(bs, topic, 6, 10, "after")
        def got() -> list[bytes]:
            return members[0].values + members[1].values

        wait_until(lambda: set(got()) >= after, 30, "the members read what was produced after the restart")
        assert sorted(got()) == sorted(before | after)             # nothing read twice: offsets resumed
        d = describe(bs, group)
        assert d.group_epoch == epoch and len(d.members) == 2        # the same members, no rebalance
        assert own.violations == []
    finally:
        for m in members:
            m.close()
        h.stop()
        if "Traceback" in h.log():
            sys.stderr.write(h.log())


def test_classic_and_consumer_groups_coexist(bs: str) -> None:
    topic = make_topic(bs, 4)
    sent = produce(bs, topic, 4, 10)
    new_group, classic_group = ("cg-" + uuid.uuid4().hex[:8] for _ in range(2))
    new = Member(bs, new_group, topic, "new")
    classic = Consumer({"bootstrap.servers": bs, "group.id": classic_group, "group.protocol": "classic",
                        "auto.offset.reset": "earliest", "enable.auto.commit": False})
    classic.subscribe([topic])
    read: list[bytes] = []
    try:
        def step() -> None:
            m = classic.poll(0.05)
            if m is not None and not m.error():
                read.append(m.value())
        wait_until(lambda: set(read) == sent and set(new.values) == sent, 30, "both groups read every record",
                   step=step)
        host, port = bs.rsplit(":", 1)
        with MiniClient(host, int(port)) as mc:
            listed = {g.group_id: g.group_type for g in mc.request(16, 5, states_filter=(), types_filter=()).groups}
        assert listed[new_group] == "consumer" and listed[classic_group] == "classic"
        # librdkafka's admin client: ConsumerGroupDescribe, DescribeGroups for the classic group
        admin = AdminClient({"bootstrap.servers": bs})
        described = {g: f.result(10) for g, f in admin.describe_consumer_groups([new_group, classic_group]).items()}
        assert (described[new_group].type, described[classic_group].type) == \
            (ConsumerGroupType.CONSUMER, ConsumerGroupType.CLASSIC)
        assert described[new_group].partition_assignor == "uniform"
        assert [sorted(tp.partition for tp in m.assignment.topic_partitions) for m in described[new_group].members] \
            == [[0, 1, 2, 3]]
        kinds = {g.group_id: g.type for g in admin.list_consumer_groups().result(10).valid}
        assert (kinds[new_group], kinds[classic_group]) == (ConsumerGroupType.CONSUMER, ConsumerGroupType.CLASSIC)
    finally:
        new.close()
        classic.close()


def test_regex_subscription_follows_new_topics(bs: str) -> None:
    """librdkafka sends a `^...` subscription as SubscribedTopicRegex; the coordinator resolves it,
    and a matching topic created later is assigned without the consumer subscribing again."""
    prefix = "rx" + uuid.uuid4().hex[:6]
    admin = AdminClient({"bootstrap.servers": bs})
    for t in (f"{prefix}-a", f"{prefix}-b", f"x{prefix}-c"):
        admin.create_topics([NewTopic(t, 2, 1)])[t].result(10)
    sent = produce(bs, f"{prefix}-a", 2, 3, "a") | produce(bs, f"{prefix}-b", 2, 3, "b")
    produce(bs, f"x{prefix}-c", 2, 3, "c")                        # does not match the pattern
    group = "cg-" + uuid.uuid4().hex[:8]
    m = Member(bs, group, f"^{prefix}-.*", "r")
    try:
        wait_until(lambda: set(m.values) >= sent, 20, "records of the matching topics")
        admin.create_topics([NewTopic(f"{prefix}-new", 1, 1)])[f"{prefix}-new"].result(10)
        late = produce(bs, f"{prefix}-new", 1, 3, "new")
        wait_until(lambda: set(m.values) >= late, 20, "records of a matching topic created later")
        assert set(m.values) == sent | late
        d = describe(bs, group)
        assert d.members[0].subscribed_topic_regex == f"(^{prefix}-.*)"
    finally:
        m.close()


def test_static_member_restarts_without_a_rebalance(bs: str) -> None:
    """group.instance.id: closing leaves with epoch -2 (the partitions stay reserved); a new
    consumer with the same instance id gets them back and the group epoch does not move."""
    topic = make_topic(bs, 4)
    group = "cg-" + uuid.uuid4().hex[:8]
    own = Ownership()
    a = Member(bs, group, topic, "a", own, **{"group.instance.id": "ia"})
    b = Member(bs, group, topic, "b", own, **{"group.instance.id": "ib"})
    b2 = None
    try:
        wait_until(lambda: sorted(own.counts().values()) == [2, 2], 20, "two partitions each")
        wait_until(lambda: describe(bs, group).group_state == "Stable", 20, "the group is stable")
        epoch = describe(bs, group).group_epoch
        b_parts = {p for p, n in own.owner.items() if n == "b"}
        b.close()
        d = describe(bs, group)
        assert {m.instance_id: m.member_epoch for m in d.members}["ib"] == -2
        b2 = Member(bs, group, topic, "b2", own, **{"group.instance.id": "ib"})
        wait_until(lambda: {p for p, n in own.owner.items() if n == "b2"} == b_parts, 20, "b2 gets b's partitions")
        d = describe(bs, group)
        assert d.group_epoch == epoch and len(d.members) == 2
        assert own.violations == []
    finally:
        a.close()
        if b2 is not None:
            b2.close()


def test_remote_assignor_range(bs: str) -> None:
    """group.remote.assignor names the server-side assignor; range gives contiguous shares."""
    topic = make_topic(bs, 6)
    group = "cg-" + uuid.uuid4().hex[:8]
    own = Ownership()
    members = [Member(bs, group, topic, n, own, **{"group.remote.assignor": "range"}) for n in ("a", "b")]
    try:
        wait_until(lambda: sorted(own.counts().values()) == [3, 3], 20, "three partitions each")
        d = describe(bs, group)
        assert d.assignor_name == "range"
        shares = sorted(sorted(p for t in m.assignment.topic_partitions for p in t.partitions) for m in d.members)
        assert shares == [[0, 1, 2], [3, 4, 5]]
    finally:
        for m in members:
            m.close()
