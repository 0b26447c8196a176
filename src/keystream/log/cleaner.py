"""Log compaction (`cleanup.policy=compact`), as Kafka's log cleaner does it.

Plan of one cleaning pass over one partition (the "filthiest" eligible one):

1. The log is split at the cleaner checkpoint (`first_dirty_offset`, kept in
   `kafka/cleaner-offset-checkpoint`): below it the *clean* section, already compacted; from it
   up to the *first uncleanable offset* the *dirty* section. The active segment, and with
   `min.compaction.lag.ms` every segment holding a record younger than the lag, is never cleaned.
   A log is eligible when dirty bytes / (clean + dirty bytes) > `min.cleanable.dirty.ratio`,
   when its first dirty record is older than `max.compaction.lag.ms`, or when the delete
   horizon of tombstones it kept has passed.
2. An offset map key -> latest offset is built over the dirty section (bounded by
   `log.cleaner.dedupe.buffer.size`; when full, the pass ends at that segment's end).
3. Every segment from the log start up to the end of the map is rewritten in groups of
   consecutive segments (merged while they fit in `segment.bytes`): a record survives if no later
   record in the map has its key. Offsets never change: a rewritten batch keeps its base offset
   and lastOffsetDelta, so consumers see gaps. Compressed batches are decompressed (gzip with
   zlib, snappy/lz4/zstd with cramjam) and re-compressed with the same codec.
4. Tombstones (null values) follow KIP-534: the first pass that keeps a tombstone stamps its
   batch with a delete horizon (attribute bit 6, baseTimestamp = now + `delete.retention.ms`,
   record timestamp deltas re-based so record timestamps do not change); a later pass after the
   horizon drops them.

Crash safety of the swap (per group, base offset B, first offset after the group E):
`B.log.cleaned` (+ `.index.cleaned`, `.timeindex.cleaned`) are written and fsynced (in a
worker thread), `B.swaprange` ("B E") is written and fsynced, then `B.log.cleaned` is renamed
to `B.log.swap` — the commit point. Then the old segments' files are removed and the swap and
its indexes renamed to their final names. `recover_swaps()`, run before a partition directory is
loaded, discards `.cleaned` files (an unfinished cleaning) and completes a committed swap: it
removes every segment file with a base offset in [B, E) and renames the swap into place.

The event loop is never blocked for long: a pass is a generator stepped by `LogCleaner.step`
within a time budget per call; file reads are bounded chunks and the fsyncs run in a worker
thread. Between slices the log may change (appends, retention, DeleteRecords, topic deletion):
before a swap the cleaner checks that the segments it read are still the log's, else it drops
that group's output.

Transactions, as Kafka's cleaner: nothing at or after the last stable offset is cleaned (the
first uncleanable offset is at most the LSO); the batches of aborted transactions (found in the
partition's aborted-transactions index, txn_index.py) are dropped whole; committed
transactional batches are compacted as any other (their keys go into the map). A transaction
marker (control batch) is kept while records of its transaction remain before it; once none
remain, the pass stamps it with a delete horizon (as a tombstone, KIP-534) and a pass after the
horizon drops it. The pass walks every batch from the log start in order, so it knows for each
producer whether its current transaction still has records (`_TxnData`).

Deliberate differences from Kafka: records without a key are dropped (Kafka counts them as
invalid and drops them too, but also refuses them on produce — that is the API layer's job);
batches whose records cannot be decoded are kept as they are; an emptied
batch is dropped even if it was an idempotent producer's last one (Kafka keeps it empty to keep
the producer's sequence); the map holds Python bytes keys, so its bound is counted as
~128 bytes per entry rather than Kafka's 24; snappy, lz4 and zstd inflation is not bounded
(gzip is, as in batch.py); the delete horizon of kept tombstones is remembered in memory only,
so after a restart they are removed by the next pass that the dirty ratio triggers.
"""

from __future__ import annotations

import logging
import os
import struct
import time
from bisect import bisect_right
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from crc32c import crc32c

from keystream.log.batch import (
    COMPRESSION_MASK,
    CONTROL_BIT,
    HEADER_SIZE,
    LOG_OVERHEAD,
    TIMESTAMP_TYPE_BIT,
    TRANSACTIONAL_BIT,
    XERIAL_MAGIC,
    batch_header,
    compress_records,
    decompress_records,
    encode_varint,
    read_varint,
)
from keystream.log.index import OffsetIndex, TimeIndex
from keystream.log.segment import Segment, segment_name

if TYPE_CHECKING:
    from keystream.log.manager import LogManager
    from keystream.log.partition import PartitionLog

__all__ = ["DELETE_HORIZON_BIT", "LogCleaner", "clean_batch", "recover_swaps"]

log = logging.getLogger("keystream.log.cleaner")

DELETE_HORIZON_BIT = 0x40

Aborted = Callable[[int, int], bool]      # (producer id, offset) -> the batch's transaction was aborted


def _never_aborted(_pid: int, _offset: int) -> bool:
    return False
_HEADER = struct.Struct(">qiibIhiqqqhii")
_AFTER_CRC = struct.Struct(">hiqqqhii")
_CHUNK = 1024 * 1024
_WRITE_BUFFER = 1024 * 1024
_MAP_ENTRY_COST = 128          # bytes of the dedupe buffer one map entry counts for
_REL_OFFSET_MAX = 2**31 - 1


# -- records -------------------------------------------------------------------------------------

def _zigzag(b: int) -> int:
    return (b >> 1) ^ -(b & 1)


def _parse_records(data: bytes, pos: int, count: int) -> list[tuple]:
    """(start, end, ts_delta, ts_end, offset_delta, key, is_tombstone) of each record from pos.

    ts_end is where the timestamp delta varint ends (what follows is copied when re-basing).
    Raises IndexError/ValueError on records that do not parse.
    """
    out: list[tuple[int, int, int, int, int, bytes | None, bool]] = []
    append = out.append
    end_all = len(data)
    for _ in range(count):
        start = pos
        b = data[pos]
        if b < 0x80:
            length, pos = _zigzag(b), pos + 1
        else:
            length, pos = read_varint(data, pos)
        end = pos + length
        if length < 0 or end > end_all:
            raise ValueError("record runs past its batch")
        pos += 1                               # attributes
        b = data[pos]
        if b < 0x80:
            ts_delta, pos = _zigzag(b), pos + 1
        else:
            ts_delta, pos = read_varint(data, pos)
        ts_end = pos
        b = data[pos]
        if b < 0x80:
            offset_delta, pos = _zigzag(b), pos + 1
        else:
            offset_delta, pos = read_varint(data, pos)
        b = data[pos]
        if b < 0x80:
            klen, pos = _zigzag(b), pos + 1
        else:
            klen, pos = read_varint(data, pos)
        if klen >= 0:
            key = data[pos:pos + klen]
            pos += klen
        else:
            key = None
        b = data[pos]
        tombstone = b == 1 if b < 0x80 else read_varint(data, pos)[0] < 0
        append((start, end, ts_delta, ts_end, offset_delta, key, tombstone))
        pos = end
    return out


def _batch_records(batch: bytes, codec: int, count: int) -> tuple[bytes, int, list[tuple]] | None:
    """(records buffer, position of the first record, parsed records) of a batch, None if undecodable."""
    try:
        if codec == 0:
            return batch, HEADER_SIZE, _parse_records(batch, HEADER_SIZE, count)
        data = decompress_records(codec, memoryview(batch)[HEADER_SIZE:])
        if data is None:
            return None
        return data, 0, _parse_records(data, 0, count)
    except (IndexError, ValueError):
        return None


def map_batch(batch: bytes, first_dirty: int, offset_map: dict[bytes, int],
              aborted: Aborted = _never_aborted) -> None:
    """Record in offset_map the offset of each keyed record at or after first_dirty (markers and
    aborted transactional batches contribute nothing)."""
    h = _HEADER.unpack_from(batch, 0)
    attrs = h[5]
    if attrs & CONTROL_BIT or attrs & TRANSACTIONAL_BIT and aborted(h[9], h[0]):
        return
    got = _batch_records(batch, attrs & COMPRESSION_MASK, h[12])
    if got is None:
        return
    base = h[0]
    for rec in got[2]:
        key = rec[5]
        offset = base + rec[4]
        if key is not None and offset >= first_dirty:
            offset_map[key] = offset


class _TxnData:
    """Producers whose current transaction still has records in the cleaned output."""

    def __init__(self) -> None:
        self.with_records: set[int] = set()


def _clean_marker(batch: bytes, txn_data: _TxnData, now_ms: int, delete_retention_ms: int
                  ) -> tuple[bytes | None, int]:
    """A marker survives while its transaction has records; then it gets a delete horizon, and goes after it."""
    (base, _length, epoch, magic, _crc, attrs, last_delta, first_ts, max_ts, pid, pepoch, base_seq,
     count) = _HEADER.unpack_from(batch, 0)
    if pid in txn_data.with_records:
        txn_data.with_records.discard(pid)
        return batch, -1
    if attrs & DELETE_HORIZON_BIT:
        return (None, -1) if now_ms >= first_ts else (batch, first_ts)
    got = _batch_records(batch, attrs & COMPRESSION_MASK, count)
    if got is None or attrs & COMPRESSION_MASK:
        return batch, -1
    data, _first, records = got
    horizon = now_ms + delete_retention_ms
    parts = []
    for start, end, ts_delta, ts_end, _od, _k, _t in records:
        body = b"\x00" + encode_varint(first_ts + ts_delta - horizon) + data[ts_end:end]
        parts.append(encode_varint(len(body)) + body)
    after_crc = _AFTER_CRC.pack(attrs | DELETE_HORIZON_BIT, last_delta, horizon, max_ts, pid, pepoch, base_seq,
                                count) + b"".join(parts)
    head = struct.pack(">qiibI", base, len(after_crc) + 9, epoch, magic, crc32c(after_crc))
    return head + after_crc, horizon


def clean_batch(batch: bytes, offset_map: dict[bytes, int], now_ms: int,
                delete_retention_ms: int, aborted: Aborted = _never_aborted,
                txn_data: _TxnData | None = None) -> tuple[bytes | None, int]:
    """The batch as it survives cleaning (None: nothing left) and the delete horizon of its kept tombstones.

    The horizon is -1 when no tombstone is kept. An unchanged batch is returned as the same object.
    A batch of an aborted transaction is dropped; markers are kept as they are without
    txn_data, else as `_clean_marker` says.
    """
    (base, _length, epoch, magic, _crc, attrs, last_delta, first_ts, max_ts, pid, pepoch, base_seq,
     count) = _HEADER.unpack_from(batch, 0)
    if attrs & CONTROL_BIT:
        return (batch, -1) if txn_data is None else _clean_marker(batch, txn_data, now_ms, delete_retention_ms)
    if attrs & TRANSACTIONAL_BIT:
        if aborted(pid, base):
            return None, -1
        if txn_data is not None:
            out, horizon = clean_batch(batch, offset_map, now_ms, delete_retention_ms)
            if out is not None:
                txn_data.with_records.add(pid)
            return out, horizon
    codec = attrs & COMPRESSION_MASK
    got = _batch_records(batch, codec, count)
    if got is None:
        return batch, -1
    data, _first, records = got
    has_horizon = bool(attrs & DELETE_HORIZON_BIT)
    expired = has_horizon and now_ms >= first_ts
    kept = []
    tombstones = False
    get = offset_map.get
    for rec in records:
        key = rec[5]
        if key is None or get(key, -1) > base + rec[4]:
            continue
        if rec[6]:
            if expired:
                continue
            tombstones = True
        kept.append(rec)
    if not kept:
        return None, -1
    set_horizon = tombstones and not has_horizon
    if len(kept) == count and not set_horizon:
        return batch, (first_ts if tombstones else -1)
    new_base_ts = now_ms + delete_retention_ms if set_horizon else first_ts
    if set_horizon:
        attrs |= DELETE_HORIZON_BIT
        parts = []
        for start, end, ts_delta, ts_end, _od, _k, _t in kept:
            body = b"\x00" + encode_varint(first_ts + ts_delta - new_base_ts) + data[ts_end:end]
            parts.append(encode_varint(len(body)) + body)
        records_bytes = b"".join(parts)
    else:
        records_bytes = b"".join([data[r[0]:r[1]] for r in kept])
    if not attrs & TIMESTAMP_TYPE_BIT:
        max_ts = first_ts + max(r[2] for r in kept)
    if codec:
        xerial = bytes(batch[HEADER_SIZE:HEADER_SIZE + 8]) == XERIAL_MAGIC
        records_bytes = compress_records(codec, records_bytes, xerial)
    after_crc = _AFTER_CRC.pack(attrs, last_delta, new_base_ts, max_ts, pid, pepoch, base_seq,
                                len(kept)) + records_bytes
    head = struct.pack(">qiibI", base, len(after_crc) + 9, epoch, magic, crc32c(after_crc))
    return head + after_crc, (new_base_ts if tombstones else -1)


def _aborted_lookup(plog: PartitionLog) -> Aborted:
    """Whether a transactional batch (producer id, base offset) belongs to an aborted transaction."""
    spans: dict[int, list[tuple[int, int]]] = {}
    for e in plog.txn_index.entries:
        spans.setdefault(e.producer_id, []).append((e.first_offset, e.last_offset))

    def aborted(pid: int, offset: int) -> bool:
        return any(first <= offset <= last for first, last in spans.get(pid, ()))

    return aborted


# -- crash recovery ------------------------------------------------------------------------------

def recover_swaps(dir_path: str) -> None:
    """Discard unfinished cleanings and complete committed swaps in one partition directory."""
    try:
        names = os.listdir(dir_path)
    except FileNotFoundError:
        return
    changed = False
    for name in names:
        if name.endswith(".cleaned"):
            os.unlink(os.path.join(dir_path, name))
            changed = True
    swaps = sorted(n for n in names if n.endswith(".log.swap"))
    for name in swaps:
        stem = name.split(".", 1)[0]
        base = int(stem)
        end = _read_swaprange(os.path.join(dir_path, stem + ".swaprange"), base)
        swap_path = os.path.join(dir_path, name)
        if end is None:            # cannot happen with our write order: keep the old segments
            os.unlink(swap_path)
        else:
            for other in os.listdir(dir_path):
                ostem, _, ext = other.partition(".")
                if (ext in ("log", "index", "timeindex") and len(ostem) == 20 and ostem.isdigit()
                        and base <= int(ostem) < end):
                    os.unlink(os.path.join(dir_path, other))
            os.rename(swap_path, os.path.join(dir_path, stem + ".log"))
        changed = True
    for name in os.listdir(dir_path):
        if name.endswith(".swaprange"):
            os.unlink(os.path.join(dir_path, name))
            changed = True
    if changed:
        _fsync_dir(dir_path)


def _read_swaprange(path: str, base: int) -> int | None:
    try:
        with open(path) as f:
            first, end = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return None
    return end if first == base and end > base else None


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- the cleaner ---------------------------------------------------------------------------------

class _Abandon(Exception):
    """The log changed under the pass (segments gone, topic deleted): stop it quietly."""


def _iter_batches(seg: Segment) -> Iterator[bytes]:
    """Each batch of a (non-active) segment as bytes, read in bounded chunks."""
    pos = 0
    while True:
        fd = seg.fd
        if fd < 0:
            raise _Abandon
        end = seg.size
        if pos >= end:
            return
        chunk = os.pread(fd, min(_CHUNK, end - pos), pos)
        off = 0
        n = len(chunk)
        while off + HEADER_SIZE <= n:
            size = int.from_bytes(chunk[off + 8:off + 12], "big") + LOG_OVERHEAD
            if size < HEADER_SIZE:
                return
            if off + size > n:
                if off == 0:        # one batch bigger than the chunk
                    chunk = os.pread(fd, size, pos)
                    n = len(chunk)
                    if n < size:
                        return
                    yield chunk
                    off = size
                break
            yield chunk[off:off + size]
            off += size
        if off == 0:
            return
        pos += off


class _CleanedWriter:
    """Writes one group's cleaned segment: `.log.cleaned` plus its two index files."""

    def __init__(self, dir_path: str, base: int, index_interval: int) -> None:
        stem = os.path.join(dir_path, segment_name(base))
        self.stem = stem
        self.log_path = stem + ".log.cleaned"
        self.fd = os.open(self.log_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        self.index = OffsetIndex(stem + ".index.cleaned", base)
        self.time_index = TimeIndex(stem + ".timeindex.cleaned", base)
        self.interval = index_interval
        self.size = 0
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.bytes_since_index = 0
        self.max_ts = -1
        self.max_ts_offset = -1
        self.committed = False        # renamed to .log.swap: from here on recovery completes the swap

    def add(self, batch: bytes) -> None:
        h = batch_header(batch, 0)
        last = h[0] + h[6]
        size = len(batch)
        if h[8] > self.max_ts:
            self.max_ts, self.max_ts_offset = h[8], last
        if self.bytes_since_index > self.interval:
            self.index.append(last, self.size)
            self.time_index.maybe_append(self.max_ts, self.max_ts_offset)
            self.bytes_since_index = 0
        self.bytes_since_index += size
        self.size += size
        self.pending.append(batch)
        self.pending_bytes += size
        if self.pending_bytes >= _WRITE_BUFFER:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            data = b"".join(self.pending)
            if os.write(self.fd, data) != len(data):
                raise OSError(f"short write to {self.log_path}")
            self.pending = []
            self.pending_bytes = 0

    def finish(self, mtime_ns: int) -> None:
        self.flush()
        self.time_index.maybe_append(self.max_ts, self.max_ts_offset)
        self.index.write_file(rewrite=True)
        self.time_index.write_file(rewrite=True)
        os.utime(self.fd, ns=(mtime_ns, mtime_ns))

    def discard(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        for path in (self.log_path, self.index.path, self.time_index.path, self.stem + ".swaprange"):
            try:
                os.unlink(path)
            except OSError:
                pass


class LogCleaner:
    """Chooses the filthiest compacted log and cleans it in time-bounded slices."""

    def __init__(self, manager: LogManager) -> None:
        self.manager = manager
        self._job: Generator[Future | None, None, None] | None = None
        self._job_log: PartitionLog | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._failed: set[int] = set()         # id() of logs whose cleaning raised
        self.pending: Future | None = None      # worker-thread job (fsync) the pass waits for
        self.passes = 0                         # completed passes (stats, tests)
        self.bytes_read = 0
        self.bytes_written = 0

    # -- driving ----------------------------------------------------------------------------

    def step(self, now_ms: int, budget_s: float) -> bool:
        """Run cleaning for about budget_s seconds; True if work remains (call again soon)."""
        if self.pending is not None:
            if not self.pending.done():
                return True
            self.pending = None
        deadline = time.perf_counter() + budget_s
        while True:
            if self._job is None and not self._start_next(now_ms):
                return False
            job, job_log = self._job, self._job_log
            assert job is not None and job_log is not None  # _start_next set them
            try:
                got = next(job)
            except StopIteration:
                self._job = self._job_log = None
                self.passes += 1
                self._write_checkpoint()
                continue
            except _Abandon:
                self._job = self._job_log = None
                continue
            except Exception:
                log.exception("cleaning %s-%s failed; it will not be cleaned again until restart",
                              job_log.topic, job_log.index)
                self._failed.add(id(job_log))
                self._job = self._job_log = None
                continue
            if got is not None:            # a Future: come back when the worker is done
                self.pending = got
                return True
            if time.perf_counter() >= deadline:
                return True

    def close(self) -> None:
        """Abandon a pass in progress (its `.cleaned` files are removed) and stop the worker."""
        if self._job is not None:
            self._job.close()
            self._job = self._job_log = None
        self.pending = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def forget(self, plog: PartitionLog) -> None:
        """A log is going away (topic deleted): stop cleaning it."""
        if self._job_log is plog and self._job is not None:
            self._job.close()
            self._job = self._job_log = None
            self.pending = None

    def _submit(self, fn, *args) -> Future:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="log-cleaner")
        return self._pool.submit(fn, *args)

    def _write_checkpoint(self) -> None:
        entries = [(p.topic, p.index, p.first_dirty_offset) for p in self.manager.all_partitions()
                   if p.first_dirty_offset > 0]
        self._submit(self.manager.write_cleaner_checkpoint, entries)

    # -- choosing ---------------------------------------------------------------------------

    def _start_next(self, now_ms: int) -> bool:
        best: tuple[float, PartitionLog, int, int] | None = None
        for plog in self.manager.all_partitions():
            cfg = plog.config
            if not cfg.compact_enabled or len(plog.segments) < 2 or id(plog) in self._failed:
                continue
            got = self._cleanable(plog, now_ms)
            if got is not None and (best is None or got[0] > best[0]):
                best = (got[0], plog, got[1], got[2])
        if best is None:
            return False
        _score, plog, first_dirty, stop = best
        self._job_log = plog
        self._job = self._clean(plog, now_ms, first_dirty, stop)
        return True

    def _cleanable(self, plog: PartitionLog, now_ms: int) -> tuple[float, int, int] | None:
        """(priority, first dirty offset, index of the first uncleanable segment) or None."""
        cfg = plog.config
        segs = plog.segments
        first_dirty = plog.first_dirty_offset
        if not plog.log_start_offset <= first_dirty <= plog.log_end_offset:
            first_dirty = plog.log_start_offset
        bases = [s.base_offset for s in segs]
        dirty_i = max(bisect_right(bases, first_dirty) - 1, 0)
        # never past the last stable offset: the segment holding it is the first uncleanable one
        stop = min(len(segs) - 1, max(bisect_right(bases, plog.last_stable_offset) - 1, 0))
        if cfg.min_compaction_lag_ms > 0:
            for i in range(dirty_i, stop):
                if segs[i].largest_timestamp() > now_ms - cfg.min_compaction_lag_ms:
                    stop = i
                    break
        dirty = sum(s.size for s in segs[dirty_i:stop]) if first_dirty < bases[stop] else 0
        clean = sum(s.size for s in segs[:dirty_i])
        horizon_due = 0 <= plog.delete_horizon_ms <= now_ms
        if dirty == 0:
            return (0.0, first_dirty, stop) if horizon_due else None
        ratio = dirty / (dirty + clean)
        first_ts = segs[dirty_i].rolling_ts
        overdue = first_ts >= 0 and now_ms - first_ts > cfg.max_compaction_lag_ms
        if ratio > cfg.min_cleanable_ratio or overdue:
            return (2.0 if overdue else ratio, first_dirty, stop)
        return (0.0, first_dirty, stop) if horizon_due else None

    # -- one pass ---------------------------------------------------------------------------

    def _clean(self, plog: PartitionLog, now_ms: int, first_dirty: int,
               stop: int) -> Generator[Future | None, None, None]:
        cfg = plog.config
        segs = list(plog.segments)
        bases = [s.base_offset for s in segs]
        dirty_i = max(bisect_right(bases, first_dirty) - 1, 0)
        offset_map: dict[bytes, int] = {}
        limit = max(self.manager.config["log.cleaner.dedupe.buffer.size"] // _MAP_ENTRY_COST, 1)
        end_i = dirty_i
        aborted = _aborted_lookup(plog)
        if first_dirty < bases[stop]:
            for seg in segs[dirty_i:stop]:
                for batch in _iter_batches(seg):
                    self.bytes_read += len(batch)
                    h = batch_header(batch, 0)
                    if h[0] + h[6] >= first_dirty:
                        map_batch(batch, first_dirty, offset_map, aborted)
                    yield None
                end_i += 1
                if len(offset_map) >= limit:
                    break
        else:
            end_i = stop
        map_end = bases[end_i]
        txn_data = _TxnData()
        horizon = -1
        i = 0
        while i < end_i:
            group = [segs[i]]
            total = segs[i].size
            entries = len(segs[i].index.offsets)
            while i + len(group) < end_i:
                nxt = segs[i + len(group)]
                last_offset = bases[i + len(group) + 1] - 1
                if (total + nxt.size > cfg.segment_bytes or last_offset - bases[i] > _REL_OFFSET_MAX
                        or entries + len(nxt.index.offsets) >= cfg.index_max_entries):
                    break
                group.append(nxt)
                total += nxt.size
                entries += len(nxt.index.offsets)
            group_end = bases[i + len(group)]
            group_horizon = yield from self._clean_group(plog, group, group_end, offset_map, now_ms, aborted,
                                                         txn_data)
            horizon = max(horizon, group_horizon)
            i += len(group)
        plog.first_dirty_offset = max(map_end, plog.first_dirty_offset)
        plog.delete_horizon_ms = horizon

    def _clean_group(self, plog: PartitionLog, group: list[Segment], group_end: int,
                     offset_map: dict[bytes, int], now_ms: int, aborted: Aborted,
                     txn_data: _TxnData) -> Generator[Future | None, None, int]:
        cfg = plog.config
        base = group[0].base_offset
        writer = _CleanedWriter(plog.dir, base, cfg.index_interval_bytes)
        horizon = -1
        try:
            mtime_ns = 0
            for seg in group:
                try:
                    mtime_ns = max(mtime_ns, os.stat(seg.log_path).st_mtime_ns)
                except OSError:
                    raise _Abandon from None
                for batch in _iter_batches(seg):
                    self.bytes_read += len(batch)
                    out, h = clean_batch(batch, offset_map, now_ms, cfg.delete_retention_ms, aborted, txn_data)
                    if out is not None:
                        writer.add(out)
                        horizon = max(horizon, h)
                    yield None
            writer.finish(mtime_ns)
            fd, writer.fd = writer.fd, -1
            fut = self._submit(_fsync_and_close, fd)
            if not fut.done():
                yield fut
            fut.result()
            if not self._still_current(plog, group):
                raise _Abandon
            self.bytes_written += writer.size
            self._swap(plog, group, group_end, writer)
        finally:
            if not writer.committed:
                writer.discard()
        return horizon

    def _still_current(self, plog: PartitionLog, group: list[Segment]) -> bool:
        if self.manager.partition(plog.topic, plog.index) is not plog:
            return False
        segs = plog.segments
        try:
            i = segs.index(group[0])
        except ValueError:
            return False
        return (i + len(group) < len(segs) and segs[i:i + len(group)] == group
                and all(s.fd >= 0 for s in group))

    def _swap(self, plog: PartitionLog, group: list[Segment], group_end: int, writer: _CleanedWriter) -> None:
        """Replace the group's segments by the cleaned one (see the module header for the order)."""
        base = group[0].base_offset
        stem = writer.stem
        range_path = stem + ".swaprange"
        fd = os.open(range_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, f"{base} {group_end}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(plog.dir)
        os.rename(writer.log_path, stem + ".log.swap")        # the commit point
        writer.committed = True
        _fsync_dir(plog.dir)
        for seg in group:
            seg.delete_files()
        os.rename(writer.index.path, stem + ".index")
        os.rename(writer.time_index.path, stem + ".timeindex")
        os.rename(stem + ".log.swap", stem + ".log")
        _fsync_dir(plog.dir)
        os.unlink(range_path)
        seg = Segment(plog.dir, base, group[-1].created_ms)
        if not seg.load_tail():
            seg.recover(plog.config.index_interval_bytes)
        plog.replace_segments(group, seg)
