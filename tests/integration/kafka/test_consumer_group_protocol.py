"""KIP-848 consumer groups at the protocol level (our tiny client over TCP): ConsumerGroupHeartbeat
and ConsumerGroupDescribe at their lowest and highest versions, ListGroups v5, OffsetCommit and
OffsetFetch v9 with member epochs, Kafka 4.0's errors and messages, static members, regex
subscriptions, conversion between classic and consumer groups, and a restart that replays the
group records from __consumer_offsets."""

from __future__ import annotations

import struct
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from keystream.kafka.codec import messages
from keystream.kafka.groups.client import MiniClient
from tests.conftest import ServerHandle, free_port, serve_keystream, start_keystream

INVALID_REQUEST, UNKNOWN_MEMBER_ID, GROUP_ID_NOT_FOUND, FENCED_MEMBER_EPOCH = 42, 25, 69, 110
UNRELEASED_INSTANCE_ID, UNSUPPORTED_ASSIGNOR, STALE_MEMBER_EPOCH, INVALID_REGULAR_EXPRESSION = 111, 112, 113, 128
FENCED_INSTANCE_ID, INCONSISTENT_GROUP_PROTOCOL, UNSUPPORTED_VERSION, GROUP_MAX_SIZE_REACHED = 82, 23, 35, 81
ARGS = ("--group.initial.rebalance.delay.ms", "0", "--offsets.topic.num.partitions", "4",
        "--group.consumer.heartbeat.interval.ms", "300", "--group.consumer.max.size", "4")


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    yield from serve_keystream(*ARGS, "--kafka-port", str(free_port()), kafka=True)


@pytest.fixture
def mc(server: ServerHandle) -> Iterator[MiniClient]:
    with MiniClient("127.0.0.1", server.kafka_port) as c:
        yield c


def create_topic(mc: MiniClient, partitions: int = 4, name: str | None = None) -> str:
    name = name or "kt-" + uuid.uuid4().hex[:8]
    t = MiniClient.cls(19, 5, "CreatableTopic")
    r = mc.request(19, 5, topics=(t(name=name, num_partitions=partitions, replication_factor=1, assignments=(),
                                     configs=()),), timeout=10000, validate_only=False)
    assert r.topics[0].error_code == 0
    return name


@pytest.fixture
def topic(mc: MiniClient) -> str:
    return create_topic(mc)


def gid() -> str:
    return "kg-" + uuid.uuid4().hex[:8]


def hb(mc: MiniClient, group: str, member: str, epoch: int, version: int = 1, **kw: Any) -> Any:
    if epoch == 0:
        kw.setdefault("rebalance_timeout", 30000)
        kw.setdefault("topic_partitions", ())
    else:
        kw.setdefault("topic_partitions", None)
    return mc.request(68, version, group_id=group, member_id=member, member_epoch=epoch, **kw)


def owned(mc: MiniClient, assignment: Any, version: int = 1) -> tuple[Any, ...]:
    tp = MiniClient.cls(68, version, "TopicPartitions")
    return tuple(tp(topic_id=t.topic_id, partitions=t.partitions) for t in assignment.topic_partitions)


def parts(assignment: Any) -> set[int]:
    return {p for t in assignment.topic_partitions for p in t.partitions}


def describe(mc: MiniClient, group: str, version: int = 1) -> Any:
    return mc.request(69, version, group_ids=(group,), include_authorized_operations=True).groups[0]


# -- ConsumerGroupHeartbeat ---------------------------------------------------------------------------

@pytest.mark.parametrize("version", [0, 1])
def test_join_heartbeat_leave(mc: MiniClient, topic: str, version: int) -> None:
    group = gid()
    member = "" if version == 0 else str(uuid.uuid4())
    r = hb(mc, group, member, 0, version, subscribed_topic_names=(topic,))
    assert r.error_code == 0 and r.member_epoch == 1
    assert r.heartbeat_interval.total_seconds() == 0.3
    if version == 0:
        member = r.member_id            # v0: the coordinator generates the member id
        assert member
    else:
        assert r.member_id == member
    assert parts(r.assignment) == {0, 1, 2, 3}
    again = hb(mc, group, member, 1, version, topic_partitions=owned(mc, r.assignment, version))
    assert (again.error_code, again.member_epoch, again.assignment) == (0, 1, None)   # nothing changed
    full = hb(mc, group, member, 1, version, rebalance_timeout=30000, subscribed_topic_names=(topic,),
              topic_partitions=owned(mc, r.assignment, version))
    assert parts(full.assignment) == {0, 1, 2, 3}              # a full request gets the assignment
    left = hb(mc, group, member, -1, version)
    assert (left.error_code, left.member_epoch, left.member_id) == (0, -1, member)
    assert describe(mc, group).group_state == "Empty"
    assert hb(mc, group, member, 1, version).error_code == UNKNOWN_MEMBER_ID


def test_request_validation_messages(mc: MiniClient, topic: str) -> None:
    group = gid()
    cases = [
        ({"member": "", "epoch": 0, "subscribed_topic_names": (topic,)}, INVALID_REQUEST, "MemberId can't be empty."),
        ({"member": "m", "epoch": 0, "rebalance_timeout": -1, "subscribed_topic_names": (topic,)}, INVALID_REQUEST,
         "RebalanceTimeoutMs must be provided in first request."),
        ({"member": "m", "epoch": 0, "topic_partitions": None, "subscribed_topic_names": (topic,)}, INVALID_REQUEST,
         "TopicPartitions must be empty when (re-)joining."),
        ({"member": "m", "epoch": 0}, INVALID_REQUEST,
         "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining."),
        ({"member": "m", "epoch": 0, "instance_id": "", "subscribed_topic_names": (topic,)}, INVALID_REQUEST,
         "InstanceId can't be empty."),
        ({"member": "m", "epoch": -2}, INVALID_REQUEST, "InstanceId can't be null."),
        ({"member": "m", "epoch": -3}, INVALID_REQUEST, "MemberEpoch is invalid."),
        ({"member": "m", "epoch": 0, "server_assignor": "sticky", "subscribed_topic_names": (topic,)}, UNSUPPORTED_ASSIGNOR,
         "ServerAssignor sticky is not supported. Supported assignors: uniform, range."),
        ({"member": "m", "epoch": 0, "subscribed_topic_regex": "(a)\\1"}, INVALID_REGULAR_EXPRESSION, None),
        ({"member": "m", "epoch": 0, "subscribed_topic_regex": "kt-(["}, INVALID_REGULAR_EXPRESSION, None),
        ({"member": "m", "epoch": 5}, GROUP_ID_NOT_FOUND, f"Consumer group {group} not found."),
    ]
    for kw, code, message in cases:
        member, epoch = kw.pop("member"), kw.pop("epoch")
        r = hb(mc, group, member, epoch, **kw)  # type: ignore[arg-type]
        assert r.error_code == code, (kw, r)
        if message is not None:
            assert r.error_message == message
        else:
            assert r.error_message.startswith("SubscribedTopicRegex ")


def test_epochs_fence_and_previous_epoch_is_accepted(mc: MiniClient, topic: str) -> None:
    group = gid()
    a = hb(mc, group, "a", 0, subscribed_topic_names=(topic,))
    assert a.member_epoch == 1
    assert hb(mc, group, "a", 2).error_code == FENCED_MEMBER_EPOCH
    b = hb(mc, group, "b", 0, subscribed_topic_names=(topic,))
    assert b.member_epoch == 2 and parts(b.assignment) == set()       # waits for a's revocation
    r = hb(mc, group, "a", 1, topic_partitions=owned(mc, a.assignment))
    assert r.member_epoch == 1 and len(parts(r.assignment)) == 2         # keep two, revoke two
    kept = r.assignment
    r = hb(mc, group, "a", 1, topic_partitions=owned(mc, kept))         # revocation acknowledged
    assert r.member_epoch == 2 and r.assignment is None
    # the epoch-2 response was "lost": the previous epoch with a subset of the assignment is fine
    assert hb(mc, group, "a", 1, topic_partitions=owned(mc, kept)).error_code == 0
    assert hb(mc, group, "a", 1, topic_partitions=owned(mc, a.assignment)).error_code == FENCED_MEMBER_EPOCH
    # a known member rejoining with epoch 0 is checked like any other epoch (Kafka 4.0)
    assert hb(mc, group, "a", 0, subscribed_topic_names=(topic,)).error_code == FENCED_MEMBER_EPOCH
    b2 = hb(mc, group, "b", 2, topic_partitions=())
    assert parts(b2.assignment) == {0, 1, 2, 3} - parts(kept)
    d = describe(mc, group)
    assert d.group_state == "Stable" and d.group_epoch == d.assignment_epoch == 2
    # a member past the group's max size (4 here)
    for m in ("c", "d"):
        hb(mc, group, m, 0, subscribed_topic_names=(topic,))
    r = hb(mc, group, "e", 0, subscribed_topic_names=(topic,))
    assert (r.error_code, r.error_message) == (GROUP_MAX_SIZE_REACHED,
                                               "The consumer group has reached its maximum capacity of 4 members.")


def test_no_partition_owned_twice_while_members_come_and_go(mc: MiniClient) -> None:
    """Four members over 12 partitions acting out of step; at every moment the partitions
    members own (what the coordinator told them, until they acknowledge a revocation) are disjoint."""
    topic = create_topic(mc, 12)
    group = gid()
    state: dict[str, tuple[int, set[int], Any]] = {}   # member -> (epoch, owned, topic id)
    tid = None

    def step(m: str) -> None:
        nonlocal tid
        epoch, mine, _ = state.get(m, (0, set(), None))
        tp = MiniClient.cls(68, 1, "TopicPartitions")
        if epoch == 0:
            r = hb(mc, group, m, 0, subscribed_topic_names=(topic,))
        else:
            r = hb(mc, group, m, epoch, topic_partitions=(tp(topic_id=tid, partitions=tuple(sorted(mine))),)
                   if tid else ())
        assert r.error_code == 0, r
        if r.assignment is not None:
            new = parts(r.assignment)
            for t in r.assignment.topic_partitions:
                tid = t.topic_id
            mine = new
        state[m] = (r.member_epoch, mine, None)
        seen: dict[int, str] = {}
        for name, (_e, ps, _x) in state.items():
            for p in ps:
                assert p not in seen, f"partition {p} owned by {seen[p]} and {name}"
                seen[p] = name

    for order in (["a"], ["a", "b"], ["b", "c", "a", "d"], ["d", "c", "b", "a"], ["a", "b", "c", "d"] * 3):
        for m in order:
            step(m)
    assert describe(mc, group).group_state == "Stable"
    owned_all = sorted(p for _e, ps, _x in state.values() for p in ps)
    assert owned_all == list(range(12))
    assert sorted(len(ps) for _e, ps, _x in state.values()) == [3, 3, 3, 3]
    left = hb(mc, group, "d", -1)
    assert left.member_epoch == -1
    del state["d"]
    for _ in range(3):
        for m in ("a", "b", "c"):
            step(m)
    assert sorted(p for _e, ps, _x in state.values() for p in ps) == list(range(12))


def test_range_assignor_and_regex_subscription(mc: MiniClient) -> None:
    prefix = "rx" + uuid.uuid4().hex[:6]
    t1 = create_topic(mc, 3, prefix + "-one")
    group = gid()
    r = hb(mc, group, "a", 0, subscribed_topic_regex=prefix + "-.*", server_assignor="range")
    assert r.error_code == 0 and parts(r.assignment) == {0, 1, 2}
    d = describe(mc, group)
    assert d.assignor_name == "range" and d.members[0].subscribed_topic_regex == prefix + "-.*"
    assert [t.topic_name for t in d.members[0].assignment.topic_partitions] == [t1]
    create_topic(mc, 2, prefix + "-two")
    create_topic(mc, 2, "x" + prefix + "-three")                  # does not match: the regex is anchored
    r = hb(mc, group, "a", 1, topic_partitions=owned(mc, r.assignment))
    assert r.member_epoch == 2
    names = {t.topic_name for t in describe(mc, group).members[0].assignment.topic_partitions}
    assert names == {t1, prefix + "-two"}


def test_static_member_leaves_and_comes_back_without_rebalance(mc: MiniClient, topic: str) -> None:
    group = gid()
    a = hb(mc, group, "a1", 0, instance_id="inst-a", subscribed_topic_names=(topic,))
    b = hb(mc, group, "b1", 0, instance_id="inst-b", subscribed_topic_names=(topic,))
    a = hb(mc, group, "a1", 1, topic_partitions=owned(mc, a.assignment))
    a = hb(mc, group, "a1", 1, topic_partitions=owned(mc, a.assignment))
    b = hb(mc, group, "b1", 2, topic_partitions=())
    epoch = describe(mc, group).group_epoch
    b_parts = parts(b.assignment)
    assert hb(mc, group, "zz", 2, instance_id="inst-b").error_code == FENCED_INSTANCE_ID
    assert hb(mc, group, "b2", 0, instance_id="inst-b", subscribed_topic_names=(topic,)).error_code == \
        UNRELEASED_INSTANCE_ID
    assert hb(mc, group, "b1", 0, instance_id="inst-b", subscribed_topic_names=(topic,)).error_code == \
        UNRELEASED_INSTANCE_ID                                     # even with its own member id
    left = hb(mc, group, "b1", -2, instance_id="inst-b")
    assert (left.error_code, left.member_epoch) == (0, -2)
    back = hb(mc, group, "b2", 0, instance_id="inst-b", subscribed_topic_names=(topic,))
    assert back.error_code == 0 and parts(back.assignment) == b_parts
    d = describe(mc, group)
    assert d.group_epoch == epoch                                  # no rebalance
    assert sorted(m.member_id for m in d.members) == ["a1", "b2"]
    assert hb(mc, group, "nobody", 3, instance_id="inst-c").error_code == UNKNOWN_MEMBER_ID


# -- ConsumerGroupDescribe, ListGroups -----------------------------------------------------------------

@pytest.mark.parametrize("version", [0, 1])
def test_describe(mc: MiniClient, topic: str, version: int) -> None:
    group = gid()
    r = hb(mc, group, "m", 0, subscribed_topic_names=(topic,))
    d = describe(mc, group, version)
    assert (d.error_code, d.group_state, d.group_epoch, d.assignment_epoch, d.assignor_name) == \
        (0, "Stable", 1, 1, "uniform")
    assert d.authorized_operations == (1 << 3) | (1 << 6) | (1 << 8)
    m = d.members[0]
    assert (m.member_id, m.member_epoch, m.client_id, m.client_host, m.subscribed_topic_names) == \
        ("m", 1, "keystream-cli", "/127.0.0.1", (topic,))
    assert parts(m.assignment) == parts(m.target_assignment) == parts(r.assignment)
    if version >= 1:
        assert m.member_type == 1
    missing = describe(mc, "nope-" + group, version)
    assert (missing.error_code, missing.error_message) == (GROUP_ID_NOT_FOUND, None)


def test_list_groups_types_and_states(mc: MiniClient, topic: str) -> None:
    group = gid()
    hb(mc, group, "m", 0, subscribed_topic_names=(topic,))
    classic = gid()
    assert _classic_join(mc, classic).error_code == 0
    listed = {g.group_id: g for g in mc.request(16, 5, states_filter=(), types_filter=()).groups}
    assert (listed[group].group_type, listed[group].protocol_type, listed[group].group_state) == \
        ("consumer", "consumer", "Stable")
    assert listed[classic].group_type == "classic"
    consumer_only = {g.group_id for g in mc.request(16, 5, states_filter=(), types_filter=("Consumer",)).groups}
    assert group in consumer_only and classic not in consumer_only
    stable = {g.group_id for g in mc.request(16, 5, states_filter=("stable",), types_filter=("consumer",)).groups}
    assert group in stable
    old = {g.group_id: g for g in mc.request(16, 0).groups}
    assert old[group].protocol_type == "consumer"
    described = mc.request(15, 5, groups=(group,), include_authorized_operations=False).groups[0]
    assert (described.error_code, described.group_state) == (0, "Dead")     # only ConsumerGroupDescribe knows it


# -- offsets with member epochs ------------------------------------------------------------------------

def _commit(mc: MiniClient, version: int, group: str, member: str, epoch: int, topic: str, offset: int) -> int:
    t = MiniClient.cls(8, version, "OffsetCommitRequestTopic")
    p = MiniClient.cls(8, version, "OffsetCommitRequestPartition")
    r = mc.request(8, version, group_id=group, generation_id_or_member_epoch=epoch, member_id=member,
                   group_instance_id=None, topics=(t(name=topic, partitions=(
                       messages.build(p, partition_index=0, committed_offset=offset, committed_leader_epoch=-1,
                                      committed_metadata=""),)),))
    return r.topics[0].partitions[0].error_code


def _fetch(mc: MiniClient, group: str, topic: str, member: str | None, epoch: int) -> tuple[int, int]:
    g = MiniClient.cls(9, 9, "OffsetFetchRequestGroup")
    t = MiniClient.cls(9, 9, "OffsetFetchRequestTopics")
    r = mc.request(9, 9, groups=(g(group_id=group, member_id=member, member_epoch=epoch,
                                   topics=(t(name=topic, partition_indexes=(0,)),)),), require_stable=True)
    grp = r.groups[0]
    return grp.error_code, grp.topics[0].partitions[0].committed_offset if grp.topics else -1


def test_offset_commit_and_fetch_check_member_epochs(mc: MiniClient, topic: str) -> None:
    group = gid()
    assert _commit(mc, 9, group, "", -1, topic, 7) == 0                       # no members yet: standalone
    r = hb(mc, group, "m", 0, subscribed_topic_names=(topic,))
    assert _commit(mc, 9, group, "m", r.member_epoch, topic, 10) == 0
    assert _commit(mc, 9, group, "m", r.member_epoch + 1, topic, 11) == STALE_MEMBER_EPOCH
    assert _commit(mc, 9, group, "x", r.member_epoch, topic, 11) == UNKNOWN_MEMBER_ID
    assert _commit(mc, 9, group, "", -1, topic, 11) == UNKNOWN_MEMBER_ID      # members now: not standalone
    assert _commit(mc, 8, group, "m", r.member_epoch, topic, 11) == UNSUPPORTED_VERSION
    assert _commit(mc, 2, group, "m", r.member_epoch, topic, 11) == UNSUPPORTED_VERSION
    assert _fetch(mc, group, topic, "m", r.member_epoch) == (0, 10)
    assert _fetch(mc, group, topic, None, -1) == (0, 10)                      # admin clients
    assert _fetch(mc, group, topic, "m", r.member_epoch + 1)[0] == STALE_MEMBER_EPOCH
    assert _fetch(mc, group, topic, "x", r.member_epoch)[0] == UNKNOWN_MEMBER_ID


# -- classic <-> consumer -------------------------------------------------------------------------------

def _classic_join(mc: MiniClient, group: str) -> Any:
    """JoinGroup v3 (no MEMBER_ID_REQUIRED round trip)."""
    proto = MiniClient.cls(11, 3, "JoinGroupRequestProtocol")
    return mc.request(11, 3, group_id=group, session_timeout=10000, rebalance_timeout=10000, member_id="",
                      group_instance_id=None, protocol_type="consumer",
                      protocols=(proto(name="range", metadata=struct.pack(">hii", 0, 0, -1)),))


def test_conversion_of_empty_groups(mc: MiniClient, topic: str) -> None:
    """Empty groups change type on the first member of the other protocol (non-empty groups migrate
    online: test_group_migration_protocol.py)."""
    group = gid()
    j = _classic_join(mc, group)
    assert j.error_code == 0
    leave = MiniClient.cls(13, 5, "MemberIdentity")
    assert mc.request(13, 5, group_id=group, members=(leave(member_id=j.member_id, group_instance_id=None),)
                      ).error_code == 0
    assert _commit(mc, 9, group, "", -1, topic, 42) == 0
    # now empty: the first consumer-protocol member converts it, the offsets stay
    r = hb(mc, group, "m", 0, subscribed_topic_names=(topic,))
    assert r.error_code == 0 and describe(mc, group).group_state == "Stable"
    assert _fetch(mc, group, topic, "m", r.member_epoch) == (0, 42)
    assert mc.request(12, 4, group_id=group, generation_id=1, member_id="m", group_instance_id=None
                      ).error_code == UNKNOWN_MEMBER_ID                  # not a classic member
    assert hb(mc, group, "m", -1).error_code == 0
    # empty again: a classic member converts it back
    j = _classic_join(mc, group)
    assert j.error_code == 0
    assert describe(mc, group).error_code == GROUP_ID_NOT_FOUND
    assert _fetch(mc, group, topic, None, -1) == (0, 42)


# -- restart --------------------------------------------------------------------------------------------

def test_group_state_survives_a_restart(tmp_path: Any) -> None:
    kport = free_port()
    h = start_keystream(*ARGS, "--kafka-port", str(kport), data_dir=str(tmp_path), kafka=True)
    try:
        with MiniClient("127.0.0.1", kport) as mc:
            topic = create_topic(mc, 4)
            group = gid()
            a = hb(mc, group, "a", 0, instance_id="ia", subscribed_topic_names=(topic,), server_assignor="range")
            hb(mc, group, "b", 0, subscribed_topic_names=(topic,))
            a = hb(mc, group, "a", 1, topic_partitions=owned(mc, a.assignment))      # revoking
            hb(mc, group, "r", 0, subscribed_topic_regex=topic[:4] + ".*")
            assert _commit(mc, 9, group, "a", 1, topic, 5) == 0
            before = describe(mc, group)
        h.stop()
        h = start_keystream(*ARGS, "--kafka-port", str(kport), data_dir=str(tmp_path), kafka=True)
        with MiniClient("127.0.0.1", kport) as mc:
            after = describe(mc, group)
            while after.error_code:                       # COORDINATOR_LOAD_IN_PROGRESS
                after = describe(mc, group)
            assert after == before
            assert _fetch(mc, group, topic, "a", 1) == (0, 5)
            r = hb(mc, group, "a", 1, topic_partitions=owned(mc, a.assignment))        # acknowledges the revocation
            assert r.error_code == 0 and r.member_epoch == before.group_epoch
    finally:
        h.stop()
        if "Traceback" in h.log():
            sys.stderr.write(h.log())


# -- timeouts -------------------------------------------------------------------------------------------

def test_session_and_rebalance_timeouts_fence_members() -> None:
    """A member that stops heartbeating is fenced after group.consumer.session.timeout.ms; one that
    does not acknowledge a revocation within its rebalance timeout is fenced too; the partitions
    go to the members left."""
    h = start_keystream("--group.consumer.session.timeout.ms", "1500", "--offsets.topic.num.partitions", "1",
                        kafka=True)
    try:
        with MiniClient("127.0.0.1", h.kafka_port) as mc:
            topic = create_topic(mc, 4)
            group = gid()
            a = hb(mc, group, "a", 0, subscribed_topic_names=(topic,))
            hb(mc, group, "quiet", 0, subscribed_topic_names=(topic,))       # then never heartbeats again
            deadline = time.monotonic() + 10
            while len(describe(mc, group).members) == 2:
                a = hb(mc, group, "a", a.member_epoch, topic_partitions=owned(mc, a.assignment)) \
                    if a.assignment is not None else hb(mc, group, "a", a.member_epoch)
                assert time.monotonic() < deadline
                time.sleep(0.2)
            d = describe(mc, group)
            assert [m.member_id for m in d.members] == ["a"]

            # "slow" (500 ms rebalance timeout) owns everything; "b" joins; "slow" keeps heartbeating
            # but never gives up the partitions it must revoke: its rebalance timeout fences it.
            group2 = gid()
            s = hb(mc, group2, "slow", 0, subscribed_topic_names=(topic,), rebalance_timeout=500)
            everything = owned(mc, s.assignment)
            assert parts(s.assignment) == {0, 1, 2, 3}
            b = hb(mc, group2, "b", 0, subscribed_topic_names=(topic,))
            start = time.monotonic()
            while True:
                r = hb(mc, group2, "slow", 1, topic_partitions=everything)
                if r.error_code:
                    break
                assert r.member_epoch == 1 and len(parts(r.assignment or s.assignment)) <= 4
                assert time.monotonic() - start < 1.4, "not fenced within its rebalance timeout"
                time.sleep(0.05)
            assert r.error_code == UNKNOWN_MEMBER_ID
            b = hb(mc, group2, "b", b.member_epoch, topic_partitions=())
            assert parts(b.assignment) == {0, 1, 2, 3}
    finally:
        h.stop()
        if "Traceback" in h.log():
            sys.stderr.write(h.log())


def test_delete_groups_and_offset_delete_on_consumer_groups(mc: MiniClient, topic: str) -> None:
    group = gid()
    r = hb(mc, group, "m", 0, subscribed_topic_names=(topic,))
    assert _commit(mc, 9, group, "m", r.member_epoch, topic, 3) == 0
    assert mc.request(42, 2, groups_names=(group,)).results[0].error_code == 68          # NON_EMPTY_GROUP
    t = MiniClient.cls(47, 0, "OffsetDeleteRequestTopic")
    p = MiniClient.cls(47, 0, "OffsetDeleteRequestPartition")
    od = mc.request(47, 0, group_id=group, topics=(t(name=topic, partitions=(p(partition_index=0),)),))
    assert od.topics[0].partitions[0].error_code == 86                                    # GROUP_SUBSCRIBED_TO_TOPIC
    assert hb(mc, group, "m", -1).error_code == 0
    assert mc.request(42, 2, groups_names=(group,)).results[0].error_code == 0
    assert describe(mc, group).error_code == GROUP_ID_NOT_FOUND
    assert _fetch(mc, group, topic, None, -1) == (0, -1)


def test_assignors_setting_is_a_list_config(mc: MiniClient, server: ServerHandle, topic: str) -> None:
    """group.consumer.assignors is a LIST broker config: SUBTRACT/APPEND (IncrementalAlterConfigs)
    change which assignors heartbeats may name; unknown names are INVALID_CONFIG."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{server.kafka_port}"})
    broker = ConfigResource("BROKER", "0")

    def alter(op: AlterConfigOpType, value: str) -> None:
        entry = ConfigEntry("group.consumer.assignors", value, incremental_operation=op)
        for fut in admin.incremental_alter_configs([ConfigResource("BROKER", "0", incremental_configs=[entry])]
                                                   ).values():
            fut.result(10)

    assert admin.describe_configs([broker])[broker].result(10)["group.consumer.assignors"].value == "uniform,range"
    try:
        alter(AlterConfigOpType.SUBTRACT, "uniform")
        r = hb(mc, gid(), "m", 0, subscribed_topic_names=(topic,), server_assignor="uniform")
        assert (r.error_code, r.error_message) == (UNSUPPORTED_ASSIGNOR,
                                                   "ServerAssignor uniform is not supported. Supported assignors: range.")
        assert describe(mc, gid()).error_code == GROUP_ID_NOT_FOUND
        group = gid()
        assert hb(mc, group, "m", 0, subscribed_topic_names=(topic,)).error_code == 0
        assert describe(mc, group).assignor_name == "range"                 # the first one is the default
        with pytest.raises(KafkaException, match="INVALID_CONFIG"):
            alter(AlterConfigOpType.APPEND, "sticky")
    finally:
        alter(AlterConfigOpType.SET, "uniform,range")
