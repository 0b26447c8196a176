"""Topic administration: CreateTopics (19) v0-7, DeleteTopics (20) v0-6, CreatePartitions (37) v0-3.

Behavior:
- Single node: replication factor -1 (default) or 1 is accepted, anything above 1 is
  INVALID_REPLICATION_FACTOR, 0 or below -1 too. Manual replica assignments must name only
  this broker, once per partition (else INVALID_REPLICA_ASSIGNMENT) and cannot be combined
  with a partition count or replication factor (INVALID_REQUEST), as in Kafka.
- num_partitions -1 takes `num.partitions`. Topic configs are validated by the log layer
  (INVALID_CONFIG with Kafka's message); a null config value is INVALID_REQUEST.
- validate_only checks everything and creates nothing; the v5+ response still carries the
  partition count, replication factor and configs the topic would have (KIP-525).
- A topic named twice in one request gets INVALID_REQUEST for each mention.
- The timeout is not used: creation and deletion are synchronous.
Version notes: v0/v1 of CreateTopics and v0 of DeleteTopics come from codec/legacy.py
(Kafka 4.0 dropped them); DeleteTopics v6 deletes by topic id (KIP-516); CreateTopics v7
returns topic ids.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from keystream.kafka.apis.registry import RequestContext, api
from keystream.kafka.errors import ErrorCode, error_for
from keystream.log import topic_config
from keystream.log.errors import LogError

__all__ = ["config_source", "handle_create_partitions", "handle_create_topics", "handle_delete_topics"]

_SOURCES = {"topic": 1, "broker": 4, "default": 5}  # DYNAMIC_TOPIC_CONFIG, STATIC_BROKER, DEFAULT
_ZERO_UUID = uuid.UUID(int=0)


def config_source(source: str) -> int:
    return _SOURCES.get(source, 0)


def _effective_configs(ctx: RequestContext, overrides: dict[str, str]) -> list[tuple[str, str, str]]:
    """(name, value, source) of every topic config for a topic with these overrides."""
    out = []
    for key in sorted(topic_config.TOPIC_CONFIGS):
        if key in overrides:
            out.append((key, overrides[key], "topic"))
        else:
            text, source = topic_config.broker_default(ctx.broker.config, key)
            out.append((key, text, source))
    return out


def _check_replication(ctx: RequestContext, t: Any) -> tuple[int, str | None, int]:
    """(error code, message, partition count) from num_partitions/replication/assignments."""
    node = ctx.broker.node_id
    rf = t.replication_factor
    if t.assignments:
        if t.num_partitions != -1 or rf != -1:
            return (ErrorCode.invalid_request,
                    ("Both numPartitions or replicationFactor and replicasAssignments were set. "
                     "Both cannot be used at the same time."), 0)
        indexes = sorted(a.partition_index for a in t.assignments)
        if indexes != list(range(len(indexes))):
            return ErrorCode.invalid_replica_assignment, "Partitions should be consecutive and start at 0.", 0
        for a in t.assignments:
            if list(a.broker_ids) != [node]:
                return (ErrorCode.invalid_replica_assignment,
                        f"Replica assignment {list(a.broker_ids)} must name only broker {node}.", 0)
        return 0, None, len(indexes)
    if rf == 0 or rf < -1:
        return (ErrorCode.invalid_replication_factor,
                "Replication factor must be larger than 0, or -1 to use the default value.", 0)
    if rf > 1:
        return (ErrorCode.invalid_replication_factor,
                (f"Unable to replicate the partition {rf} time(s): The target replication factor of {rf} "
                 "cannot be reached because only 1 broker(s) are registered."), 0)
    if t.num_partitions == 0 or t.num_partitions < -1:
        return ErrorCode.invalid_partitions, "Number of partitions was set to an invalid non-positive value.", 0
    return 0, None, t.num_partitions


@api(19, 0, 7)
def handle_create_topics(ctx: RequestContext, request: Any) -> Any:
    """CreateTopics: create topics with partition counts and config overrides."""
    logs = ctx.broker.logs
    validate_only = getattr(request, "validate_only", False)
    counts = Counter(t.name for t in request.topics)
    results = []
    for t in request.topics:
        def fail(code: int, message: str | None, name: str = t.name) -> Any:
            return ctx.response("CreatableTopicResult", name=name, topic_id=_ZERO_UUID, error_code=ErrorCode(code),
                                error_message=message, num_partitions=-1, replication_factor=-1, configs=None)

        if counts[t.name] > 1:
            results.append(fail(ErrorCode.invalid_request, f"Create topics request from client contains "
                                                           f"duplicate topic name: {t.name}"))
            continue
        code, message, partitions = _check_replication(ctx, t)
        if code:
            results.append(fail(code, message))
            continue
        overrides: dict[str, str] = {}
        for c in t.configs:
            if c.value is None:
                code, message = ErrorCode.invalid_request, f"Null value not supported for topic configs: {c.name}"
                break
            overrides[c.name] = c.value
        if code:
            results.append(fail(code, message))
            continue
        try:
            meta = logs.create_topic(t.name, partitions, overrides, validate_only=validate_only)
        except LogError as e:
            results.append(fail(error_for(e), str(e) or None))
            continue
        configs = None if ctx.version < 5 else tuple(
            ctx.response("CreatableTopicConfigs", name=name, value=value, read_only=False,
                         config_source=config_source(source), is_sensitive=False)
            for name, value, source in _effective_configs(ctx, overrides))
        results.append(ctx.response(
            "CreatableTopicResult", name=t.name, topic_id=_ZERO_UUID if validate_only else meta.topic_id,
            error_code=ErrorCode.none, error_message=None, num_partitions=meta.num_partitions,
            replication_factor=1, configs=configs))
    return ctx.response("CreateTopicsResponse", throttle_time=0, topics=tuple(results))


@api(20, 0, 6)
def handle_delete_topics(ctx: RequestContext, request: Any) -> Any:
    """DeleteTopics: delete topics by name (or, v6, by topic id)."""
    broker = ctx.broker
    if ctx.version >= 6:
        wanted = [(t.name, t.topic_id) for t in request.topics]
    else:
        wanted = [(name, None) for name in request.topic_names]
    results = []
    for name, topic_id in wanted:
        if name is None:
            meta = broker.topic_by_id(topic_id) if topic_id not in (None, _ZERO_UUID) else None
            if meta is None:
                results.append(ctx.response("DeletableTopicResult", name=None, topic_id=topic_id,
                                            error_code=ErrorCode.unknown_topic_id,
                                            error_message="This server does not host this topic ID."))
                continue
            name = meta.name
        meta = broker.logs.topics.get(name)
        tid = meta.topic_id if meta is not None else _ZERO_UUID
        try:
            broker.logs.delete_topic(name)
        except LogError as e:
            results.append(ctx.response("DeletableTopicResult", name=name, topic_id=tid, error_code=error_for(e),
                                        error_message=str(e) or None))
            continue
        results.append(ctx.response("DeletableTopicResult", name=name, topic_id=tid, error_code=ErrorCode.none,
                                    error_message=None))
    return ctx.response("DeleteTopicsResponse", throttle_time=0, responses=tuple(results))


@api(37, 0, 3)
def handle_create_partitions(ctx: RequestContext, request: Any) -> Any:
    """CreatePartitions: raise topics' partition counts."""
    logs = ctx.broker.logs
    node = ctx.broker.node_id
    counts = Counter(t.name for t in request.topics)
    results = []
    for t in request.topics:
        code: int = 0
        message: str | None = None
        if counts[t.name] > 1:
            code, message = ErrorCode.invalid_request, "Duplicate topic in request."
        elif t.assignments is not None:
            meta = logs.topics.get(t.name)
            if meta is not None and len(t.assignments) != t.count - meta.num_partitions:
                code = ErrorCode.invalid_replica_assignment
                message = (f"Increasing the number of partitions by {t.count - meta.num_partitions} but "
                           f"{len(t.assignments)} assignments provided.")
            elif any(list(a.broker_ids) != [node] for a in t.assignments):
                code = ErrorCode.invalid_replica_assignment
                message = f"Replica assignments must name only broker {node}."
        if not code:
            try:
                logs.create_partitions(t.name, t.count, validate_only=request.validate_only)
            except LogError as e:
                code, message = error_for(e), str(e) or None
        results.append(ctx.response("CreatePartitionsTopicResult", name=t.name, error_code=ErrorCode(code),
                                    error_message=message))
    return ctx.response("CreatePartitionsResponse", throttle_time=0, results=tuple(results))
