"""Recovery on load: torn tails, garbage, bad CRCs, missing or inconsistent index files."""

from __future__ import annotations

import os

from keystream.config import Config
from keystream.log.manager import LogManager
from tests.unit.log.records import make_batch
from tests.unit.log.test_partition import records_of


def crash(m: LogManager) -> None:
    """Drop a manager as kill -9 would: no index files written, no clean-shutdown marker."""
    for log in m.all_partitions():
        for seg in log.segments:
            seg.close()


def load(data_dir: str) -> LogManager:
    m = LogManager(data_dir, Config())
    m.load()
    return m


def fill(m: LogManager, n: int, configs: dict[str, str] | None = None) -> list[bytes]:
    m.create_topic("t", 1, configs or {})
    p = m.partition("t", 0)
    values = [b"value-%04d" % i + b"." * 90 for i in range(n)]
    for i in range(0, n, 2):
        p.append(make_batch(values[i:i + 2], base_ts=1000 + i), 0)
    return values


def active_log(m: LogManager) -> str:
    return m.partition("t", 0).segments[-1].log_path


def assert_intact(m: LogManager, values: list[bytes]) -> None:
    p = m.partition("t", 0)
    assert p.log_end_offset == len(values)
    got = []
    offset = 0
    while offset < p.log_end_offset:
        recs = records_of(p.read(offset, 10**6))
        got.extend(recs)
        offset = recs[-1][0] + 1
    assert [o for o, _, _ in got] == list(range(len(values)))
    assert [v for _, _, v in got] == values


def test_torn_tail_batch_is_truncated(data_dir):
    m = load(data_dir)
    values = fill(m, 20)
    path = active_log(m)
    crash(m)
    size = os.path.getsize(path)
    with open(path, "ab") as f:
        f.write(make_batch([b"half written"], base_offset=20)[:30])
    m = load(data_dir)
    try:
        assert m.truncated_bytes == 30 and os.path.getsize(path) == size
        assert_intact(m, values)
        assert m.partition("t", 0).append(make_batch([b"next"]), 0).base_offset == 20
    finally:
        m.close()


def test_garbage_and_bad_crc_tail(data_dir):
    m = load(data_dir)
    values = fill(m, 10)
    path = active_log(m)
    crash(m)
    last = make_batch([b"x"], base_offset=10)
    bad = bytearray(last)
    bad[-1] ^= 0xFF
    with open(path, "ab") as f:
        f.write(bytes(bad) + os.urandom(500))
    m = load(data_dir)
    try:
        assert_intact(m, values)
    finally:
        m.close()


def test_corrupt_batch_in_the_middle_truncates_from_there(data_dir):
    m = load(data_dir)
    values = fill(m, 10)
    p = m.partition("t", 0)
    pos = p.segments[0].find_batch(4)[0]
    path = active_log(m)
    crash(m)
    with open(path, "r+b") as f:
        f.seek(pos + 70)
        f.write(b"\xff")
    m = load(data_dir)
    try:
        assert_intact(m, values[:4])
    finally:
        m.close()


def test_unclean_shutdown_recovers_only_the_tail_segments(data_dir):
    m = load(data_dir)
    values = fill(m, 40, {"segment.bytes": "1000", "index.interval.bytes": "200"})
    m.flush_due(0)                  # rolled segments are synced: recovery point moves up
    p = m.partition("t", 0)
    assert len(p.segments) > 3 and p.recovery_point == p.segments[-1].base_offset
    path = active_log(m)
    first_index = p.segments[0].index.path
    crash(m)
    with open(path, "ab") as f:
        f.write(b"\x00" * 17)
    os.unlink(first_index)          # an older segment with a lost index is rebuilt too
    m = load(data_dir)
    try:
        assert m.truncated_bytes == 17
        assert_intact(m, values)
        assert len(m.partition("t", 0).segments[0].index.offsets) > 0
    finally:
        m.close()


def test_missing_and_inconsistent_indexes_rebuilt_after_clean_shutdown(data_dir):
    m = load(data_dir)
    values = fill(m, 60, {"segment.bytes": "2000", "index.interval.bytes": "200"})
    p = m.partition("t", 0)
    entries = [list(s.index.offsets) for s in p.segments]
    segs = [(s.index.path, s.time_index.path) for s in p.segments]
    m.close()
    os.unlink(segs[0][0])
    os.unlink(segs[1][1])
    with open(segs[2][0], "ab") as f:
        f.write(b"\x00\x00\x00\x01\xff\xff\xff\xff")     # points past the end of the log
    m = load(data_dir)
    try:
        assert [list(s.index.offsets) for s in m.partition("t", 0).segments] == entries
        assert_intact(m, values)
    finally:
        m.close()


def test_crash_before_any_index_file_written(data_dir):
    m = load(data_dir)
    values = fill(m, 30, {"index.interval.bytes": "100"})
    crash(m)
    m = load(data_dir)
    try:
        p = m.partition("t", 0)
        assert len(p.segments[0].index.offsets) > 5
        assert_intact(m, values)
        assert [o for o, _, _ in records_of(p.read(17, 1))] == [16, 17]
    finally:
        m.close()


def test_flush_policy_by_messages(data_dir):
    m = load(data_dir)
    m.create_topic("t", 1, {"flush.messages": "3"})
    p = m.partition("t", 0)
    p.append(make_batch([b"a", b"b"]), 0)
    assert m.flush_async(0) is None
    p.append(make_batch([b"c"]), 0)
    job = m.flush_async(0)
    assert job is not None and p.unflushed_messages == 0
    job()
    assert p.recovery_point == 3
    crash(m)
    with open(os.path.join(data_dir, "kafka", "recovery-point-offset-checkpoint")) as f:
        assert f.read().split("\n")[2] == "t 0 3"


def test_flush_policy_by_time(data_dir):
    m = load(data_dir)
    m.create_topic("t", 1, {"flush.ms": "1000"})
    p = m.partition("t", 0)
    p.append(make_batch([b"a"]), 0)
    start = p.last_flush_ms
    assert m.flush_async(start + 10) is None
    m.flush_due(start + 1000)
    assert p.recovery_point == 1
    m.close()
