"""The hash type: field -> value (both bytes), in two forms: one packed bytes object for
small hashes, a dict for big ones. Both keep the fields in insertion order.

`big` records whether Redis would hold this hash as a hashtable rather than a listpack:
it becomes True the first time the hash grows past `hash-max-listpack-entries` or stores
a field or value longer than `hash-max-listpack-value`, and never goes back (Redis does
not convert a hashtable back to a listpack, even when the hash shrinks). Commands update
it through `note_size`/`note_lengths`; it only feeds OBJECT ENCODING and HSCAN's
"small hashes come back in one call" rule. It is independent of the form below.

Compact form (`d` is bytes, in the spirit of Redis's listpack): while a hash has at most
`SMALL_MAX` fields, `SMALL_BYTES` bytes, and no zero byte in any field or value, it is

    0 f1 0 v1 0 f2 0 v2 ... 0 fn 0 vn 0

A field is found by one `bytes.find` of `0 field 0` whose zero is an even one (the count
of zeros before it: an odd one would be a value equal to the field); a change builds a new
object from slices (O(n) at n <= 64, as Redis's listpack insert is a memmove). Measured on
200k hashes of 5 short fields (benchmarks/memory.py), per key with the key and its database
entry: ~380 bytes as a dict (a 5-entry dict alone is 248), ~240 in this form.
A hash moves to the dict (one way) when it outgrows those limits or gets a zero byte.

Memory of the dict form: a Python bytes object costs ~40 bytes however short it is, and
millions of small hashes mostly repeat the same field names (and often the same short
values: flags, states, small numbers). `share(b)` returns one shared object per distinct
short byte string, from a bounded pool that stops taking new entries once full, so a hash
stores references to shared fields instead of a private copy of each (the dict form's
`__setitem__` shares what it stores).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
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


SMALL_MAX = 64  # fields of a hash in the compact form, at most
SMALL_BYTES = 2048  # bytes of a hash's compact form, at most
_Z = b"\0"
_EMPTY = _Z


def _find(blob: bytes, field: bytes) -> int:
    """Where the zero before field is in a packed hash, -1 if field is not in it."""
    if _Z in field:
        return -1  # (the compact form holds no zero byte)
    pat = _Z + field + _Z
    i = blob.find(pat)
    while i >= 0 and blob.count(_Z, 0, i) & 1:
        i = blob.find(pat, i + 1)
    return i


def _flat(blob: bytes) -> list[bytes]:
    """The fields and values of a packed hash, alternating."""
    return blob[1:-1].split(_Z) if len(blob) > 1 else []


class Hash:
    """A hash key's value (see the module docstring)."""

    __slots__ = ("atime", "big", "d", "msize")

    def __init__(self, pairs: Any = ()) -> None:
        self.d: bytes | dict[bytes, bytes] = _EMPTY
        self.big = False
        items = pairs.items() if isinstance(pairs, (dict, Hash)) else pairs
        for f, v in items:
            self[f] = v

    @classmethod
    def from_flat(cls, flat: list[bytes]) -> Hash:
        """The hash of alternating fields and values (a later duplicate field overwrites)."""
        h = cls()
        if len(flat) <= 2 * SMALL_MAX:
            blob = _Z + _Z.join(flat) + _Z
            if len(blob) <= SMALL_BYTES and blob.count(_Z) == len(flat) + 1:
                parts = flat[0::2]
                if len(set(parts)) == len(parts):
                    h.d = blob
                    return h
        it = iter(map(share, flat))
        h.d = dict(zip(it, it))
        return h

    @property
    def packed(self) -> bytes | None:
        """The compact form's bytes, if the hash is in it (else None)."""
        d = self.d
        return d if isinstance(d, bytes) else None

    def _to_dict(self) -> dict[bytes, bytes]:
        d = self.d
        assert isinstance(d, bytes)
        flat = _flat(d)
        it = iter(map(share, flat))
        big = dict(zip(it, it))
        self.d = big
        return big

    # -- encoding ----------------------------------------------------------------------
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

    def copy(self) -> Hash:
        h = Hash()
        d = self.d
        h.d = d if isinstance(d, bytes) else dict(d)
        h.big = self.big
        return h

    # -- the dict interface the commands use -------------------------------------------
    def __len__(self) -> int:
        d = self.d
        return d.count(_Z) >> 1 if isinstance(d, bytes) else len(d)

    def __bool__(self) -> bool:
        d = self.d
        return len(d) > 1 if isinstance(d, bytes) else len(d) > 0

    def __eq__(self, other: object) -> bool:
        """Equal to a hash or a dict with the same fields and values."""
        if isinstance(other, Hash):
            other = dict(other.items())
        return isinstance(other, dict) and dict(self.items()) == other

    def __contains__(self, field: Any) -> bool:
        d = self.d
        return _find(d, field) >= 0 if isinstance(d, bytes) else field in d

    def get(self, field: bytes, default: bytes | None = None) -> bytes | None:
        d = self.d
        if not isinstance(d, bytes):
            return d.get(field, default)
        i = _find(d, field)
        if i < 0:
            return default
        j = i + len(field) + 2
        return d[j:d.index(_Z, j)]

    def __getitem__(self, field: bytes) -> bytes:
        v = self.get(field)
        if v is None:
            raise KeyError(field)
        return v

    def __setitem__(self, field: bytes, value: bytes) -> None:
        d = self.d
        if not isinstance(d, bytes):
            d[share(field)] = share(value)
            return
        if _Z not in field and _Z not in value:
            i = _find(d, field)
            if i >= 0:
                j = i + len(field) + 2
                new = d[:j] + value + d[d.index(_Z, j):]
            else:
                new = d + field + _Z + value + _Z
            if len(new) <= SMALL_BYTES and (i >= 0 or new.count(_Z) <= 2 * SMALL_MAX + 1):
                self.d = new
                return
        self._to_dict()[share(field)] = share(value)

    def pop(self, field: bytes, default: bytes | None = None) -> bytes | None:
        d = self.d
        if not isinstance(d, bytes):
            return d.pop(field, default)
        i = _find(d, field)
        if i < 0:
            return default
        j = i + len(field) + 2
        k = d.index(_Z, j)
        self.d = d[:i] + d[k:]
        return d[j:k]

    def __delitem__(self, field: bytes) -> None:
        if self.pop(field) is None:
            raise KeyError(field)

    def clear(self) -> None:
        self.d = _EMPTY

    def __iter__(self) -> Iterator[bytes]:
        d = self.d
        return iter(_flat(d)[0::2]) if isinstance(d, bytes) else iter(d)

    def keys(self) -> Iterable[bytes]:
        d = self.d
        return _flat(d)[0::2] if isinstance(d, bytes) else d.keys()

    def values(self) -> Iterable[bytes]:
        d = self.d
        return _flat(d)[1::2] if isinstance(d, bytes) else d.values()

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        d = self.d
        if isinstance(d, bytes):
            flat = _flat(d)
            return list(zip(flat[0::2], flat[1::2]))
        return d.items()


register_type(Hash, b"hash")
