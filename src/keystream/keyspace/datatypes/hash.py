"""The hash type: a dict of field -> value (both bytes).

`big` records whether Redis would hold this hash as a hashtable rather than a listpack:
it becomes True the first time the hash grows past `hash-max-listpack-entries` or stores
a field or value longer than `hash-max-listpack-value`, and never goes back (Redis does
not convert a hashtable back to a listpack, even when the hash shrinks). Commands update
it through `note_size`/`note_lengths`; it only feeds OBJECT ENCODING and HSCAN's
"small hashes come back in one call" rule.

Memory: a Python bytes object costs ~40 bytes however short it is, and millions of small
hashes mostly repeat the same field names (and often the same short values: flags,
states, small numbers). `share(b)` returns one shared object per distinct short byte
string, from a bounded pool that stops taking new entries once full, so a hash stores
references to shared fields instead of a private copy of each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keystream.keyspace.db import register_type

__all__ = ["Hash", "is_shared", "share"]

# Byte strings up to this length are shared; the pool holds at most _POOL_MAX of them.
SHARE_MAX_LEN = 16
_POOL_MAX = 65536


class _Pool(dict[bytes, bytes]):
    """The pool: a hit is one dict lookup in C; a miss adds b while there is room."""

    def __missing__(self, b: bytes) -> bytes:
        if len(b) <= SHARE_MAX_LEN and len(self) < _POOL_MAX:
            self[b] = b
        return b


_POOL = _Pool()
share: Callable[[bytes], bytes] = _POOL.__getitem__
"""The pooled object equal to b (b itself if it is long or the pool is full)."""


def is_shared(b: bytes) -> bool:
    """True if b is the pool's object (held by the pool, whichever keys refer to it)."""
    return _POOL.get(b) is b


class Hash(dict):
    __slots__ = ("atime", "big", "msize")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.big = False

    def encoding(self, config: Any) -> bytes:
        return b"hashtable" if self.big else b"listpack"

    def note_lengths(self, items: Any, max_value: int) -> None:
        """Convert (one way) if any of the byte strings in items is longer than max_value."""
        if not self.big:
            for b in items:
                if len(b) > max_value:
                    self.big = True
                    return

    def note_size(self, max_entries: int) -> None:
        """Convert (one way) if the hash now has more than max_entries fields."""
        if len(self) > max_entries:
            self.big = True

    def copy(self) -> "Hash":
        h = Hash(self)
        h.big = self.big
        return h


register_type(Hash, b"hash")
