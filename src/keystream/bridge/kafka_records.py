"""Kafka records as Redis stream entries, and one Redis entry as a Kafka record batch.

`decode_batch` reads one stored record batch v2 (inflating it with its codec when compressed)
into a `DecodedBatch`: what read_committed filtering needs from the header (producer id,
transactional and control bits, the marker type of a control batch) and, for a data batch,
each record as `(offset, reply bytes)` where the reply bytes are the stream entry already
encoded as Redis replies it (`*2 id *2n field value ...`: the same bytes in RESP2 and RESP3).

The entry of the record at offset `o` (see `bridge/__init__.py` for why):

    ID        <o>-1
    fields    timestamp <ms, decimal>            always, first (CreateTime or LogAppendTime)
              key <bytes>                        only when the key is not null
              value <bytes>                      only when the value is not null (absent: tombstone)
              header:<name> <bytes>              one per header, in record order, repeats kept;
                                                 a null header value reads as an empty string

`encode_entry_batch` builds the other direction for XADD: one record, its key, value,
headers and timestamp, compressed with the topic's compression.type.

Not here: where batches come from (log/), which records a reader may see (topic_stream.py).
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

import cramjam
from crc32c import crc32c

from keystream.log.batch import (
    COMPRESSION_MASK,
    CONTROL_BIT,
    HEADER_SIZE,
    TIMESTAMP_TYPE_BIT,
    TRANSACTIONAL_BIT,
    batch_header,
    control_record_type,
    decompress_records,
    encode_varint,
)
from keystream.log.errors import CorruptRecordError

__all__ = ["CODECS", "DecodedBatch", "decode_batch", "encode_entry_batch", "entry_id"]

# compression.type -> the codec number of the batch attributes (producer: ours, uncompressed)
CODECS = {"producer": 0, "uncompressed": 0, "none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

_BATCH_HEAD = struct.Struct(">qiibI")
_AFTER_CRC = struct.Struct(">hiqqqhii")


class DecodedBatch(NamedTuple):
    base_offset: int
    last_offset: int
    size: int                          # bytes in the segment, LOG_OVERHEAD included
    producer_id: int
    transactional: bool
    control: bool
    abort_marker: bool                 # a control batch whose marker is ABORT
    entries: list[tuple[int, bytes]]   # (offset, encoded entry), data batches only
    nbytes: int                        # what the entries weigh (cache accounting)


def entry_id(offset: int) -> bytes:
    return b"%d-1" % offset


def _bulk(b: bytes | memoryview) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(b), b)


def _varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    shift = 0
    raw = 0
    while True:
        b = buf[pos]
        pos += 1
        raw |= (b & 0x7F) << shift
        if not b & 0x80:
            return (raw >> 1) ^ -(raw & 1), pos
        shift += 7
        if shift > 63:
            raise ValueError("varint is too long")


def decode_batch(buf: bytes | memoryview, pos: int) -> DecodedBatch:
    """The batch at buf[pos:]; CorruptRecordError if its records cannot be read."""
    (base, length, _epoch, _magic, _crc, attrs, last_delta, first_ts, max_ts, producer_id,
     _pepoch, _seq, count) = batch_header(buf, pos)
    size = length + 12
    batch = memoryview(buf)[pos:pos + size]
    control = bool(attrs & CONTROL_BIT)
    transactional = bool(attrs & TRANSACTIONAL_BIT)
    if control:
        return DecodedBatch(base, base + last_delta, size, producer_id, transactional, True,
                            control_record_type(batch) == 0, [], 0)
    codec = attrs & COMPRESSION_MASK
    body = batch[HEADER_SIZE:]
    data = body if codec == 0 else decompress_records(codec, body)
    if data is None:
        raise CorruptRecordError(f"Record batch at offset {base} cannot be decompressed")
    log_append = bool(attrs & TIMESTAMP_TYPE_BIT)
    entries: list[tuple[int, bytes]] = []
    nbytes = 0
    try:
        p = 0
        for _ in range(count):
            length, p = _varint(data, p)
            end = p + length
            ts_delta, q = _varint(data, p + 1)
            offset_delta, q = _varint(data, q)
            offset = base + offset_delta
            ts = max_ts if log_append else first_ts + ts_delta
            parts = [_bulk(b"timestamp"), _bulk(b"%d" % ts)]
            klen, q = _varint(data, q)
            if klen >= 0:
                parts.append(b"$3\r\nkey\r\n")
                parts.append(_bulk(data[q:q + klen]))
                q += klen
            vlen, q = _varint(data, q)
            if vlen >= 0:
                parts.append(b"$5\r\nvalue\r\n")
                parts.append(_bulk(data[q:q + vlen]))
                q += vlen
            nheaders, q = _varint(data, q)
            for _h in range(nheaders):
                hklen, q = _varint(data, q)
                parts.append(_bulk(b"header:" + bytes(data[q:q + hklen])))
                q += hklen
                hvlen, q = _varint(data, q)
                if hvlen >= 0:
                    parts.append(_bulk(data[q:q + hvlen]))
                    q += hvlen
                else:
                    parts.append(b"$0\r\n\r\n")
            if q != end:
                raise ValueError("record length does not match its fields")
            rid = b"%d-1" % offset
            entry = b"*2\r\n$%d\r\n%s\r\n*%d\r\n%s" % (len(rid), rid, len(parts), b"".join(parts))
            entries.append((offset, entry))
            nbytes += len(entry)
            p = end
    except (IndexError, ValueError) as e:
        raise CorruptRecordError(f"Record batch at offset {base} cannot be read: {e}") from None
    return DecodedBatch(base, base + last_delta, size, producer_id, transactional, False, False,
                        entries, nbytes)


def _compress(codec: int, data: bytes) -> bytes:
    if codec == 1:
        c = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
        return c.compress(data) + c.flush()
    if codec == 2:
        return bytes(cramjam.snappy.compress_raw(data))
    if codec == 3:
        return bytes(cramjam.lz4.compress(data))
    if codec == 4:
        return bytes(cramjam.zstd.compress(data))
    return data


def _lenbytes(b: bytes | None) -> bytes:
    return b"\x01" if b is None else encode_varint(len(b)) + b


def encode_entry_batch(key: bytes | None, value: bytes | None, headers: list[tuple[bytes, bytes]],
                       timestamp: int, codec: int) -> bytes:
    """One record batch v2 of one record (no producer id: not idempotent), compressed with codec."""
    rec = b"".join((b"\x00", b"\x00", b"\x00", _lenbytes(key), _lenbytes(value), encode_varint(len(headers)),
                    *(encode_varint(len(k)) + k + encode_varint(len(v)) + v for k, v in headers)))
    records = _compress(codec, encode_varint(len(rec)) + rec)
    tail = _AFTER_CRC.pack(codec, 0, timestamp, timestamp, -1, -1, -1, 1) + records
    return _BATCH_HEAD.pack(0, 4 + 1 + 4 + len(tail), -1, 2, crc32c(tail)) + tail
