"""`__consumer_offsets` under the log cleaner: many commits of the same keys, small segments
(`offsets.topic.segment.bytes`), tombstones of deleted groups; the topic shrinks and the
coordinator reloads exactly the latest state after a restart and after `kill -9`."""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator

import pytest

from keystream.kafka.groups import records as rec
from keystream.kafka.groups.client import MiniClient
from tests.conftest import ServerHandle, start_keystream, wait_until

ARGS = ("--group.initial.rebalance.delay.ms", "0", "--offsets.topic.num.partitions", "1",
        "--offsets.topic.segment.bytes", "16384", "--log.cleaner.backoff.ms", "50",
        "--log.cleaner.delete.retention.ms", "0")
COORDINATOR_LOAD_IN_PROGRESS = 14


@pytest.fixture
def data_dir() -> Iterator[str]:
    import tempfile
    d = tempfile.mkdtemp(prefix="ks-a5-compact-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def offsets_dir(data_dir: str) -> str:
    return os.path.join(data_dir, "kafka", "__consumer_offsets-0")


def log_bytes(data_dir: str) -> int:
    d = offsets_dir(data_dir)
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".log"))


def stored_keys(data_dir: str) -> list[bytes]:
    """Every record key of __consumer_offsets-0 in log order, read from the segment files."""
    d = offsets_dir(data_dir)
    keys: list[bytes] = []
    for name in sorted(f for f in os.listdir(d) if f.endswith(".log")):
        with open(os.path.join(d, name), "rb") as f:
            keys += [k for _o, k, _v in rec.iter_records(memoryview(f.read())) if k is not None]
    return keys


def create_topic(mc: MiniClient, partitions: int) -> str:
    name = "ct-" + uuid.uuid4().hex[:8]
    t = MiniClient.cls(19, 5, "CreatableTopic")
    r = mc.request(19, 5, topics=(t(name=name, num_partitions=partitions, replication_factor=1, assignments=(),
                                     configs=()),), timeout=10000, validate_only=False)
    assert r.topics[0].error_code == 0
    return name


def commit(mc: MiniClient, group: str, topic: str, offsets: dict[int, int]) -> None:
    p = MiniClient.cls(8, 8, "OffsetCommitRequestPartition")
    t = MiniClient.cls(8, 8, "OffsetCommitRequestTopic")
    parts = tuple(p(partition_index=i, committed_offset=o, committed_leader_epoch=1, committed_metadata=f"m{o}")
                  for i, o in offsets.items())
    r = mc.request(8, 8, group_id=group, generation_id_or_member_epoch=-1, member_id="", group_instance_id=None,
                   topics=(t(name=topic, partitions=parts),))
    assert all(x.error_code == 0 for x in r.topics[0].partitions)


def fetch(mc: MiniClient, group: str) -> dict[tuple[str, int], tuple[int, str]]:
    """The group's committed offsets; retried while the coordinator loads."""
    g = MiniClient.cls(9, 8, "OffsetFetchRequestGroup")
    deadline = time.monotonic() + 30
    while True:
        r = mc.request(9, 8, groups=(g(group_id=group, topics=None),), require_stable=False).groups[0]
        if r.error_code != COORDINATOR_LOAD_IN_PROGRESS:
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert r.error_code == 0
    return {(t.name, p.partition_index): (p.committed_offset, p.metadata) for t in r.topics for p in t.partitions}


def join_and_leave(mc: MiniClient, group: str, topic: str) -> int:
    """One member joins (generation bump, group record), syncs, leaves: the group is Empty."""
    proto = MiniClient.cls(11, 9, "JoinGroupRequestProtocol")
    sub = b"\x00\x00\x00\x00\x00\x01" + len(topic).to_bytes(2, "big") + topic.encode() + b"\xff\xff\xff\xff"
    kw = {"group_id": group, "session_timeout": 10000, "rebalance_timeout": 10000, "group_instance_id": None,
          "protocol_type": "consumer", "protocols": (proto(name="range", metadata=sub),), "reason": None}
    r = mc.request(11, 9, member_id="", **kw)
    r = mc.request(11, 9, member_id=r.member_id, **kw)
    assert r.error_code == 0
    a = MiniClient.cls(14, 5, "SyncGroupRequestAssignment")
    s = mc.request(14, 5, group_id=group, generation_id=r.generation_id, member_id=r.member_id,
                   group_instance_id=None, protocol_type="consumer", protocol_name="range",
                   assignments=(a(member_id=r.member_id, assignment=b"x"),))
    assert s.error_code == 0
    lm = MiniClient.cls(13, 5, "MemberIdentity")
    assert mc.request(13, 5, group_id=group, members=(lm(member_id=r.member_id, group_instance_id=None,
                                                          reason=None),)).members[0].error_code == 0
    return r.generation_id


def log_end(mc: MiniClient) -> int:
    p = MiniClient.cls(2, 7, "ListOffsetsPartition")
    t = MiniClient.cls(2, 7, "ListOffsetsTopic")
    r = mc.request(2, 7, replica_id=-1, isolation_level=0,
                   topics=(t(name="__consumer_offsets", partitions=(p(partition_index=0, timestamp=-1),)),))
    return r.topics[0].partitions[0].offset


def describe(mc: MiniClient, group: str) -> tuple[str, str]:
    d = mc.request(15, 5, groups=(group,), include_authorized_operations=False).groups[0]
    return d.group_state, d.protocol_type


def test_offsets_topic_is_compacted_and_reloads(data_dir: str) -> None:
    h: ServerHandle = start_keystream(*ARGS, kafka=True, data_dir=data_dir)
    try:
        with MiniClient("127.0.0.1", h.kafka_port) as mc:
            topic = create_topic(mc, 4)
            keep, gone, member_group = "keep-" + topic, "gone-" + topic, "cg-" + topic
            for gen in range(3):
                join_and_leave(mc, member_group, topic)
                commit(mc, member_group, topic, {0: gen})
            for i in range(600):
                commit(mc, keep, topic, {p: i * 10 + p for p in range(4)})
                if i < 300:
                    commit(mc, gone, topic, {0: i})
            dr = mc.request(42, 2, groups_names=(gone,)).results[0]
            assert dr.error_code == 0
            # a few more commits so that the tombstones leave the active segment
            for i in range(600, 700):
                commit(mc, keep, topic, {p: i * 10 + p for p in range(4)})
                if i % 2:
                    # a batch of this group keeps its first three records: compaction removes
                    # the last record of a batch and keeps the batch's last offset
                    tail = f"tail{i}-{topic}"
                    commit(mc, tail, topic, {p: p for p in range(4)})
                    commit(mc, tail, topic, {3: 33})
            expected = {(topic, p): (699 * 10 + p, f"m{699 * 10 + p}") for p in range(4)}
            tails = [f"tail{i}-{topic}" for i in range(601, 700, 2)]
            tail_offsets = {(topic, 0): (0, "m0"), (topic, 1): (1, "m1"), (topic, 2): (2, "m2"), (topic, 3): (33, "m33")}

            gone_keys = {rec.encode_group_key(gone), rec.encode_offset_key(gone, topic, 0)}
            written = log_end(mc)
            assert written > 3000
            # each record is > 50 bytes: uncompacted, the segments would hold > 150 kB
            wait_until(lambda: log_bytes(data_dir) < 40_000, timeout=30, what="__consumer_offsets to shrink")
            # the delete horizon is 0 ms: the second pass drops the tombstones themselves
            wait_until(lambda: not gone_keys & set(stored_keys(data_dir)[:-200]), timeout=30,
                       what="tombstones of the deleted group to be cleaned away")
            keys = stored_keys(data_dir)
            keep_key = rec.encode_offset_key(keep, topic, 0)
            assert keys.count(keep_key) < 100          # 700 commits of it were written
            assert fetch(mc, keep) == expected
        assert h.stop() == 0

        for how, generation in (("restart", 7), ("kill -9", 9)):
            h = start_keystream(*ARGS, kafka=True, data_dir=data_dir)
            with MiniClient("127.0.0.1", h.kafka_port) as mc:
                assert fetch(mc, keep) == expected, how
                assert fetch(mc, gone) == {}, how
                assert all(fetch(mc, t) == tail_offsets for t in tails), how
                assert fetch(mc, member_group) == {(topic, 0): (2, "m2")}, how
                assert describe(mc, member_group) == ("Empty", "consumer"), how
                assert describe(mc, gone)[0] == "Dead", how
                listed = {g.group_id for g in mc.request(16, 4, states_filter=()).groups}
                assert {keep, member_group} <= listed and gone not in listed, how
                assert join_and_leave(mc, member_group, topic) == generation, how   # 1..6 were stored before
            if how == "restart":
                assert h.stop() == 0
            else:
                h.stop(signal.SIGKILL)
    finally:
        h.stop()
