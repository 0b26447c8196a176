"""The bridge's record reading and writing: stored batches decoded (all codecs, keys and values
only or in full), committed reads that leave out aborted transactions and markers, the batches
the bridge appends, and Kafka's default partitioner."""

from __future__ import annotations

import os
import tempfile

import pytest
from crc32c import crc32c
from kafka.partitioner.default import murmur2

from keystream.bridge.recordio import (
    build_batch_with_headers,
    committed_records,
    decode_batch,
    encode_entry_batch,
    partition_for,
)
from keystream.bridge.viewrows import key_values
from keystream.config import Config
from keystream.log.batch import TRANSACTIONAL_BIT, build_batch, validate_batches
from keystream.log.manager import LogManager


def test_murmur2_and_partition_for_match_kafkas_partitioner() -> None:
    for n in range(40):
        for _ in range(10):
            data = os.urandom(n)
            assert partition_for(data, 7) == (murmur2(data) & 0x7FFFFFFF) % 7
    assert partition_for(b"anything", 1) == 0


@pytest.mark.parametrize("size", [0, 1, 63, 64, 100, 8191, 8192, 20000])
def test_key_values_agrees_with_the_full_decoder(size: int) -> None:
    value = os.urandom(size)
    records = [(b"k%d" % i, None if i % 3 == 0 else value) for i in range(150)]
    batch = memoryview(build_batch(records, 12345))
    full = decode_batch(batch)
    out: list[tuple[bytes, bytes | None]] = []
    assert key_values(batch, 0, 150, out) == 0
    assert out == [(k, v) for _o, _ts, k, v, _h in full] == records
    assert all(ts == 12345 for _o, ts, *_ in full)
    out = []
    assert key_values(batch, 10, 20, out) == 0      # only offsets in [start, upper)
    assert out == records[10:20]


def test_key_values_counts_keyless_records_and_leaves_them_out() -> None:
    out: list[tuple[bytes, bytes | None]] = []
    assert key_values(memoryview(encode_entry_batch(None, b"v", [], 0, 0)), 0, 1, out) == 1
    assert out == []
    assert key_values(memoryview(encode_entry_batch(b"k", None, [(b"h", b"x")], 0, 0)), 0, 1, out) == 0
    assert out == [(b"k", None)]


def test_headers_round_trip_and_the_batch_is_valid() -> None:
    recs = [(b"a", b"1", [(b"db", b"0"), (b"seq", b"7")]), (b"b", None, [])]
    raw = build_batch_with_headers(recs, 99)
    assert len(validate_batches(memoryview(raw), 1 << 20)) == 1
    got = decode_batch(memoryview(raw))
    assert [(k, v, h) for _o, _t, k, v, h in got] == [(b"a", b"1", [(b"db", b"0"), (b"seq", b"7")]), (b"b", None, [])]


def test_truncated_records_are_refused() -> None:
    raw = bytearray(build_batch([(b"key", b"x" * 100)], 0))
    del raw[-50:]
    with pytest.raises(ValueError):
        key_values(memoryview(bytes(raw)), 0, 1, [])


def test_key_values_refuses_a_key_longer_than_its_record() -> None:
    raw = bytearray(build_batch([(b"ab", None), (b"cd", None)], 0))
    # the first record's key length (zig-zag 2 -> 4) made 11: the key runs into the second
    # record, up to its null value marker, which would read as the first record's tombstone
    at = raw.index(b"\x04ab\x01", 61)
    raw[at] = 2 * 11
    with pytest.raises(ValueError):
        key_values(memoryview(bytes(raw)), 0, 2, [])


def test_committed_records_leave_out_markers() -> None:
    """(Aborted transactions: tests/integration/test_bridge_views.py, with a real transactional producer.)"""
    config = Config()
    with tempfile.TemporaryDirectory() as d:
        logs = LogManager(d, config)
        logs.load()
        logs.create_topic("t", 1, {})
        plog = logs.partition("t", 0)
        assert plog is not None
        plog.append(build_batch([(b"plain", b"1")], 0), 0)
        for pid, commit in ((8, True),):
            txn = bytearray(build_batch([(b"txn%d" % pid, b"v")], 0, producer_id=pid, producer_epoch=0,
                                        attributes=TRANSACTIONAL_BIT))
            txn[53:57] = (0).to_bytes(4, "big")   # base sequence 0, as a transactional producer sends
            txn[17:21] = crc32c(bytes(txn[21:])).to_bytes(4, "big")
            plog.append(bytes(txn), 0)
            plog.append_marker(pid, 0, commit, 0, 0)
        plog.append(build_batch([(b"after", b"2")], 0), 0)
        got = [(k, v) for _o, _t, k, v, _h in committed_records(plog, 0, plog.last_stable_offset)]
        assert got == [(b"plain", b"1"), (b"txn8", b"v"), (b"after", b"2")]
        assert [k for _o, _t, k, _v, _h in committed_records(plog, 1, plog.last_stable_offset)] == [b"txn8", b"after"]
        assert [k for _o, _t, k, _v, _h in committed_records(plog, 2, plog.last_stable_offset)] == [b"after"]
        logs.close()
