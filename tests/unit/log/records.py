"""A small record batch v2 encoder for the log tests (what a producer would send)."""

from __future__ import annotations

import gzip
import struct

from crc32c import crc32c


def _varint(n: int) -> bytes:
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _bytes_field(b: bytes | None) -> bytes:
    return _varint(-1) if b is None else _varint(len(b)) + b


def encode_record(offset_delta: int, ts_delta: int, key: bytes | None, value: bytes | None,
                  headers: list[tuple[str, bytes]] = ()) -> bytes:
    body = (b"\x00" + _varint(ts_delta) + _varint(offset_delta) + _bytes_field(key) + _bytes_field(value)
            + _varint(len(headers)) + b"".join(_bytes_field(k.encode()) + _bytes_field(v) for k, v in headers))
    return _varint(len(body)) + body


def make_batch(values: list[bytes | None], base_ts: int = 1_700_000_000_000, ts_step: int = 1,
               keys: list[bytes | None] | None = None, base_offset: int = 0, gzip_codec: bool = False,
               timestamps: list[int] | None = None, codec: int = 0) -> bytes:
    """One v2 batch with one record per value (timestamps base_ts + i*ts_step unless given),
    compressed with gzip (gzip_codec or codec=1), snappy (2), lz4 (3) or zstd (4) by the
    clients' own libraries."""
    n = len(values)
    ts = timestamps or [base_ts + i * ts_step for i in range(n)]
    keys = keys or [None] * n
    recs = b"".join(encode_record(i, ts[i] - ts[0], keys[i], values[i]) for i in range(n))
    attrs = 1 if gzip_codec else codec
    if attrs == 1:
        recs = gzip.compress(recs)
    elif attrs == 2:
        import snappy

        recs = snappy.compress(recs)
    elif attrs == 3:
        import lz4.frame

        recs = lz4.frame.compress(recs)
    elif attrs == 4:
        import zstandard

        recs = zstandard.ZstdCompressor().compress(recs)
    after_crc = struct.pack(">hiqqqhii", attrs, n - 1, ts[0], max(ts), -1, -1, -1, n) + recs
    crc = crc32c(after_crc)
    body = struct.pack(">ibI", 0, 2, crc) + after_crc
    return struct.pack(">qi", base_offset, len(body)) + body
