"""Records of the internal topic `__consumer_offsets`, in Kafka's own key/value schemas.

Keys and values are Kafka's (non-flexible) schemas, so a Kafka tool reading our
`__consumer_offsets` understands them:

    OffsetCommitKey v1     version i16=1, group string, topic string, partition i32
    OffsetCommitValue v3   version i16=3, offset i64, leader_epoch i32, metadata string,
                           commit_timestamp i64
                      (v1  version i16=1, offset i64, metadata string, commit_timestamp i64,
                           expire_timestamp i64 — written for commits with an explicit retention)
    GroupMetadataKey v2    version i16=2, group string
    GroupMetadataValue v3  version i16=3, protocol_type string, generation i32,
                           protocol string?, leader string?, current_state_timestamp i64,
                           members [member_id string, group_instance_id string?, client_id
                           string, client_host string, rebalance_timeout i32,
                           session_timeout i32, subscription bytes, assignment bytes]

A tombstone is a record with a null value. Records travel in uncompressed record batches v2
(producer id -1) built by `keystream.log.batch.build_batch`; `iter_records` reads batches back (uncompressed and
gzip; batches of other codecs are skipped, as we never write them). Older value versions
(OffsetCommitValue v0/v1 with expire timestamp, GroupMetadataValue v0-v2) are read too.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from keystream.log.batch import (
    COMPRESSION_MASK,
    CONTROL_BIT,
    HEADER_SIZE,
    LOG_OVERHEAD,
    TRANSACTIONAL_BIT,
    batch_header,
    build_batch,
    control_record_type,
    read_varint,
)

__all__ = [
    "GroupRecord",
    "MemberRecord",
    "OffsetRecord",
    "build_batch",
    "decode_group_value",
    "decode_key",
    "decode_offset_value",
    "encode_group_key",
    "encode_group_value",
    "encode_offset_key",
    "encode_offset_value",
    "iter_batch_records",
    "iter_records",
    "java_string_hash",
    "next_offset",
]

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_OFFSET_VALUE = struct.Struct(">hqi")


@dataclass(slots=True)
class OffsetRecord:
    offset: int
    leader_epoch: int          # -1: unknown
    metadata: str
    commit_timestamp: int
    expire_timestamp: int | None = None    # only from values v1 (explicit retention)


@dataclass(slots=True)
class MemberRecord:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    subscription: bytes
    assignment: bytes


@dataclass(slots=True)
class GroupRecord:
    protocol_type: str
    generation: int
    protocol: str | None
    leader: str | None
    current_state_timestamp: int
    members: list[MemberRecord] = field(default_factory=list)


def java_string_hash(s: str) -> int:
    """Java's String.hashCode (over UTF-16 code units), as a signed 32-bit int."""
    h = 0
    data = s.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


# -- primitive writers/readers ---------------------------------------------------------------

def _str(s: str) -> bytes:
    b = s.encode()
    return _I16.pack(len(b)) + b


def _nstr(s: str | None) -> bytes:
    return b"\xff\xff" if s is None else _str(s)


def _bytes(b: bytes) -> bytes:
    return _I32.pack(len(b)) + b


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def i16(self) -> int:
        v = _I16.unpack_from(self.buf, self.pos)[0]
        self.pos += 2
        return v

    def i32(self) -> int:
        v = _I32.unpack_from(self.buf, self.pos)[0]
        self.pos += 4
        return v

    def i64(self) -> int:
        v = _I64.unpack_from(self.buf, self.pos)[0]
        self.pos += 8
        return v

    def nstr(self) -> str | None:
        n = self.i16()
        if n < 0:
            return None
        end = self.pos + n
        if end > len(self.buf):
            raise ValueError("string runs past the end")
        v = self.buf[self.pos:end].decode()
        self.pos = end
        return v

    def str(self) -> str:
        v = self.nstr()
        if v is None:
            raise ValueError("null where a string is required")
        return v

    def bytes(self) -> bytes:
        n = self.i32()
        if n < 0:
            return b""
        end = self.pos + n
        if end > len(self.buf):
            raise ValueError("bytes run past the end")
        v = bytes(self.buf[self.pos:end])
        self.pos = end
        return v


# -- keys and values ---------------------------------------------------------------------------

def encode_offset_key(group: str, topic: str, partition: int) -> bytes:
    return b"\x00\x01" + _str(group) + _str(topic) + _I32.pack(partition)


def encode_group_key(group: str) -> bytes:
    return b"\x00\x02" + _str(group)


def encode_offset_value(rec: OffsetRecord) -> bytes:
    """Value v3; v1 when the commit set an explicit expiry (v3 has no field for it), as Kafka does."""
    if rec.expire_timestamp is not None:
        return _I16.pack(1) + _I64.pack(rec.offset) + _str(rec.metadata) + \
            _I64.pack(rec.commit_timestamp) + _I64.pack(rec.expire_timestamp)
    return _OFFSET_VALUE.pack(3, rec.offset, rec.leader_epoch) + _str(rec.metadata) + _I64.pack(rec.commit_timestamp)


def encode_group_value(rec: GroupRecord) -> bytes:
    parts = [_I16.pack(3), _str(rec.protocol_type), _I32.pack(rec.generation), _nstr(rec.protocol),
             _nstr(rec.leader), _I64.pack(rec.current_state_timestamp), _I32.pack(len(rec.members))]
    for m in rec.members:
        parts += [_str(m.member_id), _nstr(m.group_instance_id), _str(m.client_id), _str(m.client_host),
                  _I32.pack(m.rebalance_timeout_ms), _I32.pack(m.session_timeout_ms),
                  _bytes(m.subscription), _bytes(m.assignment)]
    return b"".join(parts)


def decode_key(key: bytes) -> tuple[str, str, str, int] | tuple[str, str] | None:
    """("offset", group, topic, partition) or ("group", group); None for other key versions."""
    r = _Reader(key)
    version = r.i16()
    if version in (0, 1):
        return ("offset", r.str(), r.str(), r.i32())
    if version == 2:
        return ("group", r.str())
    return None


def decode_offset_value(value: bytes) -> OffsetRecord:
    r = _Reader(value)
    version = r.i16()
    if version not in (0, 1, 2, 3, 4):
        raise ValueError(f"unknown OffsetCommitValue version {version}")
    offset = r.i64()
    epoch = r.i32() if version >= 3 else -1
    metadata = r.str()
    ts = r.i64()
    expire = r.i64() if version == 1 else None
    return OffsetRecord(offset, epoch, metadata, ts, expire if expire is not None and expire >= 0 else None)


def decode_group_value(value: bytes) -> GroupRecord:
    r = _Reader(value)
    version = r.i16()
    if version not in (0, 1, 2, 3):
        raise ValueError(f"unknown GroupMetadataValue version {version}")
    rec = GroupRecord(r.str(), r.i32(), r.nstr(), r.nstr(), r.i64() if version >= 2 else -1)
    for _ in range(r.i32()):
        member_id = r.str()
        instance = r.nstr() if version >= 3 else None
        client_id = r.str()
        host = r.str()
        rebalance = r.i32() if version >= 1 else -1
        session = r.i32()
        if version == 0:
            rebalance = session
        rec.members.append(MemberRecord(member_id, instance, client_id, host, rebalance, session,
                                        r.bytes(), r.bytes()))
    return rec


# -- record batches ----------------------------------------------------------------------------

def next_offset(chunk: memoryview) -> int | None:
    """The offset after the last complete batch of a run of stored batches (None: no complete batch).

    Not the offset after the last record: compaction keeps a batch's lastOffsetDelta when it
    removes the batch's last records, so reading on from the last record would read the same
    batch again.
    """
    pos = 0
    total = len(chunk)
    out = None
    while total - pos >= HEADER_SIZE:
        base, length, _epoch, _magic, _crc, _attrs, last_delta = batch_header(chunk, pos)[:7]
        end = pos + LOG_OVERHEAD + length
        if end > total:
            break
        out = base + last_delta + 1
        pos = end
    return out


def iter_records(chunk: memoryview) -> Iterator[tuple[int, bytes | None, bytes | None]]:
    """(offset, key, value) of every record in a run of stored batches; stops at a torn tail."""
    for offset, key, value, _pid, control in iter_batch_records(chunk):
        if control < 0:
            yield offset, key, value


def iter_batch_records(chunk: memoryview) -> Iterator[tuple[int, bytes | None, bytes | None, int, int]]:
    """(offset, key, value, transactional producer id or -1, control type or -1) of every record.

    A transaction marker (control batch) is one item with control 0 (abort) or 1 (commit),
    key and value None; the records of a transactional batch carry its producer id."""
    pos = 0
    total = len(chunk)
    while total - pos >= HEADER_SIZE:
        (base, length, _epoch, _magic, _crc, attrs, _last, _fts, _mts, pid, _pep, _seq, count) = \
            batch_header(chunk, pos)
        end = pos + LOG_OVERHEAD + length
        if end > total:
            return
        codec = attrs & COMPRESSION_MASK
        if attrs & CONTROL_BIT:
            kind = control_record_type(chunk[pos:end])
            pos = end
            if kind in (0, 1):
                yield base, None, None, pid, kind
            continue
        txn_pid = pid if attrs & TRANSACTIONAL_BIT else -1
        data: bytes | None
        if codec == 0:
            data = bytes(chunk[pos + HEADER_SIZE:end])
        elif codec == 1:
            data = zlib.decompress(bytes(chunk[pos + HEADER_SIZE:end]), 16 + zlib.MAX_WBITS)
        else:
            data = None
        pos = end
        if data is None:
            continue
        p = 0
        for _ in range(count):
            length_, p = read_varint(data, p)
            rec_end = p + length_
            p += 1                                   # attributes
            _ts, p = read_varint(data, p)
            delta, p = read_varint(data, p)
            klen, p = read_varint(data, p)
            key = None if klen < 0 else data[p:p + klen]
            p += max(klen, 0)
            vlen, p = read_varint(data, p)
            value = None if vlen < 0 else data[p:p + vlen]
            yield base + delta, key, value, txn_pid, -1
            p = rec_end
