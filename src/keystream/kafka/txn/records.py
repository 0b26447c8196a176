"""Records of the internal topic `__transaction_state`, in Kafka's own key/value schemas.

    TransactionLogKey v0     version i16=0, transactional_id string
    TransactionLogValue v0   version i16=0, producer_id i64, producer_epoch i16,
                             transaction_timeout_ms i32, transaction_status i8,
                             transaction_partitions [topic string, partition_ids [i32]] (null for Empty),
                             last_update_timestamp_ms i64, start_timestamp_ms i64
    TransactionLogValue v1   the same fields, flexible (compact strings and arrays, a tagged-field
                             section per partition entry), then tagged fields: 0 previous_producer_id
                             i64 (default -1), 1 next_producer_id i64 (default -1),
                             2 client_transaction_version i16 (default 0)

Kafka 4.0 writes value v1 once `transaction.version` >= 1 is finalized (its default for a new
cluster is 2), emitting a tagged field only when it differs from its default; so do we. Both
versions are read. Status codes are Kafka's TransactionState ids (Empty 0 ... PrepareEpochFence
7). A tombstone (null value) removes an expired transactional id.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from keystream.kafka.codec.header import read_uvarint, skip_tagged_fields
from keystream.kafka.codec.primitives import string, uvarint

__all__ = ["VALUE_VERSION", "TxnRecord", "decode_key", "decode_value", "encode_key", "encode_value"]

VALUE_VERSION = 1

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_HEAD = struct.Struct(">hqhib")
_TAIL = struct.Struct(">qq")
_TAG_PREVIOUS_PID = 0
_TAG_NEXT_PID = 1
_TAG_CLIENT_TV = 2


@dataclass(slots=True)
class TxnRecord:
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    status: int
    partitions: list[tuple[str, int]]
    last_update_ms: int
    start_ms: int
    previous_producer_id: int = -1
    next_producer_id: int = -1
    client_transaction_version: int = 0


def _string(s: str, flexible: bool) -> bytes:
    return string(s.encode(), flexible)


def encode_key(transactional_id: str) -> bytes:
    return _I16.pack(0) + _string(transactional_id, False)


def decode_key(data: bytes) -> str | None:
    """The transactional id of a key; None for a key version we do not know."""
    (version,) = _I16.unpack_from(data, 0)
    if version != 0:
        return None
    (n,) = _I16.unpack_from(data, 2)
    return bytes(data[4:4 + n]).decode()


def encode_value(r: TxnRecord, empty: bool, version: int = VALUE_VERSION) -> bytes:
    """Value `version` (0 or 1) of r; `empty` writes null partitions (the Empty state)."""
    flex = version >= 1
    out = bytearray(_HEAD.pack(version, r.producer_id, r.producer_epoch, r.timeout_ms, r.status))
    if empty:
        out += b"\x00" if flex else _I32.pack(-1)
    else:
        by_topic: dict[str, list[int]] = {}
        for topic, part in sorted(r.partitions):
            by_topic.setdefault(topic, []).append(part)
        out += uvarint(len(by_topic) + 1) if flex else _I32.pack(len(by_topic))
        for topic, parts in by_topic.items():
            out += _string(topic, flex) + (uvarint(len(parts) + 1) if flex else _I32.pack(len(parts)))
            for p in parts:
                out += _I32.pack(p)
            if flex:
                out += b"\x00"
    out += _TAIL.pack(r.last_update_ms, r.start_ms)
    if flex:
        tags: list[tuple[int, bytes]] = []
        if r.previous_producer_id != -1:
            tags.append((_TAG_PREVIOUS_PID, _I64.pack(r.previous_producer_id)))
        if r.next_producer_id != -1:
            tags.append((_TAG_NEXT_PID, _I64.pack(r.next_producer_id)))
        if r.client_transaction_version != 0:
            tags.append((_TAG_CLIENT_TV, _I16.pack(r.client_transaction_version)))
        out += uvarint(len(tags))
        for tag, data in tags:
            out += uvarint(tag) + uvarint(len(data)) + data
    return bytes(out)


def decode_value(data: bytes) -> TxnRecord | None:
    """A value v0 or v1; None for another version. struct.error / ValueError / IndexError when malformed."""
    version, pid, epoch, timeout, status = _HEAD.unpack_from(data, 0)
    if version not in (0, 1):
        return None
    flex = version == 1
    pos = _HEAD.size
    count, pos = _read_length(data, pos, flex, _I32)
    parts: list[tuple[str, int]] = []
    for _ in range(max(count, 0)):
        n, pos = _read_length(data, pos, flex, _I16)
        if n < 0 or pos + n > len(data):
            raise ValueError("topic name runs past the end")
        topic = bytes(data[pos:pos + n]).decode()
        pos += n
        k, pos = _read_length(data, pos, flex, _I32)
        for _ in range(k):
            parts.append((topic, _I32.unpack_from(data, pos)[0]))
            pos += 4
        if flex:
            pos = skip_tagged_fields(data, pos)
    last, start = _TAIL.unpack_from(data, pos)
    r = TxnRecord(pid, epoch, timeout, status, parts, last, start)
    if flex:
        pos += _TAIL.size
        ntags, pos = read_uvarint(data, pos)
        for _ in range(ntags):
            tag, pos = read_uvarint(data, pos)
            size, pos = read_uvarint(data, pos)
            if tag == _TAG_PREVIOUS_PID:
                r.previous_producer_id = _I64.unpack_from(data, pos)[0]
            elif tag == _TAG_NEXT_PID:
                r.next_producer_id = _I64.unpack_from(data, pos)[0]
            elif tag == _TAG_CLIENT_TV:
                r.client_transaction_version = _I16.unpack_from(data, pos)[0]
            pos += size
    return r


def _read_length(data: bytes, pos: int, flexible: bool, fixed: struct.Struct) -> tuple[int, int]:
    """A string or array length at pos (-1: null): compact (varint + 1) when flexible, else fixed."""
    if flexible:
        n, pos = read_uvarint(data, pos)
        return n - 1, pos
    return fixed.unpack_from(data, pos)[0], pos + fixed.size
