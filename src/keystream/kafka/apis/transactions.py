"""Transaction APIs over the transaction coordinator (kafka/txn/coordinator.py).

AddPartitionsToTxn (24) v0-5, AddOffsetsToTxn (25) v0-4, EndTxn (26) v0-5, WriteTxnMarkers (27)
v1, TxnOffsetCommit (28) v0-5, DescribeProducers (61) v0, DescribeTransactions (65) v0,
ListTransactions (66) v0-1. InitProducerId is init_producer_id.py, FindCoordinator groups.py.

Behavior:
- AddPartitionsToTxn: partitions of unknown topics get UNKNOWN_TOPIC_OR_PARTITION and the
  others OPERATION_NOT_ATTEMPTED (nothing is added), as Kafka; otherwise the coordinator's
  answer for every partition. v4+ batches transactions (KIP-890, used by brokers): each
  transaction with `verify_only` is only checked (per partition NONE or INVALID_TXN_STATE).
- AddOffsetsToTxn adds the group's `__consumer_offsets` partition to the transaction
  (creating the topic on first use).
- TxnOffsetCommit: the group coordinator stores the offsets as pending until the transaction's
  marker (kafka/groups/coordinator.py); v4 answers TRANSACTION_ABORTABLE where older versions
  get INVALID_TXN_STATE (the group's partition was not added to the transaction).
- EndTxn completes the transaction before answering (markers are local appends). v5 is
  transaction version 2 (KIP-890 part 2): the coordinator bumps the producer epoch on every
  completion and answers the producer id and epoch to go on with (coordinator.end_txn_v2).
- TxnOffsetCommit v5 (TV2) adds the group's `__consumer_offsets` partition to the transaction
  itself (no AddOffsetsToTxn); a refusal of that add is every partition's error.
- WriteTxnMarkers (broker-to-broker in Kafka) appends the markers it is given; errors per
  partition (UNKNOWN_TOPIC_OR_PARTITION, INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED).
- DescribeProducers reads each partition's producer state (UNKNOWN_TOPIC_OR_PARTITION else).
- DescribeTransactions: TRANSACTIONAL_ID_NOT_FOUND for an unknown id.
- ListTransactions: state and producer id filters; unknown state names are echoed in
  unknown_state_filters (KIP-664); v1 duration_filter keeps Ongoing transactions running at
  least that long (KIP-994).
Version notes: v2 of AddPartitionsToTxn/AddOffsetsToTxn/EndTxn brings PRODUCER_FENCED (older
versions get INVALID_PRODUCER_EPOCH), v3 is flexible. AddPartitionsToTxn v5 is what a TV2
broker sends for Produce v12's implicit add: it records client transaction version 2.
WriteTxnMarkers v2 (a transaction version per marker, Kafka 4.1) is not offered.
"""

from __future__ import annotations

import datetime
from typing import Any

from keystream.kafka.apis.registry import RequestContext, api
from keystream.kafka.errors import ErrorCode
from keystream.kafka.txn.coordinator import OFFSETS_TOPIC

__all__ = [
    "handle_add_offsets_to_txn",
    "handle_add_partitions_to_txn",
    "handle_describe_producers",
    "handle_describe_transactions",
    "handle_end_txn",
    "handle_list_transactions",
    "handle_txn_offset_commit",
    "handle_write_txn_markers",
]


# -- AddPartitionsToTxn -------------------------------------------------------------------------

def _add_partitions(ctx: RequestContext, txn_id: str, pid: int, epoch: int, topics: Any, verify_only: bool
                    ) -> tuple[Any, ...]:
    logs = ctx.broker.logs
    wanted = [(t.name, p) for t in topics for p in t.partitions]
    unknown = {tp for tp in wanted if logs.partition(*tp) is None}
    result: int | dict[tuple[str, int], int]
    if unknown:
        result = {tp: ErrorCode.unknown_topic_or_partition if tp in unknown else ErrorCode.operation_not_attempted
                  for tp in wanted}
    elif verify_only:
        result = ctx.broker.txn.verify_partitions(txn_id, pid, epoch, wanted)
    else:
        result = ctx.broker.txn.add_partitions(txn_id, pid, epoch, wanted, ctx.version >= 2,
                                               2 if ctx.version >= 5 else 0)
    return tuple(
        ctx.response("AddPartitionsToTxnTopicResult", name=t.name, results_by_partition=tuple(
            ctx.response("AddPartitionsToTxnPartitionResult", partition_index=p, partition_error_code=ErrorCode(
                result if isinstance(result, int) else result[(t.name, p)]))
            for p in t.partitions))
        for t in topics)


@api(24, 0, 5)
def handle_add_partitions_to_txn(ctx: RequestContext, request: Any) -> Any:
    """AddPartitionsToTxn: add partitions to the producer's transaction (or, v4+, verify them)."""
    if ctx.version < 4:
        results = _add_partitions(ctx, request.v3_and_below_transactional_id, request.v3_and_below_producer_id,
                                  request.v3_and_below_producer_epoch, request.v3_and_below_topics, False)
        return ctx.response("AddPartitionsToTxnResponse", throttle_time=0, results_by_topic_v3_and_below=results)
    out = []
    for t in request.transactions:
        results = _add_partitions(ctx, t.transactional_id, t.producer_id, t.producer_epoch, t.topics, t.verify_only)
        out.append(ctx.response("AddPartitionsToTxnResult", transactional_id=t.transactional_id,
                                topic_results=results))
    return ctx.response("AddPartitionsToTxnResponse", throttle_time=0, error_code=ErrorCode.none,
                        results_by_transaction=tuple(out))


# -- AddOffsetsToTxn ----------------------------------------------------------------------------

@api(25, 0, 4)
def handle_add_offsets_to_txn(ctx: RequestContext, request: Any) -> Any:
    """AddOffsetsToTxn: put the group's __consumer_offsets partition into the transaction."""
    groups = ctx.broker.groups
    groups.ensure_topic()
    part = groups.partition_for(request.group_id)
    err = ctx.broker.txn.add_partitions(request.transactional_id, request.producer_id, request.producer_epoch,
                                        [(OFFSETS_TOPIC, part)], ctx.version >= 2)
    return ctx.response("AddOffsetsToTxnResponse", throttle_time=0, error_code=ErrorCode(err))


# -- EndTxn -------------------------------------------------------------------------------------

@api(26, 0, 5)
def handle_end_txn(ctx: RequestContext, request: Any) -> Any:
    """EndTxn: commit or abort the producer's transaction (v5: bumping its epoch, which it answers)."""
    txn = ctx.broker.txn
    if ctx.version >= 5:
        err, pid, epoch = txn.end_txn_v2(request.transactional_id, request.producer_id, request.producer_epoch,
                                         request.committed)
        return ctx.response("EndTxnResponse", throttle_time=0, error_code=ErrorCode(err), producer_id=pid,
                            producer_epoch=epoch)
    err = txn.end_txn(request.transactional_id, request.producer_id, request.producer_epoch, request.committed,
                      ctx.version >= 2)
    return ctx.response("EndTxnResponse", throttle_time=0, error_code=ErrorCode(err))


# -- WriteTxnMarkers ----------------------------------------------------------------------------

@api(27, 1, 1)
def handle_write_txn_markers(ctx: RequestContext, request: Any) -> Any:
    """WriteTxnMarkers: append COMMIT/ABORT markers to the given partitions."""
    out = []
    for m in request.markers:
        wanted = [(t.name, p) for t in m.topics for p in t.partition_indexes]
        codes = ctx.broker.txn.write_markers(m.producer_id, m.producer_epoch, m.transaction_result,
                                             m.coordinator_epoch, wanted)
        topics = tuple(
            ctx.response("WritableTxnMarkerTopicResult", name=t.name, partitions=tuple(
                ctx.response("WritableTxnMarkerPartitionResult", partition_index=p,
                             error_code=ErrorCode(codes[(t.name, p)]))
                for p in t.partition_indexes))
            for t in m.topics)
        out.append(ctx.response("WritableTxnMarkerResult", producer_id=m.producer_id, topics=topics))
    return ctx.response("WriteTxnMarkersResponse", markers=tuple(out))


# -- TxnOffsetCommit ----------------------------------------------------------------------------

@api(28, 0, 5)
def handle_txn_offset_commit(ctx: RequestContext, request: Any) -> Any:
    """TxnOffsetCommit: offsets that become the group's committed offsets when the transaction commits."""
    if ctx.version >= 5:            # TV2: the group's partition joins the transaction implicitly
        groups = ctx.broker.groups
        groups.ensure_topic()
        err = ctx.broker.txn.add_partitions(request.transactional_id, request.producer_id, request.producer_epoch,
                                            [(OFFSETS_TOPIC, groups.partition_for(request.group_id))], True, 2)
        if err:
            code = ErrorCode(ErrorCode.invalid_producer_epoch if err == ErrorCode.producer_fenced else err)
            return ctx.response("TxnOffsetCommitResponse", throttle_time=0, topics=tuple(
                ctx.response("TxnOffsetCommitResponseTopic", name=t.name, partitions=tuple(
                    ctx.response("TxnOffsetCommitResponsePartition", partition_index=p.partition_index,
                                 error_code=code) for p in t.partitions))
                for t in request.topics))
    offsets = [(t.name, p.partition_index, p.committed_offset, getattr(p, "committed_leader_epoch", -1),
                p.committed_metadata) for t in request.topics for p in t.partitions]
    result = ctx.broker.groups.txn_commit_offsets(
        request.transactional_id, request.group_id, request.producer_id, request.producer_epoch,
        getattr(request, "generation_id", -1), getattr(request, "member_id", ""),
        getattr(request, "group_instance_id", None), offsets, ctx.version >= 4)
    topics = tuple(
        ctx.response("TxnOffsetCommitResponseTopic", name=t.name, partitions=tuple(
            ctx.response("TxnOffsetCommitResponsePartition", partition_index=p.partition_index, error_code=ErrorCode(
                result if isinstance(result, int) else result[(t.name, p.partition_index)]))
            for p in t.partitions))
        for t in request.topics)
    return ctx.response("TxnOffsetCommitResponse", throttle_time=0, topics=topics)


# -- DescribeProducers --------------------------------------------------------------------------

@api(61, 0, 0)
def handle_describe_producers(ctx: RequestContext, request: Any) -> Any:
    """DescribeProducers: the active producers of each partition (its producer state)."""
    logs = ctx.broker.logs
    topics = []
    for t in request.topics:
        parts = []
        for idx in t.partition_indexes:
            plog = logs.partition(t.name, idx)
            if plog is None:
                parts.append(ctx.response("PartitionResponse", partition_index=idx,
                                          error_code=ErrorCode.unknown_topic_or_partition,
                                          error_message=None, active_producers=()))
                continue
            active = tuple(
                ctx.response("ProducerState", producer_id=e.producer_id, producer_epoch=e.epoch,
                             last_sequence=e.last_seq, last_timestamp=e.last_timestamp,
                             coordinator_epoch=e.coordinator_epoch, current_txn_start_offset=e.txn_first_offset)
                for e in plog.producers.producers.values())
            parts.append(ctx.response("PartitionResponse", partition_index=idx, error_code=ErrorCode.none,
                                      error_message=None, active_producers=active))
        topics.append(ctx.response("TopicResponse", name=t.name, partitions=tuple(parts)))
    return ctx.response("DescribeProducersResponse", throttle_time=0, topics=tuple(topics))


# -- DescribeTransactions -----------------------------------------------------------------------

def _ms_datetime(ms: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)


@api(65, 0, 0)
def handle_describe_transactions(ctx: RequestContext, request: Any) -> Any:
    """DescribeTransactions: state, producer, timeout, start time and partitions of transactional ids."""
    out = []
    for tid in request.transactional_ids:
        err, txn = ctx.broker.txn.describe(tid)
        if txn is None:
            out.append(ctx.response("TransactionState", error_code=ErrorCode(err), transactional_id=tid,
                                    transaction_state="", transaction_timeout=0,
                                    transaction_start_time=_ms_datetime(-1), producer_id=-1, producer_epoch=-1,
                                    topics=()))
            continue
        by_topic: dict[str, list[int]] = {}
        for topic, part in sorted(txn.partitions):
            by_topic.setdefault(topic, []).append(part)
        topics = tuple(ctx.response("TopicData", topic=name, partitions=tuple(parts))
                       for name, parts in by_topic.items())
        out.append(ctx.response("TransactionState", error_code=ErrorCode.none, transactional_id=tid,
                                transaction_state=txn.state.display, transaction_timeout=txn.timeout_ms,
                                transaction_start_time=_ms_datetime(txn.start_ms), producer_id=txn.producer_id,
                                producer_epoch=txn.producer_epoch, topics=topics))
    return ctx.response("DescribeTransactionsResponse", throttle_time=0, transaction_states=tuple(out))


# -- ListTransactions ---------------------------------------------------------------------------

@api(66, 0, 1)
def handle_list_transactions(ctx: RequestContext, request: Any) -> Any:
    """ListTransactions: the transactional ids, filtered by state, producer id and (v1) duration."""
    err, unknown, txns = ctx.broker.txn.list(set(request.state_filters), set(request.producer_id_filters),
                                             getattr(request, "duration_filter", -1))
    states = tuple(ctx.response("TransactionState", transactional_id=t.transactional_id, producer_id=t.producer_id,
                                transaction_state=t.state.display)
                   for t in sorted(txns, key=lambda t: t.transactional_id))
    return ctx.response("ListTransactionsResponse", throttle_time=0, error_code=ErrorCode(err),
                        unknown_state_filters=tuple(sorted(unknown)), transaction_states=states)
