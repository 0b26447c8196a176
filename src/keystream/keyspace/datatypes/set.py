"""The set type: a Python set of members (bytes).

`big` records whether Redis 7.0 would hold this set as a hashtable rather than an intset:
a set is an intset while every member is an integer in the signed 64-bit range written
canonically (Redis's string2ll: no sign on zero, no leading zeros, no spaces) and it has
at most `set-max-intset-entries` members. Once converted it stays a hashtable, as in
Redis, even if it later holds only a few integers. (7.2's listpack sets do not exist in
7.0.) Intset sets list their members in ascending numeric order, as Redis's intset does.

Memory: CPython grows a set's table to four times its member count when it fills up (a set
of 5 members gets a 32-slot table, 752 bytes, where 16 slots hold 5 members: 496 bytes).
A set of at most `FIT_MAX` members is given a table sized for it instead: when it is built
(from a dict of its members, which CPython sizes to twice the count), and when an addition
has grown its table past that (`fit`, called by the commands after adding).
"""

from __future__ import annotations

import sys
from typing import Any, Iterable

from keystream.keyspace.db import register_type

__all__ = ["Set", "is_int_member"]

_LLONG_MAX = 2**63 - 1
_LLONG_MIN = -(2**63)
FIT_MAX = 64  # sets up to this many members keep a table sized for them (see `fit`)
_getsizeof = sys.getsizeof


def is_int_member(m: bytes) -> bool:
    """True if m is an integer Redis would keep in an intset (string2ll accepts it)."""
    n = len(m)
    if n == 0 or n > 20:
        return False
    if m.isdigit():
        return (m[0] != 48 or n == 1) and (n < 19 or int(m) <= _LLONG_MAX)
    if m[0] == 45 and n > 1 and m[1] != 48 and m[1:].isdigit():
        return n < 20 or int(m) >= _LLONG_MIN
    return False


class Set(set):
    __slots__ = ("atime", "big", "msize")

    def __init__(self, members: Iterable[bytes] = ()) -> None:
        # from a set or dict, CPython sizes the table for the count; item by item it grows
        super().__init__(members if isinstance(members, (set, frozenset, dict)) else dict.fromkeys(members))
        self.big = False

    def fit(self) -> None:
        """Give a set of at most FIT_MAX members a table sized for them again, if adding to
        it grew its table past that (see the module docstring)."""
        n = len(self)
        if n <= FIT_MAX and _getsizeof(self) > _FIT_SIZES[n]:
            members = dict.fromkeys(self)
            self.clear()
            self.update(members)

    @classmethod
    def build(cls, members: Iterable[bytes], max_intset: int) -> "Set":
        """A new set of members with the encoding Redis gives a set built from scratch."""
        s = cls(members)
        s.big = len(s) > max_intset or not all(map(is_int_member, s))
        return s

    def add_members(self, members: Iterable[bytes], max_intset: int) -> int:
        """Add members, converting to a hashtable as Redis would; returns how many were new."""
        n = len(self)
        if self.big:
            self.update(members)
        else:
            for m in members:
                if not self.big and not is_int_member(m):
                    self.big = True
                self.add(m)
            if len(self) > max_intset:
                self.big = True
        self.fit()
        return len(self) - n

    def encoding(self, config: Any) -> bytes:
        return b"hashtable" if self.big else b"intset"

    def ordered(self) -> list[bytes]:
        """The members in Redis's iteration order where it is defined (intset: ascending)."""
        if self.big:
            return list(self)
        return sorted(self, key=int)

    def copy(self) -> "Set":
        s = Set(self)
        s.big = self.big
        return s


# The size of a set of n members built from a dict, for n <= FIT_MAX.
_FIT_SIZES = [_getsizeof(Set(range(n))) for n in range(FIT_MAX + 1)]  # type: ignore[arg-type]

register_type(Set, b"set")
