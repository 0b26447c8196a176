"""Records of the internal topic `__transaction_state`, in Kafka's own key/value schemas.

    TransactionLogKey v0     version i16=0, transactional_id string
    TransactionLogValue v0   version i16=0, producer_id i64, producer_epoch i16,
                             transaction_timeout_ms i32, transaction_status i8,
                             transaction_partitions [topic string, partition_ids [i32]] (null for Empty),
                             last_update_timestamp_ms i64, start_timestamp_ms i64

Status codes are Kafka's TransactionState ids (Empty 0 ... PrepareEpochFence 7). A tombstone
(null value) removes an expired transactional id. We write value v0, as Kafka does for
transaction version 1 clients; v1 (flexible, KIP-890 part 2 tagged fields) is not read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["TxnRecord", "decode_key", "decode_value", "encode_key", "encode_value"]

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_HEAD = struct.Struct(">hqhib")
_TAIL = struct.Struct(">qq")


@dataclass(slots=True)
class TxnRecord:
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    status: int
    partitions: list[tuple[str, int]]
    last_update_ms: int
    start_ms: int


def _string(s: str) -> bytes:
    b = s.encode()
    return _I16.pack(len(b)) + b


def encode_key(transactional_id: str) -> bytes:
    return _I16.pack(0) + _string(transactional_id)


def decode_key(data: bytes) -> str | None:
    """The transactional id of a key; None for a key version we do not know."""
    (version,) = _I16.unpack_from(data, 0)
    if version != 0:
        return None
    (n,) = _I16.unpack_from(data, 2)
    return bytes(data[4:4 + n]).decode()


def encode_value(r: TxnRecord, empty: bool) -> bytes:
    out = bytearray(_HEAD.pack(0, r.producer_id, r.producer_epoch, r.timeout_ms, r.status))
    if empty:
        out += _I32.pack(-1)
    else:
        by_topic: dict[str, list[int]] = {}
        for topic, part in sorted(r.partitions):
            by_topic.setdefault(topic, []).append(part)
        out += _I32.pack(len(by_topic))
        for topic, parts in by_topic.items():
            out += _string(topic) + _I32.pack(len(parts))
            for p in parts:
                out += _I32.pack(p)
    out += _TAIL.pack(r.last_update_ms, r.start_ms)
    return bytes(out)


def decode_value(data: bytes) -> TxnRecord | None:
    """A value v0; None for another version. struct.error / ValueError when malformed."""
    version, pid, epoch, timeout, status = _HEAD.unpack_from(data, 0)
    if version != 0:
        return None
    pos = _HEAD.size
    (count,) = _I32.unpack_from(data, pos)
    pos += 4
    parts: list[tuple[str, int]] = []
    for _ in range(max(count, 0)):
        (n,) = _I16.unpack_from(data, pos)
        topic = bytes(data[pos + 2:pos + 2 + n]).decode()
        pos += 2 + n
        (k,) = _I32.unpack_from(data, pos)
        pos += 4
        for _ in range(k):
            parts.append((topic, _I32.unpack_from(data, pos)[0]))
            pos += 4
    last, start = _TAIL.unpack_from(data, pos)
    return TxnRecord(pid, epoch, timeout, status, parts, last, start)
