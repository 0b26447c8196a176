"""The group coordinator: Kafka's classic consumer-group protocol and the committed-offsets store.

Design notes (follow Kafka's GroupCoordinator; read this before changing anything):

- One coordinator per node; single node, so it coordinates every group. Everything runs on
  the event loop: a JoinGroup or SyncGroup that must wait returns a Future that the state
  machine resolves later (the connection keeps responses in order).
- States: Empty -> PreparingRebalance -> CompletingRebalance -> Stable (and back), Dead once
  deleted or unloaded. A rebalance starts when a member joins, leaves, changes protocols, the
  leader rejoins, or a member's session expires. It completes when every known member has
  rejoined (and no MEMBER_ID_REQUIRED member is pending), or when the rebalance timeout (the
  largest of the members' timeouts) fires, which drops the dynamic members that did not rejoin.
  A group leaving Empty waits `group.initial.rebalance.delay.ms` first (extended while new
  members keep arriving, up to the rebalance timeout), as Kafka's InitialDelayedJoin.
- Join completion bumps the generation, picks the protocol every member supports that most
  members rank first, sends the leader every member's metadata and the followers nothing,
  then waits for SyncGroup from all of them within the rebalance timeout (members that never
  sync are removed and the group rebalances). The leader's SyncGroup carries the assignment.
- Timers: each member has one `call_later` handle; a heartbeat only stamps `last_heartbeat_ms`
  and the timer re-arms itself for what is left when it fires (cheap on the commit path).
  New members in their first join get five minutes (Kafka's NewMemberJoinTimeoutMs); members
  parked in a JoinGroup or SyncGroup are kept alive, as Kafka does.
- Static membership: a `group.instance.id` maps to its current member id; a rejoin with that
  instance id replaces the old member id (fencing it: FENCED_INSTANCE_ID) and, in Stable with
  unchanged protocols, returns the current generation without a rebalance.
- Storage: group metadata (after each completed sync and each generation bump) and offsets are
  records in `__consumer_offsets` (see records.py), partition = abs(java hash(group)) % the
  topic's partition count; appended with `os.write` before the reply (survives kill -9 of the
  broker); fsync follows the log flush policy (`flush.messages`/`flush.ms` of the topic, or
  the broker's `log.flush.interval.*`), as in Kafka. Deletes write tombstones. At start-up
  each partition is replayed in a background task; until its partition is loaded a group
  answers COORDINATOR_LOAD_IN_PROGRESS.
- Expiry every `offsets.retention.check.interval.ms`: offsets of an Empty group expire
  `offsets.retention.minutes` after the group became empty; a standalone committer's
  (no protocol type) after their commit; a Stable consumer group's offsets of topics it no
  longer subscribes to after their commit. An Empty group with no offsets left becomes Dead.

KIP-848 consumer groups are `Group`s whose `consumer` is set (consumer_group.py): classic
JoinGroup/SyncGroup/Heartbeat/LeaveGroup to one with members are served there (its classic
members, during an online migration); `become_consumer_group` and `become_classic_group` switch
a group's type (the upgrade and the downgrade).

Transactional offsets (TxnOffsetCommit, see `txn_commit_offsets`): appended at once as a
transactional batch (the producer's id and epoch) and kept per group as pending offsets of
that producer; the transaction coordinator's marker in the group's partition applies them
(commit) or drops them (abort) through `complete_txn_offsets`. The load replays the same:
transactional records wait for their marker. OffsetFetch with require_stable reports
UNSTABLE_OFFSET_COMMIT for a partition with pending offsets.

`__consumer_offsets` is compacted by the log cleaner (segment size `offsets.topic.segment.bytes`);
the load steps from batch to batch by their last offset, not by the last record read, since a
compacted batch may have lost its last records.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import struct
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keystream.kafka.errors import ErrorCode, error_for
from keystream.kafka.groups import consumer_records as crec
from keystream.kafka.groups import records as rec
from keystream.kafka.groups.consumer_group import ConsumerGroup, ConsumerGroupCoordinator
from keystream.kafka.groups.consumer_records import protocol_version as rec_version
from keystream.kafka.internal_topic import InternalTopic
from keystream.log.batch import TRANSACTIONAL_BIT
from keystream.log.errors import LogError

if TYPE_CHECKING:
    from keystream.engine import Engine

log = logging.getLogger("keystream.kafka.groups")

__all__ = [
    "OFFSETS_TOPIC",
    "Group",
    "GroupCoordinator",
    "GroupState",
    "JoinResult",
    "Member",
    "SyncResult",
]

OFFSETS_TOPIC = "__consumer_offsets"
NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000
CONSUMER_PROTOCOL = "consumer"


class GroupState(enum.Enum):
    EMPTY = "Empty"
    PREPARING = "PreparingRebalance"
    COMPLETING = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


@dataclass(slots=True)
class JoinResult:
    error: int
    member_id: str = ""
    generation: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader: str = ""
    members: list[tuple[str, str | None, bytes]] = field(default_factory=list)
    skip_assignment: bool = False


@dataclass(slots=True)
class SyncResult:
    error: int
    protocol_type: str | None = None
    protocol_name: str | None = None
    assignment: bytes = b""


class Member:
    __slots__ = ("assignment", "client_host", "client_id", "group_instance_id", "is_new", "join_waiter",
                 "last_heartbeat_ms", "member_id", "protocol_type", "protocols", "rebalance_timeout_ms",
                 "session_timeout_ms", "sync_waiter", "timer", "timer_deadline")

    def __init__(self, member_id: str, group_instance_id: str | None, client_id: str, client_host: str,
                 rebalance_timeout_ms: int, session_timeout_ms: int, protocol_type: str,
                 protocols: list[tuple[str, bytes]]) -> None:
        self.member_id = member_id
        self.group_instance_id = group_instance_id
        self.client_id = client_id
        self.client_host = client_host
        self.rebalance_timeout_ms = rebalance_timeout_ms
        self.session_timeout_ms = session_timeout_ms
        self.protocol_type = protocol_type
        self.protocols = protocols
        self.assignment = b""
        self.join_waiter: asyncio.Future[JoinResult] | None = None
        self.sync_waiter: asyncio.Future[SyncResult] | None = None
        self.is_new = False
        self.last_heartbeat_ms = 0
        self.timer: asyncio.TimerHandle | None = None
        self.timer_deadline = 0

    def metadata(self, protocol: str | None) -> bytes:
        for name, meta in self.protocols:
            if name == protocol:
                return meta
        return b""

    def vote(self, candidates: set[str]) -> str:
        for name, _meta in self.protocols:
            if name in candidates:
                return name
        raise ValueError("member supports no candidate protocol")


class Group:
    def __init__(self, group_id: str, partition: int, now_ms: int) -> None:
        self.group_id = group_id
        self.partition = partition
        self.state = GroupState.EMPTY
        self.state_timestamp = now_ms
        self.protocol_type: str | None = None
        self.protocol_name: str | None = None
        self.generation = 0
        self.leader: str | None = None
        self.members: dict[str, Member] = {}
        self.static_members: dict[str, str] = {}          # group.instance.id -> member id
        self.pending_members: dict[str, asyncio.TimerHandle | None] = {}   # MEMBER_ID_REQUIRED issued
        self.pending_sync: set[str] = set()
        self.new_member_added = False
        self.initial_delay = False        # the join timer is group.initial.rebalance.delay.ms's
        self.join_timer: asyncio.TimerHandle | None = None
        self.sync_timer: asyncio.TimerHandle | None = None
        self.offsets: dict[tuple[str, int], rec.OffsetRecord] = {}
        self.pending_txn: dict[int, dict[tuple[str, int], rec.OffsetRecord]] = {}   # producer id -> offsets
        self.subscribed: set[str] | None = None
        self.consumer: ConsumerGroup | None = None     # set when this is a KIP-848 consumer group

    def group_type(self) -> str:
        return "consumer" if self.consumer is not None else "classic"

    def state_name(self) -> str:
        return self.consumer.state_name() if self.consumer is not None else self.state.value

    # -- views ------------------------------------------------------------------------------
    def is_(self, *states: GroupState) -> bool:
        return self.state in states

    def transition(self, state: GroupState, now_ms: int) -> None:
        self.state = state
        self.state_timestamp = now_ms

    def all_joined(self) -> bool:
        return not self.pending_members and all(m.join_waiter is not None for m in self.members.values())

    def rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    def candidate_protocols(self) -> set[str]:
        members = list(self.members.values())
        if not members:
            return set()
        common = {name for name, _ in members[0].protocols}
        for m in members[1:]:
            common &= {name for name, _ in m.protocols}
        return common

    def supports(self, protocol_type: str, protocols: list[tuple[str, bytes]]) -> bool:
        if self.state is GroupState.EMPTY and not self.members:
            return bool(protocol_type) and bool(protocols)
        if protocol_type != self.protocol_type:
            return False
        if not self.members:
            return bool(protocols)
        names = {n for n, _ in protocols}
        return bool(names & self.candidate_protocols())

    def select_protocol(self) -> str:
        candidates = self.candidate_protocols()
        votes: dict[str, int] = {}
        for m in self.members.values():
            choice = m.vote(candidates)
            votes[choice] = votes.get(choice, 0) + 1
        return max(votes, key=lambda k: votes[k])

    def static_fenced(self, member_id: str, instance_id: str | None) -> bool:
        if instance_id is None:
            return False
        current = self.static_members.get(instance_id)
        return current is not None and current != member_id

    def compute_subscription(self) -> set[str] | None:
        if self.protocol_type != CONSUMER_PROTOCOL:
            return None
        topics: set[str] = set()
        for m in self.members.values():
            parsed = parse_subscription(m.metadata(self.protocol_name))
            if parsed is None:
                return None
            topics |= parsed
        return topics


def parse_subscription(meta: bytes) -> set[str] | None:
    """The topics of a ConsumerProtocolSubscription (any version); None if it does not parse."""
    try:
        (count,) = struct.unpack_from(">i", meta, 2)
        pos = 6
        out = set()
        for _ in range(count):
            (n,) = struct.unpack_from(">h", meta, pos)
            pos += 2
            out.add(meta[pos:pos + n].decode())
            pos += n
        return out
    except (struct.error, UnicodeDecodeError):
        return None


class GroupCoordinator:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.config = engine.config
        self.groups: dict[str, Group] = {}
        self.loading: set[int] = set()
        self._load_task: asyncio.Task[None] | None = None
        self._expiry_timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.consumer = ConsumerGroupCoordinator(self)
        self.topic = InternalTopic(engine, OFFSETS_TOPIC, "offsets.topic.num.partitions", "offsets.topic.segment.bytes")

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        meta = self.engine.logs.topics.get(OFFSETS_TOPIC)
        if meta is not None:
            self.loading = set(range(meta.num_partitions))
            self._load_task = self._loop.create_task(self._load_all(meta.num_partitions))
        self._schedule_expiry()

    async def stop(self) -> None:
        if self._load_task is not None:
            self._load_task.cancel()
        if self._expiry_timer is not None:
            self._expiry_timer.cancel()
        for group in self.groups.values():
            self._cancel_group_timers(group)
            self.consumer.stop(group)

    def now_ms(self) -> int:
        return self.engine.now_ms()

    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    def new_group(self, group_id: str) -> Group:
        """A group object for `group_id`, not registered yet."""
        return Group(group_id, self.partition_for(group_id), self.now_ms())

    def become_consumer_group(self, group: Group, cg: ConsumerGroup) -> None:
        """Register `group` as the consumer group `cg` (new, or converted from a classic group, whose
        members are now `cg`'s: their parked JoinGroup/SyncGroup get REBALANCE_IN_PROGRESS)."""
        self._cancel_group_timers(group)
        for m in group.members.values():
            self._resolve_join(m, JoinResult(ErrorCode.rebalance_in_progress, m.member_id))
            self._resolve_sync(m, SyncResult(ErrorCode.rebalance_in_progress))
        group.members.clear()
        group.static_members.clear()
        group.pending_members.clear()
        group.pending_sync.clear()
        group.consumer = cg
        group.protocol_type = CONSUMER_PROTOCOL
        group.protocol_name = group.leader = None
        group.generation = 0
        group.state = GroupState.EMPTY
        self.groups[group.group_id] = group

    def become_classic_group(self, group: Group, generation: int,
                             staying: list[tuple[str, str | None, str, str, int, int, list[tuple[str, bytes]],
                                                 dict[str, frozenset[int]]]],
                             tombstones: list[tuple[bytes, bytes | None]], rebalance: bool = True) -> None:
        """The online downgrade (ClassicGroup.fromConsumerGroup): a Stable classic group at `generation`
        whose members are `staying` (member id, instance id, client id, host, rebalance and session
        timeouts, protocols, target partitions by topic), stored with the consumer group's tombstones
        in one batch, then (with `rebalance`) rebalanced so that every member rejoins. LogError if the
        batch fails."""
        members = [Member(mid, iid, cid, host, rebalance_ms, session_ms, CONSUMER_PROTOCOL, protocols)
                   for mid, iid, cid, host, rebalance_ms, session_ms, protocols, _t in staying]
        probe = Group(group.group_id, group.partition, self.now_ms())
        for m in members:
            self._add_member(probe, m)
        protocol = probe.select_protocol()
        for m, entry in zip(members, staying, strict=True):
            try:
                version = rec_version(m.metadata(protocol))
            except struct.error:
                version = 0
            m.assignment = crec.encode_assignment(entry[7], version)
        now = self.now_ms()
        value = rec.GroupRecord(CONSUMER_PROTOCOL, generation, protocol, probe.leader, now,
                                [rec.MemberRecord(m.member_id, m.group_instance_id, m.client_id, m.client_host,
                                                  m.rebalance_timeout_ms, m.session_timeout_ms,
                                                  m.metadata(protocol), m.assignment) for m in members])
        self._append(group.partition, tombstones + [(rec.encode_group_key(group.group_id),
                                                     rec.encode_group_value(value))])
        group.consumer = None
        group.protocol_type = CONSUMER_PROTOCOL
        group.protocol_name = protocol
        group.generation = generation
        group.leader = probe.leader
        group.members = probe.members
        group.static_members = probe.static_members
        group.transition(GroupState.STABLE, now)
        group.subscribed = group.compute_subscription()
        for m in members:
            self._heartbeat(group, m, now)
        if rebalance:
            self._prepare_rebalance(group)

    def _to_classic(self, group: Group) -> None:
        """An empty consumer group becomes a classic group (a classic JoinGroup arrived)."""
        assert group.consumer is not None
        self._append(group.partition, self.consumer.delete_records(group.consumer))
        group.consumer = None
        group.protocol_type = None
        group.subscribed = None

    # -- partitions and the offsets topic --------------------------------------------------
    def num_partitions(self) -> int:
        return self.topic.num_partitions()

    def partition_for(self, group_id: str) -> int:
        return self.topic.partition_for(group_id)

    def ensure_topic(self) -> None:
        self.topic.ensure()

    def _append(self, partition: int, records: list[tuple[bytes, bytes | None]]) -> None:
        if not records:
            return
        now = self.now_ms()
        self.topic.partition_log(partition).append(rec.build_batch(records, now), now)
        self.engine.notify_append(OFFSETS_TOPIC, partition)

    def coordinator_error(self, group_id: str) -> int:
        """COORDINATOR_LOAD_IN_PROGRESS while the group's partition loads, else 0."""
        if self.loading and self.partition_for(group_id) in self.loading:
            return ErrorCode.coordinator_load_in_progress
        return 0

    # -- loading ---------------------------------------------------------------------------
    async def _load_all(self, count: int) -> None:
        for p in range(count):
            try:
                await self._load_partition(p)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("loading %s-%d failed", OFFSETS_TOPIC, p)
            self.loading.discard(p)
        log.info("group coordinator loaded %d groups", len(self.groups))

    async def _load_partition(self, partition: int) -> None:
        offsets: dict[str, dict[tuple[str, int], rec.OffsetRecord]] = {}
        metas: dict[str, rec.GroupRecord | None] = {}
        pending: dict[int, dict[str, dict[tuple[str, int], rec.OffsetRecord]]] = {}   # pid -> group -> offsets
        consumers: dict[str, ConsumerGroup] = {}
        async for pos, chunk in self.topic.replay(partition):
            for offset, key, value, txn_pid, control in rec.iter_batch_records(chunk):
                if offset < pos:
                    continue
                if control >= 0:
                    for gid, offs in pending.pop(txn_pid, {}).items():
                        if control == 1:
                            offsets.setdefault(gid, {}).update(offs)
                    continue
                if key is None:
                    continue
                if txn_pid >= 0:
                    self._replay(key, value, pending.setdefault(txn_pid, {}), {})
                else:
                    self._replay(key, value, offsets, metas, consumers)
        now = self.now_ms()
        open_txn_groups = {gid for by_group in pending.values() for gid in by_group}
        for gid in set(offsets) | set(metas) | set(consumers) | open_txn_groups:
            meta = metas.get(gid)
            offs = offsets.get(gid, {})
            cg = consumers.get(gid)
            if meta is None and not offs and cg is None and gid not in open_txn_groups:
                continue
            group = Group(gid, partition, now)
            group.offsets = offs
            for pid, by_group in pending.items():
                if gid in by_group:
                    group.pending_txn[pid] = by_group[gid]
            if cg is not None:
                self.become_consumer_group(group, cg)
                self.consumer.loaded(group)
            elif meta is not None:
                self._restore(group, meta, now)
            self.groups[gid] = group

    @staticmethod
    def _replay(key: bytes, value: bytes | None, offsets: dict[str, dict[tuple[str, int], rec.OffsetRecord]],
                metas: dict[str, rec.GroupRecord | None], consumers: dict[str, ConsumerGroup] | None = None) -> None:
        """Apply one record to the load's state; KIP-848 group records go to `consumers` (if given)."""
        try:
            k = rec.decode_key(key)
            if k is None:
                ck = crec.decode_key(key)
                if ck is not None and consumers is not None:
                    rtype, gid, second = ck
                    if rtype == crec.GROUP_METADATA and value is None:
                        consumers.pop(gid, None)
                        return
                    cg = consumers.setdefault(gid, ConsumerGroup(gid))
                    cg.replay(rtype, second, None if value is None else crec.decode_value(rtype, value))
                return
            if k[0] == "offset":
                _, gid, topic, part = k  # type: ignore[misc]
                if value is None:
                    offsets.get(gid, {}).pop((topic, part), None)
                else:
                    offsets.setdefault(gid, {})[(topic, part)] = rec.decode_offset_value(value)
            else:
                gid = k[1]
                if value is None:
                    metas[gid] = None
                else:
                    metas[gid] = rec.decode_group_value(value)
        except (ValueError, struct.error, UnicodeDecodeError) as e:
            log.warning("skipping a malformed %s record: %s", OFFSETS_TOPIC, e)

    def _restore(self, group: Group, meta: rec.GroupRecord, now: int) -> None:
        group.protocol_type = meta.protocol_type or None
        group.generation = meta.generation
        group.protocol_name = meta.protocol
        group.leader = meta.leader
        if meta.current_state_timestamp >= 0:
            group.state_timestamp = meta.current_state_timestamp
        for m in meta.members:
            member = Member(m.member_id, m.group_instance_id, m.client_id, m.client_host,
                            m.rebalance_timeout_ms, m.session_timeout_ms, meta.protocol_type,
                            [(meta.protocol or "", m.subscription)])
            member.assignment = m.assignment
            group.members[m.member_id] = member
            if m.group_instance_id is not None:
                group.static_members[m.group_instance_id] = m.member_id
            self._heartbeat(group, member, now)
        if group.members:
            group.state = GroupState.STABLE
            group.subscribed = group.compute_subscription()

    # -- persistence -----------------------------------------------------------------------
    def _store_group(self, group: Group) -> None:
        members = [rec.MemberRecord(m.member_id, m.group_instance_id, m.client_id, m.client_host,
                                    m.rebalance_timeout_ms, m.session_timeout_ms,
                                    m.metadata(group.protocol_name), m.assignment)
                   for m in group.members.values()]
        value = rec.GroupRecord(group.protocol_type or "", group.generation, group.protocol_name, group.leader,
                                group.state_timestamp, members)
        try:
            self._append(group.partition, [(rec.encode_group_key(group.group_id), rec.encode_group_value(value))])
        except LogError:
            log.exception("storing group %s failed", group.group_id)

    # -- timers ----------------------------------------------------------------------------
    def _heartbeat(self, group: Group, member: Member, now: int | None = None) -> None:
        now = self.now_ms() if now is None else now
        member.last_heartbeat_ms = now
        timeout = NEW_MEMBER_JOIN_TIMEOUT_MS if member.is_new else member.session_timeout_ms
        if member.timer is not None and member.timer_deadline > now + timeout:
            member.timer.cancel()     # e.g. no longer new: the session timeout applies from now
            member.timer = None
        if member.timer is None:
            assert self._loop is not None
            member.timer = self._loop.call_later(timeout / 1000, self._heartbeat_due, group, member)
            member.timer_deadline = now + timeout

    def _heartbeat_due(self, group: Group, member: Member) -> None:
        member.timer = None
        if group.members.get(member.member_id) is not member:
            return
        now = self.now_ms()
        timeout = NEW_MEMBER_JOIN_TIMEOUT_MS if member.is_new else member.session_timeout_ms
        left = member.last_heartbeat_ms + timeout - now
        if left <= 0 and not member.is_new and (member.join_waiter is not None or member.sync_waiter is not None):
            left = timeout       # parked in JoinGroup/SyncGroup: alive, as in Kafka
            member.last_heartbeat_ms = now
        if left > 0:
            assert self._loop is not None
            member.timer = self._loop.call_later(left / 1000, self._heartbeat_due, group, member)
            member.timer_deadline = now + left
            return
        log.info("group %s: member %s session expired", group.group_id, member.member_id)
        self._remove_member_and_update(group, member)

    def _cancel_group_timers(self, group: Group) -> None:
        for t in (group.join_timer, group.sync_timer, *group.pending_members.values()):
            if t is not None:
                t.cancel()
        group.join_timer = group.sync_timer = None
        for m in group.members.values():
            if m.timer is not None:
                m.timer.cancel()
                m.timer = None

    def _schedule_expiry(self) -> None:
        assert self._loop is not None
        self._expiry_timer = self._loop.call_later(
            self.config["offsets.retention.check.interval.ms"] / 1000, self._expiry_tick)

    def _expiry_tick(self) -> None:
        try:
            self.expire_offsets(self.now_ms())
        except Exception:
            log.exception("offset expiry failed")
        self._schedule_expiry()

    # -- membership helpers ----------------------------------------------------------------
    def _add_member(self, group: Group, member: Member) -> None:
        if not group.members:
            group.protocol_type = member.protocol_type
        group.members[member.member_id] = member
        if group.leader is None:
            group.leader = member.member_id
        if member.group_instance_id is not None:
            group.static_members[member.group_instance_id] = member.member_id

    def _remove_member(self, group: Group, member: Member) -> None:
        if member.timer is not None:
            member.timer.cancel()
            member.timer = None
        group.members.pop(member.member_id, None)
        if member.group_instance_id is not None and \
                group.static_members.get(member.group_instance_id) == member.member_id:
            del group.static_members[member.group_instance_id]
        group.pending_sync.discard(member.member_id)
        if group.leader == member.member_id:
            group.leader = next(iter(group.members), None)

    def _remove_member_and_update(self, group: Group, member: Member) -> None:
        self._resolve_join(member, JoinResult(ErrorCode.unknown_member_id))
        self._resolve_sync(member, SyncResult(ErrorCode.unknown_member_id))
        self._remove_member(group, member)
        if group.is_(GroupState.STABLE, GroupState.COMPLETING):
            self._prepare_rebalance(group)
        elif group.is_(GroupState.PREPARING):
            self._try_complete_join(group)

    @staticmethod
    def _resolve_join(member: Member, result: JoinResult) -> None:
        w = member.join_waiter
        member.join_waiter = None
        if w is not None and not w.done():
            w.set_result(result)

    @staticmethod
    def _resolve_sync(member: Member, result: SyncResult) -> None:
        w = member.sync_waiter
        member.sync_waiter = None
        if w is not None and not w.done():
            w.set_result(result)

    def _future(self) -> asyncio.Future[Any]:
        assert self._loop is not None
        return self._loop.create_future()

    # -- rebalance -------------------------------------------------------------------------
    def _maybe_prepare_rebalance(self, group: Group) -> None:
        if group.is_(GroupState.STABLE, GroupState.COMPLETING, GroupState.EMPTY):
            self._prepare_rebalance(group)

    def _prepare_rebalance(self, group: Group) -> None:
        assert self._loop is not None
        if group.is_(GroupState.COMPLETING):
            for m in group.members.values():
                m.assignment = b""
                self._resolve_sync(m, SyncResult(ErrorCode.rebalance_in_progress))
        if group.sync_timer is not None:
            group.sync_timer.cancel()
            group.sync_timer = None
        group.pending_sync.clear()
        if group.join_timer is not None:
            group.join_timer.cancel()
        was_empty = group.is_(GroupState.EMPTY)
        group.transition(GroupState.PREPARING, self.now_ms())
        timeout = group.rebalance_timeout_ms()
        delay = self.config["group.initial.rebalance.delay.ms"]
        if was_empty and delay > 0:
            group.new_member_added = False
            group.initial_delay = True
            group.join_timer = self._loop.call_later(
                min(delay, timeout) / 1000, self._initial_join_due, group, max(timeout - delay, 0))
            return
        group.initial_delay = False
        group.join_timer = self._loop.call_later(timeout / 1000, self._join_due, group)
        self._try_complete_join(group)

    def _initial_join_due(self, group: Group, remaining: int) -> None:
        assert self._loop is not None
        group.join_timer = None
        group.initial_delay = False
        delay = self.config["group.initial.rebalance.delay.ms"]
        if group.new_member_added and remaining > 0:
            group.new_member_added = False
            group.initial_delay = True
            step = min(delay, remaining)
            group.join_timer = self._loop.call_later(step / 1000, self._initial_join_due, group, remaining - step)
            return
        self._complete_join(group)

    def _join_due(self, group: Group) -> None:
        group.join_timer = None
        self._complete_join(group)

    def _try_complete_join(self, group: Group) -> None:
        if group.is_(GroupState.PREPARING) and not group.initial_delay and group.all_joined() \
                and group.join_timer is not None:
            group.join_timer.cancel()
            group.join_timer = None
            self._complete_join(group)

    def _complete_join(self, group: Group) -> None:
        assert self._loop is not None
        if not group.is_(GroupState.PREPARING):
            return
        for m in [m for m in group.members.values() if m.join_waiter is None and m.group_instance_id is None]:
            log.info("group %s: member %s did not rejoin in time", group.group_id, m.member_id)
            self._remove_member(group, m)
        if group.members and not any(m.join_waiter is not None for m in group.members.values()):
            # only static members that did not rejoin: wait for their sessions to expire
            group.join_timer = self._loop.call_later(group.rebalance_timeout_ms() / 1000, self._join_due, group)
            return
        if group.leader is None or group.members[group.leader].join_waiter is None:
            group.leader = next((mid for mid, m in group.members.items() if m.join_waiter is not None), None)
        now = self.now_ms()
        group.generation += 1
        group.pending_sync.clear()
        if not group.members:
            group.protocol_name = None
            group.subscribed = None
            group.transition(GroupState.EMPTY, now)
            self._store_group(group)
            return
        group.protocol_name = group.select_protocol()
        group.subscribed = group.compute_subscription()
        group.transition(GroupState.COMPLETING, now)
        everyone = [(m.member_id, m.group_instance_id, m.metadata(group.protocol_name))
                    for m in group.members.values()]
        for m in group.members.values():
            leader = m.member_id == group.leader
            self._resolve_join(m, JoinResult(0, m.member_id, group.generation, group.protocol_type,
                                             group.protocol_name, group.leader or "",
                                             everyone if leader else []))
            m.is_new = False
            self._heartbeat(group, m, now)
            group.pending_sync.add(m.member_id)
        group.sync_timer = self._loop.call_later(group.rebalance_timeout_ms() / 1000, self._sync_due, group,
                                                 group.generation)

    def _sync_due(self, group: Group, generation: int) -> None:
        group.sync_timer = None
        if generation != group.generation or not group.is_(GroupState.COMPLETING, GroupState.STABLE):
            return
        if group.pending_sync:
            for mid in list(group.pending_sync):
                m = group.members.get(mid)
                if m is not None:
                    log.info("group %s: member %s did not sync in time", group.group_id, mid)
                    self._resolve_sync(m, SyncResult(ErrorCode.unknown_member_id))
                    self._remove_member(group, m)
            self._prepare_rebalance(group)

    # -- JoinGroup -------------------------------------------------------------------------
    def join(self, group_id: str, member_id: str, instance_id: str | None, client_id: str, client_host: str,
             session_ms: int, rebalance_ms: int, protocol_type: str, protocols: list[tuple[str, bytes]],
             require_known_member_id: bool, reason: str | None = None) -> JoinResult | asyncio.Future[JoinResult]:
        if not group_id:
            return JoinResult(ErrorCode.invalid_group_id, member_id)
        err = self.coordinator_error(group_id)
        if err:
            return JoinResult(err, member_id)
        if not self.config["group.min.session.timeout.ms"] <= session_ms <= self.config["group.max.session.timeout.ms"]:
            return JoinResult(ErrorCode.invalid_session_timeout, member_id)
        group = self.groups.get(group_id)
        if group is None:
            if member_id:
                return JoinResult(ErrorCode.unknown_member_id, member_id)
            group = Group(group_id, self.partition_for(group_id), self.now_ms())
            self.groups[group_id] = group
        if group.consumer is not None:
            if group.consumer.members:
                err, mid, generation, name = self.consumer.classic_join(
                    group, member_id, instance_id, client_id, client_host, session_ms, rebalance_ms,
                    protocol_type, protocols, require_known_member_id)
                if err:
                    return JoinResult(err, mid)
                return JoinResult(0, mid, generation, CONSUMER_PROTOCOL, name, "", [])
            try:
                self._to_classic(group)
            except LogError:
                log.exception("converting group %s to a classic group failed", group_id)
                return JoinResult(ErrorCode.kafka_storage_error, member_id)
        known = member_id in group.members or (instance_id is not None and instance_id in group.static_members)
        if not known and len(group.members) >= self.config["group.max.size"]:
            return JoinResult(ErrorCode.group_max_size_reached, member_id)
        if group.is_(GroupState.DEAD):
            return JoinResult(ErrorCode.coordinator_not_available, member_id)
        if not group.supports(protocol_type, protocols):
            return JoinResult(ErrorCode.inconsistent_group_protocol, member_id)
        if not member_id:
            return self._join_unknown(group, instance_id, client_id, client_host, session_ms, rebalance_ms,
                                      protocol_type, protocols, require_known_member_id)
        return self._join_known(group, member_id, instance_id, client_id, client_host, session_ms, rebalance_ms,
                                protocol_type, protocols)

    def _join_unknown(self, group: Group, instance_id: str | None, client_id: str, client_host: str,
                      session_ms: int, rebalance_ms: int, protocol_type: str, protocols: list[tuple[str, bytes]],
                      require_known: bool) -> JoinResult | asyncio.Future[JoinResult]:
        assert self._loop is not None
        new_id = f"{instance_id if instance_id is not None else client_id}-{uuid.uuid4()}"
        if instance_id is not None:
            old_id = group.static_members.get(instance_id)
            if old_id is not None and old_id in group.members:
                return self._replace_static_member(group, old_id, new_id, instance_id, protocols, client_id,
                                                   client_host, session_ms, rebalance_ms)
        elif require_known:
            group.pending_members[new_id] = self._loop.call_later(session_ms / 1000, self._pending_expired,
                                                                  group, new_id)
            return JoinResult(ErrorCode.member_id_required, new_id)
        return self._add_member_and_rebalance(group, new_id, instance_id, client_id, client_host, session_ms,
                                              rebalance_ms, protocol_type, protocols)

    def _pending_expired(self, group: Group, member_id: str) -> None:
        if group.pending_members.pop(member_id, False) is not False:
            self._try_complete_join(group)

    def _add_member_and_rebalance(self, group: Group, member_id: str, instance_id: str | None, client_id: str,
                                  client_host: str, session_ms: int, rebalance_ms: int, protocol_type: str,
                                  protocols: list[tuple[str, bytes]]) -> asyncio.Future[JoinResult]:
        member = Member(member_id, instance_id, client_id, client_host, rebalance_ms, session_ms, protocol_type,
                        protocols)
        member.is_new = True
        member.join_waiter = self._future()
        if group.is_(GroupState.PREPARING) and group.initial_delay:
            group.new_member_added = True
        timer = group.pending_members.pop(member_id, None)
        if timer is not None:
            timer.cancel()
        self._add_member(group, member)
        self._heartbeat(group, member)
        fut = member.join_waiter
        if group.is_(GroupState.PREPARING):
            self._try_complete_join(group)
        else:
            self._maybe_prepare_rebalance(group)
        return fut

    def _update_member_and_rebalance(self, group: Group, member: Member, protocols: list[tuple[str, bytes]],
                                     session_ms: int, rebalance_ms: int) -> asyncio.Future[JoinResult]:
        member.protocols = protocols
        member.session_timeout_ms = session_ms
        member.rebalance_timeout_ms = rebalance_ms
        if member.join_waiter is not None and not member.join_waiter.done():
            # a second JoinGroup from the same member: the first one is answered as superseded
            member.join_waiter.set_result(JoinResult(ErrorCode.unknown_member_id, member.member_id))
        fut: asyncio.Future[JoinResult] = self._future()
        member.join_waiter = fut
        if group.is_(GroupState.PREPARING):
            self._try_complete_join(group)
        else:
            self._maybe_prepare_rebalance(group)
        return fut

    def _replace_static_member(self, group: Group, old_id: str, new_id: str, instance_id: str,
                               protocols: list[tuple[str, bytes]], client_id: str, client_host: str,
                               session_ms: int, rebalance_ms: int) -> JoinResult | asyncio.Future[JoinResult]:
        old = group.members.pop(old_id)
        self._resolve_join(old, JoinResult(ErrorCode.fenced_instance_id, old_id))
        self._resolve_sync(old, SyncResult(ErrorCode.fenced_instance_id))
        if old.timer is not None:
            old.timer.cancel()
            old.timer = None
        was_leader = group.leader == old_id
        current_leader = group.leader
        old.member_id = new_id
        old.client_id = client_id
        old.client_host = client_host
        group.members[new_id] = old
        group.static_members[instance_id] = new_id
        if was_leader:
            group.leader = new_id
        if old_id in group.pending_sync:
            group.pending_sync.discard(old_id)
            group.pending_sync.add(new_id)
        member = old
        self._heartbeat(group, member)
        old_protocols = member.protocols
        if group.is_(GroupState.STABLE):
            member.protocols = protocols
            if group.select_protocol() == group.protocol_name:
                member.session_timeout_ms = session_ms
                member.rebalance_timeout_ms = rebalance_ms
                self._store_group(group)
                leader = group.leader == new_id
                everyone = [(m.member_id, m.group_instance_id, m.metadata(group.protocol_name))
                            for m in group.members.values()]
                return JoinResult(0, new_id, group.generation, group.protocol_type, group.protocol_name,
                                  new_id if leader else (current_leader or ""),
                                  everyone if leader else [], skip_assignment=leader)
            member.protocols = old_protocols
            return self._update_member_and_rebalance(group, member, protocols, session_ms, rebalance_ms)
        return self._update_member_and_rebalance(group, member, protocols, session_ms, rebalance_ms)

    def _join_known(self, group: Group, member_id: str, instance_id: str | None, client_id: str,
                    client_host: str, session_ms: int, rebalance_ms: int, protocol_type: str,
                    protocols: list[tuple[str, bytes]]) -> JoinResult | asyncio.Future[JoinResult]:
        if member_id in group.pending_members:
            if instance_id is not None:
                return JoinResult(ErrorCode.unknown_member_id, member_id)
            return self._add_member_and_rebalance(group, member_id, None, client_id, client_host, session_ms,
                                                  rebalance_ms, protocol_type, protocols)
        if group.static_fenced(member_id, instance_id):
            return JoinResult(ErrorCode.fenced_instance_id, member_id)
        member = group.members.get(member_id)
        if member is None:
            return JoinResult(ErrorCode.unknown_member_id, member_id)
        if group.is_(GroupState.PREPARING):
            return self._update_member_and_rebalance(group, member, protocols, session_ms, rebalance_ms)
        if group.is_(GroupState.COMPLETING):
            if member.protocols == protocols:
                self._heartbeat(group, member)
                leader = member_id == group.leader
                everyone = [(m.member_id, m.group_instance_id, m.metadata(group.protocol_name))
                            for m in group.members.values()] if leader else []
                return JoinResult(0, member_id, group.generation, group.protocol_type, group.protocol_name,
                                  group.leader or "", everyone)
            return self._update_member_and_rebalance(group, member, protocols, session_ms, rebalance_ms)
        if group.is_(GroupState.STABLE):
            if member_id == group.leader or member.protocols != protocols:
                return self._update_member_and_rebalance(group, member, protocols, session_ms, rebalance_ms)
            self._heartbeat(group, member)
            return JoinResult(0, member_id, group.generation, group.protocol_type, group.protocol_name,
                              group.leader or "", [])
        return JoinResult(ErrorCode.unknown_member_id, member_id)

    # -- SyncGroup -------------------------------------------------------------------------
    def sync(self, group_id: str, generation: int, member_id: str, instance_id: str | None,
             protocol_type: str | None, protocol_name: str | None,
             assignments: list[tuple[str, bytes]]) -> SyncResult | asyncio.Future[SyncResult]:
        if not group_id:
            return SyncResult(ErrorCode.invalid_group_id)
        err = self.coordinator_error(group_id)
        if err:
            return SyncResult(err)
        group = self.groups.get(group_id)
        if group is not None and group.consumer is not None:
            err, assignment = self.consumer.classic_sync(group, generation, member_id, instance_id, protocol_type,
                                                         protocol_name)
            return SyncResult(err, protocol_type, protocol_name, assignment) if not err else SyncResult(err)
        if group is None:
            return SyncResult(ErrorCode.unknown_member_id)
        if group.is_(GroupState.DEAD):
            return SyncResult(ErrorCode.coordinator_not_available)
        if group.static_fenced(member_id, instance_id):
            return SyncResult(ErrorCode.fenced_instance_id)
        member = group.members.get(member_id)
        if member is None:
            return SyncResult(ErrorCode.unknown_member_id)
        if generation != group.generation:
            return SyncResult(ErrorCode.illegal_generation)
        if (protocol_type is not None and protocol_type != group.protocol_type) or \
                (protocol_name is not None and protocol_name != group.protocol_name):
            return SyncResult(ErrorCode.inconsistent_group_protocol)
        if group.is_(GroupState.EMPTY):
            return SyncResult(ErrorCode.unknown_member_id)
        if group.is_(GroupState.PREPARING):
            return SyncResult(ErrorCode.rebalance_in_progress)
        if group.is_(GroupState.STABLE):
            group.pending_sync.discard(member_id)
            self._heartbeat(group, member)
            return SyncResult(0, group.protocol_type, group.protocol_name, member.assignment)
        # CompletingRebalance
        group.pending_sync.discard(member_id)
        fut: asyncio.Future[SyncResult] = self._future()
        if member.sync_waiter is not None and not member.sync_waiter.done():
            member.sync_waiter.set_result(SyncResult(ErrorCode.rebalance_in_progress))
        member.sync_waiter = fut
        if member_id == group.leader:
            given = dict(assignments)
            for m in group.members.values():
                m.assignment = given.get(m.member_id, b"")
            self._store_group(group)
            group.transition(GroupState.STABLE, self.now_ms())
            for m in group.members.values():
                self._resolve_sync(m, SyncResult(0, group.protocol_type, group.protocol_name, m.assignment))
                self._heartbeat(group, m)
        return fut

    # -- Heartbeat -------------------------------------------------------------------------
    def heartbeat(self, group_id: str, generation: int, member_id: str, instance_id: str | None) -> int:
        if not group_id:
            return ErrorCode.invalid_group_id
        err = self.coordinator_error(group_id)
        if err:
            return err
        group = self.groups.get(group_id)
        if group is not None and group.consumer is not None:
            return self.consumer.classic_heartbeat(group, generation, member_id, instance_id)
        if group is None:
            return ErrorCode.unknown_member_id
        if group.is_(GroupState.DEAD):
            return ErrorCode.coordinator_not_available
        if group.static_fenced(member_id, instance_id):
            return ErrorCode.fenced_instance_id
        member = group.members.get(member_id)
        if member is None or group.is_(GroupState.EMPTY):
            return ErrorCode.unknown_member_id
        if generation != group.generation:
            return ErrorCode.illegal_generation
        self._heartbeat(group, member)
        if group.is_(GroupState.PREPARING):
            return ErrorCode.rebalance_in_progress
        return 0

    # -- LeaveGroup ------------------------------------------------------------------------
    def leave(self, group_id: str, leaving: list[tuple[str, str | None]]) -> tuple[int, list[int]]:
        """(top-level error, per-member errors) for (member id, group instance id) pairs."""
        if not group_id:
            return ErrorCode.invalid_group_id, []
        err = self.coordinator_error(group_id)
        if err:
            return err, []
        group = self.groups.get(group_id)
        if group is not None and group.consumer is not None:
            return 0, self.consumer.classic_leave(group, leaving)
        if group is None:
            return 0, [ErrorCode.unknown_member_id for _ in leaving]
        if group.is_(GroupState.DEAD):
            return ErrorCode.coordinator_not_available, []
        out: list[int] = []
        for member_id, instance_id in leaving:
            if instance_id is not None:
                current = group.static_members.get(instance_id)
                if current is None:
                    out.append(ErrorCode.unknown_member_id)
                    continue
                if member_id and member_id != current:
                    out.append(ErrorCode.fenced_instance_id)
                    continue
                member_id = current
            elif member_id in group.pending_members:
                t = group.pending_members.pop(member_id)
                if t is not None:
                    t.cancel()
                out.append(0)
                self._try_complete_join(group)
                continue
            member = group.members.get(member_id)
            if member is None:
                out.append(ErrorCode.unknown_member_id)
                continue
            self._remove_member_and_update(group, member)
            out.append(0)
        return 0, out

    # -- offsets ---------------------------------------------------------------------------
    def commit_offsets(self, group_id: str, generation: int, member_id: str, instance_id: str | None,
                       offsets: list[tuple[str, int, int, int, str | None]], retention_ms: int = -1,
                       version: int = 9) -> int | dict[tuple[str, int], int]:
        """A top-level error for every partition, or an error per (topic, partition).

        offsets: (topic, partition, offset, leader epoch, metadata). generation is the member
        epoch for a consumer group (checked as Kafka 4.0 does; OffsetCommit `version` < 9 is
        refused for its consumer-protocol members).
        """
        err = self.coordinator_error(group_id)
        if err:
            return err
        group = self.groups.get(group_id)
        if group is None:
            if generation >= 0:
                return ErrorCode.illegal_generation
            group = Group(group_id, self.partition_for(group_id), self.now_ms())
            self.groups[group_id] = group
        if group.is_(GroupState.DEAD):
            return ErrorCode.coordinator_not_available
        if group.consumer is not None:
            err = self.consumer.validate_offset_commit(group.consumer, member_id, generation, version)
            if err:
                return err
        elif group.static_fenced(member_id, instance_id):
            return ErrorCode.fenced_instance_id
        elif not (generation < 0 and group.is_(GroupState.EMPTY)):
            member = group.members.get(member_id)
            if member is None:
                return ErrorCode.unknown_member_id
            if generation != group.generation:
                return ErrorCode.illegal_generation
            if group.is_(GroupState.COMPLETING):
                return ErrorCode.rebalance_in_progress
            self._heartbeat(group, member)
        now = self.now_ms()
        max_meta = self.config["offset.metadata.max.bytes"]
        logs = self.engine.logs
        errors: dict[tuple[str, int], int] = {}
        batch: list[tuple[bytes, bytes | None]] = []
        accepted: list[tuple[tuple[str, int], rec.OffsetRecord]] = []
        expire = now + retention_ms if retention_ms >= 0 else None
        for topic, part, offset, epoch, metadata in offsets:
            key = (topic, part)
            if logs.partition(topic, part) is None:
                errors[key] = ErrorCode.unknown_topic_or_partition
                continue
            metadata = metadata or ""
            if len(metadata.encode()) > max_meta:
                errors[key] = ErrorCode.offset_metadata_too_large
                continue
            record = rec.OffsetRecord(offset, epoch, metadata, now, expire)
            batch.append((rec.encode_offset_key(group_id, topic, part), rec.encode_offset_value(record)))
            accepted.append((key, record))
            errors[key] = 0
        try:
            self._append(group.partition, batch)
        except LogError as e:
            log.error("committing offsets of group %s failed: %s", group_id, e)
            for key, _r in accepted:
                errors[key] = ErrorCode.kafka_storage_error
            return errors
        for key, record in accepted:
            group.offsets[key] = record
        return errors

    # -- transactional offsets (TxnOffsetCommit) ---------------------------------------------
    def txn_commit_offsets(self, transactional_id: str, group_id: str, producer_id: int, producer_epoch: int,
                           generation: int, member_id: str, instance_id: str | None,
                           offsets: list[tuple[str, int, int, int, str | None]], abortable: bool
                           ) -> int | dict[tuple[str, int], int]:
        """A top-level error for every partition, or an error per (topic, partition).

        The group's `__consumer_offsets` partition must be in the producer's transaction
        (AddOffsetsToTxn): otherwise INVALID_TXN_STATE, or TRANSACTION_ABORTABLE when the
        request version knows it (abortable)."""
        err = self.coordinator_error(group_id)
        if err:
            return err
        partition = self.partition_for(group_id)
        if self.engine.txn.verify_produce(transactional_id, producer_id, producer_epoch,
                                          (OFFSETS_TOPIC, partition)):
            return ErrorCode.transaction_abortable if abortable else ErrorCode.invalid_txn_state
        group = self.groups.get(group_id)
        if group is None:
            if generation >= 0:
                return ErrorCode.illegal_generation
            group = Group(group_id, partition, self.now_ms())
            self.groups[group_id] = group
        if group.is_(GroupState.DEAD):
            return ErrorCode.coordinator_not_available
        if group.consumer is not None:      # a KIP-848 group: the generation is the member epoch
            err = self.consumer.validate_offset_commit(group.consumer, member_id, generation, 0,
                                                       transactional=True)
            if err:
                return err
        elif group.static_fenced(member_id, instance_id):
            return ErrorCode.fenced_instance_id
        elif generation >= 0 or member_id:
            if member_id not in group.members:
                return ErrorCode.unknown_member_id
            if generation != group.generation:
                return ErrorCode.illegal_generation
        now = self.now_ms()
        max_meta = self.config["offset.metadata.max.bytes"]
        logs = self.engine.logs
        errors: dict[tuple[str, int], int] = {}
        batch: list[tuple[bytes, bytes | None]] = []
        accepted: list[tuple[tuple[str, int], rec.OffsetRecord]] = []
        for topic, part, offset, epoch, metadata in offsets:
            key = (topic, part)
            if logs.partition(topic, part) is None:
                errors[key] = ErrorCode.unknown_topic_or_partition
                continue
            metadata = metadata or ""
            if len(metadata.encode()) > max_meta:
                errors[key] = ErrorCode.offset_metadata_too_large
                continue
            record = rec.OffsetRecord(offset, epoch, metadata, now)
            batch.append((rec.encode_offset_key(group_id, topic, part), rec.encode_offset_value(record)))
            accepted.append((key, record))
            errors[key] = 0
        if batch:
            try:
                plog = self.topic.partition_log(partition)
                plog.append(rec.build_batch(batch, now, producer_id, producer_epoch, TRANSACTIONAL_BIT), now,
                            from_client=False)
            except LogError as e:
                log.error("transactional offset commit of group %s failed: %s", group_id, e)
                code = error_for(e)
                for key, _r in accepted:
                    errors[key] = code
                return errors
            self.engine.notify_append(OFFSETS_TOPIC, partition)
        pending = group.pending_txn.setdefault(producer_id, {})
        for key, record in accepted:
            pending[key] = record
        return errors

    def complete_txn_offsets(self, partition: int, producer_id: int, commit: bool) -> None:
        """A marker of producer_id's transaction was written to partition: apply or drop its offsets."""
        for group in self.groups.values():
            if group.partition != partition:
                continue
            offs = group.pending_txn.pop(producer_id, None)
            if offs and commit and not group.is_(GroupState.DEAD):
                group.offsets.update(offs)

    def has_pending_offset(self, group_id: str, topic: str, partition: int) -> bool:
        group = self.groups.get(group_id)
        return group is not None and any((topic, partition) in offs for offs in group.pending_txn.values())

    def fetch_offsets(self, group_id: str, partitions: list[tuple[str, int]] | None,
                      member_id: str | None = None, member_epoch: int = -1
                      ) -> tuple[int, list[tuple[str, int, rec.OffsetRecord | None]]]:
        """member_id/member_epoch (OffsetFetch v9+) are checked against a consumer group's members."""
        err = self.coordinator_error(group_id)
        if err:
            return err, []
        group = self.groups.get(group_id)
        if group is not None and group.consumer is not None:
            err = self.consumer.validate_offset_fetch(group.consumer, member_id, member_epoch)
            if err:
                return err, []
        offsets = group.offsets if group is not None and not group.is_(GroupState.DEAD) else {}
        if partitions is None:
            return 0, [(t, p, r) for (t, p), r in sorted(offsets.items())]
        return 0, [(t, p, offsets.get((t, p))) for t, p in partitions]

    def delete_offsets(self, group_id: str, partitions: list[tuple[str, int]]) -> tuple[int, dict[tuple[str, int], int]]:
        err = self.coordinator_error(group_id)
        if err:
            return err, {}
        group = self.groups.get(group_id)
        if group is None or group.is_(GroupState.DEAD):
            return ErrorCode.group_id_not_found, {}
        if group.consumer is not None:
            subscribed: set[str] | None = group.consumer.subscribed_topic_names()
        elif not group.is_(GroupState.EMPTY) and group.protocol_type != CONSUMER_PROTOCOL:
            return ErrorCode.non_empty_group, {}
        else:
            subscribed = group.subscribed if not group.is_(GroupState.EMPTY) else set()
        out: dict[tuple[str, int], int] = {}
        batch: list[tuple[bytes, bytes | None]] = []
        for t, p in partitions:
            if subscribed and t in subscribed:
                out[(t, p)] = ErrorCode.group_subscribed_to_topic
                continue
            out[(t, p)] = 0
            if (t, p) in group.offsets:
                batch.append((rec.encode_offset_key(group_id, t, p), None))
        try:
            self._append(group.partition, batch)
        except LogError:
            log.exception("deleting offsets of group %s failed", group_id)
            return ErrorCode.kafka_storage_error, {}
        for t, p in partitions:
            if out[(t, p)] == 0:
                group.offsets.pop((t, p), None)
        return 0, out

    def expire_offsets(self, now: int) -> None:
        retention = self.config["offsets.retention.minutes"] * 60_000
        for group in list(self.groups.values()):
            if group.partition in self.loading or group.is_(GroupState.DEAD):
                continue
            expired: list[tuple[str, int]] = []
            cg = group.consumer
            subscribed = cg.subscribed_topic_names() if cg is not None else set()
            for key, r in group.offsets.items():
                if cg is not None:                  # Kafka 4.0: unsubscribed topics, from the commit
                    if key[0] in subscribed:
                        continue
                    base = r.commit_timestamp
                elif group.protocol_type is not None and group.is_(GroupState.EMPTY):
                    base = group.state_timestamp
                elif group.protocol_type == CONSUMER_PROTOCOL and group.subscribed is not None \
                        and group.is_(GroupState.STABLE):
                    if key[0] in group.subscribed:
                        continue
                    base = r.commit_timestamp
                elif group.protocol_type is None:
                    base = r.commit_timestamp
                else:
                    continue
                if (r.expire_timestamp is not None and now >= r.expire_timestamp) or \
                        (r.expire_timestamp is None and now - base >= retention):
                    expired.append(key)
            batch: list[tuple[bytes, bytes | None]] = [
                (rec.encode_offset_key(group.group_id, t, p), None) for t, p in expired]
            # a group whose only member is still between its two JoinGroups (MEMBER_ID_REQUIRED) is
            # being joined, not abandoned: removing it would answer that member's rejoin UNKNOWN_MEMBER_ID
            dead = group.is_(GroupState.EMPTY) and len(expired) == len(group.offsets) and not group.members \
                and not group.pending_members and (cg is None or not cg.members)
            if dead:
                batch += self.consumer.delete_records(cg) if cg is not None else \
                    [(rec.encode_group_key(group.group_id), None)]
            if not batch:
                continue
            try:
                self._append(group.partition, batch)
            except LogError:
                log.exception("expiring offsets of group %s failed", group.group_id)
                continue
            for key in expired:
                del group.offsets[key]
            if dead:
                group.transition(GroupState.DEAD, now)
                self._cancel_group_timers(group)
                del self.groups[group.group_id]
            if expired:
                log.info("group %s: expired %d offsets", group.group_id, len(expired))

    # -- admin -----------------------------------------------------------------------------
    def describe(self, group_id: str) -> tuple[int, Group | None]:
        err = self.coordinator_error(group_id)
        if err:
            return err, None
        return 0, self.groups.get(group_id)

    def list_groups(self, states: Iterable[str] | None, types: Iterable[str] | None = None) -> list[Group]:
        """Groups of loaded partitions, filtered by state and type names (case-insensitive)."""
        wanted = {s.lower() for s in states} if states else None
        kinds = {t.lower() for t in types} if types else None
        return [g for g in self.groups.values()
                if g.partition not in self.loading and (wanted is None or g.state_name().lower() in wanted)
                and (kinds is None or g.group_type() in kinds)]

    def delete_group(self, group_id: str) -> int:
        err = self.coordinator_error(group_id)
        if err:
            return err
        group = self.groups.get(group_id)
        if group is None or group.is_(GroupState.DEAD):
            return ErrorCode.group_id_not_found
        if not group.is_(GroupState.EMPTY) or (group.consumer is not None and group.consumer.members):
            return ErrorCode.non_empty_group
        batch: list[tuple[bytes, bytes | None]] = [
            (rec.encode_offset_key(group_id, t, p), None) for t, p in group.offsets]
        batch += self.consumer.delete_records(group.consumer) if group.consumer is not None else \
            [(rec.encode_group_key(group_id), None)]
        try:
            self._append(group.partition, batch)
        except LogError:
            log.exception("deleting group %s failed", group_id)
            return ErrorCode.kafka_storage_error
        group.transition(GroupState.DEAD, self.now_ms())
        self._cancel_group_timers(group)
        del self.groups[group_id]
        return 0
