"""Consumer-group APIs at the protocol level (our tiny client over TCP): error codes and versions
that the client libraries do not exercise on their own."""

from __future__ import annotations

import struct
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from keystream.kafka.groups.client import MiniClient
from tests.conftest import ServerHandle, serve_keystream

MEMBER_ID_REQUIRED, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS = 79, 22, 25, 27
FENCED_INSTANCE_ID, INVALID_SESSION_TIMEOUT, INCONSISTENT_GROUP_PROTOCOL = 82, 26, 23
GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, GROUP_SUBSCRIBED_TO_TOPIC, UNKNOWN_TOPIC = 69, 68, 86, 3


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    yield from serve_keystream("--group.initial.rebalance.delay.ms", "0", "--offsets.topic.num.partitions", "4",
                               kafka=True)


@pytest.fixture
def mc(server: ServerHandle) -> Iterator[MiniClient]:
    with MiniClient("127.0.0.1", server.kafka_port) as c:
        yield c


@pytest.fixture
def topic(mc: MiniClient) -> str:
    name = "pt-" + uuid.uuid4().hex[:8]
    t = MiniClient.cls(19, 5, "CreatableTopic")
    r = mc.request(19, 5, topics=(t(name=name, num_partitions=2, replication_factor=1, assignments=(),
                                     configs=()),), timeout=10000, validate_only=False)
    assert r.topics[0].error_code == 0
    return name


def gid() -> str:
    return "pg-" + uuid.uuid4().hex[:8]


def subscription(*topics: str) -> bytes:
    out = struct.pack(">hi", 0, len(topics))
    for t in topics:
        out += struct.pack(">h", len(t)) + t.encode()
    return out + struct.pack(">i", -1)


def join(mc: MiniClient, group: str, member_id: str = "", version: int = 5, instance: str | None = None,
         session: int = 10000, protocol_type: str = "consumer", topics: tuple[str, ...] = ("x",)) -> object:
    proto = MiniClient.cls(11, version, "JoinGroupRequestProtocol")
    return mc.request(11, version, group_id=group, session_timeout=session, rebalance_timeout=10000,
                      member_id=member_id, group_instance_id=instance, protocol_type=protocol_type,
                      protocols=(proto(name="range", metadata=subscription(*topics)),), reason=None)


def sync(mc: MiniClient, group: str, generation: int, member_id: str, assignment: bytes = b"",
         instance: str | None = None) -> object:
    a = MiniClient.cls(14, 5, "SyncGroupRequestAssignment")
    return mc.request(14, 5, group_id=group, generation_id=generation, member_id=member_id,
                      group_instance_id=instance, protocol_type="consumer", protocol_name="range",
                      assignments=(a(member_id=member_id, assignment=assignment),))


def heartbeat(mc: MiniClient, group: str, generation: int, member_id: str, instance: str | None = None) -> int:
    return mc.request(12, 4, group_id=group, generation_id=generation, member_id=member_id,
                      group_instance_id=instance).error_code


def stable_member(mc: MiniClient, group: str, **kw: object) -> tuple[str, int]:
    r = join(mc, group, **kw)  # type: ignore[arg-type]
    if r.error_code == MEMBER_ID_REQUIRED:
        r = join(mc, group, member_id=r.member_id, **kw)  # type: ignore[arg-type]
    assert r.error_code == 0 and r.leader == r.member_id
    assert sync(mc, group, r.generation_id, r.member_id, b"A", kw.get("instance")).error_code == 0  # type: ignore[arg-type]
    return r.member_id, r.generation_id


def test_member_id_required_round_trip_v4_and_plain_join_v0(mc: MiniClient) -> None:
    group = gid()
    r = join(mc, group)
    assert r.error_code == MEMBER_ID_REQUIRED and r.member_id.startswith("keystream-cli-")
    r2 = join(mc, group, member_id=r.member_id)
    assert (r2.error_code, r2.generation_id, r2.leader, r2.member_id) == (0, 1, r.member_id, r.member_id)
    assert [m.member_id for m in r2.members] == [r.member_id]
    assert r2.protocol_name == "range"
    s = sync(mc, group, 1, r.member_id, b"assignment")
    assert (s.error_code, s.assignment) == (0, b"assignment")

    r0 = join(mc, gid(), version=0)
    assert r0.error_code == 0 and r0.member_id and r0.generation_id == 1


def test_generation_and_member_fencing(mc: MiniClient, server: ServerHandle) -> None:
    group = gid()
    m1, gen = stable_member(mc, group)
    assert heartbeat(mc, group, gen, m1) == 0
    assert heartbeat(mc, group, gen + 1, m1) == ILLEGAL_GENERATION
    assert heartbeat(mc, group, gen, "nobody") == UNKNOWN_MEMBER_ID
    assert sync(mc, group, gen + 5, m1).error_code == ILLEGAL_GENERATION
    with MiniClient("127.0.0.1", server.kafka_port) as other:     # a second member: the group rebalances
        r = join(other, group)
        pending = r.member_id
        assert heartbeat(mc, group, gen, m1) == 0                  # MEMBER_ID_REQUIRED does not rebalance yet
        proto = MiniClient.cls(11, 5, "JoinGroupRequestProtocol")
        box: list[object] = []
        t = threading.Thread(target=lambda: box.append(other.request(
            11, 5, group_id=group, session_timeout=10000, rebalance_timeout=10000, member_id=pending,
            group_instance_id=None, protocol_type="consumer",
            protocols=(proto(name="range", metadata=subscription("x")),))))
        t.start()                    # this JoinGroup waits until m1 rejoins
        deadline = time.monotonic() + 10
        while heartbeat(mc, group, gen, m1) != REBALANCE_IN_PROGRESS:
            assert time.monotonic() < deadline
        r1 = join(mc, group, member_id=m1)
        t.join(10)
        r2 = box[0]
        assert r1.error_code == 0 and r2.error_code == 0  # type: ignore[attr-defined]
        assert r1.generation_id == r2.generation_id == gen + 1  # type: ignore[attr-defined]
        assert len(r1.members) == 2 and r2.members == ()   # type: ignore[attr-defined]
        assert heartbeat(mc, group, gen, m1) == ILLEGAL_GENERATION


def test_static_member_fenced_by_new_instance(mc: MiniClient) -> None:
    group = gid()
    old, gen = stable_member(mc, group, instance="inst-1")
    r = join(mc, group, instance="inst-1")          # same instance id, new incarnation
    assert r.error_code == 0 and r.member_id != old and r.generation_id == gen   # no rebalance
    assert heartbeat(mc, group, gen, old, "inst-1") == FENCED_INSTANCE_ID
    assert heartbeat(mc, group, gen, r.member_id, "inst-1") == 0
    leave_member = MiniClient.cls(13, 5, "MemberIdentity")
    resp = mc.request(13, 5, group_id=group, members=(leave_member(member_id=old, group_instance_id="inst-1",
                                                                      reason=None),))
    assert resp.members[0].error_code == FENCED_INSTANCE_ID
    resp = mc.request(13, 5, group_id=group, members=(leave_member(member_id="", group_instance_id="inst-1",
                                                                      reason=None),))
    assert resp.error_code == 0 and resp.members[0].error_code == 0
    d = mc.request(15, 5, groups=(group,), include_authorized_operations=True).groups[0]
    assert d.group_state == "Empty" and d.members == () and d.authorized_operations == 328


def test_join_validation_errors(mc: MiniClient) -> None:
    assert join(mc, gid(), session=1000).error_code == INVALID_SESSION_TIMEOUT
    group = gid()
    stable_member(mc, group)
    assert join(mc, group, version=3, protocol_type="connect").error_code == INCONSISTENT_GROUP_PROTOCOL
    assert join(mc, "", version=3).error_code == 24     # INVALID_GROUP_ID
    assert join(mc, gid(), member_id="made-up", version=3).error_code == UNKNOWN_MEMBER_ID


def test_find_coordinator_batched_and_single(mc: MiniClient, server: ServerHandle) -> None:
    r = mc.request(10, 4, key_type=0, coordinator_keys=("a", "b"))
    assert [(c.key, c.node_id, c.port, c.error_code) for c in r.coordinators] == \
        [("a", 0, server.kafka_port, 0), ("b", 0, server.kafka_port, 0)]
    r0 = mc.request(10, 0, key="a")
    assert (r0.error_code, r0.node_id, r0.port) == (0, 0, server.kafka_port)


def _commit(mc: MiniClient, version: int, group: str, topic: str, offsets: dict[int, int], **kw: object) -> dict:
    p = MiniClient.cls(8, max(version, 2), "OffsetCommitRequestPartition") if version >= 2 else None
    t = MiniClient.cls(8, max(version, 2), "OffsetCommitRequestTopic") if version >= 2 else None
    if version < 2:
        from keystream.kafka.codec.legacy import _modules
        mod = _modules(8, version)[0]
        p, t = mod.OffsetCommitRequestPartition, mod.OffsetCommitRequestTopic
    extra = {"commit_timestamp": -1} if version == 1 else {}
    parts = tuple(p(partition_index=i, committed_offset=o, committed_leader_epoch=3, committed_metadata=f"md{o}",
                    **extra) if version >= 6 else
                  p(partition_index=i, committed_offset=o, committed_metadata=f"md{o}", **extra)
                  for i, o in offsets.items())
    r = mc.request(8, version, group_id=group, generation_id_or_member_epoch=-1, member_id="",
                   group_instance_id=None, topics=(t(name=topic, partitions=parts),), **kw)
    return {p.partition_index: p.error_code for p in r.topics[0].partitions}


def test_offset_commit_and_fetch_across_versions(mc: MiniClient, topic: str) -> None:
    g0, g1, g8 = gid(), gid(), gid()
    assert _commit(mc, 0, g0, topic, {0: 5}) == {0: 0}
    assert _commit(mc, 1, g1, topic, {0: 6, 1: 7}) == {0: 0, 1: 0}
    assert _commit(mc, 8, g8, topic, {1: 9}) == {1: 0}
    assert _commit(mc, 8, g8, "no-such-topic", {0: 1}) == {0: UNKNOWN_TOPIC}
    assert _commit(mc, 2, g8, topic, {0: 1}, retention_time=60000) == {0: 0}

    ft = MiniClient.cls(9, 1, "OffsetFetchRequestTopic")
    r = mc.request(9, 0, group_id=g0, topics=(ft(name=topic, partition_indexes=(0, 1)),))
    assert [(p.partition_index, p.committed_offset, p.metadata) for p in r.topics[0].partitions] == \
        [(0, 5, "md5"), (1, -1, "")]
    r = mc.request(9, 7, group_id=g1, topics=None, require_stable=True)
    assert [(p.partition_index, p.committed_offset) for p in r.topics[0].partitions] == [(0, 6), (1, 7)]

    g = MiniClient.cls(9, 8, "OffsetFetchRequestGroup")
    r = mc.request(9, 8, groups=(g(group_id=g1, topics=None), g(group_id=g8, topics=None),
                                 g(group_id=gid(), topics=None)), require_stable=False)
    got = {grp.group_id: {(p.partition_index, p.committed_offset, p.committed_leader_epoch)
                          for t in grp.topics for p in t.partitions} for grp in r.groups}
    assert got[g1] == {(0, 6, -1), (1, 7, -1)}
    assert got[g8] == {(1, 9, 3), (0, 1, -1)}
    assert [grp.error_code for grp in r.groups] == [0, 0, 0]


def test_list_describe_delete_and_offset_delete(mc: MiniClient, topic: str) -> None:
    standalone, live = gid(), gid()
    assert _commit(mc, 8, standalone, topic, {0: 1, 1: 2}) == {0: 0, 1: 0}
    member, gen = stable_member(mc, live, topics=(topic,))
    c = _commit(mc, 8, live, topic, {0: 3})
    assert c == {0: UNKNOWN_MEMBER_ID}           # generation -1 with live members: refused
    states = {g.group_id: (g.protocol_type, g.group_state) for g in mc.request(16, 4, states_filter=()).groups}
    assert states[standalone] == ("", "Empty") and states[live] == ("consumer", "Stable")
    only = {g.group_id for g in mc.request(16, 4, states_filter=("stable",)).groups}
    assert live in only and standalone not in only

    d = mc.request(15, 0, groups=(live, "never-seen")).groups
    assert (d[0].group_state, d[0].protocol_data, len(d[0].members)) == ("Stable", "range", 1)
    assert d[0].members[0].member_assignment == b"A"
    assert (d[1].error_code, d[1].group_state) == (0, "Dead")

    dt = MiniClient.cls(47, 0, "OffsetDeleteRequestTopic")
    dp = MiniClient.cls(47, 0, "OffsetDeleteRequestPartition")
    r = mc.request(47, 0, group_id=live, topics=(dt(name=topic, partitions=(dp(partition_index=0),)),))
    assert r.error_code == 0 and r.topics[0].partitions[0].error_code == GROUP_SUBSCRIBED_TO_TOPIC
    r = mc.request(47, 0, group_id=standalone, topics=(dt(name=topic, partitions=(dp(partition_index=0),)),))
    assert r.error_code == 0 and r.topics[0].partitions[0].error_code == 0
    ft = MiniClient.cls(9, 1, "OffsetFetchRequestTopic")
    r = mc.request(9, 6, group_id=standalone, topics=(ft(name=topic, partition_indexes=(0, 1)),))
    assert [p.committed_offset for p in r.topics[0].partitions] == [-1, 2]
    assert mc.request(47, 0, group_id=gid(), topics=()).error_code == GROUP_ID_NOT_FOUND

    res = mc.request(42, 2, groups_names=(standalone, live, gid())).results
    assert [x.error_code for x in res] == [0, NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND]
    lm = MiniClient.cls(13, 5, "MemberIdentity")
    assert mc.request(13, 5, group_id=live, members=(lm(member_id=member, group_instance_id=None,
                                                          reason=None),)).members[0].error_code == 0
    assert mc.request(42, 0, groups_names=(live,)).results[0].error_code == 0
    assert heartbeat(mc, live, gen, member) == UNKNOWN_MEMBER_ID
    groups = {g.group_id for g in mc.request(16, 0).groups}
    assert standalone not in groups and live not in groups


def test_produce_to_internal_topic_is_refused(mc: MiniClient, server: ServerHandle, topic: str) -> None:
    from confluent_kafka import KafkaError, Producer

    from keystream.kafka.groups import records as rec

    assert _commit(mc, 8, gid(), topic, {0: 1}) == {0: 0}          # __consumer_offsets exists
    meta = mc.request(3, 12, topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False)
    internal = {t.name: t.is_internal for t in meta.topics}
    assert internal["__consumer_offsets"] is True and internal[topic] is False
    batch = rec.build_batch([(rec.encode_group_key("forged"), None)], int(time.time() * 1000))
    pd = MiniClient.cls(0, 9, "PartitionProduceData")
    td = MiniClient.cls(0, 9, "TopicProduceData")
    for version in (3, 9):
        r = mc.request(0, version, transactional_id=None, acks=-1, timeout=5000,
                       topic_data=(td(name="__consumer_offsets", partition_data=(pd(index=0, records=batch),)),))
        p = r.responses[0].partition_responses[0]
        assert (p.error_code, p.base_offset) == (17, -1)             # INVALID_TOPIC_EXCEPTION

    errors: list[KafkaError] = []
    prod = Producer({"bootstrap.servers": f"127.0.0.1:{server.kafka_port}", "retries": 0})
    prod.produce("__consumer_offsets", b"v", key=b"k", partition=0, on_delivery=lambda e, _m: errors.append(e))
    assert prod.flush(10) == 0
    assert errors[0] is not None and errors[0].code() == KafkaError.TOPIC_EXCEPTION


# -- every version of every group API ------------------------------------------------------------

ISSUE_RANGES = {10: (0, 4), 11: (0, 9), 14: (0, 5), 12: (0, 4), 13: (0, 5), 8: (0, 8), 9: (0, 8), 15: (0, 5),
                16: (0, 4), 42: (0, 2), 47: (0, 0)}


def test_api_versions_advertise_the_group_api_ranges(mc: MiniClient) -> None:
    r = mc.request(18, 3, client_software_name="t", client_software_version="1")
    got = {k.api_key: (k.min_version, k.max_version) for k in r.api_keys}
    assert {k: got.get(k) for k in ISSUE_RANGES} == ISSUE_RANGES


@pytest.mark.parametrize("v", range(10))
def test_group_life_cycle_at_each_version(mc: MiniClient, server: ServerHandle, v: int) -> None:
    """JoinGroup v, SyncGroup/LeaveGroup/DescribeGroups min(v, 5), Heartbeat/FindCoordinator min(v, 4)."""
    group = gid()
    fv = min(v, 4)
    if fv >= 4:
        c = mc.request(10, fv, key_type=0, coordinator_keys=(group,)).coordinators[0]
    else:
        c = mc.request(10, fv, key=group, key_type=0)
    assert (c.error_code, c.node_id, c.port) == (0, 0, server.kafka_port)
    r = join(mc, group, version=v)
    if v >= 4:
        assert r.error_code == MEMBER_ID_REQUIRED
        r = join(mc, group, member_id=r.member_id, version=v)
    assert (r.error_code, r.generation_id, r.leader) == (0, 1, r.member_id)
    assert r.protocol_name == "range" and len(r.members) == 1
    if v >= 7:
        assert r.protocol_type == "consumer"
    sv = min(v, 5)
    a = MiniClient.cls(14, sv, "SyncGroupRequestAssignment")
    s = mc.request(14, sv, group_id=group, generation_id=1, member_id=r.member_id, group_instance_id=None,
                   protocol_type="consumer", protocol_name="range",
                   assignments=(a(member_id=r.member_id, assignment=b"A"),))
    assert (s.error_code, s.assignment) == (0, b"A")
    hv = min(v, 4)
    assert mc.request(12, hv, group_id=group, generation_id=1, member_id=r.member_id,
                      group_instance_id=None).error_code == 0
    d = mc.request(15, sv, groups=(group,), include_authorized_operations=False).groups[0]
    assert (d.group_state, d.protocol_data, d.members[0].member_assignment) == ("Stable", "range", b"A")
    if sv < 3:
        assert mc.request(13, sv, group_id=group, member_id=r.member_id).error_code == 0
    else:
        lm = MiniClient.cls(13, sv, "MemberIdentity")
        extra = {"reason": "done"} if sv >= 5 else {}
        lr = mc.request(13, sv, group_id=group, members=(lm(member_id=r.member_id, group_instance_id=None,
                                                                **extra),))
        assert (lr.error_code, lr.members[0].error_code) == (0, 0)
    assert mc.request(15, sv, groups=(group,), include_authorized_operations=False).groups[0].group_state == "Empty"


@pytest.mark.parametrize("v", range(9))
def test_offset_commit_and_fetch_at_each_version(mc: MiniClient, topic: str, v: int) -> None:
    group = gid()
    assert _commit(mc, v, group, topic, {0: 10 + v, 1: 20 + v}) == {0: 0, 1: 0}
    if v < 2:
        ft = MiniClient.cls(9, 1, "OffsetFetchRequestTopic")
        r = mc.request(9, v, group_id=group, topics=(ft(name=topic, partition_indexes=(0, 1)),))
        got = {p.partition_index: (p.committed_offset, p.metadata) for p in r.topics[0].partitions}
    elif v < 8:
        r = mc.request(9, v, group_id=group, topics=None, require_stable=False)
        assert r.error_code == 0
        got = {p.partition_index: (p.committed_offset, p.metadata) for p in r.topics[0].partitions}
    else:
        g = MiniClient.cls(9, 8, "OffsetFetchRequestGroup")
        r = mc.request(9, 8, groups=(g(group_id=group, topics=None),), require_stable=True)
        got = {p.partition_index: (p.committed_offset, p.metadata) for p in r.groups[0].topics[0].partitions}
    assert got == {0: (10 + v, f"md{10 + v}"), 1: (20 + v, f"md{20 + v}")}


@pytest.mark.parametrize("v", range(5))
def test_list_describe_delete_groups_at_each_version(mc: MiniClient, topic: str, v: int) -> None:
    group = gid()
    assert _commit(mc, 8, group, topic, {0: 1}) == {0: 0}
    lr = mc.request(16, v, states_filter=("Empty",))
    assert lr.error_code == 0 and group in {g.group_id for g in lr.groups}
    if v >= 4:
        assert {g.group_state for g in lr.groups} == {"Empty"}
    dv = min(v + 1, 5) if v == 4 else v        # DescribeGroups 0..5
    d = mc.request(15, dv, groups=(group,), include_authorized_operations=True).groups[0]
    assert (d.error_code, d.group_state, d.protocol_type) == (0, "Empty", "")
    if v <= 2:
        res = mc.request(42, v, groups_names=(group, gid())).results
        assert [x.error_code for x in res] == [0, GROUP_ID_NOT_FOUND]
