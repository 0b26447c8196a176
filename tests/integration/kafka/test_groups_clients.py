"""Consumer groups with real clients over TCP: confluent-kafka (librdkafka), kafka-python, aiokafka, kcat.

One Keystream per module with `group.initial.rebalance.delay.ms=0` and four offsets-topic
partitions; tests that restart or kill the broker start their own. Every wait is on a
condition with a deadline.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.conftest import ServerHandle, require_tool, serve_keystream, start_keystream, wait_until

GROUP_ARGS = ("--group.initial.rebalance.delay.ms", "0", "--offsets.topic.num.partitions", "4")
SESSION_MS = 6000


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    yield from serve_keystream(*GROUP_ARGS, kafka=True)


@pytest.fixture
def bs(server: ServerHandle) -> str:
    return f"127.0.0.1:{server.kafka_port}"


def new_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_topic(bs: str, partitions: int) -> str:
    name = new_name("gt")
    admin = AdminClient({"bootstrap.servers": bs})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(10)
    return name


def produce(bs: str, topic: str, per_partition: int, partitions: int, tag: str = "m") -> None:
    p = Producer({"bootstrap.servers": bs, "linger.ms": 5})
    for part in range(partitions):
        for i in range(per_partition):
            p.produce(topic, f"{tag}-{part}-{i}".encode(), partition=part)
    assert p.flush(10) == 0


def consumer(bs: str, group: str, **extra: object) -> Consumer:
    conf = {"bootstrap.servers": bs, "group.id": group, "auto.offset.reset": "earliest",
            "session.timeout.ms": SESSION_MS, "heartbeat.interval.ms": 500, "enable.auto.commit": False,
            "topic.metadata.refresh.interval.ms": 1000}
    conf.update(extra)
    return Consumer(conf)


class Reader:
    """Polls several confluent consumers in turn and records who read which partition."""

    def __init__(self, consumers: list[Consumer]) -> None:
        self.consumers = consumers
        self.readers: dict[int, set[int]] = {}
        self.values: list[bytes] = []
        self.by_consumer: dict[int, list[tuple[int, int]]] = {}

    def step(self) -> None:
        for i, c in enumerate(self.consumers):
            msg = c.poll(0.05)
            if msg is None:
                continue
            if msg.error():
                assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
                continue
            self.readers.setdefault(msg.partition(), set()).add(i)
            self.values.append(msg.value())
            self.by_consumer.setdefault(i, []).append((msg.partition(), msg.offset()))

    def assignments(self) -> list[set[int]]:
        return [{tp.partition for tp in c.assignment()} for c in self.consumers]


def split_evenly(reader: Reader, total: int) -> bool:
    parts = reader.assignments()
    union = set().union(*parts)
    return len(union) == total and sum(len(p) for p in parts) == total and all(parts)


# -- the group splits, shrinks and heals ---------------------------------------------------------

def test_three_consumers_split_six_partitions_then_one_leaves(bs: str) -> None:
    topic = make_topic(bs, 6)
    group = new_name("g")
    cs = [consumer(bs, group) for _ in range(3)]
    for c in cs:
        c.subscribe([topic])
    reader = Reader(cs)
    wait_until(lambda: split_evenly(reader, 6) and all(len(p) == 2 for p in reader.assignments()),
               step=reader.step, what="three-way split")
    produce(bs, topic, 10, 6)
    wait_until(lambda: len(reader.values) >= 60, step=reader.step, what="60 messages")
    assert len(reader.values) == len(set(reader.values)) == 60
    assert all(len(who) == 1 for who in reader.readers.values()), reader.readers
    assert len(reader.readers) == 6
    for c in cs:
        c.commit(asynchronous=False)

    cs[2].close()                  # sends LeaveGroup
    rest = Reader(cs[:2])
    wait_until(lambda: split_evenly(rest, 6), step=rest.step, what="two consumers take over")
    produce(bs, topic, 5, 6, tag="after")
    wait_until(lambda: len(rest.values) >= 30, step=rest.step, what="30 more messages")
    assert sorted(rest.values) == sorted(f"after-{p}-{i}".encode() for p in range(6) for i in range(5))
    for c in cs[:2]:
        c.close()


_CHILD = """
import sys
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2], "session.timeout.ms": SESSION,
              "heartbeat.interval.ms": 500, "auto.offset.reset": "earliest"})
c.subscribe([sys.argv[3]], on_assign=lambda c, ps: print("ASSIGNED", len(ps), flush=True))
while True:
    c.poll(0.1)
""".replace("SESSION", str(SESSION_MS))


def test_killed_consumer_partitions_move_after_session_timeout(bs: str) -> None:
    topic = make_topic(bs, 6)
    group = new_name("g")
    child = subprocess.Popen([sys.executable, "-c", _CHILD, bs, group, topic], stdout=subprocess.PIPE, text=True)
    try:
        c = consumer(bs, group)
        c.subscribe([topic])
        reader = Reader([c])
        wait_until(lambda: len(reader.assignments()[0]) == 3, step=reader.step, timeout=30,
                   what="the in-process consumer to own half")
        killed_at = time.monotonic()
        child.kill()
        child.wait()
        wait_until(lambda: len(reader.assignments()[0]) == 6, step=reader.step, timeout=SESSION_MS / 1000 + 15,
                   what="takeover after session timeout")
        assert time.monotonic() - killed_at >= SESSION_MS / 1000 - 1.5    # not before the session expired
        c.close()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


# -- committed offsets -----------------------------------------------------------------------------

def _read_from(bs: str, group: str, topic: str, n: int, commit_at: int | None) -> list[int]:
    """Read n messages (offsets) of partition 0 in the group; commit offset commit_at if given."""
    c = consumer(bs, group)
    c.subscribe([topic])
    offsets: list[int] = []

    def step() -> None:
        msg = c.poll(0.1)
        if msg is not None and not msg.error():
            offsets.append(msg.offset())

    wait_until(lambda: len(offsets) >= n, step=step, timeout=30, what=f"{n} messages")
    if commit_at is not None:
        c.commit(offsets=[TopicPartition(topic, 0, commit_at)], asynchronous=False)
    c.close()
    return offsets


def test_consumer_resumes_from_committed_offset_across_restart_and_kill9() -> None:
    h = start_keystream(*GROUP_ARGS, kafka=True)
    data_dir = h.data_dir
    try:
        bs = f"127.0.0.1:{h.kafka_port}"
        topic = make_topic(bs, 1)
        group = new_name("g")
        produce(bs, topic, 40, 1)
        assert _read_from(bs, group, topic, 10, commit_at=10)[0] == 0
        assert _read_from(bs, group, topic, 5, commit_at=15)[0] == 10      # a restarted consumer resumes

        assert h.stop() == 0                                                # clean broker restart
        h = start_keystream(*GROUP_ARGS, data_dir=data_dir, kafka=True)
        bs = f"127.0.0.1:{h.kafka_port}"
        assert _read_from(bs, group, topic, 5, commit_at=22)[0] == 15

        h.stop(signal.SIGKILL)                                              # kill -9 of the broker
        h = start_keystream(*GROUP_ARGS, data_dir=data_dir, kafka=True)
        bs = f"127.0.0.1:{h.kafka_port}"
        assert _read_from(bs, group, topic, 3, commit_at=None)[0] == 22
        committed = consumer(bs, group).committed([TopicPartition(topic, 0)], timeout=10)
        assert committed[0].offset == 22
    finally:
        h.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_auto_commit_confluent_and_kafka_python(bs: str) -> None:
    from kafka import KafkaConsumer
    from kafka.admin import KafkaAdminClient

    topic = make_topic(bs, 2)
    produce(bs, topic, 10, 2)
    group = new_name("g")
    c = consumer(bs, group, **{"enable.auto.commit": True, "auto.commit.interval.ms": 100})
    c.subscribe([topic])
    reader = Reader([c])
    tps = [TopicPartition(topic, p) for p in range(2)]
    wait_until(lambda: len(reader.values) >= 20 and [tp.offset for tp in c.committed(tps, timeout=5)] == [10, 10],
               step=reader.step, what="auto-committed offsets")
    c.close()

    group2 = new_name("g")
    kc = KafkaConsumer(topic, bootstrap_servers=bs, group_id=group2, auto_offset_reset="earliest",
                       enable_auto_commit=True, auto_commit_interval_ms=100, session_timeout_ms=SESSION_MS,
                       consumer_timeout_ms=15000)
    got = []
    for msg in kc:
        got.append(msg.value)
        if len(got) == 20:
            break
    kc.close()            # commits on close
    admin = KafkaAdminClient(bootstrap_servers=bs)
    offsets = admin.list_group_offsets({group2: None})[group2]
    admin.close()
    assert sorted(got) == sorted(f"m-{p}-{i}".encode() for p in range(2) for i in range(10))
    assert {tp.partition: om.offset for tp, om in offsets.items()} == {0: 10, 1: 10}


def test_two_groups_each_read_everything_kafka_python(bs: str) -> None:
    from kafka import KafkaConsumer

    topic = make_topic(bs, 3)
    produce(bs, topic, 7, 3)
    for _ in range(2):
        kc = KafkaConsumer(topic, bootstrap_servers=bs, group_id=new_name("g"), auto_offset_reset="earliest",
                           session_timeout_ms=SESSION_MS, consumer_timeout_ms=15000)
        got = []
        for msg in kc:
            got.append(msg.value)
            if len(got) == 21:
                break
        kc.commit()
        kc.close()
        assert sorted(got) == sorted(f"m-{p}-{i}".encode() for p in range(3) for i in range(7))


def test_aiokafka_group_consume_and_manual_commit(bs: str) -> None:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition as ATP

    topic = make_topic(bs, 2)
    produce(bs, topic, 5, 2)
    group = new_name("g")

    async def run() -> tuple[list[bytes], dict[int, int]]:
        c = AIOKafkaConsumer(topic, bootstrap_servers=bs, group_id=group, auto_offset_reset="earliest",
                             enable_auto_commit=False, session_timeout_ms=SESSION_MS)
        await c.start()
        got: list[bytes] = []
        try:
            while len(got) < 10:
                batch = await asyncio.wait_for(c.getmany(timeout_ms=500), 20)
                for msgs in batch.values():
                    got.extend(m.value for m in msgs)
            await c.commit()
            committed = {p: await c.committed(ATP(topic, p)) for p in range(2)}
        finally:
            await c.stop()
        return got, committed

    got, committed = asyncio.run(run())
    assert len(got) == 10
    assert committed == {0: 5, 1: 5}


def test_kcat_balanced_consumer(bs: str) -> None:
    kcat = require_tool("kcat")
    topic = make_topic(bs, 2)
    produce(bs, topic, 4, 2)
    out = subprocess.run([kcat, "-b", bs, "-G", new_name("g"), "-o", "beginning", "-e", "-q",
                          "-X", "session.timeout.ms=6000", topic],
                         check=False, capture_output=True, text=True, timeout=60)
    assert sorted(out.stdout.split()) == sorted(f"m-{p}-{i}" for p in range(2) for i in range(4)), out.stderr


# -- rebalance protocols ---------------------------------------------------------------------------

def test_cooperative_sticky_incremental_rebalance(bs: str) -> None:
    topic = make_topic(bs, 6)
    group = new_name("g")
    events: list[tuple[str, int, list[int]]] = []

    def cbs(i: int) -> dict[str, Callable[..., None]]:
        return {"on_assign": lambda c, ps: events.append(("assign", i, sorted(p.partition for p in ps))),
                "on_revoke": lambda c, ps: events.append(("revoke", i, sorted(p.partition for p in ps)))}

    conf = {"partition.assignment.strategy": "cooperative-sticky"}
    c1 = consumer(bs, group, **conf)
    c1.subscribe([topic], **cbs(1))
    r1 = Reader([c1])
    wait_until(lambda: len(r1.assignments()[0]) == 6, step=r1.step, what="c1 owns all")
    c2 = consumer(bs, group, **conf)
    c2.subscribe([topic], **cbs(2))
    both = Reader([c1, c2])
    wait_until(lambda: split_evenly(both, 6) and all(len(p) == 3 for p in both.assignments()),
               step=both.step, timeout=30, what="3/3 split")
    revoked = [e for e in events if e[0] == "revoke" and e[1] == 1]
    assert revoked and all(0 < len(e[2]) < 6 for e in revoked), events   # only what moves is revoked
    kept = set(range(6)) - {p for e in revoked for p in e[2]}
    assert kept and kept <= both.assignments()[0]
    c1.close()
    c2.close()


def test_static_member_rejoins_without_rebalance(bs: str) -> None:
    from keystream.kafka.groups.client import MiniClient

    topic = make_topic(bs, 4)
    group = new_name("g")
    events: list[str] = []
    a = consumer(bs, group, **{"group.instance.id": "a", "session.timeout.ms": 20000})
    a.subscribe([topic], on_assign=lambda c, ps: events.append("assign"),
                on_revoke=lambda c, ps: events.append("revoke"))
    b = consumer(bs, group, **{"group.instance.id": "b", "session.timeout.ms": 20000})
    b.subscribe([topic])
    r = Reader([a, b])
    wait_until(lambda: split_evenly(r, 4) and all(len(p) == 2 for p in r.assignments()), step=r.step,
               timeout=30, what="2/2 split")
    a_parts = r.assignments()[0]
    b_parts = r.assignments()[1]
    b.close()                                  # a static member does not leave
    host, port = bs.split(":")
    with MiniClient(host, int(port)) as mc:
        before = mc.request(15, 5, groups=(group,), include_authorized_operations=False).groups[0]
    assert before.group_state == "Stable"
    events.clear()
    b2 = consumer(bs, group, **{"group.instance.id": "b", "session.timeout.ms": 20000})
    b2.subscribe([topic])
    r2 = Reader([a, b2])
    wait_until(lambda: r2.assignments()[1] == b_parts, step=r2.step, timeout=20, what="b's partitions back")
    end = time.monotonic() + 1.5            # a heartbeats every 500 ms: a rebalance would show up here
    while time.monotonic() < end:
        r2.step()
    assert events == [] and r2.assignments()[0] == a_parts
    with MiniClient(host, int(port)) as mc:
        after = mc.request(15, 5, groups=(group,), include_authorized_operations=False).groups[0]
    assert after.group_state == "Stable"
    old_ids = {m.group_instance_id: m.member_id for m in before.members}
    new_ids = {m.group_instance_id: m.member_id for m in after.members}
    assert old_ids["a"] == new_ids["a"] and old_ids["b"] != new_ids["b"]
    a.close()
    b2.close()


# -- administration ------------------------------------------------------------------------------

def test_admin_clients_describe_list_delete(bs: str) -> None:
    from confluent_kafka import ConsumerGroupState
    from kafka.admin import KafkaAdminClient

    topic = make_topic(bs, 2)
    produce(bs, topic, 3, 2)
    group = new_name("g")
    c = consumer(bs, group, **{"client.id": "cli-1"})
    c.subscribe([topic])
    r = Reader([c])
    wait_until(lambda: len(r.values) >= 6, step=r.step, what="6 messages")
    c.commit(asynchronous=False)

    admin = AdminClient({"bootstrap.servers": bs})
    listed = admin.list_consumer_groups(states={ConsumerGroupState.STABLE}).result(10)
    assert group in {g.group_id for g in listed.valid}
    desc = admin.describe_consumer_groups([group])[group].result(10)
    assert desc.state == ConsumerGroupState.STABLE and desc.partition_assignor == "range"
    assert len(desc.members) == 1 and desc.members[0].client_id == "cli-1"
    assert {tp.partition for tp in desc.members[0].assignment.topic_partitions} == {0, 1}
    from confluent_kafka import ConsumerGroupTopicPartitions
    offs = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(10)
    assert {tp.partition: tp.offset for tp in offs.topic_partitions} == {0: 3, 1: 3}
    busy = admin.delete_consumer_groups([group])[group]
    with pytest.raises(Exception, match="NON_EMPTY_GROUP|not empty"):
        busy.result(10)
    c.close()

    kadmin = KafkaAdminClient(bootstrap_servers=bs)
    assert {"group_id": group, "protocol_type": "consumer", "group_state": "Empty"} in \
        kadmin.list_groups(states_filter=["Empty"])
    kd = kadmin.describe_groups([group])[group]
    assert kd["group_state"] == "Empty" and kd["members"] == [] and kd["error"] is None
    offsets = kadmin.list_group_offsets({group: None})[group]
    assert {tp.partition: om.offset for tp, om in offsets.items()} == {0: 3, 1: 3}
    assert kadmin.delete_groups([group]) == {group: "OK"}
    kadmin.close()
    assert group not in {g.group_id for g in admin.list_consumer_groups().result(10).valid}
    assert admin.describe_consumer_groups([group])[group].result(10).state == ConsumerGroupState.DEAD


def test_cli_groups_shows_lag(bs: str) -> None:
    topic = make_topic(bs, 2)
    produce(bs, topic, 5, 2)
    group = new_name("g")
    c = consumer(bs, group)
    c.commit(offsets=[TopicPartition(topic, 0, 2), TopicPartition(topic, 1, 5)], asynchronous=False)
    c.close()
    out = subprocess.run([sys.executable, "-m", "keystream", "groups", "--bootstrap", bs, "--group", group],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [r[:6] for r in rows] == [[group, topic, "0", "2", "5", "3"], [group, topic, "1", "5", "5", "0"]]


def test_protocol_selection_across_client_libraries(bs: str) -> None:
    """librdkafka offers only roundrobin, kafka-python range then roundrobin: roundrobin wins."""
    from kafka import KafkaConsumer
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    from keystream.kafka.groups.client import MiniClient

    topic = make_topic(bs, 6)
    produce(bs, topic, 2, 6)
    group = new_name("g")
    c = consumer(bs, group, **{"partition.assignment.strategy": "roundrobin"})
    c.subscribe([topic])
    k = KafkaConsumer(topic, bootstrap_servers=bs, group_id=group, auto_offset_reset="earliest",
                      enable_auto_commit=False, session_timeout_ms=SESSION_MS, heartbeat_interval_ms=500,
                      partition_assignment_strategy=(RangePartitionAssignor, RoundRobinPartitionAssignor))
    host, port = bs.split(":")
    seen: list[int] = []
    r = Reader([c])

    def both_assigned() -> bool:
        r.step()
        for records in k.poll(timeout_ms=50).values():
            seen.extend(m.partition for m in records)
        mine = {tp.partition for tp in c.assignment()}
        theirs = {tp.partition for tp in k.assignment()}
        return len(mine) == 3 and len(theirs) == 3 and not mine & theirs

    wait_until(both_assigned, timeout=30, what="a 3/3 roundrobin split")
    with MiniClient(host, int(port)) as mc:
        d = mc.request(15, 5, groups=(group,), include_authorized_operations=False).groups[0]
    assert (d.group_state, d.protocol_data, len(d.members)) == ("Stable", "roundrobin", 2)
    k.close()
    c.close()


def test_static_member_fenced_by_a_second_incarnation(bs: str) -> None:
    """Two librdkafka consumers with one group.instance.id: the older one gets FENCED_INSTANCE_ID
    (a fatal error in librdkafka) and the newer one takes its place without a rebalance."""
    topic = make_topic(bs, 2)
    group = new_name("g")
    errors: list[KafkaError] = []
    first = consumer(bs, group, **{"group.instance.id": "same"})
    first.subscribe([topic])
    r = Reader([first])
    wait_until(lambda: len(r.assignments()[0]) == 2, step=r.step, what="first owns both partitions")
    second = consumer(bs, group, **{"group.instance.id": "same"})
    second.subscribe([topic])
    r2 = Reader([second])

    def fenced() -> bool:
        msg = first.poll(0.05)                 # librdkafka hands the fatal error to poll()
        if msg is not None and msg.error():
            errors.append(msg.error())
        return any(e.code() == KafkaError._FATAL and "fenced" in e.str() for e in errors)

    wait_until(lambda: (r2.step(), fenced())[1] and len(r2.assignments()[0]) == 2, timeout=30,
               what="the first incarnation fenced, the second owning both partitions")
    second.close()
