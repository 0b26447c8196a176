"""The Redis list value: a deque of elements kept already encoded as RESP bulk strings.

Each element is stored as its wire form (`b"$3\\r\\nfoo\\r\\n"`), identical in RESP2 and
RESP3, so LRANGE, LPOP/RPOP and LINDEX reply by joining stored bytes with no per-element
encoding (about 4-5x faster LRANGE than encoding on every read). Comparisons (LREM, LPOS,
LINSERT) encode the argument once and compare encoded forms: equal bulks <=> equal bytes.
Code that needs the plain values (SORT, COPY, persistence) uses `values()` /
`from_values()`.

Redis 7.0 always reports the encoding `quicklist` for lists (the small-list `listpack`
encoding arrived in 7.2); `list-max-listpack-size` only shapes its nodes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from keystream.keyspace.db import register_type

__all__ = ["ListValue", "decode_element", "encode_element"]

_HDR = [b"$%d\r\n" % i for i in range(1025)]


def encode_element(value: bytes) -> bytes:
    """The stored (RESP bulk) form of a list element."""
    n = len(value)
    return (_HDR[n] if n <= 1024 else b"$%d\r\n" % n) + value + b"\r\n"


def decode_element(stored: bytes) -> bytes:
    """The element's value from its stored form."""
    return stored[stored.index(b"\n") + 1:-2]


class ListValue(deque):
    """A list key's value. Elements are stored encoded (see module docstring)."""

    __slots__ = ("atime", "msize")  # access data and accounted size, see keyspace/db.py

    @classmethod
    def from_values(cls, values: Iterable[bytes]) -> ListValue:
        return cls(map(encode_element, values))

    def values(self) -> Iterator[bytes]:
        """The plain element values, head to tail."""
        return map(decode_element, self)

    def encoding(self, config: Any) -> bytes:
        return b"quicklist"

    def copy(self) -> ListValue:
        return ListValue(self)  # elements are immutable bytes


register_type(ListValue, b"list")
