"""Rebalance mechanics at the protocol level, one connection per member (JoinGroup blocks):
the rebalance timeout drops members that do not rejoin, session expiry, protocol selection
among the members' assignors, `group.initial.rebalance.delay.ms`, every group state as
DescribeGroups reports it, a tiny offset retention, and COORDINATOR_LOAD_IN_PROGRESS."""

from __future__ import annotations

import shutil
import socket
import struct
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from keystream.config import Config
from keystream.kafka.groups import records as rec
from keystream.kafka.groups.client import MiniClient
from keystream.kafka.groups.records import java_string_hash
from keystream.log.manager import LogManager
from tests.conftest import ServerHandle, _serve, start_keystream, wait_until

REBALANCE_IN_PROGRESS, UNKNOWN_MEMBER_ID, INCONSISTENT_GROUP_PROTOCOL = 27, 25, 23
COORDINATOR_LOAD_IN_PROGRESS = 14


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    h = start_keystream("--group.initial.rebalance.delay.ms", "300", "--group.min.session.timeout.ms", "500",
                        "--offsets.topic.num.partitions", "4", "--offsets.retention.check.interval.ms", "100",
                        kafka=True)
    wait_until(lambda: _listening(h.kafka_port), what="the Kafka listener")
    yield from _serve(h)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(8) as p:
        yield p


class Member:
    def __init__(self, server: ServerHandle, group: str, protocols: tuple[str, ...] = ("range",),
                 session: int = 10000, rebalance: int = 10000) -> None:
        self.client = MiniClient("127.0.0.1", server.kafka_port, client_id="m-" + uuid.uuid4().hex[:4])
        self.group = group
        self.protocols = protocols
        self.session = session
        self.rebalance = rebalance
        self.member_id = ""
        self.generation = -1

    def join(self) -> object:
        """JoinGroup v5, with its MEMBER_ID_REQUIRED round trip."""
        proto = MiniClient.cls(11, 5, "JoinGroupRequestProtocol")
        sub = struct.pack(">hi", 0, 1) + struct.pack(">h", 1) + b"x" + struct.pack(">i", -1)
        for _ in range(2):
            r = self.client.request(11, 5, group_id=self.group, session_timeout=self.session,
                                    rebalance_timeout=self.rebalance, member_id=self.member_id,
                                    group_instance_id=None, protocol_type="consumer",
                                    protocols=tuple(proto(name=n, metadata=sub) for n in self.protocols))
            self.member_id = r.member_id
            if r.error_code != 79:
                break
        self.generation = r.generation_id
        return r

    def sync(self, assignments: dict[str, bytes] | None = None) -> object:
        a = MiniClient.cls(14, 5, "SyncGroupRequestAssignment")
        return self.client.request(14, 5, group_id=self.group, generation_id=self.generation,
                                   member_id=self.member_id, group_instance_id=None, protocol_type="consumer",
                                   protocol_name=None,
                                   assignments=tuple(a(member_id=m, assignment=v) for m, v in (assignments or {}).items()))

    def heartbeat(self) -> int:
        return self.client.request(12, 4, group_id=self.group, generation_id=self.generation,
                                   member_id=self.member_id, group_instance_id=None).error_code

    def close(self) -> None:
        self.client.close()


def state(server: ServerHandle, group: str) -> tuple[str, str, int]:
    with MiniClient("127.0.0.1", server.kafka_port) as c:
        d = c.request(15, 5, groups=(group,), include_authorized_operations=False).groups[0]
        return d.group_state, d.protocol_data, len(d.members)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def gid() -> str:
    return "rg-" + uuid.uuid4().hex[:8]


def test_states_and_rebalance_timeout_drop_a_member_that_does_not_rejoin(
        server: ServerHandle, pool: ThreadPoolExecutor) -> None:
    group = gid()
    a = Member(server, group, session=60000, rebalance=1500)
    b = Member(server, group, session=60000, rebalance=1500)
    try:
        assert state(server, group)[0] == "Dead"                        # never seen
        r = a.join()
        assert r.error_code == 0 and r.leader == a.member_id             # type: ignore[attr-defined]
        assert state(server, group) == ("CompletingRebalance", "", 1)    # joined, not synced
        assert a.sync({a.member_id: b"A"}).error_code == 0               # type: ignore[attr-defined]
        assert state(server, group) == ("Stable", "range", 1)
        started = time.monotonic()
        fb: Future = pool.submit(b.join)
        wait_until(lambda: state(server, group)[0] == "PreparingRebalance", what="PreparingRebalance")
        # a never rejoins (and stops heart-beating): after the rebalance timeout it is dropped
        rb = fb.result(60)
        elapsed = time.monotonic() - started
        assert 1.3 < elapsed < 30, elapsed                           # the 1.5 s rebalance timeout, not the 60 s session
        assert rb.error_code == 0 and rb.leader == b.member_id and rb.generation_id == 2
        assert [m.member_id for m in rb.members] == [b.member_id]
        assert a.heartbeat() == UNKNOWN_MEMBER_ID
        assert b.sync({b.member_id: b"B"}).error_code == 0               # type: ignore[attr-defined]
        assert state(server, group) == ("Stable", "range", 1)
        lm = MiniClient.cls(13, 5, "MemberIdentity")
        assert b.client.request(13, 5, group_id=group, members=(lm(member_id=b.member_id, group_instance_id=None,
                                                                   reason=None),)).error_code == 0
        assert state(server, group) == ("Empty", "", 0)
        assert b.client.request(42, 2, groups_names=(group,)).results[0].error_code == 0
        assert state(server, group) == ("Dead", "", 0)
    finally:
        a.close()
        b.close()


def test_session_expiry_removes_a_silent_member(server: ServerHandle, pool: ThreadPoolExecutor) -> None:
    group = gid()
    a = Member(server, group, session=800)
    b = Member(server, group, session=800)
    try:
        fa, fb = pool.submit(a.join), pool.submit(b.join)
        ra, rb = fa.result(10), fb.result(10)
        assert ra.generation_id == rb.generation_id and ra.leader == rb.leader in {a.member_id, b.member_id}
        leader, follower = (a, b) if ra.leader == a.member_id else (b, a)
        ff = pool.submit(follower.sync)
        assert leader.sync({a.member_id: b"1", b.member_id: b"2"}).error_code == 0   # type: ignore[attr-defined]
        assert ff.result(10).error_code == 0
        gen = leader.generation
        started = time.monotonic()
        # the follower goes silent; the leader heart-beats until told to rejoin
        wait_until(lambda: leader.heartbeat() == REBALANCE_IN_PROGRESS, what="REBALANCE_IN_PROGRESS")
        assert time.monotonic() - started > 0.6
        r = leader.join()
        assert r.error_code == 0 and r.generation_id == gen + 1 and len(r.members) == 1   # type: ignore[attr-defined]
        assert follower.heartbeat() == UNKNOWN_MEMBER_ID
    finally:
        a.close()
        b.close()


def test_protocol_selection_among_assignors(server: ServerHandle, pool: ThreadPoolExecutor) -> None:
    group = gid()
    members = [Member(server, group, ("range", "roundrobin")),
               Member(server, group, ("roundrobin", "range", "sticky")),
               Member(server, group, ("cooperative-sticky", "roundrobin", "range"))]
    try:
        futures = [pool.submit(m.join) for m in members]
        results = [f.result(10) for f in futures]
        # range and roundrobin are supported by all; roundrobin is ranked first by two of three
        assert {r.protocol_name for r in results} == {"roundrobin"}
        odd = Member(server, group, ("sticky",))
        try:
            assert odd.join().error_code == INCONSISTENT_GROUP_PROTOCOL    # type: ignore[attr-defined]
        finally:
            odd.close()
    finally:
        for m in members:
            m.close()
    group = gid()
    members = [Member(server, group, ("cooperative-sticky", "range")), Member(server, group, ("sticky", "range"))]
    try:
        results = [f.result(10) for f in [pool.submit(m.join) for m in members]]
        assert {r.protocol_name for r in results} == {"range"}          # the only common one
    finally:
        for m in members:
            m.close()


def test_initial_rebalance_delay(pool: ThreadPoolExecutor) -> None:
    h = start_keystream("--group.initial.rebalance.delay.ms", "2000", "--offsets.topic.num.partitions", "1",
                        kafka=True)
    try:
        wait_until(lambda: _listening(h.kafka_port), what="the Kafka listener")
        group = gid()
        solo = Member(h, group)
        started = time.monotonic()
        assert solo.join().error_code == 0                         # type: ignore[attr-defined]
        assert time.monotonic() - started > 1.9                     # one delay (upper bounds: see below)
        solo.close()

        group = gid()
        a, b = Member(h, group), Member(h, group)
        started = time.monotonic()
        fa = pool.submit(a.join)
        wait_until(lambda: state(h, group)[0] == "PreparingRebalance", what="PreparingRebalance")
        fb = pool.submit(b.join)              # b arrives within the first delay: the delay is extended
        ra, rb = fa.result(30), fb.result(30)
        elapsed = time.monotonic() - started
        assert elapsed > 3.9, elapsed                               # two delays
        # one rebalance with both (an upper time bound would not hold on a loaded machine; had b
        # come after the delay, a would have had generation 1 alone and b a second rebalance)
        assert ra.generation_id == rb.generation_id == 1
        assert len(ra.members if ra.leader == a.member_id else rb.members) == 2
        a.close()
        b.close()
    finally:
        h.stop()
        shutil.rmtree(h.data_dir, ignore_errors=True)


def test_tiny_retention_expires_offsets_of_an_empty_group(server: ServerHandle) -> None:
    topic = "rt-" + uuid.uuid4().hex[:8]
    group = gid()
    with MiniClient("127.0.0.1", server.kafka_port) as c:
        t = MiniClient.cls(19, 5, "CreatableTopic")
        assert c.request(19, 5, topics=(t(name=topic, num_partitions=1, replication_factor=1, assignments=(),
                                          configs=()),), timeout=10000, validate_only=False).topics[0].error_code == 0
        p = MiniClient.cls(8, 2, "OffsetCommitRequestPartition")
        tt = MiniClient.cls(8, 2, "OffsetCommitRequestTopic")
        r = c.request(8, 2, group_id=group, generation_id_or_member_epoch=-1, member_id="", retention_time=300,
                      topics=(tt(name=topic, partitions=(p(partition_index=0, committed_offset=7,
                                                           committed_metadata=""),)),))
        assert r.topics[0].partitions[0].error_code == 0
        ft = MiniClient.cls(9, 1, "OffsetFetchRequestTopic")

        def committed() -> int:
            resp = c.request(9, 5, group_id=group, topics=(ft(name=topic, partition_indexes=(0,)),))
            return resp.topics[0].partitions[0].committed_offset

        assert committed() == 7
        wait_until(lambda: committed() == -1, timeout=10, what="the offset to expire")
        assert group not in {g.group_id for g in c.request(16, 4, states_filter=()).groups}


# Runs `keystream serve` with the loading of each __consumer_offsets partition held until a file exists.
_GATED_LOAD = r"""
import asyncio, os, sys
from keystream.kafka.groups.coordinator import GroupCoordinator
_gate = sys.argv.pop(1)
_real = GroupCoordinator._load_partition
async def _gated(self, partition):
    while not os.path.exists(_gate):
        await asyncio.sleep(0.01)
    await _real(self, partition)
GroupCoordinator._load_partition = _gated
sys.argv = ["keystream", *sys.argv[1:]]
from keystream.cli import main
main()
"""


def test_coordinator_load_in_progress_while_offsets_load(tmp_path: Path) -> None:
    """While __consumer_offsets loads (partition 0 first, held back here by a gate file so that no
    timing is involved), a group of partition 1 answers COORDINATOR_LOAD_IN_PROGRESS; once loaded,
    its committed offsets, and those of the 40 000 commit records of partition 0."""
    heavy = next(g for g in (f"heavy{i}" for i in range(100)) if abs(java_string_hash(g)) % 2 == 0)
    probe = next(g for g in (f"probe{i}" for i in range(100)) if abs(java_string_hash(g)) % 2 == 1)
    config = Config()
    logs = LogManager(str(tmp_path), config)
    logs.load()
    logs.create_topic("t", 200, {})
    logs.create_topic("__consumer_offsets", 2, {"cleanup.policy": "compact"})
    now = int(time.time() * 1000)
    for n in range(200):
        batch = [(rec.encode_offset_key(heavy, "t", i), rec.encode_offset_value(rec.OffsetRecord(n, -1, "m" * 50, now)))
                 for i in range(200)]
        logs.partition("__consumer_offsets", 0).append(rec.build_batch(batch, now), now)   # type: ignore[union-attr]
    probe_batch = [(rec.encode_offset_key(probe, "t", 0), rec.encode_offset_value(rec.OffsetRecord(5, -1, "", now)))]
    logs.partition("__consumer_offsets", 1).append(rec.build_batch(probe_batch, now), now)  # type: ignore[union-attr]
    logs.close()

    gate = tmp_path / "load-gate"
    h = start_keystream("--offsets.topic.num.partitions", "2", kafka=True, data_dir=str(tmp_path),
                        launcher=[sys.executable, "-c", _GATED_LOAD, str(gate)])
    try:
        wait_until(lambda: _listening(h.kafka_port), what="the Kafka listener")
        seen: list[int] = []
        g = MiniClient.cls(9, 8, "OffsetFetchRequestGroup")
        with MiniClient("127.0.0.1", h.kafka_port) as c:
            deadline = time.monotonic() + 60
            while True:
                r = c.request(9, 8, groups=(g(group_id=probe, topics=None),), require_stable=False).groups[0]
                seen.append(r.error_code)
                if r.error_code != COORDINATOR_LOAD_IN_PROGRESS:
                    break
                assert time.monotonic() < deadline
                if len(seen) == 3:
                    gate.touch()   # three answers while loading: now let the load go on
                time.sleep(0.01)
            assert r.error_code == 0
            assert [(p.partition_index, p.committed_offset) for t in r.topics for p in t.partitions] == [(0, 5)]
            assert seen[:3] == [COORDINATOR_LOAD_IN_PROGRESS] * 3
            r = c.request(9, 8, groups=(g(group_id=heavy, topics=None),), require_stable=False).groups[0]
            assert {p.committed_offset for t in r.topics for p in t.partitions} == {199}
    finally:
        h.stop()


def test_a_group_being_joined_is_not_expired(server: ServerHandle) -> None:
    """Between a member's two JoinGroups (MEMBER_ID_REQUIRED) its group is Empty with no offsets:
    the expiry check (every 100 ms here) must not remove it, or the rejoin gets UNKNOWN_MEMBER_ID."""
    group = gid()
    m = Member(server, group)
    try:
        proto = MiniClient.cls(11, 5, "JoinGroupRequestProtocol")
        first = m.client.request(11, 5, group_id=group, session_timeout=10000, rebalance_timeout=10000,
                                 member_id="", group_instance_id=None, protocol_type="consumer",
                                 protocols=(proto(name="range", metadata=b""),))
        assert first.error_code == 79                                     # MEMBER_ID_REQUIRED
        deadline = time.monotonic() + 0.5                                 # five expiry checks
        while time.monotonic() < deadline:
            assert state(server, group)[0] == "Empty"
            time.sleep(0.05)
        m.member_id = first.member_id
        r = m.join()
        assert r.error_code == 0 and r.member_id == first.member_id   # type: ignore[attr-defined]
    finally:
        m.close()
