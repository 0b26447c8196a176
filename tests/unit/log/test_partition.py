"""PartitionLog: append/read, offsets, LogAppendTime, timestamps, roll, retention, DeleteRecords."""

from __future__ import annotations

import os

import pytest
from kafka.record.default_records import DefaultRecordBatch

from keystream.log.errors import (
    CorruptRecordError,
    OffsetOutOfRangeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from tests.unit.log.conftest import reopen
from tests.unit.log.records import make_batch


def records_of(chunks) -> list[tuple[int, int, bytes]]:
    """(offset, timestamp, value) of every record in the returned chunks (kafka-python decodes)."""
    out = []
    for chunk in chunks:
        data = bytes(chunk)
        pos = 0
        while pos < len(data):
            size = int.from_bytes(data[pos + 8:pos + 12], "big") + 12
            batch = DefaultRecordBatch(data[pos:pos + size])
            assert batch.validate_crc()
            out.extend((r.offset, r.timestamp, r.value) for r in batch)
            pos += size
    return out


def test_round_trip(manager):
    p = manager.create_topic("t", 1, {}) and manager.partition("t", 0)
    for i in range(10):
        p.append(make_batch([b"v%d-%d" % (i, j) for j in range(3)], base_ts=1000 + i), 0)
    got = records_of(p.read(0, 10**6))
    assert [o for o, _, _ in got] == list(range(30))
    assert got[4][2] == b"v1-1"
    assert records_of(p.read(4, 1))[0][0] == 3       # whole batch holding offset 4, even over max_bytes
    assert p.read(30, 100) == []
    with pytest.raises(OffsetOutOfRangeError):
        p.read(31, 100)


def test_several_batches_in_one_append(manager):
    manager.create_topic("t", 1, {})
    p = manager.partition("t", 0)
    r = p.append(make_batch([b"a", b"b"]) + make_batch([b"c"]) + make_batch([b"d", b"e", b"f"]), 0)
    assert (r.base_offset, r.last_offset, r.record_count) == (0, 5, 6)
    assert [o for o, _, _ in records_of(p.read(0, 10**6))] == list(range(6))


def test_bad_batch_among_good_appends_nothing(manager):
    manager.create_topic("t", 1, {})
    p = manager.partition("t", 0)
    bad = bytearray(make_batch([b"c"]))
    bad[-1] ^= 1
    with pytest.raises(CorruptRecordError):
        p.append(make_batch([b"a"]) + bytes(bad), 0)
    assert p.log_end_offset == 0 and p.size_bytes() == 0


def test_max_message_bytes(manager):
    manager.create_topic("t", 1, {"max.message.bytes": "500"})
    p = manager.partition("t", 0)
    with pytest.raises(RecordTooLargeError):
        p.append(make_batch([b"x" * 600]), 0)
    p.append(make_batch([b"x" * 300]), 0)


def test_records_larger_than_segment_bytes_are_refused_as_kafka_does(manager):
    # Kafka's UnifiedLog.append: RecordBatchTooLargeException (RECORD_LIST_TOO_LARGE) when the
    # request's records exceed segment.bytes, even within max.message.bytes; nothing is written.
    manager.create_topic("t", 1, {"segment.bytes": "1000", "max.message.bytes": "100000"})
    p = manager.partition("t", 0)
    p.append(make_batch([b"a" * 100]), 0)
    with pytest.raises(RecordListTooLargeError, match="exceeds the maximum configured segment size of 1000"):
        p.append(make_batch([b"x" * 1200]), 0)
    with pytest.raises(RecordListTooLargeError):   # two batches that fit alone but not together
        p.append(make_batch([b"y" * 500]) + make_batch([b"z" * 500]), 0)
    assert p.log_end_offset == 1 and len(p.segments) == 1


def test_records_that_do_not_fit_the_active_segment_roll_a_new_one(manager):
    manager.create_topic("t", 1, {"segment.bytes": "1000"})
    p = manager.partition("t", 0)
    p.append(make_batch([b"a" * 400]), 0)
    p.append(make_batch([b"b" * 400]), 0)         # 2 x ~470 bytes: still fits
    p.append(make_batch([b"c" * 900]), 0)         # fits a segment, not the rest of this one
    assert [s.base_offset for s in p.segments] == [0, 2]
    assert [v for _o, _t, v in records_of(p.read(2, 10**6))] == [b"c" * 900]


def test_log_append_time(manager):
    manager.create_topic("t", 1, {"message.timestamp.type": "LogAppendTime"})
    p = manager.partition("t", 0)
    r = p.append(make_batch([b"a", b"b"], base_ts=5), 123456)
    assert r.log_append_time == 123456
    assert [(o, ts) for o, ts, _ in records_of(p.read(0, 10**6))] == [(0, 123456), (1, 123456)]


def test_offset_for_timestamp_and_max(manager):
    manager.create_topic("t", 1, {"segment.bytes": "400", "index.interval.bytes": "100"})
    p = manager.partition("t", 0)
    assert p.max_timestamp() == (-1, -1) and p.offset_for_timestamp(0) is None
    for i in range(20):     # offsets 2i, 2i+1 with timestamps 100i, 100i+50
        p.append(make_batch([b"x" * 40, b"y"], timestamps=[100 * i, 100 * i + 50]), 0)
    assert len(p.segments) > 3
    assert p.offset_for_timestamp(0) == (0, 0)
    assert p.offset_for_timestamp(820) == (17, 850)
    assert p.offset_for_timestamp(850) == (17, 850)
    assert p.offset_for_timestamp(851) == (18, 900)
    assert p.offset_for_timestamp(1951) is None
    assert p.max_timestamp() == (39, 1950)
    p.append(make_batch([b"a", b"b", b"c"], timestamps=[10, 99999, 20]), 0)
    assert p.max_timestamp() == (41, 99999)
    m2 = reopen(manager)
    try:
        p = m2.partition("t", 0)
        assert p.offset_for_timestamp(851) == (18, 900)
        assert p.max_timestamp() == (41, 99999)
    finally:
        m2.close()


@pytest.mark.parametrize("codec", [1, 2, 3, 4], ids=["gzip", "snappy", "lz4", "zstd"])
def test_offset_for_timestamp_inside_compressed_batches(manager, codec):
    manager.create_topic("t", 1, {})
    p = manager.partition("t", 0)
    for i in range(3):     # offsets 3i..3i+2 with timestamps 100i, 100i+10, 100i+20
        p.append(make_batch([b"a", b"b", b"c"], timestamps=[100 * i, 100 * i + 10, 100 * i + 20],
                            codec=codec), 0)
    assert p.offset_for_timestamp(111) == (5, 120)   # a record inside the second batch
    assert p.offset_for_timestamp(201) == (7, 210)
    assert p.max_timestamp() == (8, 220)


def test_roll_by_size_and_index_lookups(manager):
    manager.create_topic("t", 1, {"segment.bytes": "2000", "index.interval.bytes": "150"})
    p = manager.partition("t", 0)
    for i in range(100):
        p.append(make_batch([b"%03d" % i + b"." * 100]), 0)
    assert len(p.segments) > 5
    assert all(s.size <= 2000 for s in p.segments)
    assert all(len(s.index.offsets) > 3 for s in p.segments[:-1])
    for off in (0, 1, 17, 18, 50, 99):
        got = records_of(p.read(off, 1))
        assert got[0][0] == off and got[0][2].startswith(b"%03d" % off)
    m2 = reopen(manager)
    try:
        p2 = m2.partition("t", 0)
        assert [s.base_offset for s in p2.segments] == [s.base_offset for s in p.segments]
        assert [list(s.index.offsets) for s in p2.segments[:-1]] == [list(s.index.offsets) for s in p.segments[:-1]]
        for off in (0, 33, 99):
            assert records_of(p2.read(off, 1))[0][0] == off
    finally:
        m2.close()


def test_roll_by_time(manager):
    manager.create_topic("t", 1, {"segment.ms": "1000"})
    p = manager.partition("t", 0)
    p.append(make_batch([b"a"], base_ts=10_000), 10_000)
    p.append(make_batch([b"b"], base_ts=10_500), 10_500)
    assert len(p.segments) == 1
    p.append(make_batch([b"c"], base_ts=11_001), 11_001)
    assert [s.base_offset for s in p.segments] == [0, 2]


def test_retention_by_time(manager):
    manager.create_topic("t", 1, {"segment.bytes": "300", "retention.ms": "1000"})
    p = manager.partition("t", 0)
    for i in range(10):
        p.append(make_batch([b"x" * 100], base_ts=i * 1000), 0)
    n = len(p.segments)
    manager.run_retention(5500)    # segments whose newest record is older than 4500 go
    assert p.log_start_offset == 5 and len(p.segments) < n
    with pytest.raises(OffsetOutOfRangeError):
        p.read(4, 100)
    assert records_of(p.read(5, 1))[0][0] == 5
    manager.run_retention(100_000)  # everything, the active segment too (rolled first)
    assert p.log_start_offset == p.log_end_offset == 10 and p.size_bytes() == 0
    assert p.append(make_batch([b"y"]), 0).base_offset == 10


def test_retention_by_size(manager):
    manager.create_topic("t", 1, {"segment.bytes": "300", "retention.bytes": "700"})
    p = manager.partition("t", 0)
    for i in range(10):
        p.append(make_batch([b"x" * 100], base_ts=i), 0)
    manager.run_retention(0)
    # Kafka deletes whole segments only while what stays is still >= retention.bytes
    assert p.size_bytes() >= 700 > p.size_bytes() - p.segments[0].size
    assert p.log_start_offset == p.segments[0].base_offset > 0


def test_delete_records(manager):
    manager.create_topic("t", 1, {"segment.bytes": "300"})
    p = manager.partition("t", 0)
    for i in range(10):
        p.append(make_batch([b"x" * 100]), 0)
    assert p.delete_records_before(3) == 3
    assert p.segments[0].base_offset <= 3 < p.segments[0].next_offset
    with pytest.raises(OffsetOutOfRangeError):
        p.read(2, 100)
    assert records_of(p.read(3, 1))[0][0] == 3
    assert p.delete_records_before(1) == 3
    with pytest.raises(OffsetOutOfRangeError):
        p.delete_records_before(11)
    job = manager.flush_async(0)      # the moved log start alone makes a checkpoint job
    assert job is not None
    job()
    assert manager.flush_async(0) is None
    with open(os.path.join(manager.dir, "kafka", "log-start-offset-checkpoint")) as f:
        assert f.read().split("\n")[2] == "t 0 3"
    m2 = reopen(manager)
    try:
        assert m2.partition("t", 0).log_start_offset == 3
        assert m2.partition("t", 0).delete_records_before(10) == 10
    finally:
        m2.close()


def test_roll_when_offset_index_is_full(manager):
    manager.create_topic("t", 1, {"segment.index.bytes": "16", "index.interval.bytes": "0"})
    p = manager.partition("t", 0)
    for _ in range(7):
        p.append(make_batch([b"x"]), 0)
    # the first batch of a segment is never indexed; two entries fill the index
    assert [s.base_offset for s in p.segments] == [0, 3, 6]


def test_segment_jitter_shortens_roll_time(manager):
    manager.create_topic("t", 1, {"segment.ms": "1000", "segment.jitter.ms": "500", "segment.bytes": "300"})
    p = manager.partition("t", 0)
    p.append(make_batch([b"x" * 200]), 0)
    p.append(make_batch([b"x"], base_ts=0), 0)      # rolled by size: the new segment has a jitter
    seg = p.segments[-1]
    assert len(p.segments) == 2 and 0 <= seg.roll_jitter_ms < 500
    p.append(make_batch([b"y"], base_ts=1001 - seg.roll_jitter_ms), 0)
    assert len(p.segments) == 3


def test_read_respects_max_bytes_with_whole_batches(manager):
    manager.create_topic("t", 1, {})
    p = manager.partition("t", 0)
    sizes = [p.append(make_batch([b"x" * 100]), 0) and len(make_batch([b"x" * 100])) for _ in range(10)]
    (chunk,) = p.read(0, sizes[0] * 3 + 10)
    assert len(chunk) == sizes[0] * 3
    (chunk,) = p.read(9, 10**6)
    assert records_of([chunk])[0][0] == 9
