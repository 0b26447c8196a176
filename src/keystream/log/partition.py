"""One partition's log: an ordered list of segments in `<data dir>/kafka/<topic>-<partition>/`.

Single node: the log end offset is also the high watermark. Appends validate every batch of
a request first and then write them all with one `os.writev` (page cache only); fsync is the
flush policy's, run by the manager in a worker thread. Reads return whole batches as they
are on disk, starting with the batch that holds the requested offset; `read_slices` gives the
same batches as ranges of the segment files (file_slice.py), for Fetch to sendfile.

Kafka behaviours kept: segment roll by segment.bytes / segment.ms (timestamps of the first
batch and of the incoming one, as Kafka measures) / relative offsets overflowing 32 bits;
retention by time, size and log start offset deletes whole segments from the oldest, rolling
first when the active segment itself is due; ListOffsets by timestamp returns the first
record at or after the time (records are decoded, compressed batches inflated with their
codec); MAX_TIMESTAMP likewise.

Compacted topics (cleanup.policy containing compact) refuse a client batch with a record
without a key: INVALID_RECORD with Kafka's text (compressed batches are inflated to check).

As Kafka's UnifiedLog.append: the records of one request are refused as a whole when they are
larger than segment.bytes (RecordListTooLargeError: RECORD_LIST_TOO_LARGE, with Kafka's text),
even if each batch is within max.message.bytes; records that fit in a segment but not in what
is left of the active one roll a new segment first.

Transactions: the last stable offset (LSO) is the first offset of the oldest open transaction
(producer_state.py), else the log end; `read(..., upper=LSO)` stops before it for
read_committed fetches. `append_marker` writes a COMMIT/ABORT control batch for a producer;
aborted transactions go to the `.txnindex` (txn_index.py), which `aborted_transactions` reads.

Deliberate differences: deleted segments are unlinked at once rather than after
file.delete.delay.ms (reads hold copies, never file mappings); message.timestamp.difference.max.ms
and compression.type are accepted and reported but not enforced (batches are stored as the
producer compressed them). Compaction (cleanup.policy=compact) is cleaner.py's: it rewrites
inactive segments in place of the originals, so segments may hold offset gaps and be empty.
"""

from __future__ import annotations

import base64
import os
import random
import struct
import uuid
from bisect import bisect_right
from typing import NamedTuple

from keystream.log.batch import (
    HEADER_SIZE,
    LOG_OVERHEAD,
    BatchInfo,
    batch_header,
    build_control_batch,
    keyless_record_index,
    patch_log_append_time,
    read_records,
    validate_batches,
)
from keystream.log.cleaner import recover_swaps
from keystream.log.errors import InvalidRecordError, LogError, OffsetOutOfRangeError, RecordListTooLargeError
from keystream.log.file_slice import FileSlice
from keystream.log.producer_state import BatchMetadata, ProducerStateManager
from keystream.log.segment import Segment
from keystream.log.topic_config import LogConfig
from keystream.log.txn_index import TxnIndex

__all__ = ["AppendResult", "PartitionLog"]

_I64 = struct.Struct(">q")
_REL_OFFSET_MAX = 2**31 - 1


class AppendResult(NamedTuple):
    base_offset: int
    last_offset: int
    log_append_time: int      # -1 unless the topic uses LogAppendTime
    log_start_offset: int
    record_count: int


class PartitionLog:
    """The log of one topic partition."""

    def __init__(self, dir_path: str, topic: str, index: int, config: LogConfig) -> None:
        self.dir = dir_path
        self.topic = topic
        self.index = index
        self.config = config
        self.segments: list[Segment] = []
        self._bases: list[int] = []
        self.log_start_offset = 0
        self.log_end_offset = 0
        self.recovery_point = 0       # everything below is known to be fsynced
        self.checkpointed_start = 0   # log start offset last handed to a checkpoint write
        self.unflushed_messages = 0
        self.last_flush_ms = 0
        self.truncated_bytes = 0      # what recovery cut off at load (reported by the manager)
        self.producers = ProducerStateManager(dir_path)   # idempotent producers (producer_state.py)
        self.txn_index = TxnIndex(dir_path)               # aborted transactions (txn_index.py)
        self.first_dirty_offset = 0   # cleaner checkpoint: below it the log is compacted
        self.delete_horizon_ms = -1   # when tombstones kept by the last cleaning may go (-1: none)

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, dir_path: str, topic: str, index: int, config: LogConfig, topic_id: uuid.UUID,
             now_ms: int, recovery_point: int = 0, log_start: int = 0, clean: bool = False) -> PartitionLog:
        """Open (creating if needed) and recover the partition directory."""
        log = cls(dir_path, topic, index, config)
        os.makedirs(dir_path, exist_ok=True)
        _write_partition_metadata(dir_path, topic_id)
        recover_swaps(dir_path)
        bases: list[int] = []
        for name in os.listdir(dir_path):
            stem, _, ext = name.partition(".")
            if not (stem.isdigit() and len(stem) == 20):
                continue
            if ext == "log":
                bases.append(int(stem))
            elif ext in ("log.deleted", "index.deleted", "timeindex.deleted", "log.swap", "log.cleaned"):
                os.unlink(os.path.join(dir_path, name))
        bases.sort()
        for name in os.listdir(dir_path):       # indexes whose log is gone
            stem, _, ext = name.partition(".")
            if ext in ("index", "timeindex") and stem.isdigit() and int(stem) not in bases:
                os.unlink(os.path.join(dir_path, name))
        log.last_flush_ms = now_ms
        segments: list[Segment] = []
        for i, base in enumerate(bases):
            seg = Segment(dir_path, base, now_ms)
            segments.append(seg)
            next_base = bases[i + 1] if i + 1 < len(bases) else None
            must_recover = not clean and (next_base is None or next_base > recovery_point)
            if must_recover or not seg.load_tail():
                cut = seg.recover(config.index_interval_bytes)
                log.truncated_bytes += cut
                if cut and next_base is not None:
                    # the log is torn here: what follows cannot be trusted to be contiguous
                    for later in bases[i + 1:]:
                        Segment(dir_path, later, now_ms).delete_files()
                    break
        if not segments:
            segments.append(Segment(dir_path, max(log_start, 0), now_ms))
        log.segments = segments
        log._bases = [s.base_offset for s in segments]
        log.log_end_offset = segments[-1].next_offset
        log.log_start_offset = min(max(log_start, segments[0].base_offset), log.log_end_offset)
        log.recovery_point = log.log_end_offset if clean else min(recovery_point, log.log_end_offset)
        log.checkpointed_start = log.log_start_offset
        log.producers = ProducerStateManager(dir_path)
        log.txn_index.load(log.log_start_offset, log.log_end_offset)
        log.producers.load(segments, log.log_start_offset, log.log_end_offset, log.txn_index.add)
        return log

    # -- writing ------------------------------------------------------------------------------

    @property
    def last_stable_offset(self) -> int:
        first = self.producers.first_unstable_offset()
        return self.log_end_offset if first is None else min(first, self.log_end_offset)

    def aborted_transactions(self, fetch_offset: int, upper: int) -> list[tuple[int, int]]:
        """(producer id, first offset) of aborted transactions a read of [fetch_offset, upper) must drop."""
        return self.txn_index.collect(fetch_offset, upper)

    def append_marker(self, producer_id: int, producer_epoch: int, commit: bool, coordinator_epoch: int,
                      now_ms: int) -> int:
        """Write a COMMIT or ABORT marker for the producer; returns its offset.

        InvalidProducerEpochError / TransactionCoordinatorFencedError before anything is written."""
        self.producers.check_marker(producer_id, producer_epoch, coordinator_epoch)
        batch = build_control_batch(producer_id, producer_epoch, commit, coordinator_epoch, now_ms)
        offset = self.log_end_offset
        self._write(memoryview(batch), [BatchInfo(0, len(batch), 1, now_ms)], now_ms)
        aborted = self.producers.apply_marker(producer_id, producer_epoch, commit, coordinator_epoch, offset,
                                              now_ms)
        if aborted is not None:
            self.txn_index.add(self.segments[-1].base_offset, aborted)
        return offset

    def append(self, records: bytes | memoryview, now_ms: int, from_client: bool = True) -> AppendResult:
        """Validate all batches in records, assign offsets, append them (one write).

        from_client False: a coordinator's own batch (Kafka's AppendOrigin.COORDINATOR)."""
        mv = records if type(records) is memoryview else memoryview(records)
        if mv.format != "B" or mv.ndim != 1:
            mv = mv.cast("B")
        cfg = self.config
        infos = validate_batches(mv, cfg.max_message_bytes, from_client)
        if cfg.compact_enabled and from_client:
            for start, size, _n, _ts in infos:
                if keyless_record_index(mv[start:start + size]) >= 0:
                    raise InvalidRecordError(
                        f"Compacted topic cannot accept message without key in topic partition "
                        f"{self.topic}-{self.index}")
        total = len(mv)
        if total > cfg.segment_bytes:
            raise RecordListTooLargeError(
                f"Message batch size is {total} bytes in append to partition {self.topic}-{self.index}, "
                f"which exceeds the maximum configured segment size of {cfg.segment_bytes}.")
        base = self.log_end_offset
        staged = None
        if mv[43] < 0x80 or len(infos) > 1:   # the first batch has a producer id (>= 0), or several
            staged = self.producers.prepare(mv, infos, base, now_ms if cfg.log_append_time else -1, from_client)
            if isinstance(staged, BatchMetadata):   # a retry of an append that succeeded: its offsets
                return AppendResult(staged.first_offset, staged.last_offset, staged.timestamp,
                                    self.log_start_offset, 0)
        count = self._write(mv, infos, now_ms)
        if isinstance(staged, dict) and staged:
            self.producers.commit(staged)
        log_append = cfg.log_append_time
        return AppendResult(base, base + count - 1, now_ms if log_append else -1, self.log_start_offset, count)

    def _write(self, mv: memoryview, infos: list[BatchInfo], now_ms: int) -> int:
        """Assign offsets from the log end to the validated batches and write them; returns the record count."""
        cfg = self.config
        total = len(mv)
        base = self.log_end_offset
        log_append = cfg.log_append_time
        pack = _I64.pack
        if len(infos) == 1:
            _start, _size, count, max_ts = infos[0]
            if log_append:
                pieces = [pack(base), *patch_log_append_time(mv, now_ms)]
            else:
                pieces = [pack(base), mv[8:]]
        else:
            count = 0
            max_ts = -1
            pieces = []
            for start, size, n, ts in infos:
                pieces.append(pack(base + count))
                if log_append:
                    pieces.extend(patch_log_append_time(mv[start:start + size], now_ms))
                else:
                    pieces.append(mv[start + 8:start + size])
                count += n
                max_ts = max(max_ts, ts)
        last = base + count - 1
        seg = self.segments[-1]
        if seg.size and self._should_roll(seg, total, last, now_ms if log_append else max_ts, now_ms):
            try:
                seg = self._roll(now_ms)
            except OSError as e:   # a full, read-only or failing disk: KAFKA_STORAGE_ERROR, nothing appended
                raise LogError(f"Cannot roll a new segment of {self.topic}-{self.index}: {e}") from None
        seg.write(pieces, total)
        interval = cfg.index_interval_bytes
        offset = base
        for _start, size, n, ts in infos:
            offset += n
            seg.note_batch(offset - 1, size, now_ms if log_append else ts, interval)
        self.log_end_offset = offset
        self.unflushed_messages += count
        return count

    def _should_roll(self, seg: Segment, size: int, last: int, batch_ts: int, now_ms: int) -> bool:
        cfg = self.config
        if (seg.size > cfg.segment_bytes - size or last - seg.base_offset > _REL_OFFSET_MAX
                or len(seg.index.offsets) >= cfg.index_max_entries):
            return True
        waited = batch_ts - seg.rolling_ts if seg.rolling_ts >= 0 and batch_ts >= 0 else now_ms - seg.created_ms
        return waited > cfg.segment_ms - seg.roll_jitter_ms

    def _roll(self, now_ms: int) -> Segment:
        self.producers.take_snapshot(self.log_end_offset)
        self.segments[-1].on_roll()
        seg = Segment(self.dir, self.log_end_offset, now_ms)
        jitter = self.config.segment_jitter_ms
        if jitter > 0:
            seg.roll_jitter_ms = random.randrange(min(jitter, self.config.segment_ms))
        self.segments.append(seg)
        self._bases.append(seg.base_offset)
        return seg

    # -- reading ------------------------------------------------------------------------------

    def _segments_from(self, offset: int, upper: int | None) -> list[Segment]:
        """The segments a read from offset looks in (the one holding offset first); [] at the
        log end or at upper. OffsetOutOfRangeError outside [log start, log end]."""
        if offset < self.log_start_offset or offset > self.log_end_offset:
            raise OffsetOutOfRangeError(
                f"Offset {offset} is out of range [{self.log_start_offset}, {self.log_end_offset}] "
                f"of {self.topic}-{self.index}")
        if offset == self.log_end_offset or upper is not None and offset >= upper:
            return []
        return self.segments[max(bisect_right(self._bases, offset) - 1, 0):]

    def read(self, offset: int, max_bytes: int, upper: int | None = None) -> list[memoryview]:
        """Whole batches from the one holding offset; at least one batch, then up to max_bytes.

        Returns at most one chunk (from one segment, as Kafka reads) of concatenated batches;
        [] at the log end. OffsetOutOfRangeError outside [log start, log end]. upper (the LSO
        for read_committed): only batches that start below it.
        """
        for seg in self._segments_from(offset, upper):
            found = seg.find_batch(offset)
            if found is not None:
                chunk = seg.read(found[0], found[1], max_bytes)
                return [_cut_at(chunk, upper)] if upper is not None and upper < self.log_end_offset else [chunk]
        return []

    def read_slices(self, offset: int, max_bytes: int, upper: int | None = None) -> list[FileSlice]:
        """What `read` returns, as a range of the segment file rather than its bytes (for sendfile).

        The same batches (the same bounds and upper cut) found from the indexes and batch headers;
        [] where read gives [] (or an empty chunk)."""
        for seg in self._segments_from(offset, upper):
            found = seg.find_batch(offset)
            if found is None:
                continue
            pos = found[0]
            end = seg.extent(pos, found[1], max_bytes)
            if upper is not None and upper < self.log_end_offset:
                cut = seg.find_batch(upper)
                if cut is not None and cut[0] < end:
                    (base,) = _I64.unpack(os.pread(seg.fd, _I64.size, cut[0]))
                    end = cut[0] if base >= upper else min(end, cut[0] + cut[1])
            return [FileSlice(seg.fd, pos, end - pos)] if end > pos else []
        return []

    def offset_for_timestamp(self, ts: int) -> tuple[int, int] | None:
        """(offset, timestamp) of the first record with timestamp >= ts at or after log start."""
        start = self.log_start_offset
        for seg in self.segments:
            if seg.next_offset <= start or seg.max_timestamp < ts:
                continue
            from_offset = max(seg.time_index.lookup(ts), start)
            for pos, h in seg.iter_headers(seg.index.lookup(from_offset)):
                last = h[0] + h[6]
                if h[8] < ts or last < start:
                    continue
                records = read_records(seg.read_batch(pos, h[1] + 12))
                if records is None:
                    return max(h[0], start), (h[7] if h[7] >= ts else h[8])
                for off, rts in records:
                    if rts >= ts and off >= start:
                        return off, rts
        return None

    def max_timestamp(self) -> tuple[int, int]:
        """(offset, timestamp) of the record with the largest timestamp; (-1, -1) if empty."""
        best: Segment | None = None
        for seg in self.segments:
            if seg.max_timestamp >= 0 and (best is None or seg.max_timestamp > best.max_timestamp):
                best = seg
        if best is None:
            return -1, -1
        ts = best.max_timestamp
        found = best.find_batch(best.max_timestamp_offset, best.max_timestamp_pos)
        if found is not None:
            records = read_records(best.read_batch(*found))
            if records is not None:
                for off, rts in records:
                    if rts == ts:
                        return off, ts
        return best.max_timestamp_offset, ts

    def size_bytes(self) -> int:
        return sum(s.size for s in self.segments)

    # -- retention ----------------------------------------------------------------------------

    def delete_records_before(self, offset: int) -> int:
        """Advance the log start offset to offset (DeleteRecords); returns the new log start."""
        if offset < 0 or offset > self.log_end_offset:
            raise OffsetOutOfRangeError(
                f"Cannot delete records before {offset}: the log of {self.topic}-{self.index} "
                f"ends at {self.log_end_offset}")
        if offset > self.log_start_offset:
            self.log_start_offset = offset
            self._delete_prefix(self._count_start_breached(), 0)
        return self.log_start_offset

    def run_retention(self, now_ms: int) -> int:
        """Delete segments past retention.ms / retention.bytes / the log start. Returns segments deleted."""
        cfg = self.config
        deleted = 0
        if cfg.delete_enabled:
            if cfg.retention_ms >= 0:
                n = 0
                for seg in self.segments:
                    if (seg.size == 0 and seg is self.segments[-1]
                            or now_ms - seg.largest_timestamp() <= cfg.retention_ms):
                        break
                    n += 1
                deleted += self._delete_prefix(n, now_ms)
            if cfg.retention_bytes >= 0:
                diff = self.size_bytes() - cfg.retention_bytes
                n = 0
                for seg in self.segments:
                    if seg.size == 0 and seg is self.segments[-1] or diff - seg.size < 0:
                        break
                    diff -= seg.size
                    n += 1
                deleted += self._delete_prefix(n, now_ms)
        deleted += self._delete_prefix(self._count_start_breached(), now_ms)
        return deleted

    def _count_start_breached(self) -> int:
        # by the next segment's base offset, as Kafka: a compacted segment may end in a gap
        n = 0
        for seg in self.segments[1:]:
            if seg.base_offset > self.log_start_offset:
                break
            n += 1
        return n

    def _delete_prefix(self, n: int, now_ms: int) -> int:
        """Delete the n oldest segments, rolling first if that includes the active one."""
        if n <= 0:
            return 0
        if n >= len(self.segments):
            self._roll(now_ms)
        doomed = self.segments[:n]
        del self.segments[:n]
        del self._bases[:n]
        for seg in doomed:
            seg.delete_files()
        first = self.segments[0].base_offset
        self.producers.delete_snapshots_before(first)
        self.txn_index.delete_before(first)
        self.log_start_offset = max(self.log_start_offset, first)
        return n

    def replace_segments(self, old: list[Segment], new: Segment) -> None:
        """Put new (a cleaned segment) in place of the consecutive segments old (files already swapped)."""
        i = self.segments.index(old[0])
        self.segments[i:i + len(old)] = [new]
        self._bases[i:i + len(old)] = [new.base_offset]

    # -- flushing -----------------------------------------------------------------------------

    def flush_due(self, now_ms: int) -> bool:
        cfg = self.config
        if not self.unflushed_messages:
            return False
        return (self.unflushed_messages >= cfg.flush_messages
                or now_ms - self.last_flush_ms >= cfg.flush_ms)

    def take_flush(self, now_ms: int, everything: bool) -> tuple[list[int], int]:
        """Duplicated fds of the segments to fsync (caller closes them) and the recovery point they give.

        everything: the whole log; otherwise only segments that were rolled since the last flush.
        """
        fds: list[int] = []
        active = self.segments[-1]
        for seg in self.segments:
            if seg.dirty and (everything or seg is not active):
                seg.write_indexes()
                fds.append(os.dup(seg.fd))
                seg.dirty = False
        if everything:
            self.unflushed_messages = 0
            self.last_flush_ms = now_ms
            point = self.log_end_offset
        else:
            point = active.base_offset
        return fds, point

    def has_rolled_dirty(self) -> bool:
        return any(s.dirty for s in self.segments[:-1])

    def close(self) -> None:
        self.producers.take_snapshot(self.log_end_offset, sync=True)
        for seg in self.segments:
            seg.write_indexes()
            if seg.fd >= 0:
                os.fsync(seg.fd)
            seg.close()

    def delete(self) -> None:
        for seg in self.segments:
            seg.close()


def _cut_at(chunk: memoryview, upper: int) -> memoryview:
    """The batches of chunk that start below offset upper."""
    pos = 0
    total = len(chunk)
    while total - pos >= HEADER_SIZE:
        base, length = batch_header(chunk, pos)[:2]
        if base >= upper:
            break
        pos += length + LOG_OVERHEAD
    return chunk[:min(pos, total)]


def _write_partition_metadata(dir_path: str, topic_id: uuid.UUID) -> None:
    """Kafka's `partition.metadata` file: which topic (by id) the directory belongs to."""
    path = os.path.join(dir_path, "partition.metadata")
    text = "version: 0\ntopic_id: " + base64.urlsafe_b64encode(topic_id.bytes).decode().rstrip("=") + "\n"
    try:
        with open(path) as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(path, "w") as f:
        f.write(text)


def read_partition_topic_id(dir_path: str) -> uuid.UUID | None:
    try:
        with open(os.path.join(dir_path, "partition.metadata")) as f:
            for line in f:
                if line.startswith("topic_id:"):
                    raw = line.split(":", 1)[1].strip()
                    return uuid.UUID(bytes=base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (OSError, ValueError):
        return None
    return None
