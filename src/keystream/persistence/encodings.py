"""Redis's compact serialised containers, as they appear inside RDB files and DUMP payloads.

Written (Redis 7.0 writes these): listpack (hash, sorted set and quicklist-node payloads) and
intset. Read: listpack and intset, and the older forms Redis 7.0 still loads from old files:
ziplist (lists, hashes, sorted sets of RDB 7-9) and zipmap (hashes of RDB < 4).

Layouts, from Redis's listpack.c / ziplist.c / zipmap.c / intset.c:
- listpack: total bytes (u32 LE), element count (u16 LE, 65535 when larger), entries, 0xFF.
  An entry is its encoding + data, then its own length as a "backlen" (7 bits per byte,
  big end first, every byte but the first with the top bit set). A string that reads as a
  canonical 64-bit integer (Redis's string2ll) is stored as the smallest integer encoding.
- ziplist: total bytes (u32 LE), tail offset (u32 LE), count (u16 LE), entries, 0xFF; each
  entry is prevlen (1 byte, or 0xFE + u32 LE), an encoding header, data.
- zipmap: count (1 byte), then (len, key, len, free, value, free bytes)..., 0xFF.
- intset: element width (u32 LE: 2, 4 or 8), count (u32 LE), sorted little-endian ints.

Every decoder checks bounds and raises `EncodingError` on malformed input: these bytes come
from files and from RESTORE payloads, which a client controls.

Not here: the RDB framing around these blobs (persistence/rdb.py).
"""

from __future__ import annotations

import itertools
import struct

__all__ = [
    "EncodingError",
    "intset_decode",
    "intset_encode",
    "is_int",
    "listpack_decode",
    "listpack_encode",
    "ziplist_decode",
    "zipmap_decode",
]

_LLONG_MAX = 2**63 - 1
_LLONG_MIN = -(2**63)


class EncodingError(ValueError):
    """A serialised container that is malformed or truncated."""


def is_int(v: bytes) -> bool:
    """True if v is an integer as Redis's string2ll accepts it (canonical, signed 64-bit)."""
    n = len(v)
    if n == 0 or n > 20:
        return False
    if v.isdigit():
        return (v[0] != 48 or n == 1) and (n < 19 or int(v) <= _LLONG_MAX)
    if v[0] == 45 and n > 1 and v[1] != 48 and v[1:].isdigit():
        return n < 20 or int(v) >= _LLONG_MIN
    return False


# -- listpack ------------------------------------------------------------------------------
def _backlen(n: int) -> bytes:
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128, (n & 127) | 128))
    return bytes((n >> 28, ((n >> 21) & 127) | 128, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128,
                  (n & 127) | 128))


# Precomputed entries for the 7-bit unsigned integers (the commonest small values).
_SMALL_INT_ENTRY = [bytes((i, 1)) for i in range(128)]


# Entries of short values already encoded: field names, flags and small numbers repeat
# across the keys of a dataset. Bounded; it stops taking new values once full.
_ENTRY_CACHE: dict[bytes, bytes] = {}
_ENTRY_CACHE_MAX = 65536
_DIGIT_OR_MINUS = frozenset(b"-0123456789")


def lp_entry(v: bytes) -> bytes:
    """One listpack entry (encoding, data, backlen) holding v."""
    e = _ENTRY_CACHE.get(v)
    if e is None:
        e = _lp_entry(v)
        if len(v) <= 16 and len(_ENTRY_CACHE) < _ENTRY_CACHE_MAX:
            _ENTRY_CACHE[v] = e
    return e


def _lp_entry(v: bytes) -> bytes:
    n = len(v)
    if n <= 20 and n and v[0] in _DIGIT_OR_MINUS and is_int(v):
        i = int(v)
        if 0 <= i <= 127:
            return _SMALL_INT_ENTRY[i]
        if -4096 <= i <= 4095:
            u = i & 0x1FFF
            return bytes((0xC0 | (u >> 8), u & 0xFF, 2))
        if -32768 <= i <= 32767:
            return b"\xf1" + i.to_bytes(2, "little", signed=True) + b"\x03"
        if -8388608 <= i <= 8388607:
            return b"\xf2" + i.to_bytes(3, "little", signed=True) + b"\x04"
        if -2147483648 <= i <= 2147483647:
            return b"\xf3" + i.to_bytes(4, "little", signed=True) + b"\x05"
        return b"\xf4" + i.to_bytes(8, "little", signed=True) + b"\x09"
    if n < 64:
        return bytes((0x80 | n,)) + v + _backlen(n + 1)
    if n < 4096:
        return bytes((0xE0 | (n >> 8), n & 0xFF)) + v + _backlen(n + 2)
    return b"\xf0" + n.to_bytes(4, "little") + v + _backlen(n + 5)


def listpack_encode(values: list[bytes]) -> bytes:
    """The listpack Redis builds by appending values in order."""
    get = _ENTRY_CACHE.get
    body = b"".join([get(v) or lp_entry(v) for v in values])
    return struct.pack("<IH", len(body) + 7, min(len(values), 65535)) + body + b"\xff"


def listpack_encode_entries(entries: list[bytes]) -> bytes:
    """A listpack of already-encoded entries (from `lp_entry`)."""
    body = b"".join(entries)
    return struct.pack("<IH", len(body) + 7, min(len(entries), 65535)) + body + b"\xff"


def _backlen_size(n: int) -> int:
    return 1 if n <= 127 else 2 if n < 16383 else 3 if n < 2097151 else 4 if n < 268435455 else 5


_SMALL_INT_TEXT = [b"%d" % i for i in range(128)]


def listpack_decode(blob: bytes) -> list[bytes]:
    """The values of a listpack (integers as their decimal text)."""
    size = len(blob)
    if size < 7 or blob[-1] != 0xFF:
        raise EncodingError("listpack too short or not terminated")
    total, count = struct.unpack_from("<IH", blob)
    if total != size:
        raise EncodingError("listpack size mismatch")
    out: list[bytes] = []
    append = out.append
    small = _SMALL_INT_TEXT
    p = 6
    end = size - 1
    while p < end:
        b = blob[p]
        if b < 0x80:  # 7-bit unsigned integer: entry and backlen are one byte each
            append(small[b])
            p += 2
            continue
        if b < 0xC0:  # string shorter than 64 bytes
            n = 1 + (b & 0x3F)
            append(blob[p + 1:p + n])
        elif b < 0xE0:
            u = ((b & 0x1F) << 8) | blob[p + 1]
            append(b"%d" % (u - 8192 if u >= 4096 else u))
            n = 2
        elif b < 0xF0:
            n = 2 + (((b & 0x0F) << 8) | blob[p + 1])
            append(blob[p + 2:p + n])
        elif b == 0xF0:
            n = 5 + int.from_bytes(blob[p + 1:p + 5], "little")
            append(blob[p + 5:p + n])
        elif b <= 0xF4:
            n = 1 + (2, 3, 4, 8)[b - 0xF1]
            append(b"%d" % int.from_bytes(blob[p + 1:p + n], "little", signed=True))
        else:
            raise EncodingError("bad listpack entry encoding")
        p += n + (1 if n <= 127 else _backlen_size(n))
        if p > end:
            raise EncodingError("listpack entry past the end")
    if p != end:
        raise EncodingError("listpack entries overrun")
    if count != 65535 and count != len(out):
        raise EncodingError("listpack count mismatch")
    return out


# -- ziplist -------------------------------------------------------------------------------
def ziplist_decode(blob: bytes) -> list[bytes]:
    """The values of a ziplist (integers as their decimal text)."""
    size = len(blob)
    if size < 11 or blob[-1] != 0xFF:
        raise EncodingError("ziplist too short or not terminated")
    total, _tail, count = struct.unpack_from("<IIH", blob)
    if total != size:
        raise EncodingError("ziplist size mismatch")
    out: list[bytes] = []
    p = 10
    end = size - 1
    prev_len = 0  # each entry records the length of the one before it: checked
    while p < end:
        start = p
        if blob[p] < 254:
            prevlen = blob[p]
            p += 1
        else:
            prevlen = int.from_bytes(blob[p + 1:p + 5], "little")
            p += 5
        if prevlen != prev_len:
            raise EncodingError("ziplist entry with a wrong previous-entry length")
        if p >= end:
            raise EncodingError("ziplist entry past the end")
        e = blob[p]
        kind = e >> 6
        if kind == 0:
            ln, h = e & 0x3F, 1
        elif kind == 1:
            ln, h = ((e & 0x3F) << 8) | blob[p + 1], 2
        elif e == 0x80:
            ln, h = int.from_bytes(blob[p + 1:p + 5], "big"), 5
        else:
            ln = -1
            h = 1
        if ln >= 0:
            if p + h + ln > end:
                raise EncodingError("ziplist entry past the end")
            out.append(blob[p + h:p + h + ln])
            p += h + ln
            prev_len = p - start
            continue
        if e == 0xC0:
            w = 2
        elif e == 0xD0:
            w = 4
        elif e == 0xE0:
            w = 8
        elif e == 0xF0:
            w = 3
        elif e == 0xFE:
            w = 1
        elif 0xF1 <= e <= 0xFD:
            out.append(b"%d" % ((e & 0x0F) - 1))
            p += 1
            prev_len = p - start
            continue
        else:
            raise EncodingError("bad ziplist entry encoding")
        if p + 1 + w > end:
            raise EncodingError("ziplist entry past the end")
        out.append(b"%d" % int.from_bytes(blob[p + 1:p + 1 + w], "little", signed=True))
        p += 1 + w
        prev_len = p - start
    if p != end:
        raise EncodingError("ziplist entries overrun")
    if count != 65535 and count != len(out):
        raise EncodingError("ziplist count mismatch")
    return out


# -- zipmap --------------------------------------------------------------------------------
def zipmap_decode(blob: bytes) -> list[bytes]:
    """The keys and values of a zipmap, alternating."""
    out: list[bytes] = []
    size = len(blob)
    if size < 2:
        raise EncodingError("zipmap too short")
    p = 1
    while True:
        if p >= size:
            raise EncodingError("zipmap not terminated")
        if blob[p] == 0xFF:
            break
        for is_value in (False, True):
            if p >= size:
                raise EncodingError("zipmap entry past the end")
            ln = blob[p]
            if ln == 0xFF:
                raise EncodingError("zipmap key without a value")
            if ln < 254:
                p += 1
            else:
                ln = int.from_bytes(blob[p + 1:p + 5], "little")
                p += 5
            free = 0
            if is_value:
                free = blob[p]
                p += 1
            if p + ln + free > size:
                raise EncodingError("zipmap entry past the end")
            out.append(blob[p:p + ln])
            p += ln + free
    if p != size - 1:
        raise EncodingError("zipmap has bytes after its end")
    return out


# -- intset --------------------------------------------------------------------------------
_INTSET_FMT = {2: "h", 4: "i", 8: "q"}


def intset_encode(ints: list[int]) -> bytes:
    """The intset of these integers (sorted here), in the narrowest width that holds them all."""
    ints = sorted(ints)
    lo, hi = (ints[0], ints[-1]) if ints else (0, 0)
    if -32768 <= lo and hi <= 32767:
        width = 2
    elif -2147483648 <= lo and hi <= 2147483647:
        width = 4
    else:
        width = 8
    return struct.pack(f"<II{len(ints)}{_INTSET_FMT[width]}", width, len(ints), *ints)


def intset_decode(blob: bytes) -> list[bytes]:
    """The members of an intset as decimal text, in ascending order (checked)."""
    if len(blob) < 8:
        raise EncodingError("intset too short")
    width, count = struct.unpack_from("<II", blob)
    fmt = _INTSET_FMT.get(width)
    if fmt is None or len(blob) != 8 + width * count:
        raise EncodingError("intset size mismatch")
    ints = struct.unpack_from(f"<{count}{fmt}", blob, 8)
    for a, b in itertools.pairwise(ints):
        if a >= b:
            raise EncodingError("intset not sorted")
    return [b"%d" % i for i in ints]
