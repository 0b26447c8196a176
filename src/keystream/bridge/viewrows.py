"""The views' hot path: the keys and values of a stored record batch (compiled: hotpath.py).

`key_values(batch, start, upper, out)` appends `(key, value)` (value None for a tombstone) of
each record of one stored v2 batch whose offset is in [start, upper) to out, in offset order,
and returns how many records in that range had no key (left out: a view cannot place them).
Timestamps and headers are skipped without being read. ValueError if the records cannot be
read (truncated, cannot be inflated).

It is in the compiled group because a view applies every record of its topic: interpreted,
reading a 1 KB record's key and value cost about as much as applying it to the keyspace.
The one- and two-byte varints are read inline (interpreted, calling a reader for each made
this 1.8x slower); longer ones by `_varint`.

Not here: which batches a view reads (recordio.committed_batches), what it does with the
records (views.py).
"""

from __future__ import annotations

from keystream.log.batch import COMPRESSION_MASK, HEADER_SIZE, decompress_records

__all__ = ["key_values"]


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = 0
    raw = 0
    while True:
        b = data[pos]
        pos += 1
        raw |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
        if shift > 63:
            raise ValueError("varint is too long")
    return (raw >> 1) ^ -(raw & 1), pos


def _skip_varint(data: bytes, pos: int) -> int:
    while data[pos] & 0x80:
        pos += 1
    return pos + 1


def key_values(batch: memoryview, start: int, upper: int, out: list[tuple[bytes, bytes | None]]) -> int:
    base = int.from_bytes(batch[0:8], "big", signed=True)
    attrs = int.from_bytes(batch[21:23], "big")
    count = int.from_bytes(batch[57:61], "big", signed=True)
    codec = attrs & COMPRESSION_MASK
    records = batch[HEADER_SIZE:] if codec == 0 else decompress_records(codec, batch[HEADER_SIZE:])
    if records is None:
        raise ValueError("record batch cannot be decompressed")
    data = bytes(records)
    size = len(data)
    add = out.append
    keyless = 0
    pos = 0
    try:
        for _ in range(count):
            b = data[pos]
            if b < 0x80:
                length = (b >> 1) ^ -(b & 1)
                pos += 1
            elif data[pos + 1] < 0x80:           # two bytes: records up to 8 KB
                two = (b & 0x7F) | (data[pos + 1] << 7)
                length = (two >> 1) ^ -(two & 1)
                pos += 2
            else:
                length, pos = _varint(data, pos)
            end = pos + length
            if end > size:
                raise ValueError("record batch is truncated")
            p = _skip_varint(data, pos + 1)       # attributes byte, then the timestamp delta
            b = data[p]
            if b < 0x80:
                delta = (b >> 1) ^ -(b & 1)
                p += 1
            else:
                delta, p = _varint(data, p)
            offset = base + delta
            if offset < start or offset >= upper:
                pos = end
                continue
            b = data[p]
            if b < 0x80:
                n = (b >> 1) ^ -(b & 1)
                p += 1
            else:
                n, p = _varint(data, p)
            if n < 0:
                keyless += 1
                pos = end
                continue
            if p + n > end:
                raise ValueError("record batch is truncated")
            key = data[p:p + n]
            p += n
            b = data[p]
            if b < 0x80:
                n = (b >> 1) ^ -(b & 1)
                p += 1
            elif data[p + 1] < 0x80:
                two = (b & 0x7F) | (data[p + 1] << 7)
                n = (two >> 1) ^ -(two & 1)
                p += 2
            else:
                n, p = _varint(data, p)
            if n < 0:
                add((key, None))
            else:
                if p + n > end:
                    raise ValueError("record batch is truncated")
                add((key, data[p:p + n]))
            pos = end
    except IndexError as e:
        raise ValueError("record batch is truncated") from e
    return keyless
