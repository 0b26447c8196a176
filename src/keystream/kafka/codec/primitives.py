"""Byte writers for Kafka's primitive types, used by the hand-written fast encoders and the
internal topics' records (kafka/txn, kafka/groups).

Only what those need: fixed-size ints (struct), unsigned varints, legacy and compact strings
and array lengths. Everything else goes through kio's generic encoder. The reader of unsigned
varints is header.read_uvarint; the zig-zag varints of record fields are in log/batch.py.
"""

from __future__ import annotations

import struct

__all__ = [
    "I8",
    "I16",
    "I32",
    "I64",
    "TAGS_NONE",
    "array_len",
    "nullable_array_len",
    "nullable_string",
    "string",
    "uvarint",
]

I8 = struct.Struct(">b").pack
I16 = struct.Struct(">h").pack
I32 = struct.Struct(">i").pack
I64 = struct.Struct(">q").pack
TAGS_NONE = b"\x00"  # an empty tagged-field section (flexible versions)


def uvarint(n: int) -> bytes:
    """Unsigned LEB128 varint."""
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def string(s: bytes, flexible: bool) -> bytes:
    if flexible:
        return uvarint(len(s) + 1) + s
    return I16(len(s)) + s


def nullable_string(s: bytes | None, flexible: bool) -> bytes:
    if s is None:
        return b"\x00" if flexible else b"\xff\xff"
    return string(s, flexible)


def array_len(n: int, flexible: bool) -> bytes:
    return uvarint(n + 1) if flexible else I32(n)


def nullable_array_len(n: int | None, flexible: bool) -> bytes:
    if n is None:
        return b"\x00" if flexible else b"\xff\xff\xff\xff"
    return array_len(n, flexible)
