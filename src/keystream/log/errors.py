"""Errors of the storage layer, in Kafka's terms.

Each class maps to exactly one Kafka error code in the API layer (`keystream.kafka`); the text
is what the broker puts in the response's error message where the API has one.
"""

from __future__ import annotations

__all__ = [
    "CorruptRecordError",
    "InvalidConfigError",
    "InvalidPartitionsError",
    "InvalidRecordError",
    "InvalidTopicError",
    "InvalidTxnStateError",
    "LogError",
    "OffsetOutOfRangeError",
    "PolicyViolationError",
    "RecordListTooLargeError",
    "RecordTooLargeError",
    "TopicExistsError",
    "TransactionCoordinatorFencedError",
    "UnknownTopicError",
]


class LogError(Exception):
    """Base of every storage error; raised as such for I/O failures (KAFKA_STORAGE_ERROR)."""


class CorruptRecordError(LogError):
    """Bad record batch bytes: size, magic or CRC (CORRUPT_MESSAGE)."""


class RecordTooLargeError(LogError):
    """A batch over max.message.bytes (MESSAGE_TOO_LARGE)."""


class RecordListTooLargeError(LogError):
    """The records of one partition in a Produce request exceed segment.bytes (RECORD_LIST_TOO_LARGE)."""


class InvalidRecordError(LogError):
    """A well-formed batch that the broker refuses: offsets/count disagree, control batch (INVALID_RECORD)."""


class OffsetOutOfRangeError(LogError):
    """Fetch offset outside [log start, log end] (OFFSET_OUT_OF_RANGE)."""


class TopicExistsError(LogError):
    """TOPIC_ALREADY_EXISTS."""


class UnknownTopicError(LogError):
    """UNKNOWN_TOPIC_OR_PARTITION."""


class InvalidTopicError(LogError):
    """Illegal topic name, or one that collides with an existing topic (INVALID_TOPIC_EXCEPTION)."""


class InvalidConfigError(LogError):
    """Unknown topic config or a value it does not accept (INVALID_CONFIG)."""


class InvalidPartitionsError(LogError):
    """A partition count that cannot be used (INVALID_PARTITIONS)."""


class PolicyViolationError(LogError):
    """A request the broker's topic policy refuses (POLICY_VIOLATION)."""


class InvalidTxnStateError(LogError):
    """A producer's write that its transaction state does not allow (INVALID_TXN_STATE)."""


class TransactionCoordinatorFencedError(LogError):
    """A marker from an older coordinator epoch (TRANSACTION_COORDINATOR_FENCED)."""
