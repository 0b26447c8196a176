"""Producer state of one partition: idempotent and transactional producers (Kafka's ProducerStateManager).

For every producer id that wrote to the partition the broker keeps its epoch, the metadata of
its last 5 batches (first/last sequence, last offset, timestamp) and the timestamp of its last
write. `prepare()` checks the idempotent batches of a Produce request against that state, as
Kafka's ProducerAppendInfo does for client appends:

- a batch equal (same epoch, same first and last sequence) to one of the producer's last 5
  batches is a duplicate (a retry of an append that succeeded): the whole append is skipped
  and the original offsets are answered, with no error;
- an epoch below the producer's current one: INVALID_PRODUCER_EPOCH (Kafka >= 2.7 answers
  this, not PRODUCER_FENCED, on the produce path);
- the first batch of a new epoch must start at sequence 0 (unless the producer has no
  epoch yet); within an epoch a batch must start right after the last sequence (wrapping
  after 2^31-1): otherwise OUT_OF_ORDER_SEQUENCE_NUMBER;
- a producer the partition does not know (new, expired, or whose state was lost) may start
  at any sequence: Kafka >= 2.5 (KIP-360) no longer answers UNKNOWN_PRODUCER_ID here.

Every batch of a request is checked against the state as updated by the batches before it
in the same request; nothing is changed until `commit()`, called after the write.

Transactions: the first transactional batch of a producer opens its transaction in this
partition (its offset is the transaction's first offset); until a marker closes it, a
non-transactional batch from that producer is INVALID_TXN_STATE. The smallest first offset of
the open transactions is the first unstable offset: the last stable offset (LSO) is it, or
the log end when nothing is open. A marker (`check_marker` before the write, `apply_marker`
after) closes the producer's transaction: a marker with an epoch below the producer's is
INVALID_PRODUCER_EPOCH, with a coordinator epoch below the last one seen
TRANSACTION_COORDINATOR_FENCED; an ABORT marker of a transaction that wrote here yields the
entry for the aborted-transactions index (txn_index.py). Coordinator-written batches
(`from_client=False`: transactional offset commits) skip the sequence checks, as Kafka's
AppendOrigin.COORDINATOR.

Snapshots: `<20-digit offset>.snapshot` files in the partition directory, in Kafka's format
(version 1: i16 version, u32 CRC-32C of what follows, then an i32 count of entries of
producer id i64, epoch i16, last sequence i32, last offset i64, offset delta i32, timestamp
i64, coordinator epoch i32, current transaction first offset i64). One is written at each
segment roll (no fsync, replaced atomically) and at clean shutdown (fsynced); the offset in
the name is the log end offset the state covers. Loading takes the newest readable snapshot
at or below the log end (a torn or corrupt one is deleted and the next older is tried) and
replays the batch headers after it; with no snapshot, from the log start. A snapshot keeps
only each producer's last batch (as Kafka's does), so after a restart duplicates are detected
for that batch, and for the batches replayed from the log.

Expiry: `remove_expired(now, ms)` drops producers whose last batch timestamp is older than
producer.id.expiration.ms (Kafka compares the batch's max timestamp, not the arrival time).
Producers whose batches were deleted by retention are kept until they expire (Kafka >= 2.5).

Snapshots carry each producer's coordinator epoch and open transaction's first offset, so
transactions open at a crash are open again after recovery; replaying markers after the
snapshot closes them (and re-creates their aborted-transaction entries).

Expiry never drops a producer with an open transaction (Kafka neither).

Deliberate difference: the snapshot at exactly the log start offset is kept (Kafka deletes
snapshots at or below it).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterable
from typing import NamedTuple

from crc32c import crc32c

from keystream.log.batch import CONTROL_BIT, TRANSACTIONAL_BIT, batch_header, control_record_type
from keystream.log.errors import InvalidTxnStateError, LogError, TransactionCoordinatorFencedError
from keystream.log.txn_index import AbortedTxn

__all__ = [
    "BATCHES_TO_RETAIN",
    "BatchMetadata",
    "InvalidProducerEpochError",
    "OutOfOrderSequenceError",
    "ProducerEntry",
    "ProducerStateManager",
]

BATCHES_TO_RETAIN = 5
NO_EPOCH = -1
NO_SEQUENCE = -1
_INT_MAX = 2**31 - 1
_SNAPSHOT_VERSION = 1
_SNAP_HEAD = struct.Struct(">hI")
_SNAP_COUNT = struct.Struct(">i")
_SNAP_ENTRY = struct.Struct(">qhiqiqiq")
_SUFFIX = ".snapshot"


class OutOfOrderSequenceError(LogError):
    """A batch whose sequence does not follow the producer's last one (OUT_OF_ORDER_SEQUENCE_NUMBER)."""


class InvalidProducerEpochError(LogError):
    """A batch from an older epoch of the producer (INVALID_PRODUCER_EPOCH)."""


def _seq_add(seq: int, delta: int) -> int:
    """Sequence numbers wrap from 2^31-1 to 0."""
    return seq + delta if seq <= _INT_MAX - delta else seq - (_INT_MAX - delta) - 1


def _seq_sub(seq: int, delta: int) -> int:
    return seq - delta if seq >= delta else _INT_MAX - (delta - seq) + 1


def _in_sequence(last: int, nxt: int) -> bool:
    return nxt == last + 1 or (nxt == 0 and last == _INT_MAX)


class BatchMetadata(NamedTuple):
    """One appended batch of a producer."""

    last_seq: int
    last_offset: int
    offset_delta: int
    timestamp: int

    @property
    def first_seq(self) -> int:
        return _seq_sub(self.last_seq, self.offset_delta)

    @property
    def first_offset(self) -> int:
        return self.last_offset - self.offset_delta


class ProducerEntry:
    """What the partition knows of one producer id."""

    __slots__ = ("batches", "coordinator_epoch", "epoch", "last_timestamp", "producer_id", "txn_first_offset")

    def __init__(self, producer_id: int, epoch: int = NO_EPOCH, last_timestamp: int = -1,
                 coordinator_epoch: int = -1, txn_first_offset: int = -1) -> None:
        self.producer_id = producer_id
        self.epoch = epoch
        self.batches: list[BatchMetadata] = []       # oldest first, at most BATCHES_TO_RETAIN
        self.last_timestamp = last_timestamp
        self.coordinator_epoch = coordinator_epoch
        self.txn_first_offset = txn_first_offset      # first offset of the open transaction, -1: none

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else NO_SEQUENCE

    def add_batch(self, epoch: int, last_seq: int, last_offset: int, offset_delta: int, timestamp: int) -> None:
        if epoch != self.epoch:
            self.epoch = epoch
            self.batches.clear()
        self.batches.append(BatchMetadata(last_seq, last_offset, offset_delta, timestamp))
        if len(self.batches) > BATCHES_TO_RETAIN:
            del self.batches[0]
        self.last_timestamp = timestamp

    def find_duplicate(self, epoch: int, first_seq: int, last_seq: int) -> BatchMetadata | None:
        if epoch != self.epoch:
            return None
        for b in self.batches:
            if b.last_seq == last_seq and b.first_seq == first_seq:
                return b
        return None


class ProducerStateManager:
    """The producer ids of one partition, their state, and its snapshot files."""

    def __init__(self, dir_path: str) -> None:
        self.dir = dir_path
        self.producers: dict[int, ProducerEntry] = {}
        self.ongoing: dict[int, int] = {}        # producer id -> first offset of its open transaction
        self.snapshots: list[int] = sorted(_list_snapshots(dir_path))

    def first_unstable_offset(self) -> int | None:
        """The first offset of the oldest open transaction (None: none open)."""
        return min(self.ongoing.values()) if self.ongoing else None

    # -- appends --------------------------------------------------------------------------------

    def prepare(self, mv: memoryview, infos: Iterable[tuple], base_offset: int,
                log_append_time: int, from_client: bool = True) -> BatchMetadata | dict[int, ProducerEntry] | None:
        """Check the idempotent batches of an append whose first offset will be base_offset.

        infos: (start, size, record count, max timestamp) of each batch in mv (validated).
        log_append_time: the time written into the batches, or -1 for CreateTime.
        Returns None when no batch has a producer id, the original batch when the append is a
        duplicate, else the updated entries to `commit()` after the write. Raises
        InvalidProducerEpochError / OutOfOrderSequenceError / InvalidTxnStateError.
        """
        staged: dict[int, ProducerEntry] | None = None
        offset = base_offset
        for start, _size, count, max_ts in infos:
            h = batch_header(mv, start)
            pid = h[9]
            if pid >= 0:
                epoch, first_seq, delta = h[10], h[11], h[6]
                last_seq = _seq_add(first_seq, delta)
                current = self.producers.get(pid)
                if current is not None and from_client:
                    dup = current.find_duplicate(epoch, first_seq, last_seq)
                    if dup is not None:
                        return dup
                if staged is None:
                    staged = {}
                updated = staged.get(pid)
                if updated is None:
                    updated = staged[pid] = (
                        ProducerEntry(pid, current.epoch, -1, current.coordinator_epoch, current.txn_first_offset)
                        if current is not None else ProducerEntry(pid))
                if from_client:
                    self._check(pid, current, updated, epoch, first_seq, offset)
                elif epoch < updated.epoch:
                    raise InvalidProducerEpochError(
                        f"Epoch of producer {pid} is {epoch}, which is smaller than the last seen epoch {updated.epoch}")
                if h[5] & TRANSACTIONAL_BIT:
                    if updated.txn_first_offset < 0:
                        updated.txn_first_offset = offset
                elif updated.txn_first_offset >= 0:
                    raise InvalidTxnStateError(
                        f"Expected transactional write from producer {pid} at offset {offset} in "
                        f"partition {os.path.basename(self.dir)}")
                updated.add_batch(epoch, last_seq, offset + delta, delta,
                                  log_append_time if log_append_time >= 0 else max_ts)
            offset += count
        return staged

    def _check(self, pid: int, current: ProducerEntry | None, updated: ProducerEntry, epoch: int,
               first_seq: int, offset: int) -> None:
        where = f"producer {pid} at offset {offset} in {os.path.basename(self.dir)}"
        if epoch < updated.epoch:
            raise InvalidProducerEpochError(
                f"Epoch of {where} is {epoch}, which is smaller than the last seen epoch {updated.epoch}")
        if epoch != updated.epoch:
            if first_seq != 0 and updated.epoch != NO_EPOCH:
                raise OutOfOrderSequenceError(
                    f"Invalid sequence number for new epoch of {where}: {epoch} (request epoch), "
                    f"{first_seq} (seq. number), {updated.epoch} (current producer epoch)")
            return
        if updated.batches:
            last = updated.last_seq
        elif current is not None and epoch == current.epoch:
            last = current.last_seq
        else:
            last = NO_SEQUENCE
        if current is not None and current.epoch != NO_EPOCH and not _in_sequence(last, first_seq):
            raise OutOfOrderSequenceError(
                f"Out of order sequence number for {where}: {first_seq} (incoming seq. number), "
                f"{last} (current end sequence number)")

    def commit(self, staged: dict[int, ProducerEntry]) -> None:
        """Apply what prepare() returned, once the batches are in the log."""
        producers = self.producers
        for pid, upd in staged.items():
            if upd.txn_first_offset >= 0:
                self.ongoing[pid] = upd.txn_first_offset
            entry = producers.get(pid)
            if entry is None:
                producers[pid] = upd
                continue
            if upd.epoch != entry.epoch:
                entry.epoch = upd.epoch
                entry.batches.clear()
            entry.batches.extend(upd.batches)
            del entry.batches[:-BATCHES_TO_RETAIN]
            entry.last_timestamp = upd.last_timestamp
            entry.txn_first_offset = upd.txn_first_offset

    # -- transaction markers ----------------------------------------------------------------------

    def check_marker(self, pid: int, epoch: int, coordinator_epoch: int) -> None:
        """Refuse a marker from a fenced producer epoch or coordinator epoch (before it is written)."""
        entry = self.producers.get(pid)
        if entry is None:
            return
        if epoch < entry.epoch:
            raise InvalidProducerEpochError(
                f"Producer's epoch in the transaction marker is {epoch}, which is smaller than the last seen "
                f"epoch {entry.epoch}")
        if coordinator_epoch < entry.coordinator_epoch:
            raise TransactionCoordinatorFencedError(
                f"Invalid coordinator epoch for producer {pid}: {coordinator_epoch} (zombie), "
                f"{entry.coordinator_epoch} (current)")

    def apply_marker(self, pid: int, epoch: int, commit: bool, coordinator_epoch: int, offset: int,
                     timestamp: int) -> AbortedTxn | None:
        """Close pid's transaction with the marker written at offset; the index entry of an abort."""
        entry = self.producers.get(pid)
        if entry is None:
            entry = self.producers[pid] = ProducerEntry(pid)
        if epoch != entry.epoch:
            entry.epoch = epoch
            entry.batches.clear()
        entry.coordinator_epoch = coordinator_epoch
        entry.last_timestamp = max(entry.last_timestamp, timestamp)
        first = entry.txn_first_offset
        entry.txn_first_offset = -1
        self.ongoing.pop(pid, None)
        if commit or first < 0:
            return None
        lso = self.first_unstable_offset()
        return AbortedTxn(offset, pid, first, offset + 1 if lso is None else lso)

    def replay(self, header: tuple, control_type: int = -1) -> AbortedTxn | None:
        """Apply one stored batch's header without checks (recovery, as Kafka replays its log).

        control_type: for a control batch, its record's type (0 abort, 1 commit)."""
        pid = header[9]
        if pid < 0:
            return None
        if header[5] & CONTROL_BIT:
            if control_type not in (0, 1):
                return None
            return self.apply_marker(pid, header[10], control_type == 1, self._marker_epoch(pid),
                                     header[0], header[8])
        entry = self.producers.get(pid)
        if entry is None:
            entry = self.producers[pid] = ProducerEntry(pid)
        delta = header[6]
        entry.add_batch(header[10], _seq_add(header[11], delta), header[0] + delta, delta, header[8])
        if header[5] & TRANSACTIONAL_BIT and entry.txn_first_offset < 0:
            entry.txn_first_offset = header[0]
            self.ongoing[pid] = header[0]
        return None

    def _marker_epoch(self, pid: int) -> int:
        entry = self.producers.get(pid)
        return entry.coordinator_epoch if entry is not None else -1

    def remove_expired(self, now_ms: int, expiration_ms: int) -> int:
        """Forget producers idle for expiration_ms (by their last batch timestamp). Returns how many."""
        doomed = [pid for pid, e in self.producers.items()
                  if now_ms - e.last_timestamp >= expiration_ms and e.txn_first_offset < 0]
        for pid in doomed:
            del self.producers[pid]
        return len(doomed)

    # -- snapshots ------------------------------------------------------------------------------

    def snapshot_path(self, offset: int) -> str:
        return os.path.join(self.dir, f"{offset:020d}{_SUFFIX}")

    def take_snapshot(self, offset: int, sync: bool = False) -> None:
        """Write the state at log end offset `offset` (unless a snapshot there exists)."""
        if self.snapshots and self.snapshots[-1] == offset:
            return
        body = bytearray(_SNAP_COUNT.pack(len(self.producers)))
        for e in self.producers.values():
            b = e.batches[-1] if e.batches else BatchMetadata(NO_SEQUENCE, -1, 0, e.last_timestamp)
            body += _SNAP_ENTRY.pack(e.producer_id, e.epoch, b.last_seq, b.last_offset, b.offset_delta,
                                     b.timestamp, e.coordinator_epoch, e.txn_first_offset)
        data = _SNAP_HEAD.pack(_SNAPSHOT_VERSION, crc32c(body)) + body
        path = self.snapshot_path(offset)
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        self.snapshots = [s for s in self.snapshots if s < offset] + [offset]

    def delete_snapshots_before(self, offset: int) -> None:
        """Remove snapshot files of offsets below `offset` (their segments are gone)."""
        keep = []
        for s in self.snapshots:
            if s < offset:
                _unlink(self.snapshot_path(s))
            else:
                keep.append(s)
        self.snapshots = keep

    def load(self, segments: list, log_start: int, log_end: int,
             on_abort: Callable[[int, AbortedTxn], None] | None = None) -> None:
        """Rebuild the state at log_end: newest good snapshot, then the batch headers after it.

        segments: the partition's Segment objects, oldest first (iter_headers, index, next_offset,
        read_batch). on_abort(segment base, entry): an aborted transaction replayed from the log.
        """
        self.producers = {}
        self.ongoing = {}
        for s in [s for s in self.snapshots if s > log_end]:
            _unlink(self.snapshot_path(s))
        self.snapshots = [s for s in self.snapshots if s <= log_end]
        start = log_start
        while self.snapshots:
            offset = self.snapshots[-1]
            entries = _read_snapshot(self.snapshot_path(offset))
            if entries is not None:
                self.producers = entries
                self.ongoing = {pid: e.txn_first_offset for pid, e in entries.items() if e.txn_first_offset >= 0}
                start = offset
                break
            _unlink(self.snapshot_path(offset))
            self.snapshots.pop()
        if start >= log_end:
            return
        for seg in segments:
            if seg.next_offset <= start:
                continue
            for pos, h in seg.iter_headers(seg.index.lookup(start) if seg.base_offset < start else 0):
                if h[0] + h[6] >= start:
                    control = control_record_type(seg.read_batch(pos, h[1] + 12)) if h[5] & CONTROL_BIT else -1
                    aborted = self.replay(h, control)
                    if aborted is not None and on_abort is not None:
                        on_abort(seg.base_offset, aborted)


def _list_snapshots(dir_path: str) -> list[int]:
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
        elif name.endswith(_SUFFIX + ".tmp"):
            _unlink(os.path.join(dir_path, name))
    return out


def _read_snapshot(path: str) -> dict[int, ProducerEntry] | None:
    """The entries of a snapshot file; None if it is unreadable or fails its CRC."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        version, crc = _SNAP_HEAD.unpack_from(data, 0)
        body = memoryview(data)[_SNAP_HEAD.size:]
        if version != _SNAPSHOT_VERSION or crc32c(body) != crc:
            return None
        (count,) = _SNAP_COUNT.unpack_from(body, 0)
        if count < 0 or len(body) != _SNAP_COUNT.size + count * _SNAP_ENTRY.size:
            return None
        out: dict[int, ProducerEntry] = {}
        for pid, epoch, last_seq, last_offset, delta, ts, coord, txn in _SNAP_ENTRY.iter_unpack(
                body[_SNAP_COUNT.size:]):
            e = ProducerEntry(pid, epoch, ts, coord, txn)
            if last_offset >= 0:
                e.batches.append(BatchMetadata(last_seq, last_offset, delta, ts))
            out[pid] = e
        return out
    except (OSError, struct.error):
        return None


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
