"""Group membership APIs over the group coordinator (kafka/groups/coordinator.py).

FindCoordinator (10) v0-4, JoinGroup (11) v0-9, SyncGroup (14) v0-5, Heartbeat (12) v0-4,
LeaveGroup (13) v0-5, DescribeGroups (15) v0-5, ListGroups (16) v0-5, DeleteGroups (42) v0-2.

Behavior:
- Single node: FindCoordinator names this broker (at the address the client connected to)
  for every key; a group key creates `__consumer_offsets` on first use, as Kafka does.
  A transaction key (key type 1) creates `__transaction_state` on first use, as Kafka does;
  an empty transactional id is INVALID_REQUEST.
- JoinGroup and SyncGroup may wait (rebalance): the handler returns a Future.
- Client host is reported as Kafka does ("/127.0.0.1").
- DescribeGroups of an unknown group, or of a KIP-848 consumer group (which only
  ConsumerGroupDescribe describes): error NONE and state Dead, Kafka's answer below v6.
- Classic JoinGroup/SyncGroup/Heartbeat/LeaveGroup against a consumer group: see
  groups/consumer_group.py (an empty one converts; one with members keeps the classic member in
  it, Kafka 4.0's online migration).
  Authorized operations (v3+, when asked): READ, DESCRIBE and DELETE (no ACLs yet).
Version notes: JoinGroup v4 adds the MEMBER_ID_REQUIRED round trip (KIP-394), v5 static
membership (KIP-345), v7 protocol type/name in responses (KIP-559), v8 reason (KIP-800), v9
skip_assignment (KIP-814); LeaveGroup v3 batches members (KIP-345); ListGroups v4 filters by
state (KIP-518), v5 by type and lists each group's type (KIP-848); FindCoordinator v4 batches keys
(KIP-699).
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from keystream.kafka.apis.registry import RequestContext, api
from keystream.kafka.errors import ErrorCode
from keystream.kafka.groups.coordinator import Group, GroupState, JoinResult, SyncResult

__all__ = [
    "handle_delete_groups",
    "handle_describe_groups",
    "handle_find_coordinator",
    "handle_heartbeat",
    "handle_join_group",
    "handle_leave_group",
    "handle_list_groups",
    "handle_sync_group",
]

_GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8)     # READ, DELETE, DESCRIBE
_NOT_REQUESTED = -2147483648


def _ms(value: datetime.timedelta | int) -> int:
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds() * 1000)
    return int(value)


def _client_host(ctx: RequestContext) -> str:
    return "/" + ctx.conn.peer.rsplit(":", 1)[0]


# -- FindCoordinator ----------------------------------------------------------------------------

def _coordinator_for(ctx: RequestContext, key: str, key_type: int) -> tuple[int, str | None]:
    if key_type not in (0, 1):
        return ErrorCode.invalid_request, f"Unsupported key type {key_type}"
    if not key:
        return ErrorCode.invalid_request, ("Group id" if key_type == 0 else "Transactional id") + " cannot be empty"
    if key_type == 0:
        ctx.broker.groups.ensure_topic()
    else:
        ctx.broker.txn.ensure_topic()
    return 0, None


@api(10, 0, 4)
def handle_find_coordinator(ctx: RequestContext, request: Any) -> Any:
    """FindCoordinator: this node coordinates every group (and transactional id)."""
    conn = ctx.conn
    node = ctx.broker.node_id
    key_type = getattr(request, "key_type", 0)
    if ctx.version >= 4:
        coordinators = []
        for key in request.coordinator_keys:
            err, msg = _coordinator_for(ctx, key, key_type)
            coordinators.append(ctx.response(
                "Coordinator", key=key, node_id=-1 if err else node, host="" if err else conn.local_host,
                port=-1 if err else conn.local_port, error_code=ErrorCode(err), error_message=msg))
        return ctx.response("FindCoordinatorResponse", throttle_time=0, coordinators=tuple(coordinators))
    err, msg = _coordinator_for(ctx, request.key, key_type)
    return ctx.response("FindCoordinatorResponse", throttle_time=0, error_code=ErrorCode(err), error_message=msg,
                        node_id=-1 if err else node, host="" if err else conn.local_host,
                        port=-1 if err else conn.local_port)


# -- JoinGroup ----------------------------------------------------------------------------------

def _join_response(ctx: RequestContext, r: JoinResult) -> Any:
    members = tuple(ctx.response("JoinGroupResponseMember", member_id=mid, group_instance_id=iid, metadata=meta)
                    for mid, iid, meta in r.members)
    name = r.protocol_name if r.protocol_name is not None or ctx.version >= 7 else ""
    return ctx.response("JoinGroupResponse", throttle_time=0, error_code=ErrorCode(r.error), generation_id=r.generation,
                        protocol_type=r.protocol_type, protocol_name=name, leader=r.leader,
                        skip_assignment=r.skip_assignment, member_id=r.member_id, members=members)


@api(11, 0, 9)
def handle_join_group(ctx: RequestContext, request: Any) -> Any:
    """JoinGroup: join (or rejoin) a group; answered when the rebalance completes."""
    session = _ms(request.session_timeout)
    rebalance = _ms(getattr(request, "rebalance_timeout", session))
    instance = getattr(request, "group_instance_id", None)
    protocols = [(p.name, p.metadata) for p in request.protocols]
    result = ctx.broker.groups.join(
        request.group_id, request.member_id, instance, ctx.client_id or "", _client_host(ctx), session,
        rebalance, request.protocol_type, protocols, ctx.version >= 4 and instance is None,
        getattr(request, "reason", None))
    if isinstance(result, asyncio.Future):
        return _await(result, lambda r: _join_response(ctx, r))
    return _join_response(ctx, result)


async def _await(fut: asyncio.Future[Any], render: Any) -> Any:
    return render(await fut)


# -- SyncGroup ----------------------------------------------------------------------------------

def _sync_response(ctx: RequestContext, r: SyncResult) -> Any:
    return ctx.response("SyncGroupResponse", throttle_time=0, error_code=ErrorCode(r.error),
                        protocol_type=r.protocol_type, protocol_name=r.protocol_name, assignment=r.assignment)


@api(14, 0, 5)
def handle_sync_group(ctx: RequestContext, request: Any) -> Any:
    """SyncGroup: the leader hands in the assignment; every member gets its share."""
    result = ctx.broker.groups.sync(
        request.group_id, request.generation_id, request.member_id, getattr(request, "group_instance_id", None),
        getattr(request, "protocol_type", None), getattr(request, "protocol_name", None),
        [(a.member_id, a.assignment) for a in request.assignments])
    if isinstance(result, asyncio.Future):
        return _await(result, lambda r: _sync_response(ctx, r))
    return _sync_response(ctx, result)


# -- Heartbeat, LeaveGroup ----------------------------------------------------------------------

@api(12, 0, 4)
def handle_heartbeat(ctx: RequestContext, request: Any) -> Any:
    """Heartbeat: keep the session alive; REBALANCE_IN_PROGRESS tells the member to rejoin."""
    err = ctx.broker.groups.heartbeat(request.group_id, request.generation_id, request.member_id,
                                      getattr(request, "group_instance_id", None))
    return ctx.response("HeartbeatResponse", throttle_time=0, error_code=ErrorCode(err))


@api(13, 0, 5)
def handle_leave_group(ctx: RequestContext, request: Any) -> Any:
    """LeaveGroup: one member (v0-2) or a batch of members (v3+) leave the group."""
    coordinator = ctx.broker.groups
    if ctx.version < 3:
        top, errors = coordinator.leave(request.group_id, [(request.member_id, None)])
        return ctx.response("LeaveGroupResponse", throttle_time=0, error_code=ErrorCode(top or (errors[0] if errors else 0)))
    leaving = [(m.member_id, m.group_instance_id) for m in request.members]
    top, errors = coordinator.leave(request.group_id, leaving)
    members = () if top else tuple(
        ctx.response("MemberResponse", member_id=mid, group_instance_id=iid, error_code=ErrorCode(e))
        for (mid, iid), e in zip(leaving, errors, strict=True))
    return ctx.response("LeaveGroupResponse", throttle_time=0, error_code=ErrorCode(top), members=members)


# -- DescribeGroups, ListGroups, DeleteGroups ---------------------------------------------------

def _described(ctx: RequestContext, group_id: str, err: int, group: Group | None, ops: int) -> Any:
    if err or group is None or group.consumer is not None:
        return ctx.response("DescribedGroup", error_code=ErrorCode(err), group_id=group_id,
                            group_state="" if err else GroupState.DEAD.value, protocol_type="",
                            protocol_data="", members=(), authorized_operations=ops)
    stable = group.state is GroupState.STABLE
    members = tuple(
        ctx.response("DescribedGroupMember", member_id=m.member_id, group_instance_id=m.group_instance_id,
                     client_id=m.client_id, client_host=m.client_host,
                     member_metadata=m.metadata(group.protocol_name) if stable else b"",
                     member_assignment=m.assignment if stable else b"")
        for m in group.members.values())
    return ctx.response("DescribedGroup", error_code=ErrorCode(0), group_id=group_id, group_state=group.state.value,
                        protocol_type=group.protocol_type or "",
                        protocol_data=(group.protocol_name or "") if stable else "", members=members,
                        authorized_operations=ops)


@api(15, 0, 5)
def handle_describe_groups(ctx: RequestContext, request: Any) -> Any:
    """DescribeGroups: state, protocol and members (with metadata and assignment when Stable)."""
    ops = _GROUP_OPERATIONS if getattr(request, "include_authorized_operations", False) else _NOT_REQUESTED
    out = []
    for gid in request.groups:
        err, group = ctx.broker.groups.describe(gid)
        out.append(_described(ctx, gid, err, group, ops))
    return ctx.response("DescribeGroupsResponse", throttle_time=0, groups=tuple(out))


@api(16, 0, 5)
def handle_list_groups(ctx: RequestContext, request: Any) -> Any:
    """ListGroups: every group (of loaded partitions), optionally only those in given states and types."""
    coordinator = ctx.broker.groups
    groups = coordinator.list_groups(request.states_filter if ctx.version >= 4 else None,
                                     request.types_filter if ctx.version >= 5 else None)
    listed = tuple(ctx.response("ListedGroup", group_id=g.group_id, protocol_type=g.protocol_type or "",
                                group_state=g.state_name(), group_type=g.group_type()) for g in groups)
    err = ErrorCode.coordinator_load_in_progress if coordinator.loading else 0
    return ctx.response("ListGroupsResponse", throttle_time=0, error_code=ErrorCode(err), groups=listed)


@api(42, 0, 2)
def handle_delete_groups(ctx: RequestContext, request: Any) -> Any:
    """DeleteGroups: delete empty groups and their offsets (tombstones in __consumer_offsets)."""
    results = tuple(ctx.response("DeletableGroupResult", group_id=gid, error_code=ErrorCode(ctx.broker.groups.delete_group(gid)))
                    for gid in request.groups_names)
    return ctx.response("DeleteGroupsResponse", throttle_time=0, results=results)
