"""Online migration between classic and KIP-848 consumer groups, at the protocol level (our tiny
client over TCP), as Kafka 4.0 does it (`group.consumer.migration.policy`):

- a ConsumerGroupHeartbeat to a classic group with members upgrades it: the classic members stay,
  each at the classic generation with its classic assignment; the new member only gets
  partitions once their classic owners released them (by rejoining);
- classic members in a consumer group: JoinGroup answered at once with the member epoch as the
  generation and no leader, SyncGroup hands out the server-side assignment, Heartbeat says
  REBALANCE_IN_PROGRESS when the member must rejoin (eager members revoke everything, cooperative
  ones report what they still own and go through UNREVOKED_PARTITIONS); offsets checked against
  the member epoch with ILLEGAL_GENERATION;
- the last consumer-protocol member leaving downgrades the group to a classic group that
  rebalances; the records in `__consumer_offsets` are Kafka's (the classic group's tombstone
  then the consumer group records, and the reverse); a broker restart replays the right type;
- the policy: disabled refuses both ways, upgrade never downgrades.
"""

from __future__ import annotations

import struct
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from keystream.kafka.codec import messages
from keystream.kafka.groups import consumer_records as crec
from keystream.kafka.groups import records as rec
from keystream.kafka.groups.client import MiniClient
from tests.conftest import ServerHandle, free_port, serve_keystream, start_keystream, wait_until

GROUP_ID_NOT_FOUND, REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, MEMBER_ID_REQUIRED = 69, 27, 22, 79
INCONSISTENT_GROUP_PROTOCOL, UNKNOWN_MEMBER_ID = 23, 25
PARTITIONS = 4
ARGS = ("--group.initial.rebalance.delay.ms", "0", "--offsets.topic.num.partitions", "2",
        "--group.consumer.heartbeat.interval.ms", "300")


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    yield from serve_keystream(*ARGS, kafka=True)


@pytest.fixture
def mc(server: ServerHandle) -> Iterator[MiniClient]:
    with MiniClient("127.0.0.1", server.kafka_port) as c:
        yield c


def create_topic(mc: MiniClient) -> str:
    name = "mt-" + uuid.uuid4().hex[:8]
    t = MiniClient.cls(19, 5, "CreatableTopic")
    r = mc.request(19, 5, topics=(t(name=name, num_partitions=PARTITIONS, replication_factor=1, assignments=(),
                                     configs=()),), timeout=10000, validate_only=False)
    assert r.topics[0].error_code == 0
    return name


@pytest.fixture
def topic(mc: MiniClient) -> str:
    return create_topic(mc)


def gid() -> str:
    return "mg-" + uuid.uuid4().hex[:8]


# -- the embedded consumer protocol -----------------------------------------------------------------

def _s(text: str) -> bytes:
    return struct.pack(">h", len(text)) + text.encode()


def subscription(topic: str, owned: set[int] | None = None) -> bytes:
    """ConsumerProtocolSubscription v0 (eager clients), or v1 with owned partitions (cooperative)."""
    out = struct.pack(">hi", 0 if owned is None else 1, 1) + _s(topic) + struct.pack(">i", -1)
    if owned is not None:
        out = out + struct.pack(">i", 1) + _s(topic) + struct.pack(">i", len(owned)) + \
            b"".join(struct.pack(">i", p) for p in sorted(owned))
    return out


def assignment(topic: str, ps: set[int]) -> bytes:
    return struct.pack(">hi", 0, 1) + _s(topic) + struct.pack(">i", len(ps)) + \
        b"".join(struct.pack(">i", p) for p in sorted(ps)) + struct.pack(">i", -1)


def assigned(data: bytes) -> set[int]:
    return {p for ps in crec.parse_assignment(data).values() for p in ps}


# -- classic requests ---------------------------------------------------------------------------------

def cjoin(mc: MiniClient, group: str, member: str, meta: bytes, instance: str | None = None) -> Any:
    """JoinGroup v7 (MEMBER_ID_REQUIRED round trip for a new dynamic member, done here)."""
    proto = MiniClient.cls(11, 7, "JoinGroupRequestProtocol")
    r = mc.request(11, 7, group_id=group, session_timeout=10000, rebalance_timeout=10000, member_id=member,
                   group_instance_id=instance, protocol_type="consumer",
                   protocols=(proto(name="range", metadata=meta), proto(name="roundrobin", metadata=meta)))
    if r.error_code == MEMBER_ID_REQUIRED:
        return cjoin(mc, group, r.member_id, meta, instance)
    return r


def csync(mc: MiniClient, group: str, member: str, generation: int,
          given: tuple[tuple[str, bytes], ...] = ()) -> Any:
    a = MiniClient.cls(14, 5, "SyncGroupRequestAssignment")
    return mc.request(14, 5, group_id=group, generation_id=generation, member_id=member, group_instance_id=None,
                      protocol_type="consumer", protocol_name="range",
                      assignments=tuple(a(member_id=m, assignment=b) for m, b in given))


def cheartbeat(mc: MiniClient, group: str, member: str, generation: int) -> int:
    return int(mc.request(12, 4, group_id=group, generation_id=generation, member_id=member,
                          group_instance_id=None).error_code)


def cleave(mc: MiniClient, group: str, member: str) -> Any:
    ident = MiniClient.cls(13, 5, "MemberIdentity")
    return mc.request(13, 5, group_id=group, members=(ident(member_id=member, group_instance_id=None, reason=None),))


def classic_group_of_one(mc: MiniClient, group: str, topic: str) -> tuple[str, int]:
    """A classic group whose one member owns every partition: (member id, generation)."""
    j = cjoin(mc, group, "", subscription(topic))
    assert j.error_code == 0 and j.leader == j.member_id
    s = csync(mc, group, j.member_id, j.generation_id, ((j.member_id, assignment(topic, set(range(PARTITIONS)))),))
    assert s.error_code == 0 and assigned(s.assignment) == set(range(PARTITIONS))
    return j.member_id, j.generation_id


# -- KIP-848 requests ---------------------------------------------------------------------------------

def hb(mc: MiniClient, group: str, member: str, epoch: int, **kw: Any) -> Any:
    if epoch == 0:
        kw.setdefault("rebalance_timeout", 30000)
        kw.setdefault("topic_partitions", ())
    else:
        kw.setdefault("topic_partitions", None)
    return mc.request(68, 1, group_id=group, member_id=member, member_epoch=epoch, **kw)


def parts(a: Any) -> set[int]:
    return {p for t in a.topic_partitions for p in t.partitions} if a is not None else set()


def owned(a: Any) -> tuple[Any, ...]:
    tp = MiniClient.cls(68, 1, "TopicPartitions")
    return tuple(tp(topic_id=t.topic_id, partitions=t.partitions) for t in a.topic_partitions)


def describe(mc: MiniClient, group: str) -> Any:
    return mc.request(69, 1, group_ids=(group,), include_authorized_operations=False).groups[0]


def listed(mc: MiniClient, group: str) -> tuple[str, str, str] | None:
    for g in mc.request(16, 5, states_filter=(), types_filter=()).groups:
        if g.group_id == group:
            return g.group_type, g.protocol_type, g.group_state
    return None


def describe_classic(mc: MiniClient, group: str) -> Any:
    return mc.request(15, 5, groups=(group,), include_authorized_operations=False).groups[0]


def commit(mc: MiniClient, version: int, group: str, member: str, generation: int, topic: str, offset: int) -> int:
    t = MiniClient.cls(8, version, "OffsetCommitRequestTopic")
    p = MiniClient.cls(8, version, "OffsetCommitRequestPartition")
    r = mc.request(8, version, group_id=group, generation_id_or_member_epoch=generation, member_id=member,
                   group_instance_id=None, topics=(t(name=topic, partitions=(
                       messages.build(p, partition_index=0, committed_offset=offset, committed_leader_epoch=-1,
                                      committed_metadata=""),)),))
    return int(r.topics[0].partitions[0].error_code)


def group_records(bs: str, group: str) -> list[tuple[int, str | None, bool]]:
    """The group's membership records in its __consumer_offsets partition, in order:
    (key type, member id or None, is a tombstone); offset commits are left out."""
    partition = abs(rec.java_string_hash(group)) % 2
    c = Consumer({"bootstrap.servers": bs, "group.id": "reader-" + uuid.uuid4().hex[:6],
                  "enable.auto.commit": False})
    try:
        c.assign([TopicPartition("__consumer_offsets", partition, 0)])
        lo, hi = c.get_watermark_offsets(TopicPartition("__consumer_offsets", partition), timeout=10)
        out: list[tuple[int, str | None, bool]] = []
        last = lo - 1
        while last < hi - 1:
            m = c.poll(5)
            assert m is not None, "timed out reading __consumer_offsets"
            last = m.offset()
            if m.error():
                continue
            key = m.key()
            ck = crec.decode_key(key)
            if ck is not None and ck[1] == group:
                out.append((ck[0], ck[2] if ck[0] in (5, 7, 8) else None, m.value() is None))
            k = rec.decode_key(key)
            if k is not None and k[0] == "group" and k[1] == group:
                out.append((2, None, m.value() is None))
        return out
    finally:
        c.close()


# -- the migration, both ways -------------------------------------------------------------------------

def test_upgrade_then_downgrade_with_an_eager_classic_member(mc: MiniClient, server: ServerHandle,
                                                             topic: str) -> None:
    group = gid()
    classic, gen = classic_group_of_one(mc, group, topic)
    assert gen == 1 and listed(mc, group) == ("classic", "consumer", "Stable")
    before = len(group_records(f"127.0.0.1:{server.kafka_port}", group))

    # a consumer-protocol member joins: the group is upgraded, the classic member kept at its generation
    r = hb(mc, group, "c", 0, subscribed_topic_names=(topic,))
    assert (r.error_code, r.member_epoch, parts(r.assignment)) == (0, 2, set())   # all still owned
    d = describe(mc, group)
    assert (d.error_code, d.group_epoch, d.assignment_epoch, d.group_state) == (0, 2, 2, "Reconciling")
    members = {m.member_id: (m.member_type, m.member_epoch, len(parts(m.assignment))) for m in d.members}
    assert members == {classic: (0, 1, 4), "c": (1, 2, 0)}
    assert listed(mc, group) == ("consumer", "consumer", "Reconciling")
    assert describe_classic(mc, group).group_state == "Dead"          # DescribeGroups knows classic groups only
    records = group_records(f"127.0.0.1:{server.kafka_port}", group)[before:]
    assert records[:6] == [(2, None, True), (5, classic, False), (3, None, False), (7, classic, False),
                           (6, None, False), (8, classic, False)]

    # the classic member is told to rejoin; meanwhile its generation still commits
    assert commit(mc, 8, group, classic, 1, topic, 5) == 0
    assert cheartbeat(mc, group, classic, 1) == REBALANCE_IN_PROGRESS
    assert csync(mc, group, classic, 1).error_code == REBALANCE_IN_PROGRESS
    j = cjoin(mc, group, classic, subscription(topic))         # eager: it revoked everything first
    assert (j.error_code, j.generation_id, j.protocol_type, j.protocol_name, j.leader, j.members) == \
        (0, 2, "consumer", "range", "", ())
    s = csync(mc, group, classic, 2)
    assert (s.error_code, s.protocol_type, s.protocol_name) == (0, "consumer", "range")
    mine = assigned(s.assignment)
    assert len(mine) == 2
    r = hb(mc, group, "c", 2, topic_partitions=())
    assert parts(r.assignment) == set(range(PARTITIONS)) - mine
    assert cheartbeat(mc, group, classic, 2) == 0
    assert cheartbeat(mc, group, classic, 1) == ILLEGAL_GENERATION
    assert commit(mc, 8, group, classic, 2, topic, 6) == 0
    assert commit(mc, 8, group, classic, 1, topic, 7) == ILLEGAL_GENERATION
    assert describe(mc, group).group_state == "Stable"

    # the last consumer-protocol member leaves: back to a classic group, which rebalances
    before = len(group_records(f"127.0.0.1:{server.kafka_port}", group))
    assert hb(mc, group, "c", -1).error_code == 0
    assert listed(mc, group) == ("classic", "consumer", "PreparingRebalance")
    assert describe(mc, group).error_code == GROUP_ID_NOT_FOUND
    dg = describe_classic(mc, group)
    assert (dg.group_state, dg.protocol_type, [m.member_id for m in dg.members]) == \
        ("PreparingRebalance", "consumer", [classic])
    records = group_records(f"127.0.0.1:{server.kafka_port}", group)[before:]
    assert records == [(8, classic, True), (8, "c", True), (7, classic, True), (7, "c", True), (6, None, True),
                       (5, classic, True), (5, "c", True), (4, None, True), (3, None, True), (2, None, False)]
    assert cheartbeat(mc, group, classic, 2) == REBALANCE_IN_PROGRESS
    j = cjoin(mc, group, classic, subscription(topic))
    assert (j.error_code, j.generation_id, j.leader) == (0, 3, classic)
    s = csync(mc, group, classic, 3, ((classic, assignment(topic, set(range(PARTITIONS)))),))
    assert s.error_code == 0 and assigned(s.assignment) == set(range(PARTITIONS))
    assert listed(mc, group) == ("classic", "consumer", "Stable")
    assert commit(mc, 8, group, classic, 3, topic, 8) == 0
    assert cleave(mc, group, classic).error_code == 0


def test_cooperative_classic_member_revokes_before_the_partitions_move(mc: MiniClient, topic: str) -> None:
    """A classic member that reports its owned partitions (subscription v1) keeps them until it
    rejoins without them: the consumer-protocol member gets them only then."""
    group = gid()
    classic, _gen = classic_group_of_one(mc, group, topic)
    r = hb(mc, group, "c", 0, subscribed_topic_names=(topic,))
    assert r.member_epoch == 2 and parts(r.assignment) == set()
    everything = set(range(PARTITIONS))
    j = cjoin(mc, group, classic, subscription(topic, owned=everything))
    assert (j.error_code, j.generation_id) == (0, 1)                   # still at its epoch: revoking
    m = {x.member_id: x for x in describe(mc, group).members}[classic]
    assert m.member_epoch == 1 and parts(m.assignment) < everything
    s = csync(mc, group, classic, 1)                                     # what it keeps
    keep = assigned(s.assignment)
    assert s.error_code == 0 and len(keep) == 2
    r = hb(mc, group, "c", 2, topic_partitions=())
    assert parts(r.assignment) == set()                                  # not released yet
    assert cheartbeat(mc, group, classic, 1) == REBALANCE_IN_PROGRESS   # revoke, then rejoin
    j = cjoin(mc, group, classic, subscription(topic, owned=keep))
    assert (j.error_code, j.generation_id) == (0, 2)
    assert assigned(csync(mc, group, classic, 2).assignment) == keep
    r = hb(mc, group, "c", 2, topic_partitions=())
    assert parts(r.assignment) == everything - keep
    assert describe(mc, group).group_state == "Stable"


def test_classic_members_join_and_leave_a_consumer_group(mc: MiniClient, topic: str) -> None:
    group = gid()
    a = hb(mc, group, "a", 0, subscribed_topic_names=(topic,))
    assert parts(a.assignment) == set(range(PARTITIONS))
    proto = MiniClient.cls(11, 7, "JoinGroupRequestProtocol")
    first = mc.request(11, 7, group_id=group, session_timeout=10000, rebalance_timeout=10000, member_id="",
                       group_instance_id=None, protocol_type="consumer",
                       protocols=(proto(name="range", metadata=subscription(topic)),))
    assert first.error_code == MEMBER_ID_REQUIRED and first.member_id
    wrong = mc.request(11, 7, group_id=group, session_timeout=10000, rebalance_timeout=10000,
                       member_id=first.member_id, group_instance_id=None, protocol_type="connect",
                       protocols=(proto(name="range", metadata=subscription(topic)),))
    assert wrong.error_code == INCONSISTENT_GROUP_PROTOCOL
    j = cjoin(mc, group, first.member_id, subscription(topic))
    assert (j.error_code, j.member_id, j.generation_id) == (0, first.member_id, 2)
    assert assigned(csync(mc, group, j.member_id, 2).assignment) == set()      # a still owns everything
    a = hb(mc, group, "a", 1, topic_partitions=owned(a.assignment))         # revoking two
    kept = a.assignment
    a = hb(mc, group, "a", a.member_epoch, topic_partitions=owned(kept))
    assert a.member_epoch == 2 and a.assignment is None and len(parts(kept)) == 2
    assert cheartbeat(mc, group, j.member_id, 2) == REBALANCE_IN_PROGRESS          # its partitions are free
    j2 = cjoin(mc, group, j.member_id, subscription(topic))
    assert j2.generation_id == 2
    assert assigned(csync(mc, group, j.member_id, 2).assignment) == set(range(PARTITIONS)) - parts(kept)
    # a classic member's leave bumps the epoch; the consumer-protocol member gets everything back
    assert cleave(mc, group, "nobody").members[0].error_code == UNKNOWN_MEMBER_ID
    assert cleave(mc, group, "a").members[0].error_code == UNKNOWN_MEMBER_ID        # not a classic member
    assert cleave(mc, group, j.member_id).members[0].error_code == 0
    d = describe(mc, group)
    assert d.group_epoch == 3 and [m.member_id for m in d.members] == ["a"]
    a = hb(mc, group, "a", a.member_epoch, topic_partitions=owned(kept))
    assert parts(a.assignment) == set(range(PARTITIONS)) and a.member_epoch == 3
    assert listed(mc, group) == ("consumer", "consumer", "Stable")             # no downgrade: only one left


def test_a_static_classic_member_restarts_with_the_consumer_protocol(mc: MiniClient, topic: str) -> None:
    """Under its group.instance.id, a static classic member restarted with the consumer protocol
    takes over at once (no UNRELEASED_INSTANCE_ID for a classic predecessor) with its assignment."""
    group = gid()
    j = cjoin(mc, group, "", subscription(topic), instance="i1")
    assert j.error_code == 0
    csync(mc, group, j.member_id, j.generation_id, ((j.member_id, assignment(topic, set(range(PARTITIONS)))),))
    c = hb(mc, group, "c", 0, subscribed_topic_names=(topic,))
    assert c.error_code == 0 and parts(c.assignment) == set()
    n = hb(mc, group, "n1", 0, instance_id="i1", subscribed_topic_names=(topic,))
    assert n.error_code == 0 and len(parts(n.assignment)) == 2
    assert {m.member_id: m.member_type for m in describe(mc, group).members} == {"c": 1, "n1": 1}
    assert cheartbeat(mc, group, j.member_id, j.generation_id) == UNKNOWN_MEMBER_ID
    c = hb(mc, group, "c", c.member_epoch, topic_partitions=())
    assert parts(c.assignment) == set(range(PARTITIONS)) - parts(n.assignment)


def test_a_static_classic_member_replacing_the_last_consumer_protocol_member_downgrades(
        mc: MiniClient, topic: str) -> None:
    group = gid()
    c = hb(mc, group, "c1", 0, instance_id="i1", subscribed_topic_names=(topic,))
    assert parts(c.assignment) == set(range(PARTITIONS))
    k = cjoin(mc, group, "", subscription(topic))
    assert (k.error_code, k.generation_id) == (0, 2)
    c = hb(mc, group, "c1", 1, topic_partitions=owned(c.assignment))           # revoking two
    kept = parts(c.assignment)
    hb(mc, group, "c1", 1, topic_partitions=owned(c.assignment))
    assert cheartbeat(mc, group, k.member_id, 2) == REBALANCE_IN_PROGRESS       # its partitions are free
    cjoin(mc, group, k.member_id, subscription(topic))
    theirs = assigned(csync(mc, group, k.member_id, 2).assignment)
    assert theirs == set(range(PARTITIONS)) - kept
    # c1's process restarts on the classic protocol under the same instance id: the group is classic again
    j = cjoin(mc, group, "", subscription(topic), instance="i1")
    assert (j.error_code, j.generation_id, j.protocol_name) == (0, 2, "range")
    assert listed(mc, group) == ("classic", "consumer", "Stable")
    s = csync(mc, group, j.member_id, 2)
    assert s.error_code == 0 and assigned(s.assignment) == kept                # c1's partitions, no rebalance
    assert cheartbeat(mc, group, k.member_id, 2) == 0
    assert sorted(m.member_id for m in describe_classic(mc, group).members) == sorted([j.member_id, k.member_id])


def test_a_restart_mid_migration_replays_the_group_type(tmp_path: Any) -> None:
    kport = free_port()
    h = start_keystream(*ARGS, "--kafka-port", str(kport), data_dir=str(tmp_path), kafka=True)

    def restart() -> None:
        nonlocal h
        h.stop()
        h = start_keystream(*ARGS, "--kafka-port", str(kport), data_dir=str(tmp_path), kafka=True)

    try:
        with MiniClient("127.0.0.1", kport) as mc:
            topic = create_topic(mc)
            group = gid()
            classic, _ = classic_group_of_one(mc, group, topic)
            hb(mc, group, "c", 0, subscribed_topic_names=(topic,))
            j = cjoin(mc, group, classic, subscription(topic))
            mine = assigned(csync(mc, group, classic, j.generation_id).assignment)
            r = hb(mc, group, "c", 2, topic_partitions=())
            before = describe(mc, group)
        restart()
        with MiniClient("127.0.0.1", kport) as mc:
            wait_until(lambda: describe(mc, group).error_code == 0, 20, "the group loaded")
            after = describe(mc, group)
            assert after == before and listed(mc, group) == ("consumer", "consumer", "Stable")
            assert {m.member_id: m.member_type for m in after.members} == {classic: 0, "c": 1}
            assert cheartbeat(mc, group, classic, 2) == 0                     # still a classic member, epoch 2
            assert assigned(csync(mc, group, classic, 2).assignment) == mine
            assert hb(mc, group, "c", -1).error_code == 0                    # downgrade after the restart
            assert listed(mc, group) == ("classic", "consumer", "PreparingRebalance")
        restart()
        with MiniClient("127.0.0.1", kport) as mc:
            wait_until(lambda: listed(mc, group) is not None, 20, "the group loaded")
            assert listed(mc, group) == ("classic", "consumer", "Stable")
            assert describe(mc, group).error_code == GROUP_ID_NOT_FOUND
            dg = describe_classic(mc, group)
            assert [m.member_id for m in dg.members] == [classic] and assigned(dg.members[0].member_assignment) == \
                mine
            assert cheartbeat(mc, group, classic, 2) == 0
            assert r.error_code == 0
    finally:
        h.stop()
        if "Traceback" in h.log():
            sys.stderr.write(h.log())


def test_migration_policy(mc: MiniClient, server: ServerHandle, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{server.kafka_port}"})
    broker = ConfigResource("BROKER", "0")

    def policy(value: str) -> None:
        entry = ConfigEntry("group.consumer.migration.policy", value, incremental_operation=AlterConfigOpType.SET)
        for fut in admin.incremental_alter_configs([ConfigResource("BROKER", "0", incremental_configs=[entry])]
                                                   ).values():
            fut.result(10)

    assert admin.describe_configs([broker])[broker].result(10)["group.consumer.migration.policy"].value == \
        "bidirectional"
    try:
        policy("disabled")
        group = gid()
        classic, _ = classic_group_of_one(mc, group, topic)
        r = hb(mc, group, "c", 0, subscribed_topic_names=(topic,))
        assert (r.error_code, r.error_message) == (GROUP_ID_NOT_FOUND, f"Group {group} is not a consumer group")
        policy("upgrade")
        assert hb(mc, group, "c", 0, subscribed_topic_names=(topic,)).error_code == 0
        policy("disabled")                      # no new classic member; the one already in may rejoin
        assert cjoin(mc, group, "", subscription(topic)).error_code == INCONSISTENT_GROUP_PROTOCOL
        assert cjoin(mc, group, classic, subscription(topic)).error_code == 0
        policy("upgrade")                       # the last consumer-protocol member leaves: no downgrade
        assert hb(mc, group, "c", -1).error_code == 0
        assert (listed(mc, group) or ("",))[0] == "consumer"
        assert [m.member_type for m in describe(mc, group).members] == [0]
    finally:
        policy("bidirectional")
