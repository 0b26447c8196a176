"""Sparse offset and time indexes of one segment, in Kafka's file formats.

`.index`: 8-byte entries, relative offset u32 + byte position u32 of a batch in the `.log`
(the offset is the batch's last offset, as Kafka writes it). `.timeindex`: 12-byte entries,
timestamp i64 + relative offset u32 (the largest timestamp seen so far and the offset it
belongs to). Both are big-endian and strictly increasing.

The entries live in memory (two `array`s per index) and the file is brought up to date on
flush, roll and close, with plain appends. Kafka preallocates the files and maps them; we do
not, so an index file is always exactly its entries. An index is a cache of the log: if the
file is missing or does not agree with the log, recovery rebuilds it from the log.
"""

from __future__ import annotations

import os
import struct
from array import array
from bisect import bisect_right
from collections.abc import Iterator

__all__ = ["OffsetIndex", "TimeIndex"]

_OFFSET_ENTRY = struct.Struct(">II")
_TIME_ENTRY = struct.Struct(">qI")


class _IndexFile:
    """What both indexes share: the file is the entries, appended to as they come."""

    __slots__ = ()
    path: str
    offsets: array
    written: int

    def _pack(self, start: int) -> bytes:
        """The file bytes of entries start.. ."""
        raise NotImplementedError

    def write_file(self, rewrite: bool = False) -> None:
        """Append the entries not yet in the file (or write it anew)."""
        if rewrite:
            self.written = 0  # type: ignore[misc]  # a slot of both subclasses
        n = len(self.offsets)
        if self.written == n and not rewrite:
            return
        _write(self.path, self._pack(self.written), truncate=rewrite)
        self.written = n  # type: ignore[misc]  # a slot of both subclasses


class OffsetIndex(_IndexFile):
    """Sorted (absolute offset, position) pairs of one segment."""

    __slots__ = ("base_offset", "offsets", "path", "positions", "written")

    def __init__(self, path: str, base_offset: int) -> None:
        self.path = path
        self.base_offset = base_offset
        self.offsets = array("q")
        self.positions = array("q")
        self.written = 0          # entries already in the file

    def append(self, offset: int, position: int) -> None:
        self.offsets.append(offset)
        self.positions.append(position)

    def lookup(self, offset: int) -> int:
        """Byte position of the last indexed batch whose (last) offset is <= offset, else 0."""
        i = bisect_right(self.offsets, offset)
        return self.positions[i - 1] if i else 0

    def last_position(self) -> int:
        return self.positions[-1] if self.positions else 0

    def load(self, log_size: int) -> bool:
        """Read the file; False if it is missing or inconsistent (then the index is left empty)."""
        entries = _read_entries(self.path, _OFFSET_ENTRY)
        if entries is None:
            return False
        prev_off, prev_pos = -1, -1
        base = self.base_offset
        for rel, pos in entries:
            if rel <= prev_off or pos <= prev_pos or pos >= log_size:
                self.offsets = array("q")
                self.positions = array("q")
                return False
            prev_off, prev_pos = rel, pos
            self.offsets.append(base + rel)
            self.positions.append(pos)
        self.written = len(self.offsets)
        return True

    def _pack(self, start: int) -> bytes:
        base = self.base_offset
        pack = _OFFSET_ENTRY.pack
        return b"".join(pack(o - base, p) for o, p in
                        zip(self.offsets[start:], self.positions[start:]))


class TimeIndex(_IndexFile):
    """Sorted (max timestamp so far, absolute offset) pairs of one segment."""

    __slots__ = ("base_offset", "offsets", "path", "timestamps", "written")

    def __init__(self, path: str, base_offset: int) -> None:
        self.path = path
        self.base_offset = base_offset
        self.timestamps = array("q")
        self.offsets = array("q")
        self.written = 0

    def maybe_append(self, timestamp: int, offset: int) -> None:
        """Add an entry if timestamp is larger than the last one's (Kafka keeps them increasing)."""
        if timestamp < 0 or (self.timestamps and timestamp <= self.timestamps[-1]):
            return
        if self.offsets and offset <= self.offsets[-1]:
            return
        self.timestamps.append(timestamp)
        self.offsets.append(offset)

    def lookup(self, timestamp: int) -> int:
        """Offset of the last entry whose timestamp is < timestamp (-1 if none): scan from there."""
        i = bisect_right(self.timestamps, timestamp - 1)
        return self.offsets[i - 1] if i else -1

    def last(self) -> tuple[int, int]:
        """(timestamp, offset) of the last entry, (-1, -1) if none."""
        return (self.timestamps[-1], self.offsets[-1]) if self.timestamps else (-1, -1)

    def load(self, next_offset_bound: int) -> bool:
        """Read the file; False if it is missing or inconsistent (then the index is left empty)."""
        entries = _read_entries(self.path, _TIME_ENTRY)
        if entries is None:
            return False
        prev_ts, prev_off = -1, -1
        base = self.base_offset
        for ts, rel in entries:
            if ts <= prev_ts or rel <= prev_off or base + rel >= next_offset_bound:
                self.timestamps = array("q")
                self.offsets = array("q")
                return False
            prev_ts, prev_off = ts, rel
            self.timestamps.append(ts)
            self.offsets.append(base + rel)
        self.written = len(self.offsets)
        return True

    def _pack(self, start: int) -> bytes:
        base = self.base_offset
        pack = _TIME_ENTRY.pack
        return b"".join(pack(t, o - base) for t, o in
                        zip(self.timestamps[start:], self.offsets[start:]))


def _read_entries(path: str, entry: struct.Struct) -> Iterator[tuple[int, int]] | None:
    """The entries of an index file; None if it is missing or not a whole number of entries."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    if len(data) % entry.size:
        return None
    return entry.iter_unpack(data)


def _write(path: str, data: bytes, truncate: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else os.O_APPEND)
    fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
