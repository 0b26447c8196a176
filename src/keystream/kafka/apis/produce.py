"""Produce (key 0), versions 3-12.

Behavior:
- Each partition's records (one or more v2 record batches, as the producer compressed them)
  go to `PartitionLog.append`, which validates and stores them; a storage error becomes that
  partition's error code and the loop goes on with the next partition.
- acks=0 sends no response at all; acks=1 and acks=-1 (all) answer after the append (one
  node: the leader is the whole ISR). Any other acks value: INVALID_REQUIRED_ACKS.
- Flush policy: when an append brings a partition to `log.flush.interval.messages` unflushed
  messages, the answer waits until that partition is fsynced (in a worker thread, shared with
  requests arriving meanwhile), as Kafka flushes inside the append; with acks=0 the flush
  starts without waiting. A failed fsync closes the connection: nothing is acknowledged.
- Produce never auto-creates a topic (Kafka neither): the producer's Metadata request does.
- Internal topics (`__consumer_offsets`, `__transaction_state`) refuse client records with
  INVALID_TOPIC_EXCEPTION, as Kafka's ReplicaManager does.
- Transactional batches are verified with the transaction coordinator first (KIP-890 part 1):
  the request's transactional id must have an Ongoing transaction of the batch's producer id
  and epoch that includes the partition (AddPartitionsToTxn), else INVALID_TXN_STATE (an
  older epoch: INVALID_PRODUCER_EPOCH). A transactional batch in a request without a
  transactional id is refused too (Kafka appends it unverified, which can leave a hanging
  transaction). Every batch of the partition's records is checked.
- The request is decoded in place (codec/fast.py `decode_produce_request`): each partition's
  records are a view of the received frame, validated (one pass: sizes, CRC-32C) and written
  from there; the response is encoded on the fast path too.
  Produce v12 (transaction version 2, KIP-890 part 2) adds the partition to the transaction
  instead (the producer sends no AddPartitionsToTxn), as Kafka's broker does on the coordinator.
Version notes: v5 adds log_start_offset, v8 record errors (KIP-467), v9 is flexible, v10 adds
tagged leader hints (KIP-951; one node: never set), v11 allows TRANSACTION_ABORTABLE (never
needed here), v12 is TV2. v13 (topic ids) is not offered.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Any

from keystream.kafka.apis.registry import NO_RESPONSE, Encoded, RequestContext, api
from keystream.kafka.codec.fast import ProducePartitionResult, decode_produce_request, encode_produce_response
from keystream.kafka.errors import ErrorCode, error_for
from keystream.log.batch import TRANSACTIONAL_BIT
from keystream.log.errors import LogError
from keystream.log.manager import INTERNAL_TOPICS

log = logging.getLogger("keystream.kafka")

__all__ = ["handle_produce"]

_PID_EPOCH = struct.Struct(">qh")
_I32 = struct.Struct(">i")
_HEADER_END = 61


@api(0, 3, 12, decode_produce_request)
def handle_produce(ctx: RequestContext, request: Any) -> Any:
    """Produce: append record batches to partition logs."""
    broker = ctx.broker
    logs = broker.logs
    acks = request.acks
    now = broker.now_ms()
    refuse: int = 0
    if acks not in (0, 1, -1):
        refuse = ErrorCode.invalid_required_acks
    results: list[tuple[str, list[ProducePartitionResult]]] = []
    must_flush = False
    for topic in request.topic_data:
        name = topic.name
        parts: list[ProducePartitionResult] = []
        for p in topic.partition_data:
            if refuse:
                parts.append(ProducePartitionResult(p.index, refuse))
                continue
            plog = logs.partition(name, p.index)
            if plog is None:
                parts.append(ProducePartitionResult(p.index, ErrorCode.unknown_topic_or_partition))
                continue
            if name in INTERNAL_TOPICS:      # as Kafka's ReplicaManager: only coordinators write them
                parts.append(ProducePartitionResult(p.index, ErrorCode.invalid_topic_exception))
                continue
            if not p.records:
                parts.append(ProducePartitionResult(p.index, ErrorCode.invalid_record, -1, -1,
                                                    plog.log_start_offset, "Produce request has no records"))
                continue
            records = p.records
            code = _verify_transactional(broker, request.transactional_id, records, (name, p.index),
                                         ctx.version >= 12)
            if code:
                parts.append(ProducePartitionResult(p.index, code, -1, -1, plog.log_start_offset))
                continue
            try:
                r = plog.append(records, now)
            except LogError as e:
                parts.append(ProducePartitionResult(p.index, error_for(e), -1, -1, plog.log_start_offset,
                                                    str(e) or None))
                continue
            parts.append(ProducePartitionResult(p.index, 0, r.base_offset, r.log_append_time,
                                                r.log_start_offset))
            broker.notify_append(name, p.index)
            if plog.unflushed_messages >= plog.config.flush_messages:
                must_flush = True
        results.append((name, parts))
    if acks == 0:
        if must_flush:
            asyncio.ensure_future(broker.flush_appended()).add_done_callback(_flush_failed)
        return NO_RESPONSE
    response = Encoded(encode_produce_response(ctx.version, results))
    if must_flush:
        return _after_flush(broker, response)
    return response


def _verify_transactional(broker: Any, transactional_id: str | None, records: Any, tp: tuple[str, int],
                          implicit_add: bool) -> int:
    """The error for the first transactional batch of records the coordinator does not allow, else 0.

    implicit_add (Produce v12, TV2): the partition is added to the transaction rather than checked."""
    pos = 0
    total = len(records)
    txn = broker.txn
    while total - pos >= _HEADER_END:
        if records[pos + 22] & TRANSACTIONAL_BIT:
            pid, epoch = _PID_EPOCH.unpack_from(records, pos + 43)
            if implicit_add:
                code = txn.add_for_produce(transactional_id, pid, epoch, tp)
            else:
                code = txn.verify_produce(transactional_id, pid, epoch, tp)
            if code:
                return code
        size = _I32.unpack_from(records, pos + 8)[0] + 12
        if size < _HEADER_END:
            break                   # malformed: the append's validation refuses it
        pos += size
    return 0


async def _after_flush(broker: Any, response: Encoded) -> Encoded:
    await broker.flush_appended()
    return response


def _flush_failed(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.error("log flush after an acks=0 produce failed", exc_info=fut.exception())
