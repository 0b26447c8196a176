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

import operator
import struct
from collections.abc import Callable, Iterable
from typing import Any

from mypy_extensions import mypyc_attr

__all__ = [
    "EncodingError",
    "EntryCache",
    "intset_decode",
    "intset_encode",
    "is_int",
    "listpack_decode",
    "listpack_encode",
    "listpack_encode_entries",
    "lp_entry",
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
_DIGIT_OR_MINUS = frozenset(b"-0123456789")
_lp_head = struct.Struct("<IH").pack


@mypyc_attr(native_class=False)  # a dict subclass stays an ordinary class when compiled
class EntryCache(dict[Any, bytes]):
    """value -> its listpack entry, computing what is missing. Short values (field names,
    flags, small numbers repeat across the keys of a dataset) are remembered, up to `limit`
    of them; once full it stops taking new values. A hit is one dict lookup in C."""

    def __init__(self, encode: Callable[[Any], bytes], max_len: int, limit: int = 65536) -> None:
        super().__init__()
        self.encode = encode
        self.max_len = max_len
        self.limit = limit

    def __missing__(self, v: Any) -> bytes:
        e = self.encode(v)
        if len(self) < self.limit and (type(v) is float or len(v) <= self.max_len):
            self[v] = e
        return e


_int16_entry = struct.Struct("<BhB").pack
_int24_entry = struct.Struct("<BHbB").pack
_int32_entry = struct.Struct("<BiB").pack
_int64_entry = struct.Struct("<BqB").pack


def _lp_entry(v: bytes) -> bytes:
    n = len(v)
    if n and v[0] in _DIGIT_OR_MINUS and (
            (n < 19 and v[0] != 48 and v.isdigit()) or is_int(v)):  # positive below 10**18: no range check
        i = int(v)
        if 0 <= i <= 127:
            return _SMALL_INT_ENTRY[i]
        if -4096 <= i <= 4095:
            u = i & 0x1FFF
            return bytes((0xC0 | (u >> 8), u & 0xFF, 2))
        if -32768 <= i <= 32767:
            return _int16_entry(0xF1, i, 3)
        if -8388608 <= i <= 8388607:
            return _int24_entry(0xF2, i & 0xFFFF, i >> 16, 4)
        if -2147483648 <= i <= 2147483647:
            return _int32_entry(0xF3, i, 5)
        return _int64_entry(0xF4, i, 9)
    if n < 64:
        return b"".join((_SHORT_STRING_HEAD[n], v, _SHORT_STRING_TAIL[n]))
    if n < 4096:
        return b"".join((bytes((0xE0 | (n >> 8), n & 0xFF)), v, _backlen(n + 2)))
    return b"".join((b"\xf0", n.to_bytes(4, "little"), v, _backlen(n + 5)))


_SHORT_STRING_HEAD = [bytes((0x80 | n,)) for n in range(64)]
_SHORT_STRING_TAIL = [_backlen(n + 1) for n in range(64)]
_ENTRIES = EntryCache(_lp_entry, 16)
lp_entry: Callable[[bytes], bytes] = _ENTRIES.__getitem__
"""One listpack entry (encoding, data, backlen) holding v."""


def listpack_encode(values: list[bytes]) -> bytes:
    """The listpack Redis builds by appending values in order."""
    body = b"".join(map(_ENTRIES.__getitem__, values))
    return b"".join((_lp_head(len(body) + 7, min(len(values), 65535)), body, b"\xff"))


def listpack_encode_entries(entries: list[bytes]) -> bytes:
    """A listpack of already-encoded entries (from `lp_entry`)."""
    body = b"".join(entries)
    return b"".join((_lp_head(len(body) + 7, min(len(entries), 65535)), body, b"\xff"))


def _backlen_size(n: int) -> int:
    return 1 if n <= 127 else 2 if n < 16383 else 3 if n < 2097151 else 4 if n < 268435455 else 5


_SMALL_INT_TEXT = [b"%d" % i for i in range(128)]


def listpack_decode(blob: bytes, strict: bool = True) -> list[bytes]:
    """The values of a listpack (integers as their decimal text); strict: the element count
    in its header and the entries' one-byte backlens are checked too (Redis's deep check)."""
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
            if blob[p + 1] != 1 and strict:
                raise EncodingError("listpack entry with a wrong backlen")
            p += 2
        elif b < 0xC0:  # string shorter than 64 bytes: a one-byte backlen
            q = p + 1 + (b & 0x3F)
            append(blob[p + 1:q])
            if q < end and blob[q] != q - p and strict:
                raise EncodingError("listpack entry with a wrong backlen")
            p = q + 1
        else:
            if b < 0xE0:
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
    # An entry claiming more bytes than there are leaves p past the end.
    if p != end:
        raise EncodingError("listpack entries overrun")
    if count != 65535 and count != len(out) and strict:
        raise EncodingError("listpack count mismatch")
    return out


# -- ziplist -------------------------------------------------------------------------------
def ziplist_decode(blob: bytes) -> list[bytes]:
    """The values of a ziplist (integers as their decimal text)."""
    size = len(blob)
    if size < 11 or blob[-1] != 0xFF:
        raise EncodingError("ziplist too short or not terminated")
    total, tail, count = struct.unpack_from("<IIH", blob)
    if total != size:
        raise EncodingError("ziplist size mismatch")
    if tail > size - 1:
        raise EncodingError("ziplist tail offset outside the ziplist")
    out: list[bytes] = []
    p = 10
    end = size - 1
    prev_len = 0  # each entry records the length of the one before it: checked
    start = 10
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
    if out and start != tail:  # Redis 7.0 converts ziplists, which checks every entry and this
        raise EncodingError("ziplist tail offset is not its last entry's")
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
    if not out:
        raise EncodingError("empty zipmap")
    return out


# -- intset --------------------------------------------------------------------------------
_INTSET_FMT = {2: "h", 4: "i", 8: "q"}
_INTSET_STRUCTS: dict[tuple[int, int], struct.Struct] = {}


def _intset_struct(width: int, count: int) -> struct.Struct:
    st = _INTSET_STRUCTS.get((width, count))
    if st is None:
        st = struct.Struct(f"<II{count}{_INTSET_FMT[width]}")
        if len(_INTSET_STRUCTS) < 4096:
            _INTSET_STRUCTS[(width, count)] = st
    return st


def intset_encode(ints: Iterable[int]) -> bytes:
    """The intset of these integers (sorted here), in the narrowest width that holds them all."""
    ints = sorted(ints)
    lo, hi = (ints[0], ints[-1]) if ints else (0, 0)
    if -32768 <= lo and hi <= 32767:
        width = 2
    elif -2147483648 <= lo and hi <= 2147483647:
        width = 4
    else:
        width = 8
    return _intset_struct(width, len(ints)).pack(width, len(ints), *ints)


def intset_decode(blob: bytes) -> list[bytes]:
    """The members of an intset as decimal text, in ascending order (checked)."""
    if len(blob) < 8:
        raise EncodingError("intset too short")
    width, count = struct.unpack_from("<II", blob)
    if width not in _INTSET_FMT or len(blob) != 8 + width * count:
        raise EncodingError("intset size mismatch")
    ints = _intset_struct(width, count).unpack(blob)[2:]
    if not all(map(operator.lt, ints, ints[1:])):
        raise EncodingError("intset not sorted")
    return " ".join(map(str, ints)).encode().split()
