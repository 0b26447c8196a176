"""Kafka error codes and the mapping from storage errors to them.

Codes are kio's `ErrorCode` (generated from Kafka's error list). `error_for(exc)` gives the
code for a storage-layer exception; anything unexpected is UNKNOWN_SERVER_ERROR and logged
by the caller.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from keystream.log import errors as log_errors
from keystream.log import producer_state

__all__ = ["ErrorCode", "error_for"]

_MAP: dict[type[Exception], ErrorCode] = {
    log_errors.CorruptRecordError: ErrorCode.corrupt_message,
    log_errors.RecordTooLargeError: ErrorCode.message_too_large,
    log_errors.RecordListTooLargeError: ErrorCode.record_list_too_large,
    log_errors.InvalidRecordError: ErrorCode.invalid_record,
    log_errors.OffsetOutOfRangeError: ErrorCode.offset_out_of_range,
    log_errors.TopicExistsError: ErrorCode.topic_already_exists,
    log_errors.UnknownTopicError: ErrorCode.unknown_topic_or_partition,
    log_errors.InvalidTopicError: ErrorCode.invalid_topic_exception,
    log_errors.InvalidConfigError: ErrorCode.invalid_config,
    log_errors.InvalidPartitionsError: ErrorCode.invalid_partitions,
    log_errors.PolicyViolationError: ErrorCode.policy_violation,
    log_errors.InvalidTxnStateError: ErrorCode.invalid_txn_state,
    log_errors.TransactionCoordinatorFencedError: ErrorCode.transaction_coordinator_fenced,
    producer_state.OutOfOrderSequenceError: ErrorCode.out_of_order_sequence_number,
    producer_state.InvalidProducerEpochError: ErrorCode.invalid_producer_epoch,
    log_errors.LogError: ErrorCode.kafka_storage_error,
}


def error_for(exc: BaseException) -> ErrorCode:
    for cls in type(exc).__mro__:
        code = _MAP.get(cls)
        if code is not None:
            return code
    return ErrorCode.unknown_server_error
