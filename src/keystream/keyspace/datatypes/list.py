"""The Redis list value, in two forms: one packed bytes object for small lists, a deque for
big ones. Elements are kept already encoded as RESP bulk strings in both.

Each element is stored as its wire form (`b"$3\\r\\nfoo\\r\\n"`), identical in RESP2 and
RESP3, so LRANGE, LPOP/RPOP and LINDEX reply by joining stored bytes with no per-element
encoding (about 4-5x faster LRANGE than encoding on every read). Comparisons (LREM, LPOS,
LINSERT) encode the argument once and compare encoded forms: equal bulks <=> equal bytes.
Code that needs the plain values (SORT, COPY, persistence) uses `values()` /
`from_values()`. Iterating a ListValue gives the stored elements, head to tail.

Compact form (in the spirit of Redis 7.2's listpack lists): while a list has at most
`SMALL_MAX` elements and `SMALL_BYTES` stored bytes, it is the stored elements
concatenated in one immutable bytes object (`d`) and their count (`n`). The RESP headers
delimit the elements, so the whole list is an LRANGE reply body as it is, a push is one
concatenation and LPOP one header parse; other changes split the object, change the list
of elements and join it again (O(n) at n <= 64). Measured on 200k lists of 5 elements
(benchmarks/memory.py), per key with the key and its database entry: ~1070 bytes as a
deque (which allocates a 64-slot block for any list), ~240 in this form.
A list moves to the deque (`d` is a `deque`) when it outgrows those limits, and back only
when emptied in place (`clear`, as LREM and LTRIM rebuild it).

Redis 7.0 always reports the encoding `quicklist` for lists (the small-list `listpack`
encoding arrived in 7.2); `list-max-listpack-size` only shapes its nodes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from keystream.keyspace.db import register_type

__all__ = ["SMALL_BYTES", "SMALL_MAX", "ListValue", "decode_element", "encode_element"]

SMALL_MAX = 64  # elements of a list in the compact form, at most
SMALL_BYTES = 2048  # stored bytes of a list in the compact form, at most

_HDR = [b"$%d\r\n" % i for i in range(1025)]


def encode_element(value: bytes) -> bytes:
    """The stored (RESP bulk) form of a list element."""
    n = len(value)
    return (_HDR[n] if n <= 1024 else b"$%d\r\n" % n) + value + b"\r\n"


def decode_element(stored: bytes) -> bytes:
    """The element's value from its stored form."""
    return stored[stored.index(b"\n") + 1:-2]


def _end(blob: bytes, p: int) -> int:
    """Where the stored element starting at p in blob ends."""
    nl = blob.index(b"\n", p)
    return nl + 3 + int(blob[p + 1:nl - 1])


def _split(blob: bytes) -> list[bytes]:
    """The stored elements of a packed list."""
    out = []
    p = 0
    size = len(blob)
    while p < size:
        q = _end(blob, p)
        out.append(blob[p:q])
        p = q
    return out


class ListValue:
    """A list key's value (see the module docstring)."""

    __slots__ = ("atime", "d", "msize", "n")
    atime: int  # access data, set by the database (see keyspace/db.py)
    msize: int  # accounted size, set by the database (see keyspace/db.py)

    def __init__(self, stored: Iterable[bytes] = ()) -> None:
        self.d: bytes | deque[bytes] = b""
        self.n = 0  # the element count of the compact form
        self._set_parts(list(stored))

    @classmethod
    def from_values(cls, values: Iterable[bytes]) -> ListValue:
        return cls(map(encode_element, values))

    def _set_parts(self, parts: list[bytes]) -> None:
        """Hold the stored elements parts, in the form their count and size call for."""
        if len(parts) <= SMALL_MAX:
            blob = b"".join(parts)
            if len(blob) <= SMALL_BYTES:
                self.d = blob
                self.n = len(parts)
                return
        self.d = deque(parts)
        self.n = 0

    def _to_big(self) -> deque[bytes]:
        d = self.d
        assert isinstance(d, bytes)
        big = deque(_split(d))
        self.d = big
        self.n = 0
        return big

    @property
    def packed(self) -> bytes | None:
        """The stored elements joined, if the list is in the compact form (else None)."""
        d = self.d
        return d if isinstance(d, bytes) else None

    def values(self) -> Iterator[bytes]:
        """The plain element values, head to tail."""
        return map(decode_element, self)

    def encoding(self, config: Any) -> bytes:
        return b"quicklist"

    def copy(self) -> ListValue:
        return ListValue(self)  # elements are immutable bytes

    # -- the deque interface the commands use ------------------------------------------
    def __len__(self) -> int:
        d = self.d
        return self.n if isinstance(d, bytes) else len(d)

    def __bool__(self) -> bool:
        d = self.d
        return self.n > 0 if isinstance(d, bytes) else len(d) > 0

    def __iter__(self) -> Iterator[bytes]:
        d = self.d
        return iter(_split(d)) if isinstance(d, bytes) else iter(d)

    def __reversed__(self) -> Iterator[bytes]:
        d = self.d
        return reversed(_split(d)) if isinstance(d, bytes) else reversed(d)

    def __getitem__(self, index: int) -> bytes:
        d = self.d
        return _split(d)[index] if isinstance(d, bytes) else d[index]

    def __setitem__(self, index: int, stored: bytes) -> None:
        d = self.d
        if isinstance(d, bytes):
            parts = _split(d)
            parts[index] = stored
            self._set_parts(parts)
        else:
            d[index] = stored

    def append(self, stored: bytes) -> None:
        d = self.d
        if isinstance(d, bytes):
            if self.n < SMALL_MAX and len(d) + len(stored) <= SMALL_BYTES:
                self.d = d + stored
                self.n += 1
                return
            self._to_big().append(stored)
        else:
            d.append(stored)

    def appendleft(self, stored: bytes) -> None:
        d = self.d
        if isinstance(d, bytes):
            if self.n < SMALL_MAX and len(d) + len(stored) <= SMALL_BYTES:
                self.d = stored + d
                self.n += 1
                return
            self._to_big().appendleft(stored)
        else:
            d.appendleft(stored)

    def extend(self, stored: Iterable[bytes]) -> None:
        d = self.d
        if isinstance(d, bytes):
            for e in stored:
                self.append(e)
        else:
            d.extend(stored)

    def pop(self) -> bytes:
        """Remove and return the last element (IndexError if empty)."""
        d = self.d
        if not isinstance(d, bytes):
            return d.pop()
        if not d:
            raise IndexError("pop from an empty list")
        p = last = 0
        size = len(d)
        while p < size:
            last = p
            p = _end(d, p)
        self.d = d[:last]
        self.n -= 1
        return d[last:]

    def popleft(self) -> bytes:
        """Remove and return the first element (IndexError if empty)."""
        d = self.d
        if not isinstance(d, bytes):
            return d.popleft()
        if not d:
            raise IndexError("pop from an empty list")
        q = _end(d, 0)
        self.d = d[q:]
        self.n -= 1
        return d[:q]

    def clear(self) -> None:
        self.d = b""
        self.n = 0

    def index(self, stored: bytes) -> int:
        """The position of the first element equal to stored (ValueError if none)."""
        d = self.d
        return _split(d).index(stored) if isinstance(d, bytes) else d.index(stored)

    def insert(self, index: int, stored: bytes) -> None:
        d = self.d
        if isinstance(d, bytes):
            parts = _split(d)
            parts.insert(index, stored)
            self._set_parts(parts)
        else:
            d.insert(index, stored)


register_type(ListValue, b"list")
