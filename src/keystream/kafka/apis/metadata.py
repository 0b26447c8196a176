"""Metadata (key 3), versions 0-12.

Behavior:
- Single node: this broker is every partition's leader (leader epoch 0), the only replica
  and ISR member, and the controller.
- Topics are auto-created with `num.partitions` partitions when the request allows it (v4+
  flag; always for v0-3) and `auto.create.topics.enable` is on. Creation is synchronous, so
  the new topic is returned at once (Kafka answers LEADER_NOT_AVAILABLE first).
- The broker's advertised address is the address the client connected to.
- Authorized operations are not computed (no ACLs yet): left at Kafka's "not requested" value.
Version notes: v10 adds topic ids, v12 allows a request by topic id only (KIP-516);
v0 asks for all topics with an empty list, v1+ with null.
"""

from __future__ import annotations

import uuid
from typing import Any

from keystream.kafka.apis.registry import Encoded, RequestContext, api
from keystream.kafka.codec.fast import (
    MetadataBroker,
    MetadataPartition,
    MetadataTopic,
    encode_metadata_response,
)
from keystream.kafka.errors import ErrorCode, error_for
from keystream.log.errors import LogError
from keystream.log.manager import INTERNAL_TOPICS

__all__ = ["auto_create", "handle_metadata"]

_ZERO_UUID = uuid.UUID(int=0)


def auto_create(ctx: RequestContext, name: str) -> int:
    """Create `name` with the broker defaults; returns a Kafka error code (0 on success)."""
    broker = ctx.broker
    try:
        broker.logs.create_topic(name, broker.config["num.partitions"], {})
    except LogError as e:
        return int(error_for(e))
    return 0


def topic_metadata(ctx: RequestContext, meta: Any) -> MetadataTopic:
    node = ctx.broker.node_id
    replicas = (node,)
    parts = [MetadataPartition(i, node, 0, 0, replicas, replicas, ()) for i in range(meta.num_partitions)]
    return MetadataTopic(meta.name, meta.topic_id, parts, 0, meta.name in INTERNAL_TOPICS)


@api(3, 0, 12)
def handle_metadata(ctx: RequestContext, request: Any) -> Encoded:
    """Metadata: brokers, cluster id, controller, and the requested topics' partitions."""
    broker = ctx.broker
    topics = broker.logs.topics
    wanted = request.topics
    out: list[MetadataTopic] = []
    if wanted is None or (ctx.version == 0 and not wanted):
        out = [topic_metadata(ctx, meta) for meta in topics.values()]
    else:
        allow = getattr(request, "allow_auto_topic_creation", True) and broker.config[
            "auto.create.topics.enable"]
        for t in wanted:
            name = t.name
            if name is None:
                topic_id = getattr(t, "topic_id", None)
                meta = None if topic_id is None or topic_id == _ZERO_UUID else broker.topic_by_id(topic_id)
                if meta is None:
                    out.append(MetadataTopic(None, topic_id, [], ErrorCode.unknown_topic_id))
                    continue
                out.append(topic_metadata(ctx, meta))
                continue
            meta = topics.get(name)
            if meta is None:
                code = auto_create(ctx, name) if allow else int(ErrorCode.unknown_topic_or_partition)
                meta = topics.get(name)
                if meta is None or code:
                    out.append(MetadataTopic(name, _ZERO_UUID, [], code or ErrorCode.unknown_topic_or_partition))
                    continue
            out.append(topic_metadata(ctx, meta))
    conn = ctx.conn
    brokers = [MetadataBroker(broker.node_id, conn.local_host, conn.local_port, None)]
    return Encoded(encode_metadata_response(ctx.version, brokers, broker.cluster_id, broker.node_id, out))
