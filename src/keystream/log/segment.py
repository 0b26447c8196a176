"""One log segment: `<base offset, 20 digits>.log` plus its `.index` and `.timeindex`.

The `.log` is opened once with O_APPEND; appends are one `os.writev` of the batches (their
base offsets patched) into the page cache. Nothing here calls fsync: `fsync_job` hands the
partition a duplicate descriptor to sync in a worker thread. Reads use `os.pread`.

`recover()` walks the whole file validating every batch (sizes, magic, CRC-32C, offsets
increasing), rebuilds both indexes, and truncates the file at the first bad byte: that is
what happens to the active segment after a crash. `load_tail()` is the cheap path after a
clean shutdown: trust the index files and read only the batch headers after the last entry.
"""

from __future__ import annotations

import os
import struct
from bisect import bisect_right

from crc32c import crc32c

from keystream.log.batch import HEADER_SIZE, LOG_OVERHEAD, batch_header
from keystream.log.errors import LogError
from keystream.log.index import OffsetIndex, TimeIndex

__all__ = ["Segment", "segment_name"]

_PREFIX = struct.Struct(">qi")
_SCAN_CHUNK = 4 * 1024 * 1024


def segment_name(base_offset: int) -> str:
    return f"{base_offset:020d}"


class Segment:
    """A segment file and its in-memory state (sizes, next offset, indexes, largest timestamp)."""

    __slots__ = (
        "base_offset",
        "bytes_since_index",
        "created_ms",
        "dir",
        "dirty",
        "fd",
        "index",
        "log_path",
        "max_timestamp",
        "max_timestamp_offset",
        "max_timestamp_pos",
        "next_offset",
        "roll_jitter_ms",
        "rolling_ts",
        "size",
        "time_index",
    )

    def __init__(self, dir_path: str, base_offset: int, now_ms: int) -> None:
        self.dir = dir_path
        self.base_offset = base_offset
        name = os.path.join(dir_path, segment_name(base_offset))
        self.log_path = name + ".log"
        self.fd = os.open(self.log_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = os.fstat(self.fd).st_size
        self.next_offset = base_offset
        self.index = OffsetIndex(name + ".index", base_offset)
        self.time_index = TimeIndex(name + ".timeindex", base_offset)
        if self.size == 0:
            for path in (self.index.path, self.time_index.path):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
        self.max_timestamp = -1           # largest batch max timestamp in the segment
        self.max_timestamp_offset = -1    # last offset of the batch holding it
        self.max_timestamp_pos = -1       # byte position of that batch
        self.rolling_ts = -1              # first batch's max timestamp (segment.ms counts from it)
        self.created_ms = now_ms
        self.roll_jitter_ms = 0           # drawn by the partition from segment.jitter.ms
        self.bytes_since_index = 0
        self.dirty = False                # written since the last fsync job

    # -- appending --------------------------------------------------------------------------

    def write(self, pieces: list, total: int) -> None:
        """Append pieces (one writev; several if there are more pieces than IOV_MAX)."""
        fd = self.fd
        try:
            if len(pieces) <= _IOV_MAX:
                n = os.writev(fd, pieces)
            else:
                n = 0
                for i in range(0, len(pieces), _IOV_MAX):
                    n += os.writev(fd, pieces[i:i + _IOV_MAX])
            if n != total:
                raise OSError(f"short write: {n} of {total} bytes")
        except OSError as e:
            os.ftruncate(fd, self.size)
            raise LogError(f"Cannot append to {self.log_path}: {e}") from None
        self.dirty = True

    def note_batch(self, last_offset: int, size: int, max_ts: int, index_interval: int) -> None:
        """Account for one batch just written at position self.size."""
        pos = self.size
        if pos == 0:
            self.rolling_ts = max_ts
        if max_ts > self.max_timestamp:
            self.max_timestamp = max_ts
            self.max_timestamp_offset = last_offset
            self.max_timestamp_pos = pos
        if self.bytes_since_index > index_interval:
            self.index.append(last_offset, pos)
            self.time_index.maybe_append(self.max_timestamp, self.max_timestamp_offset)
            self.bytes_since_index = 0
        self.bytes_since_index += size
        self.size = pos + size
        self.next_offset = last_offset + 1

    def on_roll(self) -> None:
        """Becoming inactive: record the final time index entry and write the index files."""
        self.time_index.maybe_append(self.max_timestamp, self.max_timestamp_offset)
        self.write_indexes()

    def write_indexes(self, rewrite: bool = False) -> None:
        self.index.write_file(rewrite)
        self.time_index.write_file(rewrite)

    def largest_timestamp(self) -> int:
        """What retention.ms measures: the largest record timestamp, else the file's mtime."""
        if self.max_timestamp >= 0:
            return self.max_timestamp
        try:
            return int(os.stat(self.log_path).st_mtime * 1000)
        except OSError:
            return self.created_ms

    # -- reading ----------------------------------------------------------------------------

    def find_batch(self, offset: int, start_pos: int = -1) -> tuple[int, int] | None:
        """(position, size) of the batch holding offset (or the first one after it), None if past the end."""
        if offset >= self.next_offset:
            return None
        pos = self.index.lookup(offset) if start_pos < 0 else start_pos
        fd = self.fd
        size = self.size
        while pos < size:
            head = os.pread(fd, 27, pos)
            if len(head) < 27:
                break
            base, length = _PREFIX.unpack_from(head, 0)
            last = base + struct.unpack_from(">i", head, 23)[0]
            if last >= offset:
                return pos, length + LOG_OVERHEAD
            pos += length + LOG_OVERHEAD
        return None

    def read(self, pos: int, first_size: int, max_bytes: int) -> memoryview:
        """Whole batches from pos: at least the first, then as many as fit in max_bytes."""
        want = min(max(max_bytes, first_size), self.size - pos)
        buf = os.pread(self.fd, want, pos)
        n = len(buf)
        end = first_size
        unpack = _PREFIX.unpack_from
        while end + LOG_OVERHEAD <= n:
            nxt = end + unpack(buf, end)[1] + LOG_OVERHEAD
            if nxt > n:
                break
            end = nxt
        return memoryview(buf)[:end]

    def extent(self, pos: int, first_size: int, max_bytes: int) -> int:
        """Where `read(pos, first_size, max_bytes)` would end, found from the headers alone.

        The offset index's positions are batch starts: the last one within reach is a whole-batch
        boundary, and only the batches after it have their 12-byte prefix read."""
        size = self.size
        reach = pos + max(max_bytes, first_size)
        if reach >= size:
            return size
        end = pos + first_size
        positions = self.index.positions
        i = bisect_right(positions, reach) - 1
        if i >= 0 and positions[i] > end:
            end = positions[i]
        fd = self.fd
        unpack = _PREFIX.unpack_from
        while end + LOG_OVERHEAD <= size:
            head = os.pread(fd, LOG_OVERHEAD, end)
            if len(head) < LOG_OVERHEAD:
                break
            nxt = end + unpack(head, 0)[1] + LOG_OVERHEAD
            if nxt > reach:
                break
            end = nxt
        return end

    def read_batch(self, pos: int, size: int) -> memoryview:
        return memoryview(os.pread(self.fd, size, pos))

    def iter_headers(self, start_pos: int):
        """(position, header fields) of each batch from start_pos to the end, read in chunks."""
        pos = start_pos
        end = self.size
        while pos < end:
            chunk = os.pread(self.fd, min(_SCAN_CHUNK, end - pos), pos)
            off = 0
            n = len(chunk)
            while off + HEADER_SIZE <= n:
                h = batch_header(chunk, off)
                size = h[1] + LOG_OVERHEAD
                if size < HEADER_SIZE:
                    return
                yield pos + off, h
                off += size
            if off == 0:
                # a batch header straddles the chunk end or the file ends in a partial header
                if end - pos < HEADER_SIZE:
                    return
                h = batch_header(os.pread(self.fd, HEADER_SIZE, pos), 0)
                off = h[1] + LOG_OVERHEAD
                if off < HEADER_SIZE:
                    return
                yield pos, h
            pos += off

    # -- loading ----------------------------------------------------------------------------

    def load_tail(self) -> bool:
        """Clean-shutdown load: trust the index files, read headers after the last entry.

        False if the index files are missing or disagree with the log (then call recover()).
        """
        if self.size == 0:
            return True
        if not self.index.load(self.size):
            return False
        try:
            first = batch_header(os.pread(self.fd, HEADER_SIZE, 0), 0)
        except struct.error:
            return False
        if first[0] < self.base_offset:
            return False
        self.rolling_ts = first[8]
        pos = self.index.last_position()
        last_offset = self.base_offset - 1
        expected_end = pos
        for p, h in self.iter_headers(pos):
            if p != expected_end or h[3] != 2 or h[1] < HEADER_SIZE - LOG_OVERHEAD:
                return False
            last_offset = h[0] + h[6]
            expected_end = p + h[1] + LOG_OVERHEAD
            if h[8] > self.max_timestamp:
                self.max_timestamp, self.max_timestamp_offset, self.max_timestamp_pos = h[8], last_offset, p
        if expected_end != self.size:
            return False
        self.next_offset = last_offset + 1
        if not self.time_index.load(self.next_offset):
            return False
        ts, off = self.time_index.last()
        if ts > self.max_timestamp:
            found = self.find_batch(off)
            if found is None:
                return False
            self.max_timestamp, self.max_timestamp_offset, self.max_timestamp_pos = ts, off, found[0]
        self.bytes_since_index = self.size - pos
        return True

    def recover(self, index_interval: int) -> int:
        """Validate every batch, rebuild indexes, truncate a bad tail. Returns bytes truncated."""
        self.index = OffsetIndex(self.index.path, self.base_offset)
        self.time_index = TimeIndex(self.time_index.path, self.base_offset)
        self.max_timestamp = self.max_timestamp_offset = self.max_timestamp_pos = -1
        self.bytes_since_index = 0
        self.next_offset = self.base_offset
        file_size = self.size
        self.size = 0
        valid = 0
        pos = 0
        fd = self.fd
        while pos < file_size:
            if file_size - pos < HEADER_SIZE:
                break
            h = batch_header(os.pread(fd, HEADER_SIZE, pos), 0)
            size = h[1] + LOG_OVERHEAD
            if (h[3] != 2 or h[1] < HEADER_SIZE - LOG_OVERHEAD or pos + size > file_size
                    or h[0] < self.next_offset or h[6] < 0):
                break
            if not _crc_ok(fd, pos, size, h[4]):
                break
            self.note_batch(h[0] + h[6], size, h[8], index_interval)
            pos += size
            valid = pos
        truncated = file_size - valid
        if truncated:
            os.ftruncate(fd, valid)
            self.dirty = True
        self.write_indexes(rewrite=True)
        return truncated

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def delete_files(self) -> None:
        self.close()
        for path in (self.log_path, self.index.path, self.time_index.path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def _crc_ok(fd: int, pos: int, size: int, crc: int) -> bool:
    data = os.pread(fd, size - 21, pos + 21)
    return len(data) == size - 21 and crc32c(data) == crc


try:
    _IOV_MAX = max(16, min(1024, os.sysconf("SC_IOV_MAX")))
except (ValueError, OSError):
    _IOV_MAX = 1024
