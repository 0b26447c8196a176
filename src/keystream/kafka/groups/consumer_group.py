"""KIP-848 consumer groups (`group.protocol=consumer`): Kafka 4.0's group coordinator for the new protocol.

Design notes (follow Kafka 4.0's GroupMetadataManager and CurrentAssignmentBuilder):

- A consumer group is a `Group` of the classic coordinator (coordinator.py) whose `consumer`
  holds a `ConsumerGroup`: the classic object keeps what both protocols share (the committed
  offsets, the `__consumer_offsets` partition, loading state); membership is here.
- Epochs. The group epoch is bumped whenever the group's subscriptions change (a member joins,
  leaves, changes its topics or regex, a subscribed topic's partition count changes). When the
  group epoch passes the assignment epoch, the server-side assignor (`uniform` or `range`,
  assignors.py) computes a new target assignment for every member, stamped with the group epoch.
- Incremental reconciliation, per member, on its heartbeats: a member keeps the partitions its
  target still gives it; partitions it must give up are revoked first (state
  UNREVOKED_PARTITIONS, the member keeps its epoch) and stay owned until a heartbeat no longer
  lists them; only then does the member move to the target epoch and get new partitions, and
  only partitions no other member owns (a partition owned by a member or pending its revocation
  has that member's epoch in `partition_epochs`; one that is not free leaves the member in
  UNRELEASED_PARTITIONS until it is released). So a partition is never owned by two members.
  A member that does not revoke within its rebalance timeout is fenced.
- Every change is a list of records (consumer_records.py, Kafka's schemas) appended to the
  group's `__consumer_offsets` partition before the reply, then applied with `replay`, the
  same function the start-up load runs: what is loaded is what was served.
- Sessions: a member that does not heartbeat for `group.consumer.session.timeout.ms` is fenced
  (its records deleted, the group epoch bumped). Timers are in memory; after a load every member
  gets a full session.
- Static members (`group.instance.id`): leaving with epoch -2 keeps the member and its
  partitions (epoch -2) for the session timeout; a new member id joining with the same instance
  id takes over its assignment without a group epoch bump (no rebalance). A second live member
  with the instance id gets UNRELEASED_INSTANCE_ID.
- Regular expressions are resolved on the heartbeat that brings them, and again when the set
  of topics changed since the last resolution; they match whole topic names and never match
  internal topics. Kafka uses RE2/J; we use Python's `re` on the RE2 subset: patterns using
  what RE2 refuses (backreferences, lookaround) are INVALID_REGULAR_EXPRESSION here too. The
  regex record's Version is a per-group resolution counter (Kafka stores a metadata offset).
- Offsets are shared with the classic protocol; commits and fetches by consumer-protocol
  members are checked against member epochs (STALE_MEMBER_EPOCH), as Kafka 4.0 does.

- Conversions. An empty group changes type on the first member of the other protocol. Online
  migration of a group with members follows Kafka 4.0 (GroupMetadataManager), under
  `group.consumer.migration.policy` (default bidirectional; upgrade, downgrade, disabled):
  * Upgrade: a joining ConsumerGroupHeartbeat to a classic group of the "consumer" protocol type
    (at most group.consumer.max.size members) converts it: every classic member becomes a member
    at the classic generation, Stable, with its classic assignment as current and target, and
    keeps its ClassicMemberMetadata (session timeout, protocols; a tagged field of the member
    record). Written in the heartbeat's batch: the classic group's tombstone, then the consumer
    group records (members, epoch, targets, assignment epoch, current assignments). Classic
    JoinGroup/SyncGroup waiting in the old group get REBALANCE_IN_PROGRESS.
  * Classic members of a consumer group: JoinGroup (MEMBER_ID_REQUIRED first for a new dynamic
    member) updates the member from its subscription (topics, owned partitions, rack) like a
    heartbeat and answers at once: generation = the member epoch after reconciliation, no leader,
    no members; SyncGroup returns the member's assigned partitions in the embedded consumer
    protocol (REBALANCE_IN_PROGRESS while the group epoch is ahead and it is not revoking);
    Heartbeat says REBALANCE_IN_PROGRESS when the member must rejoin (behind the group epoch,
    revoking, or its unreleased partitions are free now). A member told to rejoin has its
    rebalance timeout to do so, one that joined has it to sync, else it is fenced; its session
    is its classic session timeout. LeaveGroup removes classic members (epoch bump, no
    downgrade). Offsets of classic members are checked with ILLEGAL_GENERATION.
  * Downgrade: when the last consumer-protocol member leaves (or is fenced) and classic members
    remain (at most group.max.size), one batch deletes the consumer group records and writes a
    classic group record (generation = group epoch, each member's target as its assignment);
    the classic group then rebalances, so every member rejoins. Also when a static classic
    member replaces the last consumer-protocol member under its instance id: it takes that
    member's target, and the classic group does not rebalance (its JoinGroup is answered with
    the group epoch as the generation).
  * Disabled: ConsumerGroupHeartbeat to a classic group with members is GROUP_ID_NOT_FOUND
    ("Group X is not a consumer group"); a new classic member of a consumer group is
    INCONSISTENT_GROUP_PROTOCOL (KAFKA-20640); members already in may rejoin.

Not here: rack-aware assignment; client-side assignors (KIP-848 dropped them from 4.0 too).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
import struct
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keystream.kafka.errors import ErrorCode
from keystream.kafka.groups import consumer_records as crec
from keystream.kafka.groups.assignors import ASSIGNORS
from keystream.kafka.groups.consumer_records import (
    Assignment,
    ClassicMemberMetadata,
    CurrentAssignmentRecord,
    MemberMetadataRecord,
)
from keystream.log.errors import LogError
from keystream.log.manager import INTERNAL_TOPICS

if TYPE_CHECKING:
    from keystream.kafka.groups.coordinator import Group, GroupCoordinator
    from keystream.log.manager import TopicMeta

log = logging.getLogger("keystream.kafka.groups")

__all__ = [
    "ConsumerGroup",
    "ConsumerGroupCoordinator",
    "ConsumerMember",
    "HeartbeatResult",
    "MemberState",
]

CONSUMER_PROTOCOL_TYPE = "consumer"
LEAVE_GROUP_MEMBER_EPOCH = -1
LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2
_RE2_REFUSES = re.compile(r"\(\?[=!]|\(\?<[=!]|\\[1-9]|\(\?P=")


class MemberState(enum.IntEnum):
    STABLE = 0
    UNREVOKED_PARTITIONS = 1
    UNRELEASED_PARTITIONS = 2
    UNKNOWN = 127


class ConsumerMember:
    __slots__ = ("assigned", "classic", "client_host", "client_id", "instance_id", "join_timer", "member_epoch",
                 "member_id", "pending_revocation", "previous_epoch", "rack_id", "rebalance_timeout_ms",
                 "rebalance_timer", "server_assignor", "session_timer", "state", "subscribed_names",
                 "subscribed_regex", "sync_timer")

    def __init__(self, member_id: str) -> None:
        self.member_id = member_id
        self.instance_id: str | None = None
        self.rack_id: str | None = None
        self.client_id = ""
        self.client_host = ""
        self.subscribed_names: tuple[str, ...] = ()
        self.subscribed_regex: str | None = None
        self.rebalance_timeout_ms = -1
        self.server_assignor: str | None = None
        self.member_epoch = 0
        self.previous_epoch = 0
        self.state = MemberState.STABLE
        self.assigned: Assignment = {}
        self.pending_revocation: Assignment = {}
        self.classic: ClassicMemberMetadata | None = None     # set for a member using the classic protocol
        self.session_timer: asyncio.TimerHandle | None = None
        self.rebalance_timer: asyncio.TimerHandle | None = None
        self.join_timer: asyncio.TimerHandle | None = None      # classic members: rejoin within the timeout
        self.sync_timer: asyncio.TimerHandle | None = None      # classic members: sync within the timeout

    def metadata(self) -> MemberMetadataRecord:
        return MemberMetadataRecord(self.instance_id, self.rack_id, self.client_id, self.client_host,
                                    self.subscribed_names, self.subscribed_regex, self.rebalance_timeout_ms,
                                    self.server_assignor, self.classic)

    def current(self) -> CurrentAssignmentRecord:
        return CurrentAssignmentRecord(self.member_epoch, self.previous_epoch, int(self.state), self.assigned,
                                       self.pending_revocation)

    def cancel_timers(self) -> None:
        for t in (self.session_timer, self.rebalance_timer, self.join_timer, self.sync_timer):
            if t is not None:
                t.cancel()
        self.session_timer = self.rebalance_timer = self.join_timer = self.sync_timer = None


def _preferred(assignors: Iterable[str | None], default: str) -> str:
    """The assignor most members name (Kafka's preferred server assignor), else the default."""
    votes = Counter(a for a in assignors if a is not None)
    return votes.most_common(1)[0][0] if votes else default


class ConsumerGroup:
    def __init__(self, group_id: str) -> None:
        self.group_id = group_id
        self.group_epoch = 0
        self.assignment_epoch = 0
        self.members: dict[str, ConsumerMember] = {}
        self.static_members: dict[str, str] = {}                 # instance id -> member id
        self.targets: dict[str, Assignment] = {}                 # member id -> target assignment
        self.partition_epochs: dict[tuple[uuid.UUID, int], int] = {}
        self.subscription: dict[str, crec.TopicMetadata] = {}    # subscribed existing topics
        self.regexes: dict[str, crec.RegexRecord] = {}
        self.name_refs: Counter[str] = Counter()
        self.regex_refs: Counter[str] = Counter()
        self.resolved_against: frozenset[str] | None = None     # topic names the regexes last saw

    def state_name(self) -> str:
        if not self.members:
            return "Empty"
        if self.group_epoch > self.assignment_epoch:
            return "Assigning"
        for m in self.members.values():
            if m.state is not MemberState.STABLE or m.member_epoch != self.assignment_epoch:
                return "Reconciling"
        return "Stable"

    def subscribed_topic_names(self) -> set[str]:
        names = {n for n, c in self.name_refs.items() if c > 0}
        for regex, count in self.regex_refs.items():
            if count > 0 and regex in self.regexes:
                names |= self.regexes[regex].topics
        return names

    def preferred_assignor(self, default: str) -> str:
        return _preferred((m.server_assignor for m in self.members.values()), default)

    def supports_classic(self, protocol_type: str, names: set[str]) -> bool:
        """Whether a classic member with these protocols may join (ConsumerGroup.supportsClassicProtocols)."""
        if protocol_type != CONSUMER_PROTOCOL_TYPE:
            return False
        if not self.members:
            return bool(names)
        classic = [m.classic for m in self.members.values() if m.classic is not None]
        return any(all(name in {n for n, _ in c.protocols} for c in classic) for name in names)

    def waiting_on_unreleased(self, member: ConsumerMember) -> bool:
        """Whether a partition of the member's target is still owned by another member."""
        if member.state is not MemberState.UNRELEASED_PARTITIONS:
            return False
        for tid, ps in self.targets.get(member.member_id, {}).items():
            mine = member.assigned.get(tid, frozenset())
            if any(p not in mine and self.partition_epoch(tid, p) != -1 for p in ps):
                return True
        return False

    # -- replay: the only place the state changes ----------------------------------------------
    def replay(self, record_type: int, second: str | None, value: object) -> None:
        if record_type == crec.GROUP_METADATA:
            assert isinstance(value, int)
            self.group_epoch = value
        elif record_type == crec.PARTITION_METADATA:
            self.subscription = value if isinstance(value, dict) else {}
        elif record_type == crec.TARGET_METADATA:
            self.assignment_epoch = value if isinstance(value, int) else 0
        elif record_type == crec.REGULAR_EXPRESSION:
            assert second is not None
            if value is None:
                self.regexes.pop(second, None)
            else:
                assert isinstance(value, crec.RegexRecord)
                self.regexes[second] = value
        elif record_type == crec.TARGET_MEMBER:
            assert second is not None
            if value is None:
                self.targets.pop(second, None)
            else:
                assert isinstance(value, dict)
                self.targets[second] = value
        elif record_type == crec.MEMBER_METADATA:
            assert second is not None
            self._replay_member(second, value)
        elif record_type == crec.CURRENT_ASSIGNMENT:
            assert second is not None
            self._replay_current(second, value)

    def _replay_member(self, member_id: str, value: object) -> None:
        member = self.members.get(member_id)
        if member is not None:
            self.name_refs.subtract(member.subscribed_names)
            if member.subscribed_regex:
                self.regex_refs[member.subscribed_regex] -= 1
            if member.instance_id is not None and self.static_members.get(member.instance_id) == member_id:
                del self.static_members[member.instance_id]
        if value is None:
            if member is not None:
                self._drop_partition_epochs(member)
                member.cancel_timers()
                del self.members[member_id]
            return
        assert isinstance(value, MemberMetadataRecord)
        if member is None:
            member = self.members[member_id] = ConsumerMember(member_id)
        member.instance_id = value.instance_id
        member.rack_id = value.rack_id
        member.client_id = value.client_id
        member.client_host = value.client_host
        member.subscribed_names = value.subscribed_names
        member.subscribed_regex = value.subscribed_regex
        member.rebalance_timeout_ms = value.rebalance_timeout_ms
        member.server_assignor = value.server_assignor
        member.classic = value.classic
        self.name_refs.update(member.subscribed_names)
        if member.subscribed_regex:
            self.regex_refs[member.subscribed_regex] += 1
        if member.instance_id is not None:
            self.static_members[member.instance_id] = member_id

    def _replay_current(self, member_id: str, value: object) -> None:
        member = self.members.get(member_id)
        if member is None:
            if value is None:
                return
            member = self.members[member_id] = ConsumerMember(member_id)
        self._drop_partition_epochs(member)
        if value is None:
            member.member_epoch = member.previous_epoch = 0
            member.state = MemberState.STABLE
            member.assigned = {}
            member.pending_revocation = {}
            return
        assert isinstance(value, CurrentAssignmentRecord)
        member.member_epoch = value.member_epoch
        member.previous_epoch = value.previous_epoch
        member.state = MemberState(value.state) if value.state in MemberState._value2member_map_ \
            else MemberState.UNKNOWN
        member.assigned = value.assigned
        member.pending_revocation = value.pending_revocation
        for a in (member.assigned, member.pending_revocation):
            for tid, ps in a.items():
                for p in ps:
                    self.partition_epochs[(tid, p)] = member.member_epoch

    def _drop_partition_epochs(self, member: ConsumerMember) -> None:
        for a in (member.assigned, member.pending_revocation):
            for tid, ps in a.items():
                for p in ps:
                    self.partition_epochs.pop((tid, p), None)

    def partition_epoch(self, tid: uuid.UUID, p: int) -> int:
        return self.partition_epochs.get((tid, p), -1)


@dataclass(slots=True)
class HeartbeatResult:
    error: int
    message: str | None = None
    member_id: str | None = None
    member_epoch: int = 0
    heartbeat_interval_ms: int = 0
    assignment: Assignment | None = None


class HeartbeatError(Exception):
    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Record = tuple[int, str, str | None, object]
# a classic member joining in a downgrade: member id, instance id, client id, host, rebalance and session timeouts,
# protocols
ClassicJoiner = tuple[str, str | None, str, str, int, int, list[tuple[str, bytes]]]      # (record type, group id, member id / regex, value or None)


def _union(a: Assignment, b: Assignment) -> Assignment:
    out = dict(a)
    for tid, ps in b.items():
        out[tid] = out.get(tid, frozenset()) | ps
    return out


def _owns_any(owned: Assignment | None, pending: Assignment) -> bool:
    """Whether the member (per its heartbeat's owned partitions) still owns any of `pending`;
    a heartbeat without owned partitions (null) proves nothing, so it still owns them."""
    if owned is None:
        return True
    return any(owned.get(tid, frozenset()) & ps for tid, ps in pending.items())


def _is_subset(owned: Assignment | None, assigned: Assignment) -> bool:
    if owned is None:
        return False
    return all(ps <= assigned.get(tid, frozenset()) for tid, ps in owned.items() if ps)


def _by_id(by_name: dict[str, frozenset[int]], topics: dict[str, TopicMeta]) -> Assignment:
    """Partitions by topic name to partitions by topic id (topics that do not exist are left out)."""
    out: Assignment = {}
    for name, ps in by_name.items():
        meta = topics.get(name)
        if meta is not None and ps:
            out[meta.topic_id] = ps
    return out


def reconcile(current: CurrentAssignmentRecord, target_epoch: int, target: Assignment,
              partition_epoch: Callable[[uuid.UUID, int], int], owned: Assignment | None
              ) -> CurrentAssignmentRecord:
    """The member's next current assignment (Kafka's CurrentAssignmentBuilder)."""
    state = current.state
    if state == MemberState.STABLE:
        if current.member_epoch == target_epoch:
            return current
        return _next_assignment(current, current.member_epoch, target_epoch, target, partition_epoch, owned)
    if state == MemberState.UNREVOKED_PARTITIONS:
        if _owns_any(owned, current.pending_revocation):
            return current
        return _next_assignment(current, min(current.member_epoch + 1, target_epoch), target_epoch, target,
                                partition_epoch, owned)
    if state == MemberState.UNRELEASED_PARTITIONS:
        return _next_assignment(current, current.member_epoch, target_epoch, target, partition_epoch, owned)
    return current


def _next_assignment(current: CurrentAssignmentRecord, member_epoch: int, target_epoch: int, target: Assignment,
                     partition_epoch: Callable[[uuid.UUID, int], int], owned: Assignment | None
                     ) -> CurrentAssignmentRecord:
    assigned: dict[uuid.UUID, frozenset[int]] = {}
    revoke: dict[uuid.UUID, frozenset[int]] = {}
    to_assign: dict[uuid.UUID, frozenset[int]] = {}
    unreleased = False
    mine = current.assigned
    for tid in set(target) | set(mine):
        want = target.get(tid, frozenset())
        have = mine.get(tid, frozenset())
        keep = have & want
        gone = have - keep
        new = {p for p in want - keep if partition_epoch(tid, p) == -1}
        if len(new) != len(want - keep):
            unreleased = True
        if keep:
            assigned[tid] = keep
        if gone:
            revoke[tid] = gone
        if new:
            to_assign[tid] = frozenset(new)
    if revoke and _owns_any(owned, revoke):
        return CurrentAssignmentRecord(member_epoch, current.member_epoch if member_epoch != current.member_epoch
                                       else current.previous_epoch, int(MemberState.UNREVOKED_PARTITIONS),
                                       assigned, revoke)
    if to_assign:
        assigned = _union(assigned, to_assign)
    state = MemberState.UNRELEASED_PARTITIONS if unreleased else MemberState.STABLE
    previous = current.member_epoch if target_epoch != current.member_epoch else current.previous_epoch
    return CurrentAssignmentRecord(target_epoch, previous, int(state), assigned, {})


def _same(a: CurrentAssignmentRecord, b: CurrentAssignmentRecord) -> bool:
    return (a.member_epoch, a.previous_epoch, a.state, a.assigned, a.pending_revocation) == \
        (b.member_epoch, b.previous_epoch, b.state, b.assigned, b.pending_revocation)


class ConsumerGroupCoordinator:
    """The consumer-protocol side of the group coordinator (one per GroupCoordinator)."""

    def __init__(self, core: GroupCoordinator) -> None:
        self.core = core
        self.config = core.config

    def _topics(self) -> dict[str, TopicMeta]:
        """The topics that exist now (name -> metadata)."""
        return self.core.engine.logs.topics

    # -- settings --------------------------------------------------------------------------
    def assignors(self) -> list[str]:
        """group.consumer.assignors (the setting only accepts names of ASSIGNORS)."""
        return str(self.config["group.consumer.assignors"]).split(",")

    # -- validation (GroupCoordinatorService.throwIfConsumerGroupHeartbeatRequestIsInvalid) --
    def validate(self, version: int, group_id: str, member_id: str, epoch: int, instance_id: str | None,
                 rack_id: str | None, rebalance_timeout_ms: int, names: tuple[str, ...] | None,
                 regex: str | None, assignor: str | None, owned: Assignment | None) -> None:
        if (version >= 1 or epoch > 0 or epoch == LEAVE_GROUP_MEMBER_EPOCH) and member_id == "":
            raise HeartbeatError(ErrorCode.invalid_request, "MemberId can't be empty.")
        if group_id == "":
            raise HeartbeatError(ErrorCode.invalid_request, "GroupId can't be empty.")
        if instance_id == "":
            raise HeartbeatError(ErrorCode.invalid_request, "InstanceId can't be empty.")
        if rack_id == "":
            raise HeartbeatError(ErrorCode.invalid_request, "RackId can't be empty.")
        if epoch == 0:
            if rebalance_timeout_ms == -1:
                raise HeartbeatError(ErrorCode.invalid_request, "RebalanceTimeoutMs must be provided in first request.")
            if owned is None or owned:
                raise HeartbeatError(ErrorCode.invalid_request, "TopicPartitions must be empty when (re-)joining.")
            if names is None and regex is None:
                raise HeartbeatError(ErrorCode.invalid_request,
                                     "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when "
                                     "(re-)joining.")
        elif epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            if instance_id is None:
                raise HeartbeatError(ErrorCode.invalid_request, "InstanceId can't be null.")
        elif epoch < LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            raise HeartbeatError(ErrorCode.invalid_request, "MemberEpoch is invalid.")
        supported = self.assignors()
        if assignor is not None and assignor not in supported:
            raise HeartbeatError(ErrorCode.unsupported_assignor,
                                 f"ServerAssignor {assignor} is not supported. Supported assignors: "
                                 f"{', '.join(supported)}.")

    # -- ConsumerGroupHeartbeat -------------------------------------------------------------
    def heartbeat(self, version: int, group_id: str, member_id: str, epoch: int, instance_id: str | None,
                  rack_id: str | None, rebalance_timeout_ms: int, client_id: str, client_host: str,
                  names: tuple[str, ...] | None, regex: str | None, assignor: str | None,
                  owned: Assignment | None) -> HeartbeatResult:
        try:
            self.validate(version, group_id, member_id, epoch, instance_id, rack_id, rebalance_timeout_ms, names,
                          regex, assignor, owned)
            err = self.core.coordinator_error(group_id)
            if err:
                raise HeartbeatError(err)
            if epoch in (LEAVE_GROUP_MEMBER_EPOCH, LEAVE_GROUP_STATIC_MEMBER_EPOCH):
                return self._leave(group_id, member_id, epoch, instance_id)
            if version == 0 and epoch == 0 and member_id == "":
                member_id = str(uuid.uuid4())
            return self._heartbeat(group_id, member_id, epoch, instance_id, rack_id, rebalance_timeout_ms,
                                   client_id, client_host, names, regex, assignor, owned)
        except HeartbeatError as e:
            return HeartbeatResult(e.code, e.message)

    def _group_for(self, group_id: str, create: bool) -> tuple[Group, ConsumerGroup, list[Record]]:
        """The group's consumer state; with `create`, a new group or an empty classic one converted."""
        records: list[Record] = []
        group = self.core.groups.get(group_id)
        if group is not None and group.consumer is not None:
            return group, group.consumer, records
        if group is None:
            if not create:
                raise HeartbeatError(ErrorCode.group_id_not_found, f"Consumer group {group_id} not found.")
            group = self.core.new_group(group_id)
        elif create and not group.members and not group.pending_members:
            if group.protocol_type is not None or group.generation:
                records.append((-1, group_id, None, None))      # the empty classic group's tombstone
        elif create and self._upgrade_allowed(group):
            return group, self._from_classic(group, records), records
        else:
            raise HeartbeatError(ErrorCode.group_id_not_found, f"Group {group_id} is not a consumer group")
        return group, ConsumerGroup(group_id), records

    # -- online migration (GroupMetadataManager: validateOnlineUpgrade, convertToConsumerGroup) --
    def policy(self) -> str:
        """group.consumer.migration.policy: disabled, upgrade, downgrade or bidirectional."""
        return str(self.config["group.consumer.migration.policy"])

    def _upgrade_allowed(self, group: Group) -> bool:
        if self.policy() not in ("upgrade", "bidirectional"):
            log.info("cannot upgrade classic group %s to a consumer group: the online upgrade is disabled",
                     group.group_id)
            return False
        if group.protocol_type != CONSUMER_PROTOCOL_TYPE:
            log.info("cannot upgrade classic group %s to a consumer group: it does not use the consumer protocol",
                     group.group_id)
            return False
        if len(group.members) > self.config["group.consumer.max.size"]:
            log.info("cannot upgrade classic group %s to a consumer group: it has more members than "
                     "group.consumer.max.size", group.group_id)
            return False
        return True

    def _from_classic(self, group: Group, records: list[Record]) -> ConsumerGroup:
        """A consumer group holding the classic group's members (each at the generation, Stable, with its
        classic assignment as current and target), and the records that make it: the classic group's
        tombstone, then the consumer group records (ConsumerGroup.fromClassicGroup and
        createConsumerGroupRecords). Not registered: `_write` does that once the batch is stored."""
        gid = group.group_id
        topics = self._topics()
        generation = group.generation
        metas: list[Record] = []
        targets: list[Record] = []
        currents: list[Record] = []
        for m in group.members.values():
            try:
                sub = crec.parse_subscription(m.metadata(group.protocol_name) or
                                              (m.protocols[0][1] if m.protocols else b""))
                by_name = crec.parse_assignment(m.assignment)
            except (ValueError, struct.error, UnicodeDecodeError):
                raise HeartbeatError(ErrorCode.group_id_not_found,
                                     f"Cannot upgrade the classic group {gid} to consumer group because the "
                                     f"embedded consumer protocol is malformed.") from None
            assigned = _by_id(by_name, topics)
            meta = MemberMetadataRecord(m.group_instance_id, sub.rack_id, m.client_id, m.client_host, sub.topics,
                                        None, m.rebalance_timeout_ms, None,
                                        ClassicMemberMetadata(m.session_timeout_ms, tuple(m.protocols)))
            metas.append((crec.MEMBER_METADATA, gid, m.member_id, meta))
            targets.append((crec.TARGET_MEMBER, gid, m.member_id, assigned))
            currents.append((crec.CURRENT_ASSIGNMENT, gid, m.member_id, CurrentAssignmentRecord(
                generation, generation, int(MemberState.STABLE), assigned, {})))
        made = metas + [(crec.GROUP_METADATA, gid, None, generation)] + targets + \
            [(crec.TARGET_METADATA, gid, None, generation)] + currents
        cg = ConsumerGroup(gid)
        for rtype, _gid, second, value in made:
            cg.replay(rtype, second, value)
        records.append((-1, gid, None, None))
        records += made
        log.info("group %s: upgrading the classic group (%d members, generation %d) to a consumer group", gid,
                 len(group.members), generation)
        return cg

    def _downgrade_on_replace(self, cg: ConsumerGroup, replaced: ConsumerMember) -> bool:
        """validateOnlineDowngradeWithReplacedMemberId: a static classic member replaces the last
        consumer-protocol member."""
        if replaced.classic is not None or any(m.classic is None for m in cg.members.values() if m is not replaced):
            return False
        if self.policy() not in ("downgrade", "bidirectional"):
            log.info("cannot downgrade consumer group %s to a classic group: the online downgrade is disabled",
                     cg.group_id)
            return False
        return len(cg.members) <= self.config["group.max.size"]

    def _downgrade_allowed(self, cg: ConsumerGroup, leaving: ConsumerMember) -> bool:
        """validateOnlineDowngradeWithFencedMember: the last consumer-protocol member leaves, others stay."""
        if leaving.classic is not None or any(m.classic is None for m in cg.members.values() if m is not leaving):
            return False
        if len(cg.members) <= 1:
            return False
        if self.policy() not in ("downgrade", "bidirectional"):
            log.info("cannot downgrade consumer group %s to a classic group: the online downgrade is disabled",
                     cg.group_id)
            return False
        if len(cg.members) - 1 > self.config["group.max.size"]:
            log.info("cannot downgrade consumer group %s to a classic group: it has more members than "
                     "group.max.size", cg.group_id)
            return False
        return True

    def _downgrade(self, group: Group, cg: ConsumerGroup, leaving: ConsumerMember,
                   joining: ClassicJoiner | None = None) -> None:
        """convertToClassicGroup: the consumer group's tombstones and the classic group's record in one
        batch; the classic group (generation = group epoch, each member's target as its assignment)
        then rebalances, so its members rejoin. With `joining` (a static classic member replacing
        `leaving` under its instance id), that member takes `leaving`'s target and nothing rebalances."""
        gid = cg.group_id
        tombstones: list[tuple[bytes, bytes | None]] = []
        for mid in cg.members:
            tombstones.append((crec.encode_key(crec.CURRENT_ASSIGNMENT, gid, mid), None))
        for mid in cg.members:
            tombstones.append((crec.encode_key(crec.TARGET_MEMBER, gid, mid), None))
        tombstones.append((crec.encode_key(crec.TARGET_METADATA, gid), None))
        for mid in cg.members:
            tombstones.append((crec.encode_key(crec.MEMBER_METADATA, gid, mid), None))
        tombstones += [(crec.encode_key(crec.REGULAR_EXPRESSION, gid, r), None) for r in cg.regexes]
        tombstones += [(crec.encode_key(crec.PARTITION_METADATA, gid), None),
                       (crec.encode_key(crec.GROUP_METADATA, gid), None)]
        names = {t.topic_id: t.name for t in self._topics().values()}

        def target(member_id: str) -> dict[str, frozenset[int]]:
            return {names[tid]: ps for tid, ps in cg.targets.get(member_id, {}).items() if tid in names}

        staying = []
        for m in cg.members.values():
            if m is leaving:
                continue
            assert m.classic is not None
            staying.append((m.member_id, m.instance_id, m.client_id, m.client_host, m.rebalance_timeout_ms,
                            m.classic.session_timeout_ms, list(m.classic.protocols), target(m.member_id)))
        if joining is not None:
            staying.append((*joining, target(leaving.member_id)))
        try:
            self.core.become_classic_group(group, cg.group_epoch, staying, tombstones, rebalance=joining is None)
        except LogError as e:
            log.error("downgrading group %s failed: %s", gid, e)
            raise HeartbeatError(ErrorCode.kafka_storage_error) from None
        for m in cg.members.values():
            m.cancel_timers()
        log.info("group %s: downgraded to a classic group (%d members) after member %s left", gid, len(staying),
                 leaving.member_id)

    def _heartbeat(self, group_id: str, member_id: str, epoch: int, instance_id: str | None, rack_id: str | None,
                   rebalance_timeout_ms: int, client_id: str, client_host: str, names: tuple[str, ...] | None,
                   regex: str | None, assignor: str | None, owned: Assignment | None) -> HeartbeatResult:
        group, cg, records = self._group_for(group_id, epoch == 0)
        if member_id not in cg.members and len(cg.members) >= self.config["group.consumer.max.size"]:
            raise HeartbeatError(ErrorCode.group_max_size_reached,
                                 f"The consumer group has reached its maximum capacity of "
                                 f"{self.config['group.consumer.max.size']} members.")
        replaced: ConsumerMember | None = None
        if instance_id is None:
            member = cg.members.get(member_id)
            if member is None:
                if epoch != 0:
                    raise HeartbeatError(ErrorCode.unknown_member_id,
                                         f"Member {member_id} is not a member of group {group_id}.")
                member = ConsumerMember(member_id)
                log.info("group %s: new member %s joins", group_id, member_id)
            else:                   # a rejoin (epoch 0) of a known member is checked too, as in Kafka
                self._check_epoch(member, epoch, owned)
        else:
            existing_id = cg.static_members.get(instance_id)
            existing = cg.members.get(existing_id) if existing_id is not None else None
            if epoch == 0:
                if existing is None:
                    member = ConsumerMember(member_id)
                    log.info("group %s: new static member %s (instance %s) joins", group_id, member_id, instance_id)
                elif existing.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH and existing.classic is None:
                    # (a classic member's instance id is taken over at once, as Kafka does)
                    raise HeartbeatError(ErrorCode.unreleased_instance_id,
                                         f"Static member {member_id} with instance id {instance_id} cannot join the "
                                         f"group because the instance id is owned by {existing.member_id} member.")
                else:
                    replaced = existing
                    member = ConsumerMember(member_id)
                    log.info("group %s: static member %s (instance %s) replaces %s", group_id, member_id,
                             instance_id, existing.member_id)
            else:
                if existing is None:
                    raise HeartbeatError(ErrorCode.unknown_member_id, f"Instance id {instance_id} is unknown.")
                if existing.member_id != member_id:
                    raise HeartbeatError(ErrorCode.fenced_instance_id,
                                         f"Static member {member_id} with instance id {instance_id} is fenced by "
                                         f"existing member {existing.member_id}.")
                member = existing
                self._check_epoch(member, epoch, owned)
        if regex is not None and regex != "":
            self._check_regex(regex)

        # The member's metadata as this heartbeat updates it.
        new_meta = MemberMetadataRecord(
            instance_id if instance_id is not None else member.instance_id,
            rack_id if rack_id is not None else member.rack_id, client_id, client_host,
            tuple(names) if names is not None else member.subscribed_names,
            (regex or None) if regex is not None else member.subscribed_regex,
            rebalance_timeout_ms if rebalance_timeout_ms != -1 else member.rebalance_timeout_ms,
            assignor if assignor is not None else member.server_assignor)
        current, updated, is_new = self._update(group, cg, records, member_id, member, replaced, new_meta, owned)
        live = cg.members[member_id]
        self._arm_session(group, cg, live)
        if updated.state == MemberState.UNREVOKED_PARTITIONS:
            if current.state != MemberState.UNREVOKED_PARTITIONS or current.member_epoch != updated.member_epoch \
                    or live.rebalance_timer is None:
                self._arm_rebalance(group, cg, live)
        elif live.rebalance_timer is not None:
            live.rebalance_timer.cancel()
            live.rebalance_timer = None
        full = epoch == 0 or (rebalance_timeout_ms != -1 and (names is not None or regex is not None)
                              and owned is not None)
        changed = is_new or updated.assigned != current.assigned
        return HeartbeatResult(0, None, member_id, updated.member_epoch,
                               self.config["group.consumer.heartbeat.interval.ms"],
                               updated.assigned if full or changed else None)

    def _update(self, group: Group, cg: ConsumerGroup, records: list[Record], member_id: str,
                member: ConsumerMember, replaced: ConsumerMember | None, new_meta: MemberMetadataRecord,
                owned: Assignment | None) -> tuple[CurrentAssignmentRecord, CurrentAssignmentRecord, bool]:
        """A member's update (either protocol): its metadata, the subscriptions, the group epoch, the
        target assignment, its reconciliation; written and applied. (current before, updated, is new)."""
        group_id = cg.group_id
        is_new = replaced is not None or member_id not in cg.members
        old_meta = None if is_new else member.metadata()
        if replaced is not None:
            records += self._tombstones(group_id, replaced.member_id)
            old_meta = replaced.metadata()
        if old_meta != new_meta or replaced is not None:
            records.append((crec.MEMBER_METADATA, group_id, member_id, new_meta))
        bump = old_meta is None or old_meta.subscribed_names != new_meta.subscribed_names or \
            old_meta.subscribed_regex != new_meta.subscribed_regex

        # Subscriptions with this member's update: regexes, then the subscribed topics.
        name_refs = Counter(cg.name_refs)
        regex_refs = Counter(cg.regex_refs)
        if old_meta is not None:
            name_refs.subtract(old_meta.subscribed_names)
            if old_meta.subscribed_regex:
                regex_refs[old_meta.subscribed_regex] -= 1
        name_refs.update(new_meta.subscribed_names)
        if new_meta.subscribed_regex:
            regex_refs[new_meta.subscribed_regex] += 1
        regex_topics, regex_records = self._resolve_regexes(cg, regex_refs)
        records += regex_records
        if regex_records:
            bump = True
        subscription = self._subscription(name_refs, regex_topics)
        if subscription != cg.subscription:
            records.append((crec.PARTITION_METADATA, group_id, None, subscription))
            bump = True
        group_epoch = cg.group_epoch + 1 if bump else cg.group_epoch
        if bump:
            records.append((crec.GROUP_METADATA, group_id, None, group_epoch))

        # The target assignment, recomputed when the group epoch is ahead of it.
        target_epoch = cg.assignment_epoch
        if replaced is not None:
            target = cg.targets.get(replaced.member_id, {})
            records.append((crec.TARGET_MEMBER, group_id, member_id, target))
        else:
            target = cg.targets.get(member_id, {})
        if group_epoch > cg.assignment_epoch:
            members_meta = {mid: m.metadata() for mid, m in cg.members.items()}
            if replaced is not None:
                members_meta.pop(replaced.member_id, None)
            members_meta[member_id] = new_meta
            targets = self._assign(cg, members_meta, subscription, regex_topics, replaced, member_id)
            for mid, a in targets.items():
                if cg.targets.get(mid) != a or (mid == member_id and is_new):
                    records.append((crec.TARGET_MEMBER, group_id, mid, a))
            records.append((crec.TARGET_METADATA, group_id, None, group_epoch))
            target_epoch = group_epoch
            target = targets.get(member_id, {})

        # Reconcile this member towards its target.
        if replaced is not None:       # the new incarnation takes over the assignment, at epoch 0
            current = CurrentAssignmentRecord(0, 0, int(replaced.state), replaced.assigned,
                                              replaced.pending_revocation)
        elif is_new:
            current = CurrentAssignmentRecord(0, 0, int(MemberState.STABLE), {}, {})
        else:
            current = member.current()
        updated = reconcile(current, target_epoch, target, cg.partition_epoch, owned)
        if is_new or not _same(updated, member.current()):
            records.append((crec.CURRENT_ASSIGNMENT, group_id, member_id, updated))

        self._write(group, cg, records)
        return current, updated, is_new

    @staticmethod
    def _check_epoch(member: ConsumerMember, received: int, owned: Assignment | None) -> None:
        if received > member.member_epoch:
            raise HeartbeatError(ErrorCode.fenced_member_epoch,
                                 f"The consumer group member has a greater member epoch ({received}) than the one "
                                 f"known by the group coordinator ({member.member_epoch}). The member must abandon "
                                 f"all its partitions and rejoin.")
        if received < member.member_epoch and (received != member.previous_epoch
                                                or not _is_subset(owned, member.assigned)):
            raise HeartbeatError(ErrorCode.fenced_member_epoch,
                                 f"The consumer group member has a smaller member epoch ({received}) than the one "
                                 f"known by the group coordinator ({member.member_epoch}). The member must abandon "
                                 f"all its partitions and rejoin.")

    @staticmethod
    def _check_regex(regex: str) -> None:
        if _RE2_REFUSES.search(regex):
            raise HeartbeatError(ErrorCode.invalid_regular_expression,
                                 f"SubscribedTopicRegex `{regex}` is not a valid regular expression: "
                                 f"unsupported construct.")
        try:
            re.compile(regex)
        except re.error as e:
            raise HeartbeatError(ErrorCode.invalid_regular_expression,
                                 f"SubscribedTopicRegex `{regex}` is not a valid regular expression: {e}.") from None

    def _resolve_regexes(self, cg: ConsumerGroup, regex_refs: Counter[str]) -> tuple[set[str], list[Record]]:
        """The topics the group's regexes match, and the regex records to write (new, changed, unused)."""
        records: list[Record] = []
        used = {r for r, c in regex_refs.items() if c > 0}
        topics_now = self._topics()
        names = frozenset(topics_now) if used else frozenset()
        stale = names != cg.resolved_against
        matched: set[str] = set()
        for regex in sorted(used):
            known = cg.regexes.get(regex)
            if known is None or stale:
                pattern = re.compile(regex)
                found = frozenset(n for n in names if n not in INTERNAL_TOPICS and pattern.fullmatch(n))
                if known is None or known.topics != found:
                    version = (known.version + 1) if known is not None else 1
                    records.append((crec.REGULAR_EXPRESSION, cg.group_id, regex,
                                    crec.RegexRecord(found, version, self.core.now_ms())))
                matched |= found
            else:
                matched |= known.topics
        for regex in cg.regexes:
            if regex not in used:
                records.append((crec.REGULAR_EXPRESSION, cg.group_id, regex, None))
        if used:
            cg.resolved_against = names
        return matched, records

    def _subscription(self, name_refs: Counter[str], regex_topics: set[str]) -> dict[str, crec.TopicMetadata]:
        topics = self._topics()
        out = {}
        for name in {n for n, c in name_refs.items() if c > 0} | regex_topics:
            meta = topics.get(name)
            if meta is not None:
                out[name] = crec.TopicMetadata(meta.topic_id, name, meta.num_partitions)
        return out

    def _assign(self, cg: ConsumerGroup, members: dict[str, MemberMetadataRecord],
                subscription: dict[str, crec.TopicMetadata], regex_topics: set[str],
                replaced: ConsumerMember | None, new_member: str) -> dict[str, Assignment]:
        by_name = {name: t.topic_id for name, t in subscription.items()}
        regex_cache: dict[str, frozenset[str]] = {}
        subs = {}
        for mid, meta in members.items():
            wanted = set(meta.subscribed_names)
            if meta.subscribed_regex:
                if meta.subscribed_regex not in regex_cache:
                    pattern = re.compile(meta.subscribed_regex)
                    regex_cache[meta.subscribed_regex] = frozenset(n for n in regex_topics if pattern.fullmatch(n))
                wanted |= regex_cache[meta.subscribed_regex]
            subs[mid] = frozenset(by_name[n] for n in wanted if n in by_name)
        topics = {t.topic_id: (t.name, t.num_partitions) for t in subscription.values()}
        previous = dict(cg.targets)
        if replaced is not None:
            previous[new_member] = previous.pop(replaced.member_id, {})
        name = _preferred((m.server_assignor for m in members.values()), self.assignors()[0])
        return ASSIGNORS[name](subs, topics, previous)

    # -- classic members in a consumer group (classicGroup{Join,Sync,Heartbeat,Leave}ToConsumerGroup) --
    def classic_join(self, group: Group, member_id: str, instance_id: str | None, client_id: str,
                     client_host: str, session_ms: int, rebalance_ms: int, protocol_type: str,
                     protocols: list[tuple[str, bytes]], require_known: bool) -> tuple[int, str, int, str | None]:
        """A classic JoinGroup to a consumer group with members: (error, member id, generation = the
        member's epoch after its reconciliation, protocol name). Answered at once: the assignment is
        computed here and handed out by SyncGroup."""
        cg = group.consumer
        assert cg is not None
        try:
            return self._classic_join(group, cg, member_id, instance_id, client_id, client_host, session_ms,
                                      rebalance_ms, protocol_type, protocols, require_known)
        except HeartbeatError as e:
            return e.code, member_id, -1, None

    def _classic_join(self, group: Group, cg: ConsumerGroup, member_id: str, instance_id: str | None,
                      client_id: str, client_host: str, session_ms: int, rebalance_ms: int, protocol_type: str,
                      protocols: list[tuple[str, bytes]], require_known: bool) -> tuple[int, str, int, str | None]:
        unknown = member_id == ""
        if unknown:
            member_id = str(uuid.uuid4())
        if member_id not in cg.members and len(cg.members) >= self.config["group.consumer.max.size"]:
            raise HeartbeatError(ErrorCode.group_max_size_reached)
        if not protocols or not cg.supports_classic(protocol_type, {n for n, _ in protocols}):
            raise HeartbeatError(ErrorCode.inconsistent_group_protocol)
        if require_known and unknown:
            log.info("group %s: a classic member with an unknown member id joins; it must rejoin as %s",
                     cg.group_id, member_id)
            return ErrorCode.member_id_required, member_id, -1, None
        replaced: ConsumerMember | None = None
        if instance_id is None:
            member = cg.members.get(member_id) or ConsumerMember(member_id)
        else:
            existing_id = cg.static_members.get(instance_id)
            existing = cg.members.get(existing_id) if existing_id is not None else None
            if unknown:
                member = ConsumerMember(member_id)
                replaced = existing
            elif existing is None:
                raise HeartbeatError(ErrorCode.unknown_member_id)
            elif existing.member_id != member_id:
                raise HeartbeatError(ErrorCode.fenced_instance_id)
            else:
                member = existing
        if replaced is not None and self._downgrade_on_replace(cg, replaced):
            self._downgrade(group, cg, replaced, (member_id, instance_id, client_id, client_host, rebalance_ms,
                                                  session_ms, list(protocols)))
            return 0, member_id, cg.group_epoch, protocols[0][0]
        if member_id not in cg.members and self.policy() == "disabled" and \
                (replaced is None or replaced.classic is None):
            # KAFKA-20640: with migrations disabled a consumer group takes no new classic member
            raise HeartbeatError(ErrorCode.inconsistent_group_protocol)
        try:
            sub = crec.parse_subscription(protocols[0][1])
        except (ValueError, struct.error, UnicodeDecodeError):
            raise HeartbeatError(ErrorCode.inconsistent_group_protocol) from None
        base = replaced if replaced is not None else member
        new_meta = MemberMetadataRecord(
            instance_id if instance_id is not None else base.instance_id,
            sub.rack_id if sub.rack_id is not None else base.rack_id, client_id, client_host, sub.topics,
            base.subscribed_regex, rebalance_ms if rebalance_ms != -1 else base.rebalance_timeout_ms,
            base.server_assignor, ClassicMemberMetadata(session_ms, tuple(protocols)))
        owned = _by_id(sub.owned, self._topics())
        _current, updated, _is_new = self._update(group, cg, [], member_id, member, replaced, new_meta, owned)
        live = cg.members[member_id]
        if live.join_timer is not None:
            live.join_timer.cancel()
            live.join_timer = None
        self._arm_session(group, cg, live)
        self._arm_sync(group, cg, live, rebalance_ms)
        return 0, member_id, updated.member_epoch, protocols[0][0]

    @staticmethod
    def _classic_member(cg: ConsumerGroup, member_id: str, instance_id: str | None) -> ConsumerMember:
        """validateConsumerGroupMember and throwIfMemberDoesNotUseClassicProtocol."""
        if instance_id is None:
            member = cg.members.get(member_id)
            if member is None:
                raise HeartbeatError(ErrorCode.unknown_member_id)
        else:
            existing_id = cg.static_members.get(instance_id)
            member = cg.members.get(existing_id) if existing_id is not None else None
            if member is None:
                raise HeartbeatError(ErrorCode.unknown_member_id)
            if member.member_id != member_id:
                raise HeartbeatError(ErrorCode.fenced_instance_id)
        if member.classic is None:
            raise HeartbeatError(ErrorCode.unknown_member_id)
        return member

    def classic_sync(self, group: Group, generation: int, member_id: str, instance_id: str | None,
                     protocol_type: str | None, protocol_name: str | None) -> tuple[int, bytes]:
        """A classic SyncGroup to a consumer group: (error, the member's assigned partitions in the
        embedded consumer protocol, at the version of its subscription)."""
        cg = group.consumer
        assert cg is not None
        try:
            member = self._classic_member(cg, member_id, instance_id)
            assert member.classic is not None
            if generation != member.member_epoch:
                raise HeartbeatError(ErrorCode.illegal_generation)
            name, meta = member.classic.protocols[0]
            if (protocol_type is not None and protocol_type != CONSUMER_PROTOCOL_TYPE) or \
                    (protocol_name is not None and protocol_name != name):
                raise HeartbeatError(ErrorCode.inconsistent_group_protocol)
            if cg.group_epoch > member.member_epoch and member.state is not MemberState.UNREVOKED_PARTITIONS:
                self._arm_join(group, cg, member)
                raise HeartbeatError(ErrorCode.rebalance_in_progress)
        except HeartbeatError as e:
            return e.code, b""
        if member.sync_timer is not None:
            member.sync_timer.cancel()
            member.sync_timer = None
        self._arm_session(group, cg, member)
        names = {t.topic_id: t.name for t in self._topics().values()}
        by_name = {names[tid]: ps for tid, ps in member.assigned.items() if tid in names}
        try:
            version = crec.protocol_version(meta)
        except struct.error:
            version = 0
        return 0, crec.encode_assignment(by_name, version)

    def classic_heartbeat(self, group: Group, generation: int, member_id: str, instance_id: str | None) -> int:
        """A classic Heartbeat to a consumer group: REBALANCE_IN_PROGRESS makes the member rejoin when
        the group epoch moved past its epoch, it must revoke partitions, or partitions it waits for
        were released."""
        cg = group.consumer
        assert cg is not None
        try:
            member = self._classic_member(cg, member_id, instance_id)
        except HeartbeatError as e:
            return e.code
        if generation != member.member_epoch:
            return ErrorCode.illegal_generation
        self._arm_session(group, cg, member)
        if member.member_epoch < cg.group_epoch or member.state is MemberState.UNREVOKED_PARTITIONS or \
                (member.state is MemberState.UNRELEASED_PARTITIONS and not cg.waiting_on_unreleased(member)):
            self._arm_join(group, cg, member)
            return ErrorCode.rebalance_in_progress
        return 0

    def classic_leave(self, group: Group, leaving: list[tuple[str, str | None]]) -> list[int]:
        """A classic LeaveGroup to a consumer group: an error per (member id, instance id); the members
        that may leave are removed together (one group epoch bump). No downgrade here, as Kafka."""
        cg = group.consumer
        assert cg is not None
        out: list[int] = []
        gone: dict[str, ConsumerMember] = {}
        for member_id, instance_id in leaving:
            try:
                if instance_id is None:
                    member = self._classic_member(cg, member_id, None)
                else:
                    existing_id = cg.static_members.get(instance_id)
                    member_or_none = cg.members.get(existing_id) if existing_id is not None else None
                    if member_or_none is None:
                        raise HeartbeatError(ErrorCode.unknown_member_id)
                    member = self._classic_member(cg, member_id or member_or_none.member_id, instance_id)
            except HeartbeatError as e:
                out.append(e.code)
                continue
            log.info("group %s: classic member %s left", cg.group_id, member.member_id)
            gone[member.member_id] = member
            out.append(0)
        if gone:
            try:
                self._remove(group, cg, list(gone.values()))
            except HeartbeatError as e:
                return [e.code] * len(leaving)
        return out

    # -- leaving and fencing ---------------------------------------------------------------
    def _leave(self, group_id: str, member_id: str, epoch: int, instance_id: str | None) -> HeartbeatResult:
        group, cg, _ = self._group_for(group_id, False)
        if instance_id is None:
            member = cg.members.get(member_id)
            if member is None:
                raise HeartbeatError(ErrorCode.unknown_member_id,
                                     f"Member {member_id} is not a member of group {group_id}.")
            log.info("group %s: member %s left", group_id, member_id)
            self._fence(group, cg, member)
            return HeartbeatResult(0, None, member_id, LEAVE_GROUP_MEMBER_EPOCH)
        existing_id = cg.static_members.get(instance_id)
        member = cg.members.get(existing_id) if existing_id is not None else None
        if member is None:
            raise HeartbeatError(ErrorCode.unknown_member_id, f"Instance id {instance_id} is unknown.")
        if member.member_id != member_id:
            raise HeartbeatError(ErrorCode.fenced_instance_id,
                                 f"Static member {member_id} with instance id {instance_id} is fenced by existing "
                                 f"member {member.member_id}.")
        if epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            log.info("group %s: static member %s (instance %s) left temporarily", group_id, member_id, instance_id)
            cur = member.current()
            self._write(group, cg, [(crec.CURRENT_ASSIGNMENT, group_id, member_id, CurrentAssignmentRecord(
                LEAVE_GROUP_STATIC_MEMBER_EPOCH, cur.previous_epoch, cur.state, cur.assigned,
                cur.pending_revocation))])
            return HeartbeatResult(0, None, member_id, LEAVE_GROUP_STATIC_MEMBER_EPOCH)
        log.info("group %s: static member %s (instance %s) left", group_id, member_id, instance_id)
        self._fence(group, cg, member)
        return HeartbeatResult(0, None, member_id, LEAVE_GROUP_MEMBER_EPOCH)

    @staticmethod
    def _tombstones(group_id: str, member_id: str) -> list[Record]:
        return [(crec.CURRENT_ASSIGNMENT, group_id, member_id, None),
                (crec.TARGET_MEMBER, group_id, member_id, None),
                (crec.MEMBER_METADATA, group_id, member_id, None)]

    def _fence(self, group: Group, cg: ConsumerGroup, member: ConsumerMember) -> None:
        """Remove a member: its records deleted, subscriptions updated, the group epoch bumped; or, when
        it is the last consumer-protocol member of a group of classic members, downgrade the group."""
        if self._downgrade_allowed(cg, member):
            self._downgrade(group, cg, member)
            return
        self._remove(group, cg, [member])

    def _remove(self, group: Group, cg: ConsumerGroup, members: list[ConsumerMember]) -> None:
        records: list[Record] = []
        name_refs = Counter(cg.name_refs)
        regex_refs = Counter(cg.regex_refs)
        for member in members:
            records += self._tombstones(cg.group_id, member.member_id)
            name_refs.subtract(member.subscribed_names)
            if member.subscribed_regex:
                regex_refs[member.subscribed_regex] -= 1
            member.cancel_timers()
        regex_topics, regex_records = self._resolve_regexes(cg, regex_refs)
        records += regex_records
        subscription = self._subscription(name_refs, regex_topics)
        if subscription != cg.subscription:
            records.append((crec.PARTITION_METADATA, cg.group_id, None, subscription))
        records.append((crec.GROUP_METADATA, cg.group_id, None, cg.group_epoch + 1))
        self._write(group, cg, records)

    # -- timers ----------------------------------------------------------------------------
    def _arm_session(self, group: Group, cg: ConsumerGroup, member: ConsumerMember) -> None:
        if member.session_timer is not None:
            member.session_timer.cancel()
        loop = self.core.loop()
        timeout = member.classic.session_timeout_ms if member.classic is not None else \
            self.config["group.consumer.session.timeout.ms"]
        member.session_timer = loop.call_later(timeout / 1000, self._session_expired, group, cg, member)

    def _arm_join(self, group: Group, cg: ConsumerGroup, member: ConsumerMember) -> None:
        """A classic member told to rejoin must do so within its rebalance timeout (if not already counting)."""
        if member.join_timer is None:
            member.join_timer = self.core.loop().call_later(
                max(member.rebalance_timeout_ms, 0) / 1000, self._classic_expired, group, cg, member, "join")

    def _arm_sync(self, group: Group, cg: ConsumerGroup, member: ConsumerMember, timeout_ms: int) -> None:
        if member.sync_timer is not None:
            member.sync_timer.cancel()
        member.sync_timer = self.core.loop().call_later(max(timeout_ms, 0) / 1000, self._classic_expired, group,
                                                        cg, member, "sync")

    def _classic_expired(self, group: Group, cg: ConsumerGroup, member: ConsumerMember, what: str) -> None:
        if what == "join":
            member.join_timer = None
        else:
            member.sync_timer = None
        if group.consumer is not cg or cg.members.get(member.member_id) is not member:
            return
        log.info("group %s: classic member %s did not %s within its timeout", cg.group_id, member.member_id, what)
        try:
            self._fence(group, cg, member)
        except HeartbeatError:
            log.exception("fencing member %s of group %s failed", member.member_id, cg.group_id)

    def _session_expired(self, group: Group, cg: ConsumerGroup, member: ConsumerMember) -> None:
        member.session_timer = None
        if group.consumer is not cg or cg.members.get(member.member_id) is not member:
            return
        log.info("group %s: member %s session expired", cg.group_id, member.member_id)
        try:
            self._fence(group, cg, member)
        except HeartbeatError:
            log.exception("fencing member %s of group %s failed", member.member_id, cg.group_id)

    def _arm_rebalance(self, group: Group, cg: ConsumerGroup, member: ConsumerMember) -> None:
        if member.rebalance_timer is not None:
            member.rebalance_timer.cancel()
        member.rebalance_timer = self.core.loop().call_later(
            max(member.rebalance_timeout_ms, 0) / 1000, self._rebalance_expired, group, cg, member,
            member.member_epoch)

    def _rebalance_expired(self, group: Group, cg: ConsumerGroup, member: ConsumerMember, epoch: int) -> None:
        member.rebalance_timer = None
        if group.consumer is not cg or cg.members.get(member.member_id) is not member:
            return
        if member.state is MemberState.UNREVOKED_PARTITIONS and member.member_epoch == epoch:
            log.info("group %s: member %s did not revoke within its rebalance timeout", cg.group_id,
                     member.member_id)
            try:
                self._fence(group, cg, member)
            except HeartbeatError:
                log.exception("fencing member %s of group %s failed", member.member_id, cg.group_id)

    def loaded(self, group: Group) -> None:
        """Start every member's session (and pending revocations' rebalance timers) after a load."""
        cg = group.consumer
        assert cg is not None
        for m in cg.members.values():
            self._arm_session(group, cg, m)
            if m.state is MemberState.UNREVOKED_PARTITIONS:
                self._arm_rebalance(group, cg, m)

    def stop(self, group: Group) -> None:
        if group.consumer is not None:
            for m in group.consumer.members.values():
                m.cancel_timers()

    # -- writing ---------------------------------------------------------------------------
    def _write(self, group: Group, cg: ConsumerGroup, records: list[Record]) -> None:
        """Append the records (one batch) and apply them; a storage error is the caller's."""
        from keystream.kafka.groups import records as classic

        batch: list[tuple[bytes, bytes | None]] = []
        for rtype, gid, second, value in records:
            if rtype == -1:
                batch.append((classic.encode_group_key(gid), None))     # the classic group's tombstone
            else:
                batch.append((crec.encode_key(rtype, gid, second),
                               None if value is None else crec.encode_value(rtype, value)))
        try:
            self.core._append(group.partition, batch)
        except LogError as e:
            log.error("writing records of group %s failed: %s", cg.group_id, e)
            raise HeartbeatError(ErrorCode.kafka_storage_error) from None
        for rtype, _gid, second, value in records:
            if rtype != -1:
                cg.replay(rtype, second, value)
        if group.consumer is not cg:
            self.core.become_consumer_group(group, cg)
            for m in cg.members.values():           # members of an upgraded classic group
                if m.session_timer is None:
                    self._arm_session(group, cg, m)

    def delete_records(self, cg: ConsumerGroup) -> list[tuple[bytes, bytes | None]]:
        """Tombstones of every record of an empty consumer group (when it is deleted or converted)."""
        out: list[tuple[bytes, bytes | None]] = [
            (crec.encode_key(crec.REGULAR_EXPRESSION, cg.group_id, r), None) for r in cg.regexes]
        out += [(crec.encode_key(crec.PARTITION_METADATA, cg.group_id), None),
                (crec.encode_key(crec.TARGET_METADATA, cg.group_id), None),
                (crec.encode_key(crec.GROUP_METADATA, cg.group_id), None)]
        return out

    # -- offsets (ConsumerGroup.validateOffsetCommit / validateOffsetFetch) -------------------
    def validate_offset_commit(self, cg: ConsumerGroup, member_id: str, epoch: int, version: int,
                               transactional: bool = False) -> int:
        if epoch < 0 and not cg.members:
            return 0
        member = cg.members.get(member_id)
        if member is None:
            return ErrorCode.unknown_member_id
        if not transactional and member.classic is None and version < 9:
            return ErrorCode.unsupported_version
        if epoch != member.member_epoch:
            return ErrorCode.illegal_generation if member.classic is not None else ErrorCode.stale_member_epoch
        return 0

    def validate_offset_fetch(self, cg: ConsumerGroup, member_id: str | None, epoch: int) -> int:
        if member_id is None and epoch < 0:
            return 0
        member = cg.members.get(member_id or "")
        if member is None:
            return ErrorCode.unknown_member_id
        if epoch != member.member_epoch:
            return ErrorCode.illegal_generation if member.classic is not None else ErrorCode.stale_member_epoch
        return 0

    # -- ConsumerGroupDescribe ---------------------------------------------------------------
    def describe(self, group_id: str) -> tuple[int, ConsumerGroup | None]:
        """A consumer group, or GROUP_ID_NOT_FOUND (no message, as Kafka) for an unknown or classic one."""
        err = self.core.coordinator_error(group_id)
        if err:
            return err, None
        group = self.core.groups.get(group_id)
        if group is None or group.consumer is None:
            return ErrorCode.group_id_not_found, None
        return 0, group.consumer
