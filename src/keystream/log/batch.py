"""Record batch v2 bytes: validation, offset assignment, a light record reader, record
varints and nullable bytes fields (the one copy of each for the code base), compressing and
inflating records (cleaner, bridge), and building uncompressed batches (the group
coordinator's `__consumer_offsets`).

The broker never rewrites a producer's batch beyond what Kafka itself patches: the base
offset (8 bytes that the CRC does not cover) and, for `message.timestamp.type=LogAppendTime`,
the max timestamp and the timestamp-type attribute bit (then the CRC is recomputed).

Layout of the 61-byte batch header (big-endian), offsets in bytes:

    0 baseOffset i64 | 8 batchLength i32 | 12 partitionLeaderEpoch i32 | 16 magic i8
    17 crc u32 (CRC-32C of bytes 21..end) | 21 attributes i16 | 23 lastOffsetDelta i32
    27 baseTimestamp i64 | 35 maxTimestamp i64 | 43 producerId i64 | 51 producerEpoch i16
    53 baseSequence i32 | 57 recordCount i32 | 61 records...

Deliberate differences from Kafka: only magic 2 is accepted (legacy message sets, magic 0 and
1, are refused with CORRUPT_MESSAGE instead of being converted); the records inside a batch
are not decoded on append (Kafka walks uncompressed records and decompresses compressed ones
to check their offsets), so a batch whose header is sound but whose records are garbage is
stored as the producer sent it — its CRC still protects it from corruption in transit.
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

import cramjam
from crc32c import crc32c

from keystream.log.errors import CorruptRecordError, InvalidRecordError, RecordTooLargeError

__all__ = [
    "COMPRESSION_MASK",
    "CONTROL_BIT",
    "HEADER_SIZE",
    "LOG_OVERHEAD",
    "TIMESTAMP_TYPE_BIT",
    "TRANSACTIONAL_BIT",
    "XERIAL_MAGIC",
    "BatchInfo",
    "batch_header",
    "build_batch",
    "build_control_batch",
    "compress_records",
    "control_record_type",
    "decompress_records",
    "encode_bytes",
    "encode_varint",
    "keyless_record_index",
    "patch_log_append_time",
    "read_bytes",
    "read_records",
    "read_varint",
    "validate_batches",
]

LOG_OVERHEAD = 12          # baseOffset + batchLength: what batchLength does not count
HEADER_SIZE = 61           # full v2 header up to the first record
_MIN_BATCH_LENGTH = HEADER_SIZE - LOG_OVERHEAD
COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_BIT = 0x08
TRANSACTIONAL_BIT = 0x10
CONTROL_BIT = 0x20

_HEADER = struct.Struct(">qiibIhiqqqhii")
_BATCH_HEAD = struct.Struct(">qiibI")       # baseOffset, batchLength, partitionLeaderEpoch, magic, crc
_AFTER_CRC = struct.Struct(">hiqqqhii")     # attributes .. recordCount (the CRC covers these and the records)
_PREFIX = struct.Struct(">qi")          # baseOffset, batchLength
_I64 = struct.Struct(">q")
_U32 = struct.Struct(">I")
_I16 = struct.Struct(">h")
_MAX_INFLATED = 64 * 1024 * 1024


class BatchInfo(NamedTuple):
    """What the log needs to know of one validated batch (start is relative to the buffer)."""

    start: int
    size: int                 # whole batch, LOG_OVERHEAD included
    record_count: int
    max_timestamp: int


def batch_header(buf: memoryview | bytes, pos: int = 0) -> tuple:
    """The 13 header fields of the batch starting at pos (caller checked 61 bytes are there)."""
    return _HEADER.unpack_from(buf, pos)


def validate_batches(mv: memoryview, max_batch_bytes: int, from_client: bool = True) -> list[BatchInfo]:
    """Check every batch in mv (sizes, magic, CRC-32C, count) before anything is appended.

    Raises CorruptRecordError for bytes that are not well-formed v2 batches,
    RecordTooLargeError for a batch over max_batch_bytes, InvalidRecordError for a batch the
    broker refuses from a client (offset range and count disagree, control batch).
    from_client False: a coordinator's own batch (control batches and transactional batches
    without sequence numbers allowed, as Kafka's AppendOrigin.COORDINATOR).
    """
    total = len(mv)
    if total == 0:
        raise CorruptRecordError("Record batch is empty")
    out: list[BatchInfo] = []
    pos = 0
    unpack = _HEADER.unpack_from
    while pos < total:
        if total - pos < HEADER_SIZE:
            if total - pos >= 17 and mv[pos + 16] != 2:
                raise CorruptRecordError(f"Unsupported record batch magic {mv[pos + 16]} (only v2)")
            raise CorruptRecordError(f"Incomplete record batch header at byte {pos}")
        (_base, length, _epoch, magic, crc, attrs, last_delta, _first_ts, max_ts,
         producer_id, _producer_epoch, base_seq, count) = unpack(mv, pos)
        if magic != 2:
            raise CorruptRecordError(f"Unsupported record batch magic {magic} (only v2)")
        if length < _MIN_BATCH_LENGTH:
            raise CorruptRecordError(f"Record batch length {length} is smaller than the header")
        size = length + LOG_OVERHEAD
        end = pos + size
        if end > total:
            raise CorruptRecordError(f"Record batch length {length} runs past the end of the data")
        if size > max_batch_bytes:
            raise RecordTooLargeError(
                f"The record batch of {size} bytes is larger than the maximum allowed size {max_batch_bytes}")
        if crc32c(mv[pos + 21:end]) != crc:
            raise CorruptRecordError("Record batch CRC-32C does not match its contents")
        if count <= 0 or last_delta < 0 or last_delta + 1 != count:
            raise InvalidRecordError(
                f"Record batch count {count} does not match its offset range {last_delta + 1}")
        if attrs & CONTROL_BIT and from_client:
            raise InvalidRecordError("Clients are not allowed to write control records")
        if producer_id >= 0 and base_seq < 0 and from_client:
            raise InvalidRecordError("Idempotent batch without a base sequence")
        out.append(BatchInfo(pos, size, count, max_ts))
        pos = end
    return out


def patch_log_append_time(batch: memoryview, now_ms: int) -> list[bytes | memoryview]:
    """Pieces (bytes 8..end of the batch) with maxTimestamp=now, the LogAppendTime bit set and a new CRC.

    The caller writes its own 8-byte base offset in front of these pieces.
    """
    attrs = _I16.unpack_from(batch, 21)[0] | TIMESTAMP_TYPE_BIT
    attrs_b = _I16.pack(attrs)
    ts_b = _I64.pack(now_ms)
    mid = batch[23:35]
    tail = batch[43:]
    crc = crc32c(tail, crc32c(ts_b, crc32c(mid, crc32c(attrs_b))))
    return [batch[8:17], _U32.pack(crc), attrs_b, mid, ts_b, tail]


# -- record varints, bytes fields and building a batch -----------------------------------------------

def encode_varint(n: int) -> bytes:
    """n as a zig-zag varint (the signed varint of record fields); 0..16383 from a table."""
    return _VARINTS[n] if 0 <= n < 16384 else _zigzag_varint(n)


def _zigzag_varint(n: int) -> bytes:
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


# record, key, value and header lengths are mostly below 16384
_VARINTS = [_zigzag_varint(i) for i in range(1 << 14)]


def read_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Zig-zag varint at pos -> (value, next pos)."""
    shift = 0
    raw = 0
    while True:
        b = buf[pos]
        pos += 1
        raw |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 63:
            raise ValueError("varint is too long")
    return (raw >> 1) ^ -(raw & 1), pos


def encode_bytes(b: bytes | None) -> bytes:
    """A record field's nullable bytes: their zig-zag varint length (-1 for null), then them."""
    return b"\x01" if b is None else encode_varint(len(b)) + b


def read_bytes(buf: bytes | memoryview, pos: int) -> tuple[bytes | None, int]:
    """The nullable bytes field at pos -> (bytes or None, next pos); ValueError if truncated."""
    n, pos = read_varint(buf, pos)
    if n < 0:
        return None, pos
    if pos + n > len(buf):
        raise ValueError("record field runs past the end")
    return bytes(buf[pos:pos + n]), pos + n


def build_batch(records: list[tuple[bytes, bytes | None]], timestamp: int, producer_id: int = -1,
                producer_epoch: int = -1, attributes: int = 0) -> bytes:
    """One uncompressed record batch v2 (base offset 0, base sequence -1) of (key, value) records.

    Every record carries timestamp; a value of None is a tombstone (null value). producer_id,
    producer_epoch and attributes (TRANSACTIONAL_BIT, CONTROL_BIT) for coordinator-written
    transactional batches and markers."""
    body = bytearray()
    for i, (key, value) in enumerate(records):
        rec = b"".join((b"\x00", b"\x00", encode_varint(i), encode_varint(len(key)), key, encode_bytes(value),
                        b"\x00"))
        body += encode_varint(len(rec))
        body += rec
    n = len(records)
    tail = _AFTER_CRC.pack(attributes, n - 1, timestamp, timestamp, producer_id, producer_epoch, -1, n) + bytes(body)
    return _BATCH_HEAD.pack(0, 4 + 1 + 4 + len(tail), -1, 2, crc32c(tail)) + tail


_CONTROL_KEY = struct.Struct(">hh")         # version 0, type (0 abort, 1 commit)
_CONTROL_VALUE = struct.Struct(">hi")       # version 0, coordinator epoch


def build_control_batch(producer_id: int, producer_epoch: int, commit: bool, coordinator_epoch: int,
                        timestamp: int) -> bytes:
    """A transaction marker: a control batch of one record, key (version, COMMIT=1/ABORT=0),
    value (version, coordinator epoch), as Kafka's EndTransactionMarker."""
    return build_batch([(_CONTROL_KEY.pack(0, 1 if commit else 0), _CONTROL_VALUE.pack(0, coordinator_epoch))],
                       timestamp, producer_id, producer_epoch, TRANSACTIONAL_BIT | CONTROL_BIT)


def control_record_type(batch: memoryview | bytes) -> int:
    """The type of the (first) control record of a stored control batch: 0 abort, 1 commit, -1 unknown."""
    try:
        data = _records_bytes(memoryview(batch))
        if data is None:
            return -1
        _length, p = read_varint(data, 0)
        _ts, p = read_varint(data, p + 1)
        _delta, p = read_varint(data, p)
        klen, p = read_varint(data, p)
        if klen < 4:
            return -1
        return _CONTROL_KEY.unpack_from(data, p)[1]
    except (IndexError, ValueError, struct.error):
        return -1


# -- compression; reading records (only where the broker must: ListOffsets by timestamp) ---------

XERIAL_MAGIC = b"\x82SNAPPY\x00"  # the framing Java clients use for snappy


_XERIAL_HEADER = XERIAL_MAGIC + struct.pack(">ii", 1, 1)
_XERIAL_BLOCK = 32 * 1024


def compress_records(codec: int, data: bytes, xerial: bool = False) -> bytes:
    """The records part of a batch compressed with codec (0 none, 1 gzip, 2 snappy, raw or in
    xerial framing, 3 lz4 in the frame Kafka's Java client writes, 4 zstd)."""
    if codec == 0:
        return data
    if codec == 1:
        return zlib.compress(data, 6, 16 + zlib.MAX_WBITS)
    if codec == 2:
        if not xerial:
            return bytes(cramjam.snappy.compress_raw(data))
        parts = [_XERIAL_HEADER]
        for i in range(0, len(data), _XERIAL_BLOCK):
            block = bytes(cramjam.snappy.compress_raw(data[i:i + _XERIAL_BLOCK]))
            parts.append(len(block).to_bytes(4, "big"))
            parts.append(block)
        return b"".join(parts)
    if codec == 3:
        # independent 64 KiB blocks, no content checksum: the frame Kafka's Java client writes
        c = cramjam.lz4.Compressor(content_checksum=False, block_linked=False)
        c.compress(data)
        return bytes(c.finish())
    return bytes(cramjam.zstd.compress(data))


def decompress_records(codec: int, body: bytes | memoryview) -> bytes | None:
    """The records part of a batch compressed with codec (1 gzip, 2 snappy in raw or xerial
    framing, 3 lz4, 4 zstd); None if they cannot be inflated (gzip output is capped)."""
    try:
        if codec == 1:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = inflater.decompress(body, _MAX_INFLATED)
            return None if inflater.unconsumed_tail else data
        if codec == 2:
            if bytes(body[:8]) == XERIAL_MAGIC:
                out = []
                pos, end = 16, len(body)
                while pos < end:
                    n = int.from_bytes(body[pos:pos + 4], "big")
                    out.append(bytes(cramjam.snappy.decompress_raw(body[pos + 4:pos + 4 + n])))
                    pos += 4 + n
                return b"".join(out)
            return bytes(cramjam.snappy.decompress_raw(body))
        if codec == 3:
            return bytes(cramjam.lz4.decompress(body))
        if codec == 4:
            return bytes(cramjam.zstd.decompress(body))
    except (zlib.error, cramjam.DecompressionError, ValueError, OSError):
        return None
    return None


def _records_bytes(batch: memoryview) -> bytes | memoryview | None:
    codec = _I16.unpack_from(batch, 21)[0] & COMPRESSION_MASK
    body = batch[HEADER_SIZE:]
    return body if codec == 0 else decompress_records(codec, body)


def keyless_record_index(batch: memoryview) -> int:
    """The index of the first record of a stored-format batch without a key, -1 if every record
    has one (compacted topics refuse keyless records). CorruptRecordError if the records
    cannot be read."""
    count = _HEADER.unpack_from(batch, 0)[12]
    data = _records_bytes(batch)
    if data is None:
        raise CorruptRecordError("Record batch cannot be decompressed")
    try:
        pos = 0
        for i in range(count):
            length, pos = read_varint(data, pos)
            end = pos + length
            _ts, p = read_varint(data, pos + 1)          # after the attributes byte
            _delta, p = read_varint(data, p)
            key_len, _p = read_varint(data, p)
            if key_len < 0:
                return i
            pos = end
    except (IndexError, ValueError) as e:
        raise CorruptRecordError("Record batch records cannot be read") from e
    return -1


def read_records(batch: memoryview) -> list[tuple[int, int]] | None:
    """(absolute offset, timestamp) of each record of one stored batch; None if not decodable.

    None for records that cannot be inflated or do not parse (the CRC only proves the
    producer sent these bytes). For a LogAppendTime batch every record carries the
    batch's max timestamp, as in Kafka.
    """
    (base, _len, _epoch, _magic, _crc, attrs, _last, first_ts, max_ts, *_rest, count) = \
        _HEADER.unpack_from(batch, 0)
    log_append = bool(attrs & TIMESTAMP_TYPE_BIT)
    out: list[tuple[int, int]] = []
    try:
        data = _records_bytes(batch)
        if data is None:
            return None
        pos = 0
        for _ in range(count):
            length, pos = read_varint(data, pos)
            end = pos + length
            ts_delta, p = read_varint(data, pos + 1)     # skip the attributes byte
            offset_delta, _ = read_varint(data, p)
            out.append((base + offset_delta, max_ts if log_append else first_ts + ts_delta))
            pos = end
    except (IndexError, ValueError, EOFError, OSError, zlib.error):
        return None
    return out
