"""Committed offsets: OffsetCommit (8) v0-8, OffsetFetch (9) v0-8, OffsetDelete (47) v0.

Behavior:
- Commits go through the group coordinator, which appends them to `__consumer_offsets`
  before the reply (see kafka/groups/coordinator.py for durability and expiry). A commit with
  generation -1 to a group without members is a standalone commit (no group management).
- A partition of a topic that does not exist gets UNKNOWN_TOPIC_OR_PARTITION; metadata over
  `offset.metadata.max.bytes` gets OFFSET_METADATA_TOO_LARGE; the other partitions go on.
- OffsetFetch answers -1 (no metadata, error NONE) for partitions without a committed offset;
  null topics (v2+) fetch everything the group committed. `require_stable` (v7+): a
  partition with offsets pending in an open transaction (TxnOffsetCommit) gets
  UNSTABLE_OFFSET_COMMIT and offset -1, and the client retries, as Kafka answers.
- OffsetDelete refuses partitions of topics a live consumer group subscribes to
  (GROUP_SUBSCRIBED_TO_TOPIC) and groups of other protocol types (NON_EMPTY_GROUP).
Version notes: OffsetCommit v0/v1 and OffsetFetch v0 come from codec/legacy.py (Kafka 4.0
dropped them); OffsetCommit v1 commit_timestamp is ignored (the broker stamps commits) and
v2-4 retention_time sets an explicit expiry; v6 adds leader epochs (KIP-320), v7 group
instance ids; OffsetFetch v8 fetches several groups in one request (KIP-709).
"""

from __future__ import annotations

import datetime
from typing import Any

from keystream.kafka.apis.registry import RequestContext, api
from keystream.kafka.errors import ErrorCode

__all__ = ["handle_offset_commit", "handle_offset_delete", "handle_offset_fetch"]


@api(8, 0, 8)
def handle_offset_commit(ctx: RequestContext, request: Any) -> Any:
    """OffsetCommit: store the group's offsets for the given partitions."""
    offsets = []
    for t in request.topics:
        for p in t.partitions:
            offsets.append((t.name, p.partition_index, p.committed_offset,
                            getattr(p, "committed_leader_epoch", -1), p.committed_metadata))
    retention = getattr(request, "retention_time", None)
    retention_ms = int(retention.total_seconds() * 1000) if isinstance(retention, datetime.timedelta) else -1
    if request.group_id is None:
        result: Any = ErrorCode.invalid_group_id
    else:
        result = ctx.broker.groups.commit_offsets(
            request.group_id, getattr(request, "generation_id_or_member_epoch", -1),
            getattr(request, "member_id", ""), getattr(request, "group_instance_id", None), offsets,
            retention_ms)
    topics = tuple(
        ctx.response("OffsetCommitResponseTopic", name=t.name, partitions=tuple(
            ctx.response("OffsetCommitResponsePartition", partition_index=p.partition_index,
                         error_code=ErrorCode(result if isinstance(result, int) else result[(t.name, p.partition_index)]))
            for p in t.partitions))
        for t in request.topics)
    return ctx.response("OffsetCommitResponse", throttle_time=0, topics=topics)


def _fetch_group(ctx: RequestContext, group_id: str, topics: Any, require_stable: bool
                 ) -> tuple[int, tuple[Any, ...]]:
    """(group error, response topics) for one group; topics None means every committed offset."""
    wanted = None if topics is None else [(t.name, p) for t in topics for p in t.partition_indexes]
    groups = ctx.broker.groups
    err, found = groups.fetch_offsets(group_id, wanted)
    if err and ctx.version < 2 and wanted is not None:
        found = [(t, p, None) for t, p in wanted]       # v0/v1 carry errors per partition only
    plural = "s" if ctx.version >= 8 else ""
    by_topic: dict[str, list[Any]] = {}
    for topic, part, r in found:
        if require_stable and not err and groups.has_pending_offset(group_id, topic, part):
            by_topic.setdefault(topic, []).append(ctx.response(
                "OffsetFetchResponsePartition" + plural, partition_index=part, committed_offset=-1,
                committed_leader_epoch=-1, metadata="", error_code=ErrorCode.unstable_offset_commit))
            continue
        by_topic.setdefault(topic, []).append(ctx.response(
            "OffsetFetchResponsePartition" + plural, partition_index=part,
            committed_offset=-1 if r is None else r.offset,
            committed_leader_epoch=-1 if r is None else r.leader_epoch, metadata="" if r is None else r.metadata,
            error_code=ErrorCode(err if ctx.version < 2 else 0)))
    out = tuple(ctx.response("OffsetFetchResponseTopic" + plural, name=name, partitions=tuple(parts))
                for name, parts in by_topic.items())
    return err, out


@api(9, 0, 8)
def handle_offset_fetch(ctx: RequestContext, request: Any) -> Any:
    """OffsetFetch: the committed offsets of one group (v0-7) or several (v8)."""
    if ctx.version >= 8:
        groups = []
        for g in request.groups:
            err, topics = _fetch_group(ctx, g.group_id, g.topics, request.require_stable)
            groups.append(ctx.response("OffsetFetchResponseGroup", group_id=g.group_id, topics=topics,
                                       error_code=ErrorCode(err)))
        return ctx.response("OffsetFetchResponse", throttle_time=0, groups=tuple(groups))
    err, topics = _fetch_group(ctx, request.group_id, request.topics, getattr(request, "require_stable", False))
    return ctx.response("OffsetFetchResponse", throttle_time=0, topics=topics, error_code=ErrorCode(err))


@api(47, 0, 0)
def handle_offset_delete(ctx: RequestContext, request: Any) -> Any:
    """OffsetDelete: remove committed offsets of partitions the group no longer consumes."""
    logs = ctx.broker.logs
    wanted = [(t.name, p.partition_index) for t in request.topics for p in t.partitions]
    known = [tp for tp in wanted if logs.partition(*tp) is not None]
    err, results = ctx.broker.groups.delete_offsets(request.group_id, known)
    topics = () if err else tuple(
        ctx.response("OffsetDeleteResponseTopic", name=t.name, partitions=tuple(
            ctx.response("OffsetDeleteResponsePartition", partition_index=p.partition_index,
                         error_code=ErrorCode(results.get((t.name, p.partition_index), ErrorCode.unknown_topic_or_partition)))
            for p in t.partitions))
        for t in request.topics)
    return ctx.response("OffsetDeleteResponse", error_code=ErrorCode(err), throttle_time=0, topics=topics)
