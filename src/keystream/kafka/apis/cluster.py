"""Cluster views: DescribeCluster (60) v0-1, DescribeLogDirs (35) v0-4.

Behavior:
- DescribeCluster: this node is the only broker and the controller; with endpoint type 2
  (controllers, v1, KIP-919) the same node is answered, since it is both. Authorized
  operations are not computed (no ACLs yet): Kafka's "not requested" value.
- DescribeLogDirs: one log dir, `<dir>/kafka`, with each partition's size in bytes, offset lag
  0 (no future replicas), and (v4) the file system's total and usable bytes. Topics that do
  not exist are left out, as Kafka does. A null topic list means every topic.
Version notes: DescribeLogDirs v0 comes from codec/legacy.py; v2 is flexible; v3 adds a
top-level error code; v4 disk sizes (KIP-827).
"""

from __future__ import annotations

import os
from typing import Any

from keystream.kafka.apis.registry import RequestContext, api
from keystream.kafka.errors import ErrorCode

__all__ = ["handle_describe_cluster", "handle_describe_log_dirs"]

_AUTH_OPS_UNSET = -2147483648


@api(60, 0, 1)
def handle_describe_cluster(ctx: RequestContext, request: Any) -> Any:
    """DescribeCluster: cluster id, controller and brokers."""
    broker = ctx.broker
    node = ctx.response("DescribeClusterBroker", broker_id=broker.node_id, host=ctx.conn.local_host,
                        port=ctx.conn.local_port, rack=None)
    return ctx.response("DescribeClusterResponse", throttle_time=0, error_code=ErrorCode.none, error_message=None,
                        endpoint_type=getattr(request, "endpoint_type", 1), cluster_id=broker.cluster_id,
                        controller_id=broker.node_id, brokers=(node,),
                        cluster_authorized_operations=_AUTH_OPS_UNSET)


@api(35, 0, 4)
def handle_describe_log_dirs(ctx: RequestContext, request: Any) -> Any:
    """DescribeLogDirs: partition sizes in our one log directory."""
    logs = ctx.broker.logs
    if request.topics is None:
        wanted = [(name, range(meta.num_partitions)) for name, meta in sorted(logs.topics.items())]
    else:
        wanted = [(t.topic, t.partitions) for t in request.topics]
    topics = []
    for name, indexes in wanted:
        parts = []
        for i in indexes:
            plog = logs.partition(name, i)
            if plog is None:
                continue
            parts.append(ctx.response("DescribeLogDirsPartition", partition_index=i, partition_size=plog.size_bytes(),
                                      offset_lag=0, is_future_key=False))
        if parts:
            topics.append(ctx.response("DescribeLogDirsTopic", name=name, partitions=tuple(parts)))
    log_dir = os.path.abspath(logs.kafka_dir)
    total = usable = -1
    try:
        st = os.statvfs(log_dir)
        total, usable = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
    except OSError:
        pass
    result = ctx.response("DescribeLogDirsResult", error_code=ErrorCode.none, log_dir=log_dir, topics=tuple(topics),
                          total_bytes=total, usable_bytes=usable)
    return ctx.response("DescribeLogDirsResponse", throttle_time=0, error_code=ErrorCode.none, results=(result,))
