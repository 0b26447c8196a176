"""Fetch (key 1), versions 4-13.

Behavior:
- Reads whole record batches from each partition log and sends them untouched: the response
  holds ranges of the segment files (`PartitionLog.read_slices`), which the connection sends
  with sendfile after the encoded header and partition metadata (fast path, codec/fast.py;
  connection.py), as Kafka does: the record bytes never pass through Python. A batch may
  begin before the requested offset; clients skip the records they did not ask for.
  Nothing is modified on the way (Fetch v4+ always carries v2 batches, no down-conversion).
  Each range holds a duplicate descriptor until sent; a process out of descriptors gets the
  bytes copied instead (PartitionLog.read) rather than a failed fetch.
- Sizes: `partition_max_bytes` per partition and `max_bytes` for the whole response, except
  that the first batch of the first non-empty partition is always returned whole, however
  large, so a consumer can always make progress (KIP-74).
- Long polling: with fewer than `min_bytes` available the request waits up to `max_wait_ms`
  and is woken as soon as a Produce appends to one of its partitions; it then re-reads.
- Errors per partition: UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID (v13),
  OFFSET_OUT_OF_RANGE (offset below the log start or above the log end), with the high
  watermark and log start offset filled in so the client can reset.
- Fetch sessions (KIP-227) are not offered: session id 0 in every response means "no
  session", so clients keep sending full fetch requests; a request naming a session gets
  FETCH_SESSION_ID_NOT_FOUND.
- Transactions: every partition reports its last stable offset (LSO). read_committed
  (isolation_level 1) returns only batches that start below the LSO, and the aborted
  transactions (producer id, first offset) from the fetch offset up to the LSO, so that the
  client drops their records (and skips markers); read_uncommitted gets null there.
- Follower fetches (replica_id >= 0) are refused with NOT_LEADER_OR_FOLLOWER until replication.
Version notes: v5 log start offset, v7 sessions, v11 rack-aware preferred replica (-1),
v12 flexible, v13 topic ids instead of names (KIP-516).
"""

from __future__ import annotations

import errno
from typing import Any

from keystream.kafka.apis.registry import Encoded, RequestContext, api
from keystream.kafka.codec.fast import FetchPartitionResult, FetchTopicResult, encode_fetch_response
from keystream.kafka.errors import ErrorCode, error_for
from keystream.log.errors import LogError

__all__ = ["handle_fetch"]


def _read_all(ctx: RequestContext, request: Any) -> tuple[list[FetchTopicResult], int, bool]:
    """One pass over the requested partitions: (results, bytes of records, any error)."""
    broker = ctx.broker
    logs = broker.logs
    v13 = ctx.version >= 13
    read_committed = getattr(request, "isolation_level", 0) == 1
    remaining = request.max_bytes
    total = 0
    error = False
    out: list[FetchTopicResult] = []
    for t in request.topics:
        if v13:
            meta = broker.topic_by_id(t.topic_id)
            name = meta.name if meta is not None else None
            topic_id = t.topic_id
        else:
            name = t.topic
            meta = logs.topics.get(name)
            topic_id = meta.topic_id if meta is not None else None
        parts: list[FetchPartitionResult] = []
        for p in t.partitions:
            idx = p.partition
            plog = logs.partition(name, idx) if name is not None else None
            if plog is None:
                code = ErrorCode.unknown_topic_id if v13 and meta is None else ErrorCode.unknown_topic_or_partition
                parts.append(FetchPartitionResult(idx, code))
                error = True
                continue
            start = plog.log_start_offset
            end = plog.log_end_offset
            offset = p.fetch_offset
            lso = plog.last_stable_offset
            if offset < start or offset > end:
                parts.append(FetchPartitionResult(idx, ErrorCode.offset_out_of_range, end, lso, start))
                error = True
                continue
            records: list[Any] = []
            upper = lso if read_committed else end
            if offset < upper and (remaining > 0 or total == 0):
                limit = min(p.partition_max_bytes, remaining) if total else p.partition_max_bytes
                bound = lso if read_committed else None
                try:
                    try:
                        slices: list[Any] = plog.read_slices(offset, max(limit, 1), bound)
                    except OSError as e:
                        if e.errno not in (errno.EMFILE, errno.ENFILE):
                            raise
                        slices = plog.read(offset, max(limit, 1), bound)    # out of descriptors: copy
                except LogError as e:
                    parts.append(FetchPartitionResult(idx, error_for(e), end, lso, start))
                    error = True
                    continue
                for s in slices:
                    n = len(s)
                    if records and n > limit:
                        break
                    if total and n > remaining:
                        break
                    records.append(s)
                    limit -= n
                    remaining -= n
                    total += n
            aborted = plog.aborted_transactions(offset, lso) if read_committed and records else None
            parts.append(FetchPartitionResult(idx, 0, end, lso, start, records, aborted))
        out.append(FetchTopicResult(name or "", topic_id, parts))
    return out, total, error


def _encode(ctx: RequestContext, request: Any, topics: list[FetchTopicResult]) -> Encoded:
    return Encoded(encode_fetch_response(ctx.version, topics,
                                         read_committed=getattr(request, "isolation_level", 0) == 1))


@api(1, 4, 13)
def handle_fetch(ctx: RequestContext, request: Any) -> Any:
    """Fetch: read record batches, waiting up to max_wait_ms for min_bytes."""
    if request.replica_id >= 0:
        return _refuse(ctx, request, ErrorCode.not_leader_or_follower)
    if getattr(request, "session_id", 0) != 0:
        return Encoded(encode_fetch_response(ctx.version, [], error_code=ErrorCode.fetch_session_id_not_found))
    topics, total, error = _read_all(ctx, request)
    max_wait_ms = int(request.max_wait.total_seconds() * 1000)
    if error or total >= request.min_bytes or max_wait_ms <= 0 or not request.topics:
        return _encode(ctx, request, topics)
    return _long_poll(ctx, request, max_wait_ms, topics)


async def _long_poll(ctx: RequestContext, request: Any, max_wait_ms: int,
                     topics: list[FetchTopicResult]) -> Encoded:
    broker = ctx.broker
    keys = [(t.name, p.index) for t in topics for p in t.partitions]
    deadline = broker.now_ms() + max_wait_ms
    while True:
        left = deadline - broker.now_ms()
        if left <= 0:
            break
        await broker.wait_for_append(keys, left / 1000)
        topics, total, error = _read_all(ctx, request)
        if error or total >= request.min_bytes:
            break
    return _encode(ctx, request, topics)


def _refuse(ctx: RequestContext, request: Any, code: int) -> Encoded:
    topics = []
    for t in request.topics:
        name = getattr(t, "topic", "") or ""
        topics.append(FetchTopicResult(name, getattr(t, "topic_id", None),
                                       [FetchPartitionResult(p.partition, code) for p in t.partitions]))
    return _encode(ctx, request, topics)
