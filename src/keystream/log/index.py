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

__all__ = ["OffsetIndex", "TimeIndex"]

_OFFSET_ENTRY = struct.Struct(">II")
_TIME_ENTRY = struct.Struct(">qI")


class OffsetIndex:
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
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return False
        if len(data) % 8:
            return False
        prev_off, prev_pos = -1, -1
        base = self.base_offset
        for rel, pos in _OFFSET_ENTRY.iter_unpack(data):
            if rel <= prev_off or pos <= prev_pos or pos >= log_size:
                self.offsets = array("q")
                self.positions = array("q")
                return False
            prev_off, prev_pos = rel, pos
            self.offsets.append(base + rel)
            self.positions.append(pos)
        self.written = len(self.offsets)
        return True

    def write_file(self, rewrite: bool = False) -> None:
        """Append the entries not yet in the file (or write it anew)."""
        if rewrite:
            self.written = 0
        n = len(self.offsets)
        if self.written == n and not rewrite:
            return
        base = self.base_offset
        pack = _OFFSET_ENTRY.pack
        data = b"".join(pack(o - base, p) for o, p in
                        zip(self.offsets[self.written:], self.positions[self.written:]))
        _write(self.path, data, truncate=rewrite)
        self.written = n


class TimeIndex:
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
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return False
        if len(data) % 12:
            return False
        prev_ts, prev_off = -1, -1
        base = self.base_offset
        for ts, rel in _TIME_ENTRY.iter_unpack(data):
            if ts <= prev_ts or rel <= prev_off or base + rel >= next_offset_bound:
                self.timestamps = array("q")
                self.offsets = array("q")
                return False
            prev_ts, prev_off = ts, rel
            self.timestamps.append(ts)
            self.offsets.append(base + rel)
        self.written = len(self.offsets)
        return True

    def write_file(self, rewrite: bool = False) -> None:
        if rewrite:
            self.written = 0
        n = len(self.offsets)
        if self.written == n and not rewrite:
            return
        base = self.base_offset
        pack = _TIME_ENTRY.pack
        data = b"".join(pack(t, o - base) for t, o in
                        zip(self.timestamps[self.written:], self.offsets[self.written:]))
        _write(self.path, data, truncate=rewrite)
        self.written = n


def _write(path: str, data: bytes, truncate: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else os.O_APPEND)
    fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
