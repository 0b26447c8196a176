"""The hash type: a dict of field -> value (both bytes).

`big` records whether Redis would hold this hash as a hashtable rather than a listpack:
it becomes True the first time the hash grows past `hash-max-listpack-entries` or stores
a field or value longer than `hash-max-listpack-value`, and never goes back (Redis does
not convert a hashtable back to a listpack, even when the hash shrinks). Commands update
it through `note_size`/`note_lengths`; it only feeds OBJECT ENCODING and HSCAN's
"small hashes come back in one call" rule.
"""

from __future__ import annotations

from typing import Any

from keystream.keyspace.db import register_type

__all__ = ["Hash"]


class Hash(dict):
    __slots__ = ("big",)

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
