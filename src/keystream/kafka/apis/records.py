"""DeleteRecords (key 21), versions 0-2.

Behavior:
- Moves each partition's log start offset up to the requested offset (-1: the high
  watermark); whole segments below it are deleted by the log layer. An offset above the high
  watermark is OFFSET_OUT_OF_RANGE; one below the current log start changes nothing.
- The low watermark answered is the log start offset afterwards.
- Unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION; the loop goes on.
Version notes: v2 is flexible.
"""

from __future__ import annotations

from typing import Any

from keystream.kafka.apis.registry import RequestContext, api
from keystream.kafka.errors import ErrorCode, error_for
from keystream.log.errors import LogError

__all__ = ["handle_delete_records"]


@api(21, 0, 2)
def handle_delete_records(ctx: RequestContext, request: Any) -> Any:
    """DeleteRecords: advance log start offsets."""
    logs = ctx.broker.logs
    topics = []
    for t in request.topics:
        parts = []
        for p in t.partitions:
            plog = logs.partition(t.name, p.partition_index)
            code: int = 0
            low = -1
            if plog is None:
                code = ErrorCode.unknown_topic_or_partition
            else:
                offset = plog.log_end_offset if p.offset == -1 else p.offset
                if offset < 0 or offset > plog.log_end_offset:
                    code = ErrorCode.offset_out_of_range
                else:
                    try:
                        low = plog.delete_records_before(offset)
                    except LogError as e:
                        code = error_for(e)
            parts.append(ctx.response("DeleteRecordsPartitionResult", partition_index=p.partition_index,
                                      low_watermark=low, error_code=ErrorCode(code)))
        topics.append(ctx.response("DeleteRecordsTopicResult", name=t.name, partitions=tuple(parts)))
    return ctx.response("DeleteRecordsResponse", throttle_time=0, topics=tuple(topics))
