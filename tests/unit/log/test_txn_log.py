"""Transactions in the partition log: LSO, markers, the .txnindex, snapshots and recovery."""

from __future__ import annotations

import os
import struct

import pytest

from keystream.log.batch import control_record_type
from keystream.log.errors import InvalidRecordError, InvalidTxnStateError, TransactionCoordinatorFencedError
from keystream.log.manager import LogManager
from keystream.log.producer_state import InvalidProducerEpochError
from tests.unit.log.records import make_batch
from tests.unit.log.test_producer_state import idem_batch, partition
from tests.unit.log.test_recovery import crash


def txn_batch(n: int, pid: int, seq: int, epoch: int = 0, value: bytes = b"v") -> bytes:
    return idem_batch(n, pid, epoch, seq, value=value, transactional=True)


def offsets_read(p, start: int, upper: int | None) -> list[int]:
    """Base offsets of the batches one read from start returns (one segment) below upper."""
    chunks = p.read(start, 1 << 20, upper)
    out: list[int] = []
    if not chunks:
        return out
    data, pos = chunks[0], 0
    while pos < len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        out.append(base)
        pos += 12 + length
    return out


def test_open_transaction_holds_the_lso_until_its_commit(manager):
    p = partition(manager)
    p.append(idem_batch(2, 1, 0, 0), 0)                  # offsets 0-1, not transactional
    p.append(txn_batch(3, 7, 0), 0)                      # 2-4, transaction of producer 7
    p.append(idem_batch(1, 1, 0, 2), 0)                  # 5
    assert (p.last_stable_offset, p.log_end_offset) == (2, 6)
    assert offsets_read(p, 0, p.last_stable_offset) == [0]
    assert offsets_read(p, 2, p.last_stable_offset) == []
    assert p.append_marker(7, 0, True, 0, 0) == 6
    assert p.last_stable_offset == p.log_end_offset == 7
    assert offsets_read(p, 0, p.last_stable_offset) == [0, 2, 5, 6]
    assert p.aborted_transactions(0, 7) == []
    chunk = p.read(6, 1000)[0]
    assert control_record_type(chunk) == 1
    assert p.producers.producers[7].txn_first_offset == -1


def test_abort_is_indexed_in_kafkas_txnindex_format(manager):
    p = partition(manager)
    p.append(txn_batch(2, 7, 0), 0)                      # 0-1
    p.append(txn_batch(1, 8, 0), 0)                      # 2 (producer 8 stays open)
    p.append(txn_batch(1, 7, 2), 0)                      # 3
    assert p.last_stable_offset == 0
    assert p.append_marker(7, 0, False, 0, 0) == 4
    assert p.last_stable_offset == 2
    assert p.aborted_transactions(0, 5) == [(7, 0)]
    assert p.aborted_transactions(5, 9) == []          # the marker is before the fetch offset
    with open(os.path.join(p.dir, f"{0:020d}.txnindex"), "rb") as f:
        data = f.read()
    assert data == struct.pack(">hqqqq", 0, 7, 0, 4, 2)   # version, pid, first, last, LSO after
    control = p.read(4, 1000)[0]
    assert control_record_type(control) == 0


def test_non_transactional_write_inside_a_transaction_is_refused(manager):
    p = partition(manager)
    p.append(txn_batch(1, 7, 0), 0)
    with pytest.raises(InvalidTxnStateError, match="Expected transactional write from producer 7"):
        p.append(idem_batch(1, 7, 0, 1), 0)
    p.append_marker(7, 0, True, 0, 0)
    assert p.append(idem_batch(1, 7, 0, 1), 0).base_offset == 2


def test_markers_from_fenced_epochs_are_refused(manager):
    p = partition(manager)
    p.append(txn_batch(1, 7, 0, epoch=3), 0)
    with pytest.raises(InvalidProducerEpochError):
        p.append_marker(7, 2, False, 0, 0)
    p.append_marker(7, 4, False, 5, 0)                 # a bumped epoch (the coordinator's abort)
    with pytest.raises(TransactionCoordinatorFencedError):
        p.append_marker(7, 4, True, 4, 0)
    assert p.log_end_offset == 2


def test_open_transaction_survives_an_unclean_restart_via_snapshot(manager, data_dir):
    p = partition(manager, configs={"segment.bytes": "400"})
    p.append(txn_batch(1, 7, 0, value=b"x" * 80), 0)   # offset 0, stays open
    for i in range(6):
        p.append(idem_batch(1, 1, 0, i, value=b"y" * 80), 0)
    assert len(p.segments) > 2 and p.producers.snapshots     # snapshots were taken with the txn open
    crash(manager)
    m2 = LogManager(data_dir, manager.config)
    m2.load()
    p2 = m2.partition("t", 0)
    assert p2.last_stable_offset == 0
    p2.append_marker(7, 0, False, 0, 0)
    assert p2.aborted_transactions(0, p2.log_end_offset) == [(7, 0)]
    assert p2.last_stable_offset == p2.log_end_offset
    m2.close()
    manager._logs = {}


def test_lost_txnindex_entry_is_rebuilt_by_replay(manager, data_dir):
    p = partition(manager)
    p.append(txn_batch(2, 7, 0), 0)
    p.append_marker(7, 0, False, 0, 0)
    p.append(txn_batch(1, 9, 0), 0)                     # offset 3, open at the crash
    crash(manager)
    os.unlink(os.path.join(p.dir, f"{0:020d}.txnindex"))
    m2 = LogManager(data_dir, manager.config)
    m2.load()
    p2 = m2.partition("t", 0)
    assert p2.aborted_transactions(0, 10) == [(7, 0)]
    assert p2.last_stable_offset == 3
    m2.close()
    manager._logs = {}


def test_entries_past_a_truncated_log_end_are_dropped(manager, data_dir):
    p = partition(manager)
    p.append(txn_batch(1, 7, 0), 0)
    p.append_marker(7, 0, False, 0, 0)                  # offset 1
    seg = p.segments[-1]
    size_before_marker = seg.size - len(p.read(1, 1000)[0])
    crash(manager)
    with open(seg.log_path, "r+b") as f:                # the marker never reached the disk
        f.truncate(size_before_marker)
    m2 = LogManager(data_dir, manager.config)
    m2.load()
    p2 = m2.partition("t", 0)
    assert p2.log_end_offset == 1
    assert p2.aborted_transactions(0, 10) == []
    assert p2.last_stable_offset == 0                   # the transaction is open again
    m2.close()
    manager._logs = {}


def test_compacted_topic_refuses_keyless_records(manager):
    p = partition(manager, configs={"cleanup.policy": "compact"})
    with pytest.raises(InvalidRecordError, match="^Compacted topic cannot accept message without key in topic "
                                                 "partition t-0$"):
        p.append(idem_batch(1, 7, 0, 0), 0)              # idem_batch records have no key
    assert p.append(make_batch([b"v"], keys=[b"k"]), 0).base_offset == 0
    for codec in (0, 1, 4):                             # none, gzip, zstd
        with pytest.raises(InvalidRecordError):
            p.append(make_batch([b"v", b"w"], keys=[b"k", None], codec=codec), 0)
        assert p.append(make_batch([b"v", b"w"], keys=[b"k", b"l"], codec=codec), 0).record_count == 2


def test_compaction_drops_aborted_keeps_markers_and_stops_at_the_lso(manager):
    from keystream.log.batch import TRANSACTIONAL_BIT, build_batch
    from tests.unit.log.test_cleaner import COMPACT, NOW, clean_all, consume

    manager.create_topic("t", 1, {**COMPACT, "segment.bytes": "300"})
    p = manager.partition("t", 0)

    def txn(pid: int, pairs: list[tuple[bytes, bytes]]) -> None:
        p.append(build_batch(pairs, NOW, pid, 0, TRANSACTIONAL_BIT), NOW, from_client=False)

    txn(1, [(b"a", b"a-committed"), (b"b", b"b-committed")])
    p.append_marker(1, 0, True, 0, NOW)
    txn(2, [(b"a", b"a-aborted"), (b"c", b"c-aborted")])
    p.append_marker(2, 0, False, 0, NOW)
    p.append(build_batch([(b"b", b"b-plain")], NOW), NOW)
    for i in range(4):                                 # so that the LSO's segment comes later
        p.append(build_batch([(b"y%d" % i, b"." * 60)], NOW), NOW)
    first_open = p.log_end_offset
    txn(3, [(b"b", b"b-open")])                        # open: the LSO stays here
    for i in range(6):
        p.append(build_batch([(b"x%d" % i, b"." * 60)], NOW), NOW)
    assert p.last_stable_offset == first_open and len(p.segments) > 3
    lso_segment = max(s.base_offset for s in p.segments if s.base_offset <= first_open)
    clean_all(manager)
    kept = {(k, v) for _o, _t, k, v in consume(p)}
    assert (b"a", b"a-committed") in kept               # no later committed value of a
    assert (b"b", b"b-committed") not in kept           # shadowed by b-plain
    assert not any(v.endswith(b"-aborted") for _k, v in kept if v)
    assert (b"b", b"b-open") in kept                    # beyond the LSO: untouched
    assert p.first_dirty_offset <= lso_segment
    assert markers_of(p) == [2, 5]
    # the aborted transaction has no records left: its marker goes once its delete horizon passed
    clean_all(manager, NOW + int(COMPACT.get("delete.retention.ms", 86_400_000)) + 1)
    assert markers_of(p) == [2]                         # the committed one still has a record (a)
    assert (b"a", b"a-committed") in {(k, v) for _o, _t, k, v in consume(p)}


def markers_of(p) -> list[int]:
    """Offsets of the control batches of the log."""
    markers = []
    off = p.log_start_offset
    while off < p.log_end_offset:
        chunk = bytes(p.read(off, 1 << 20)[0])
        pos = 0
        while pos < len(chunk):
            base, length = struct.unpack_from(">qi", chunk, pos)
            attrs, last_delta = struct.unpack_from(">hi", chunk, pos + 21)
            if attrs & 0x20:
                markers.append(base)
            pos += 12 + length
            off = base + last_delta + 1
    return markers
