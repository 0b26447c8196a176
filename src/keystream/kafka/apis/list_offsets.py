"""ListOffsets (key 2), versions 1-7.

Behavior:
- timestamp -2 (earliest): the log start offset; -1 (latest): the log end offset, or under
  isolation_level read_committed (v2+) the last stable offset, as Kafka;
  -3 (max timestamp, v7, KIP-734): the offset and timestamp of the record with the largest
  timestamp; any other value: the first offset whose timestamp is >= it, or -1/-1 if none.
- Unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION, and the loop goes on.
- Leader epoch is 0 (single node).
"""

from __future__ import annotations

from typing import Any

from keystream.kafka.apis.registry import RequestContext, api
from keystream.kafka.errors import ErrorCode, error_for
from keystream.log.errors import LogError

__all__ = ["handle_list_offsets"]

EARLIEST = -2
LATEST = -1
MAX_TIMESTAMP = -3


def _lookup(plog: Any, ts: int, read_committed: bool) -> tuple[int, int]:
    if ts == EARLIEST:
        return -1, plog.log_start_offset
    if ts == LATEST:
        return -1, plog.last_stable_offset if read_committed else plog.log_end_offset
    if ts == MAX_TIMESTAMP:
        offset, max_ts = plog.max_timestamp()
        return max_ts, offset
    found = plog.offset_for_timestamp(ts)
    if found is None:
        return -1, -1
    offset, found_ts = found
    return found_ts, offset


@api(2, 1, 7)
def handle_list_offsets(ctx: RequestContext, request: Any) -> Any:
    """ListOffsets: offsets by position (earliest/latest) or by timestamp."""
    logs = ctx.broker.logs
    read_committed = getattr(request, "isolation_level", 0) == 1
    topics = []
    for t in request.topics:
        parts = []
        for p in t.partitions:
            plog = logs.partition(t.name, p.partition_index)
            if plog is None:
                parts.append(ctx.response("ListOffsetsPartitionResponse", partition_index=p.partition_index,
                                          error_code=ErrorCode.unknown_topic_or_partition, timestamp=-1,
                                          offset=-1, leader_epoch=-1))
                continue
            if p.timestamp == MAX_TIMESTAMP and ctx.version < 7:
                code, ts, offset = ErrorCode.unsupported_version, -1, -1
            else:
                try:
                    ts, offset = _lookup(plog, p.timestamp, read_committed)
                    code = ErrorCode.none
                except LogError as e:
                    code, ts, offset = error_for(e), -1, -1
            parts.append(ctx.response("ListOffsetsPartitionResponse", partition_index=p.partition_index,
                                      error_code=code, timestamp=ts, offset=offset, leader_epoch=0))
        topics.append(ctx.response("ListOffsetsTopicResponse", name=t.name, partitions=tuple(parts)))
    return ctx.response("ListOffsetsResponse", throttle_time=0, topics=tuple(topics))
