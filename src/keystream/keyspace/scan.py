"""Cursor iteration for SCAN, HSCAN, SSCAN and ZSCAN.

Redis's guarantee: an element present for the whole of a full iteration is returned at
least once; elements added or removed meanwhile may or may not be. Redis gets this from
reverse-binary iteration over hash buckets, which Python dicts do not expose. We get it
from a snapshot: a new iteration (cursor 0) takes the container's keys as a list, and
later calls walk that list, skipping keys that are gone.

The cursor encodes (snapshot id, position) in one unsigned 64-bit number. Snapshots live
in a bounded LRU table; a cursor whose snapshot was dropped (too many concurrent scans, or
a restart) resumes from a fresh snapshot at the same position, which can repeat or miss
elements, as a cursor of a Redis that rehashed in between can repeat them.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable

__all__ = ["ScanCursors", "CURSORS"]

_POS_BITS = 40
_POS_MASK = (1 << _POS_BITS) - 1


class ScanCursors:
    def __init__(self, max_snapshots: int = 1024, max_elements: int = 8_000_000) -> None:
        self._snapshots: OrderedDict[int, list[Any]] = OrderedDict()
        self._next_id = 1
        self._elements = 0
        self.max_snapshots = max_snapshots
        self.max_elements = max_elements

    def scan(self, container: Iterable[Any], cursor: int, count: int) -> tuple[int, list[Any]]:
        """Return (next cursor, up to ~count keys of container) for this cursor.

        `container` is iterated (for its keys) only when a snapshot must be taken.
        The caller filters the returned keys (MATCH, TYPE, expired) and looks up values.
        """
        snap_id = cursor >> _POS_BITS
        pos = cursor & _POS_MASK
        snap = self._snapshots.get(snap_id) if snap_id else None
        if snap is None:
            snap = list(container)
            if pos == 0 and len(snap) <= count:
                return 0, snap
            snap_id = self._next_id
            self._next_id = self._next_id % ((1 << 23) - 1) + 1
            self._snapshots[snap_id] = snap
            self._elements += len(snap)
            while len(self._snapshots) > 1 and (
                len(self._snapshots) > self.max_snapshots or self._elements > self.max_elements
            ):
                self._elements -= len(self._snapshots.popitem(last=False)[1])
        else:
            self._snapshots.move_to_end(snap_id)
        end = min(pos + max(count, 1), len(snap))
        batch = snap[pos:end]
        if end >= len(snap):
            if self._snapshots.pop(snap_id, None) is not None:
                self._elements -= len(snap)
            return 0, batch
        return (snap_id << _POS_BITS) | end, batch


# One table per server process is enough: snapshot ids are unique across containers.
CURSORS = ScanCursors()
