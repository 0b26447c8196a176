"""Producer state of idempotent producers: epochs, sequences, duplicates, snapshots, recovery."""

from __future__ import annotations

import os
import struct

import pytest
from crc32c import crc32c

from keystream.log.errors import InvalidRecordError
from keystream.log.manager import LogManager
from keystream.log.producer_state import (
    BATCHES_TO_RETAIN,
    InvalidProducerEpochError,
    OutOfOrderSequenceError,
    ProducerStateManager,
)
from tests.unit.log.conftest import reopen
from tests.unit.log.records import encode_record


def idem_batch(n: int, pid: int, epoch: int, seq: int, ts: int = 1_700_000_000_000,
               value: bytes = b"v", transactional: bool = False) -> bytes:
    """One v2 batch of n records from producer (pid, epoch) with base sequence seq."""
    recs = b"".join(encode_record(i, 0, None, value + b"%d" % i) for i in range(n))
    attrs = 0x10 if transactional else 0
    after_crc = struct.pack(">hiqqqhii", attrs, n - 1, ts, ts, pid, epoch, seq, n) + recs
    body = struct.pack(">ibI", 0, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(body)) + body


def partition(manager: LogManager, name: str = "t", configs: dict[str, str] | None = None):
    manager.create_topic(name, 1, configs or {})
    return manager.partition(name, 0)


def test_in_sequence_batches_and_state(manager):
    p = partition(manager)
    assert p.append(idem_batch(3, 7, 0, 0), 0).base_offset == 0
    assert p.append(idem_batch(2, 7, 0, 3), 0).base_offset == 3
    e = p.producers.producers[7]
    assert (e.epoch, e.last_seq, e.batches[-1].last_offset) == (0, 4, 4)
    assert p.log_end_offset == 5


def test_new_producer_may_start_at_any_sequence(manager):
    p = partition(manager)
    assert p.append(idem_batch(1, 9, 3, 42), 0).base_offset == 0
    assert p.append(idem_batch(1, 9, 3, 43), 0).base_offset == 1


def test_duplicate_of_recent_batches_returns_original_offsets(manager):
    p = partition(manager)
    for i in range(6):
        p.append(idem_batch(2, 1, 0, 2 * i), 0)     # offsets 2i, 2i+1
    end = p.log_end_offset
    for i in range(6 - BATCHES_TO_RETAIN, 6):
        r = p.append(idem_batch(2, 1, 0, 2 * i), 0)
        assert (r.base_offset, r.last_offset, r.record_count) == (2 * i, 2 * i + 1, 0)
    assert p.log_end_offset == end
    # older than the last 5 batches: no longer known as a duplicate, and out of order
    with pytest.raises(OutOfOrderSequenceError):
        p.append(idem_batch(2, 1, 0, 0), 0)
    # same first sequence but a different last sequence is not a duplicate
    with pytest.raises(OutOfOrderSequenceError):
        p.append(idem_batch(1, 1, 0, 10), 0)


def test_out_of_order_sequences(manager):
    p = partition(manager)
    p.append(idem_batch(1, 1, 0, 0), 0)
    with pytest.raises(OutOfOrderSequenceError):
        p.append(idem_batch(1, 1, 0, 2), 0)          # gap
    with pytest.raises(OutOfOrderSequenceError):
        p.append(idem_batch(1, 1, 0, 5), 0)
    assert p.log_end_offset == 1
    p.append(idem_batch(1, 1, 0, 1), 0)


def test_epochs(manager):
    p = partition(manager)
    p.append(idem_batch(1, 1, 2, 0), 0)
    p.append(idem_batch(1, 1, 2, 1), 0)
    with pytest.raises(InvalidProducerEpochError):
        p.append(idem_batch(1, 1, 1, 2), 0)          # an older epoch is fenced
    with pytest.raises(OutOfOrderSequenceError):
        p.append(idem_batch(1, 1, 3, 5), 0)          # a new epoch starts at 0
    p.append(idem_batch(1, 1, 3, 0), 0)
    assert p.producers.producers[1].epoch == 3
    assert len(p.producers.producers[1].batches) == 1   # a new epoch forgets the old batches
    with pytest.raises(InvalidProducerEpochError):
        p.append(idem_batch(1, 1, 2, 2), 0)


def test_sequence_wraps():
    top = 2**31 - 1
    s = ProducerStateManager("/nonexistent")
    mv = memoryview(idem_batch(3, 5, 0, top - 1))      # sequences top-1, top, 0
    staged = s.prepare(mv, [(0, len(mv), 3, 0)], 0, -1)
    s.commit(staged)
    assert s.producers[5].last_seq == 0
    mv2 = memoryview(idem_batch(1, 5, 0, 1))
    s.commit(s.prepare(mv2, [(0, len(mv2), 1, 0)], 3, -1))
    dup = s.prepare(mv, [(0, len(mv), 3, 0)], 9, -1)
    assert (dup.first_offset, dup.last_offset) == (0, 2)


def test_batches_of_one_request_checked_in_order(manager):
    p = partition(manager)
    good = idem_batch(2, 4, 0, 0) + idem_batch(1, 4, 0, 2) + idem_batch(1, 8, 0, 0)
    r = p.append(good, 0)
    assert (r.base_offset, p.log_end_offset) == (0, 4)
    assert p.producers.producers[4].batches[-1].last_offset == 2
    bad = idem_batch(1, 4, 0, 3) + idem_batch(1, 4, 0, 9)
    with pytest.raises(OutOfOrderSequenceError):
        p.append(bad, 0)
    assert p.log_end_offset == 4 and p.producers.producers[4].last_seq == 2   # nothing applied


def test_non_idempotent_batches_untouched(manager):
    p = partition(manager)
    p.append(idem_batch(1, -1, -1, -1), 0)
    assert p.producers.producers == {}
    with pytest.raises(InvalidRecordError):
        p.append(idem_batch(1, 3, 0, -1), 0)        # a producer id without a sequence


def test_log_append_time_duplicate_timestamp(manager):
    p = partition(manager, configs={"message.timestamp.type": "LogAppendTime"})
    r = p.append(idem_batch(1, 2, 0, 0), 5000)
    assert r.log_append_time == 5000
    assert p.append(idem_batch(1, 2, 0, 0), 9000).log_append_time == 5000


def test_expiration(manager):
    p = partition(manager)
    p.append(idem_batch(1, 1, 0, 0, ts=1000), 0)
    p.append(idem_batch(1, 2, 0, 0, ts=5000), 0)
    assert p.producers.remove_expired(6000, 5000) == 1
    assert set(p.producers.producers) == {2}
    p.append(idem_batch(1, 1, 0, 77), 0)             # forgotten: any sequence again


def test_clean_restart_uses_snapshot(manager):
    p = partition(manager)
    p.append(idem_batch(3, 1, 0, 0), 0)
    p.append(idem_batch(2, 2, 4, 10), 0)
    m2 = reopen(manager)
    p2 = m2.partition("t", 0)
    assert os.path.exists(os.path.join(p2.dir, f"{5:020d}.snapshot"))
    assert p2.producers.snapshots == [5]
    assert {k: (e.epoch, e.last_seq) for k, e in p2.producers.producers.items()} == {1: (0, 2), 2: (4, 11)}
    assert p2.append(idem_batch(2, 2, 4, 10), 0).base_offset == 3     # last batch survives as duplicate
    with pytest.raises(OutOfOrderSequenceError):
        p2.append(idem_batch(1, 1, 0, 5), 0)
    p2.append(idem_batch(1, 1, 0, 3), 0)
    m2.close()


def test_roll_snapshots_and_unclean_recovery(manager, data_dir):
    p = partition(manager, configs={"segment.bytes": "300"})
    for i in range(8):
        p.append(idem_batch(1, 1, 0, i, value=b"x" * 80), 0)
    assert len(p.segments) > 2
    bases = [s.base_offset for s in p.segments]
    assert p.producers.snapshots == bases[1:]
    for s in p.segments:         # simulate a crash: no clean-shutdown marker, no close()
        s.close()
    m2 = LogManager(data_dir, manager.config)
    m2.load()
    p2 = m2.partition("t", 0)
    e = p2.producers.producers[1]
    assert e.last_seq == 7
    snap = p2.producers.snapshots[-1]
    assert snap == bases[-1]
    assert [b.last_offset for b in e.batches] == list(range(snap - 1, 8))    # snapshot's, then replayed
    assert p2.append(idem_batch(1, 1, 0, 6, value=b"x" * 80), 0).base_offset == 6
    m2.close()
    manager._logs = {}


def test_corrupt_snapshot_falls_back(manager, data_dir):
    p = partition(manager, configs={"segment.bytes": "300"})
    for i in range(8):
        p.append(idem_batch(1, 1, 0, i, value=b"x" * 80), 0)
    latest = p.producers.snapshots[-1]
    for s in p.segments:
        s.close()
    with open(p.producers.snapshot_path(latest), "r+b") as f:
        f.seek(10)
        f.write(b"\xff")
    m2 = LogManager(data_dir, manager.config)
    m2.load()
    p2 = m2.partition("t", 0)
    assert latest not in p2.producers.snapshots
    assert not os.path.exists(p2.producers.snapshot_path(latest))
    assert p2.producers.producers[1].last_seq == 7
    m2.close()
    manager._logs = {}


def test_no_snapshot_rebuilds_from_log(manager, data_dir):
    p = partition(manager)
    p.append(idem_batch(2, 1, 0, 0), 0)
    p.append(idem_batch(2, 1, 0, 2), 0)
    m2 = reopen(manager)
    p2 = m2.partition("t", 0)
    for s in list(p2.producers.snapshots):
        os.unlink(p2.producers.snapshot_path(s))
    m2.close()
    for name in os.listdir(p2.dir):
        if name.endswith(".snapshot"):
            os.unlink(os.path.join(p2.dir, name))
    m3 = LogManager(data_dir, m2.config)
    m3.load()
    p3 = m3.partition("t", 0)
    assert [b.last_offset for b in p3.producers.producers[1].batches] == [1, 3]
    assert p3.append(idem_batch(2, 1, 0, 0), 0).base_offset == 0
    m3.close()


def test_retention_keeps_producers_and_drops_old_snapshots(manager):
    p = partition(manager, configs={"segment.bytes": "300"})
    for i in range(8):
        p.append(idem_batch(1, 1, 0, i, value=b"x" * 80), 0)
    p.delete_records_before(p.segments[-1].base_offset)
    first = p.segments[0].base_offset
    assert all(s >= first for s in p.producers.snapshots)
    assert all(int(n[:20]) >= first for n in os.listdir(p.dir) if n.endswith(".snapshot"))
    assert p.producers.producers[1].last_seq == 7
    p.append(idem_batch(1, 1, 0, 8, value=b"x" * 80), 0)
