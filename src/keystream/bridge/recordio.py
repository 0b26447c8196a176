"""Records of stored batches as the bridge's views and captures read and write them.

`committed_records(log, start, upper)` walks a partition log from an offset, batch by batch,
and yields its records (offset, timestamp, key, value, headers) the way a `read_committed`
consumer sees them: control batches (transaction markers) are skipped, so are the batches of
aborted transactions (the partition's aborted-transaction index, as Kafka's consumer uses the
FetchResponse's aborted list), and nothing at or past `upper` (the last stable offset) is read.
Compressed batches are inflated here: the bridge is one of the places the broker must.

`build_batch_with_headers` makes one uncompressed v2 batch of (key, value, headers) records for
the bridge's own appends (captures, write-through views); `partition_for(key, n)` is Kafka's
default partitioner for keyed records (murmur2, positive, modulo n), so a key written by
Keystream lands where a Java producer would put it.

The topic-as-stream side (`topic_stream.py`) reads batches as Redis stream entries:
`decode_entries` reads one stored batch (inflating it) into a `DecodedBatch`, what
read_committed filtering needs from the header (producer id, transactional and control bits,
the marker type of a control batch) and, for a data batch, each record as `(offset, reply
bytes)` where the reply bytes are the stream entry already encoded as Redis replies it
(`*2 id *2n field value ...`: the same bytes in RESP2 and RESP3). The entry of the record at
offset `o` (see `bridge/__init__.py` for why):

    ID        <o>-1
    fields    timestamp <ms, decimal>            always, first (CreateTime or LogAppendTime)
              key <bytes>                        only when the key is not null
              value <bytes>                      only when the value is not null (absent: tombstone)
              header:<name> <bytes>              one per header, in record order, repeats kept;
                                                 a null header value reads as an empty string

`encode_entry_batch` builds the other direction for XADD: one record, its key, value, headers
and timestamp, compressed with the topic's compression.type.

Not here: validation of producers' batches or offset assignment (log/batch.py, partition.py),
which records a stream reader may see (topic_stream.py).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

from crc32c import crc32c

from keystream.log.batch import (
    COMPRESSION_MASK,
    CONTROL_BIT,
    HEADER_SIZE,
    LOG_OVERHEAD,
    TIMESTAMP_TYPE_BIT,
    TRANSACTIONAL_BIT,
    batch_header,
    compress_records,
    control_record_type,
    decompress_records,
    encode_bytes,
    encode_varint,
    read_bytes,
    read_varint,
)
from keystream.log.errors import CorruptRecordError
from keystream.log.partition import PartitionLog

__all__ = ["CODECS", "DecodedBatch", "Record", "batch_of", "build_batch_with_headers", "committed_batches",
           "committed_records", "decode_batch", "decode_entries", "encode_entry_batch",
           "entry_id", "partition_for"]

# compression.type -> the codec number of the batch attributes (producer: ours, uncompressed)
CODECS = {"producer": 0, "uncompressed": 0, "none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

# (offset, timestamp, key or None, value or None, [(header key, header value or None)])
Record = tuple[int, int, bytes | None, bytes | None, list[tuple[bytes, bytes | None]]]

_READ_CHUNK = 1 << 20
_BATCH_HEAD = struct.Struct(">qiibI")
_AFTER_CRC = struct.Struct(">hiqqqhii")


def decode_batch(batch: memoryview) -> list[Record]:
    """Every record of one stored batch; ValueError if the records cannot be read."""
    (base, _len, _epoch, _magic, _crc, attrs, _last, first_ts, max_ts, *_rest, count) = batch_header(batch)
    codec = attrs & COMPRESSION_MASK
    body = batch[HEADER_SIZE:]
    data = body if codec == 0 else decompress_records(codec, body)
    if data is None:
        raise ValueError("record batch cannot be decompressed")
    log_append = bool(attrs & TIMESTAMP_TYPE_BIT)
    out: list[Record] = []
    pos = 0
    try:
        for _ in range(count):
            length, pos = read_varint(data, pos)
            end = pos + length
            if end > len(data):
                raise ValueError("record batch is truncated")
            ts_delta, p = read_varint(data, pos + 1)
            offset_delta, p = read_varint(data, p)
            key, p = read_bytes(data, p)
            value, p = read_bytes(data, p)
            nheaders, p = read_varint(data, p)
            headers: list[tuple[bytes, bytes | None]] = []
            for _h in range(nheaders):
                hk, p = read_bytes(data, p)
                hv, p = read_bytes(data, p)
                headers.append((hk or b"", hv))
            out.append((base + offset_delta, max_ts if log_append else first_ts + ts_delta, key, value, headers))
            pos = end
    except IndexError as e:
        raise ValueError("record batch is truncated") from e
    return out


def committed_batches(log: PartitionLog, start: int, upper: int) -> Iterator[memoryview]:
    """The stored data batches of log holding records in [start, upper) that a
    read_committed consumer would get (markers and aborted transactions left out), in order.
    The first may hold records below start and the last records at or past upper."""
    offset = max(start, log.log_start_offset)
    if offset >= upper:
        return
    aborted = sorted(log.aborted_transactions(offset, upper), key=lambda a: a[1])
    open_aborts: set[int] = set()
    ai = 0
    while offset < upper:
        chunks = log.read(offset, _READ_CHUNK, upper)
        if not chunks:
            return
        chunk = chunks[0]
        pos = 0
        progressed = False
        while pos + HEADER_SIZE <= len(chunk):
            length = int.from_bytes(chunk[pos + 8:pos + 12], "big")
            end = pos + LOG_OVERHEAD + length
            if end > len(chunk):
                break
            batch = chunk[pos:end]
            pos = end
            (base, _l, _e, _m, _c, attrs, last_delta, *_rest) = batch_header(batch)
            last = base + last_delta
            if last < offset:
                continue
            progressed = True
            producer_id = _rest[3]
            while ai < len(aborted) and aborted[ai][1] <= last:
                open_aborts.add(aborted[ai][0])
                ai += 1
            offset = last + 1
            if attrs & CONTROL_BIT:
                if control_record_type(batch) == 0:
                    open_aborts.discard(producer_id)
                continue
            if attrs & TRANSACTIONAL_BIT and producer_id in open_aborts:
                continue
            yield batch
            if offset >= upper:
                return
        if not progressed:
            return


def committed_records(log: PartitionLog, start: int, upper: int) -> Iterator[Record]:
    """The records of log in [start, upper) a read_committed consumer would get, in order.

    start below the log start offset reads from the log start (retention or DeleteRecords
    removed the rest). Batches whose records cannot be decoded are skipped."""
    for batch in committed_batches(log, start, upper):
        try:
            records = decode_batch(batch)
        except ValueError:
            continue
        for rec in records:
            if start <= rec[0] < upper:
                yield rec


def batch_of(body: list[bytes], count: int, timestamp: int, codec: int = 0) -> bytes:
    """One v2 batch (base offset 0, no producer id) around count encoded records (each its
    length varint and its bytes, offset deltas from 0, timestamp deltas 0), compressed with codec."""
    records = compress_records(codec, b"".join(body))
    tail = _AFTER_CRC.pack(codec, count - 1, timestamp, timestamp, -1, -1, -1, count) + records
    return _BATCH_HEAD.pack(0, 4 + 1 + 4 + len(tail), -1, 2, crc32c(tail)) + tail


def build_batch_with_headers(records: list[tuple[bytes, bytes | None, list[tuple[bytes, bytes]]]],
                             timestamp: int) -> bytes:
    """One uncompressed v2 batch (base offset 0, no producer id) of (key, value, headers)."""
    parts: list[bytes] = []
    add = parts.append
    v = encode_varint
    for i, (key, value, headers) in enumerate(records):
        fields = [b"\x00\x00", v(i), v(len(key)), key, b"\x01" if value is None else v(len(value)), value or b"",
                  v(len(headers))]
        for hk, hv in headers:
            fields += (v(len(hk)), hk, v(len(hv)), hv)
        rec = b"".join(fields)
        add(v(len(rec)))
        add(rec)
    return batch_of(parts, len(records), timestamp)


def encode_entry_batch(key: bytes | None, value: bytes | None, headers: list[tuple[bytes, bytes]],
                       timestamp: int, codec: int) -> bytes:
    """One record batch v2 of one record (no producer id: not idempotent), compressed with codec."""
    v = encode_varint
    rec = b"".join((b"\x00", b"\x00", b"\x00", encode_bytes(key), encode_bytes(value), v(len(headers)),
                    *(v(len(hk)) + hk + v(len(hv)) + hv for hk, hv in headers)))
    return batch_of([v(len(rec)), rec], 1, timestamp, codec)


# -- records as stream entries (topic_stream.py) ----------------------------------------------------

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


def decode_entries(buf: bytes | memoryview, pos: int) -> DecodedBatch:
    """The batch at buf[pos:] with its records as stream entries; CorruptRecordError if its
    records cannot be read."""
    (base, length, _epoch, _magic, _crc, attrs, last_delta, first_ts, max_ts, producer_id,
     _pepoch, _seq, count) = batch_header(buf, pos)
    size = length + LOG_OVERHEAD
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
    rv = read_varint
    try:
        p = 0
        for _ in range(count):
            length, p = rv(data, p)
            end = p + length
            ts_delta, q = rv(data, p + 1)
            offset_delta, q = rv(data, q)
            offset = base + offset_delta
            ts = max_ts if log_append else first_ts + ts_delta
            parts = [_bulk(b"timestamp"), _bulk(b"%d" % ts)]
            klen, q = rv(data, q)
            if klen >= 0:
                parts.append(b"$3\r\nkey\r\n")
                parts.append(_bulk(data[q:q + klen]))
                q += klen
            vlen, q = rv(data, q)
            if vlen >= 0:
                parts.append(b"$5\r\nvalue\r\n")
                parts.append(_bulk(data[q:q + vlen]))
                q += vlen
            nheaders, q = rv(data, q)
            for _h in range(nheaders):
                hklen, q = rv(data, q)
                parts.append(_bulk(b"header:" + bytes(data[q:q + hklen])))
                q += hklen
                hvlen, q = rv(data, q)
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


# -- Kafka's default partitioner --------------------------------------------------------------------

def _murmur2(data: bytes) -> int:
    """Kafka's Utils.murmur2 (seed 0x9747b28c), as a signed 32-bit int."""
    m = 0x5BD1E995
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    n4 = length // 4
    for i in range(n4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    rest = length % 4
    tail = data[4 * n4:]
    if rest == 3:
        h ^= tail[2] << 16
    if rest >= 2:
        h ^= tail[1] << 8
    if rest >= 1:
        h ^= tail[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h >= 1 << 31 else h


def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default partition of a keyed record: toPositive(murmur2(key)) % partitions."""
    if partitions <= 1:
        return 0
    return (_murmur2(key) & 0x7FFFFFFF) % partitions
