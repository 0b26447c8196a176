"""The aborted-transactions index of one partition: Kafka's `.txnindex` files.

Each aborted transaction that touched the partition is one entry, written when its ABORT
marker is appended, into `<base offset of the segment holding the marker>.txnindex`, in
Kafka's format: 34 bytes, big-endian: version i16 (0), producer id i64, first offset i64
(the transaction's first batch in this partition), last offset i64 (the marker's offset),
last stable offset i64 (the partition's LSO once this transaction completed).

A read_committed Fetch asks `collect(fetch_offset, upper)` for the transactions a consumer
must drop: those whose last offset is at or after the fetch offset and whose first offset
is below the end of what is returned, as Kafka's `collectAbortedTxns` does.

All entries are kept in memory (they are few: one per aborted transaction). Files are only
appended to (no fsync: an entry lost in a crash is rebuilt when producer state replays the
marker, see `ProducerStateManager.load`). At load every `.txnindex` of the directory is read
and entries outside [log start, log end) dropped; a file is removed once the segments up to
its base are deleted.

Deliberate difference: the cleaner does not rewrite `.txnindex` files when it merges
segments; entries stay in the file named after the segment where they were first written,
which is why load reads every file rather than one per segment.
"""

from __future__ import annotations

import os
import struct
from bisect import bisect_left, insort
from typing import NamedTuple

__all__ = ["AbortedTxn", "TxnIndex"]

_ENTRY = struct.Struct(">hqqqq")
_SUFFIX = ".txnindex"


class AbortedTxn(NamedTuple):
    last_offset: int          # first, so that entries sort by where their marker is
    producer_id: int
    first_offset: int
    last_stable_offset: int


class TxnIndex:
    """The aborted transactions of one partition, in memory and in `.txnindex` files."""

    def __init__(self, dir_path: str) -> None:
        self.dir = dir_path
        self.entries: list[AbortedTxn] = []
        self._keys: set[tuple[int, int]] = set()       # (producer id, last offset)

    def path(self, base: int) -> str:
        return os.path.join(self.dir, f"{base:020d}{_SUFFIX}")

    def add(self, segment_base: int, entry: AbortedTxn) -> None:
        """Record an aborted transaction whose marker is in the segment at segment_base (once)."""
        key = (entry.producer_id, entry.last_offset)
        if key in self._keys:
            return
        self._keys.add(key)
        insort(self.entries, entry)
        fd = os.open(self.path(segment_base), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, _ENTRY.pack(0, entry.producer_id, entry.first_offset, entry.last_offset,
                                     entry.last_stable_offset))
        finally:
            os.close(fd)

    def load(self, log_start: int, log_end: int) -> None:
        self.entries = []
        self._keys = set()
        for base in _list_files(self.dir):
            path = self.path(base)
            with open(path, "rb") as f:
                data = f.read()
            keep = bytearray()
            for chunk in range(0, len(data) - len(data) % _ENTRY.size, _ENTRY.size):
                version, pid, first, last, lso = _ENTRY.unpack_from(data, chunk)
                if version != 0 or last >= log_end:
                    continue
                keep += data[chunk:chunk + _ENTRY.size]
                if last >= log_start and (pid, last) not in self._keys:
                    self._keys.add((pid, last))
                    self.entries.append(AbortedTxn(last, pid, first, lso))
            if len(keep) != len(data):       # a torn tail or entries past a truncated log end
                with open(path, "wb") as f:
                    f.write(keep)
        self.entries.sort()

    def collect(self, fetch_offset: int, upper: int) -> list[tuple[int, int]]:
        """(producer id, first offset) of aborted transactions overlapping [fetch_offset, upper)."""
        out: list[tuple[int, int]] = []
        for e in self.entries[bisect_left(self.entries, (fetch_offset,)):]:
            if e.first_offset < upper:
                out.append((e.producer_id, e.first_offset))
        return out

    def delete_before(self, first_base: int) -> None:
        """Segments below first_base are gone: drop their entries and files."""
        self.entries = [e for e in self.entries if e.last_offset >= first_base]
        self._keys = {(e.producer_id, e.last_offset) for e in self.entries}
        for base in _list_files(self.dir):
            if base < first_base:
                try:
                    os.unlink(self.path(base))
                except FileNotFoundError:
                    pass


def _list_files(dir_path: str) -> list[int]:
    out: list[int] = []
    try:
        names = os.listdir(dir_path)
    except FileNotFoundError:
        return out
    for name in names:
        if name.endswith(_SUFFIX):
            stem = name[:-len(_SUFFIX)]
            if len(stem) == 20 and stem.isdigit():
                out.append(int(stem))
    return sorted(out)
