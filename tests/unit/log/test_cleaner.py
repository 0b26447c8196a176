"""Log compaction: latest value per key, offsets kept, tombstones, codecs, crash-safe swaps, a model."""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import tempfile
import time

import lz4.frame
import pytest
import snappy
import zstandard
from crc32c import crc32c
from hypothesis import given, settings
from hypothesis import strategies as st

from keystream.config import Config
from keystream.log.cleaner import DELETE_HORIZON_BIT, clean_batch
from keystream.log.manager import LogManager
from tests.unit.log.conftest import reopen
from tests.unit.log.records import encode_record
from tests.unit.log.test_recovery import crash

NOW = 1_700_000_000_000
COMPACT = {"cleanup.policy": "compact", "segment.bytes": "600", "min.cleanable.dirty.ratio": "0.01",
           "index.interval.bytes": "100"}
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "xerial": 2, "lz4": 3, "zstd": 4}


def _xerial(data: bytes) -> bytes:
    out = [b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)]
    for i in range(0, len(data), 100):
        block = snappy.compress(data[i:i + 100])
        out.append(struct.pack(">i", len(block)) + block)
    return b"".join(out)


_COMPRESS = {"gzip": gzip.compress, "snappy": snappy.compress, "xerial": _xerial,
             "lz4": lambda d: lz4.frame.compress(d, block_linked=False),
             "zstd": lambda d: zstandard.ZstdCompressor().compress(d)}


def keyed_batch(pairs: list[tuple[bytes | None, bytes | None]], codec: str = "none", ts: int = NOW) -> bytes:
    """One v2 batch of (key, value) records, timestamps ts, ts+1, ..."""
    n = len(pairs)
    recs = b"".join(encode_record(i, i, k, v) for i, (k, v) in enumerate(pairs))
    if codec != "none":
        recs = _COMPRESS[codec](recs)
    after_crc = struct.pack(">hiqqqhii", CODECS[codec], n - 1, ts, ts + n - 1, -1, -1, -1, n) + recs
    body = struct.pack(">ibI", 0, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(body)) + body


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    raw = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        raw |= (b & 0x7F) << shift
        if b < 0x80:
            return (raw >> 1) ^ -(raw & 1), pos
        shift += 7


def _inflate(codec: int, body: bytes) -> bytes:
    if codec == 1:
        return gzip.decompress(body)
    if codec == 2:
        if body[:8] == b"\x82SNAPPY\x00":
            out, pos = [], 16
            while pos < len(body):
                n = struct.unpack_from(">i", body, pos)[0]
                out.append(snappy.decompress(body[pos + 4:pos + 4 + n]))
                pos += 4 + n
            return b"".join(out)
        return snappy.decompress(body)
    if codec == 3:
        return lz4.frame.decompress(body)
    if codec == 4:
        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    return body


def decode_batches(data: bytes) -> list[dict]:
    """Every batch in data: header fields and (offset, timestamp, key, value) records (third-party codecs)."""
    out = []
    pos = 0
    while pos < len(data):
        (base, length, _epoch, _magic, crc, attrs, last_delta, first_ts, max_ts, _pid, _pe, _seq,
         count) = struct.unpack_from(">qiibIhiqqqhii", data, pos)
        end = pos + 12 + length
        assert crc32c(data[pos + 21:end]) == crc
        recs_data = _inflate(attrs & 7, data[pos + 61:end])
        records = []
        p = 0
        for _ in range(count):
            size, p = _varint(recs_data, p)
            stop = p + size
            ts_delta, q = _varint(recs_data, p + 1)
            od, q = _varint(recs_data, q)
            klen, q = _varint(recs_data, q)
            key = None if klen < 0 else recs_data[q:q + klen]
            q += max(klen, 0)
            vlen, q = _varint(recs_data, q)
            value = None if vlen < 0 else recs_data[q:q + vlen]
            records.append((base + od, first_ts + ts_delta, key, value))
            p = stop
        out.append({"base": base, "last": base + last_delta, "attrs": attrs, "first_ts": first_ts,
                    "max_ts": max_ts, "records": records, "body_head": data[pos + 61:pos + 69]})
        pos = end
    return out


def consume(p) -> list[tuple[int, int, bytes | None, bytes | None]]:
    """Every record from the log start to the end, fetching batch after batch as a consumer does."""
    out = []
    offset = p.log_start_offset
    while offset < p.log_end_offset:
        chunks = p.read(offset, 300)
        assert chunks, offset
        batches = decode_batches(bytes(chunks[0]))
        assert batches[0]["last"] >= offset
        for b in batches:
            out.extend(r for r in b["records"] if r[0] >= offset)
        offset = batches[-1]["last"] + 1
    offsets = [r[0] for r in out]
    assert offsets == sorted(set(offsets))
    return out


def clean_all(m: LogManager, now: int = NOW) -> None:
    for _ in range(10_000):
        if not m.run_cleaner(now, 1.0):
            return
        if m.cleaner.pending is not None:
            m.cleaner.pending.result(timeout=10)
    raise AssertionError("the cleaner never finished")


def latest(records) -> dict[bytes, bytes | None]:
    out = {}
    for _o, _t, k, v in records:
        out[k] = v
    return out


def fill(m: LogManager, rounds: int, keys: int = 5, configs: dict | None = None, codec: str = "none"):
    """Append rounds x keys records (one batch of 2 per append); returns offset -> (key, value)."""
    m.create_topic("t", 1, configs or COMPACT)
    p = m.partition("t", 0)
    written = {}
    for r in range(rounds):
        for k in range(0, keys, 2):
            pairs = [(b"k%d" % j, b"v%d-%d" % (j, r)) for j in range(k, min(k + 2, keys))]
            res = p.append(keyed_batch(pairs, codec, NOW + r), NOW)
            for i, kv in enumerate(pairs):
                written[res.base_offset + i] = kv
    return p, written


def test_keeps_latest_value_per_key_and_offsets(manager):
    p, written = fill(manager, 30)
    before = consume(p)
    assert len(p.segments) > 5
    clean_all(manager)
    after = consume(p)
    assert len(after) < len(before) / 3
    assert latest(after) == latest(before)
    for off, _ts, k, v in after:             # records keep their offsets and contents
        assert written[off] == (k, v)
    dirty = p.first_dirty_offset
    assert dirty == p.segments[-1].base_offset
    cleaned = [r for r in after if r[0] < dirty]
    assert len({k for _, _, k, _ in cleaned}) == len(cleaned)      # one record per key below the checkpoint
    assert (p.log_start_offset, p.log_end_offset) == (0, 150)
    # a fetch inside a gap returns the next batch
    first_gap = next(o for o in range(150) if o not in {r[0] for r in after})
    got = decode_batches(bytes(p.read(first_gap, 1)[0]))
    assert got[0]["last"] >= first_gap


def test_cleaned_log_survives_restart_and_checkpoint(manager):
    p, _ = fill(manager, 20)
    clean_all(manager)
    expect = consume(p)
    dirty = p.first_dirty_offset
    m2 = reopen(manager)
    p2 = m2.partition("t", 0)
    assert consume(p2) == expect
    assert p2.first_dirty_offset == dirty
    assert not m2.run_cleaner(NOW, 1.0)             # nothing dirty: no pass
    m2.close()


def test_batch_header_kept_but_records_dropped():
    batch = keyed_batch([(b"a", b"1"), (b"b", b"2"), (b"a", b"3")])
    batch = struct.pack(">q", 100) + batch[8:]
    out, horizon = clean_batch(batch, {b"a": 102, b"b": 101}, NOW, 1000)
    assert horizon == -1
    (got,) = decode_batches(out)
    assert (got["base"], got["last"]) == (100, 102)
    assert [(o, k, v) for o, _, k, v in got["records"]] == [(101, b"b", b"2"), (102, b"a", b"3")]
    assert clean_batch(batch, {b"a": 200, b"b": 200}, NOW, 1000) == (None, -1)
    same, _ = clean_batch(batch, {b"a": 2, b"b": 1}, NOW, 1000)
    assert same is batch


def test_keyless_records_are_dropped_and_control_batches_kept():
    batch = keyed_batch([(None, b"x"), (b"a", b"1")])
    (got,) = decode_batches(clean_batch(batch, {}, NOW, 0)[0])
    assert [r[2] for r in got["records"]] == [b"a"]
    control = bytearray(batch)
    control[22] |= 0x30                      # transactional + control
    control[17:21] = struct.pack(">I", crc32c(bytes(control[21:])))
    assert clean_batch(bytes(control), {b"a": 100}, NOW, 0)[0] == bytes(control)


@pytest.mark.parametrize("codec", ["gzip", "snappy", "xerial", "lz4", "zstd"])
def test_compressed_batches(manager, codec):
    p, written = fill(manager, 12, codec=codec)
    before = consume(p)
    clean_all(manager)
    after = consume(p)
    assert len(after) < len(before) / 2
    assert latest(after) == latest(before)
    for off, _ts, k, v in after:
        assert written[off] == (k, v)
    raw = b"".join(bytes(s.read_batch(0, s.size)) for s in p.segments if s.size)
    batches = decode_batches(raw)
    assert all(b["attrs"] & 7 == CODECS[codec] for b in batches)
    assert all((b["body_head"] == b"\x82SNAPPY\x00") == (codec == "xerial") for b in batches)


def test_tombstones_kept_for_delete_retention_then_removed(manager):
    cfg = dict(COMPACT, **{"delete.retention.ms": "1000"})
    manager.create_topic("t", 1, cfg)
    p = manager.partition("t", 0)
    p.append(keyed_batch([(b"gone", b"old"), (b"stay", b"1")]), NOW)
    p.append(keyed_batch([(b"gone", None)], ts=NOW + 5), NOW)
    for i in range(20):
        p.append(keyed_batch([(b"f%d" % (i % 3), b"x" * 40)]), NOW)
    clean_all(manager, NOW + 10)
    recs = consume(p)
    assert [(k, v) for _, _, k, v in recs if k in (b"gone", b"stay")] == [(b"stay", b"1"), (b"gone", None)]
    assert [t for o, t, k, _ in recs if k == b"gone"] == [NOW + 5]      # timestamps survive the horizon
    stamped = [b for b in decode_batches(bytes(p.read(2, 1)[0])) if b["base"] == 2]
    assert stamped[0]["attrs"] & DELETE_HORIZON_BIT and stamped[0]["first_ts"] == NOW + 10 + 1000
    assert p.delete_horizon_ms == NOW + 1010
    clean_all(manager, NOW + 500)
    assert (b"gone", None) in [(k, v) for _, _, k, v in consume(p)]
    clean_all(manager, NOW + 1010)
    recs = consume(p)
    assert b"gone" not in latest(recs) and latest(recs)[b"stay"] == b"1"
    assert p.delete_horizon_ms == -1


def test_min_compaction_lag_and_dirty_ratio(manager):
    p, _ = fill(manager, 20, configs=dict(COMPACT, **{"min.compaction.lag.ms": "100000"}))
    assert not manager.run_cleaner(NOW + 50, 1.0)            # every segment is too young
    clean_all(manager, NOW + 200_000)
    assert p.first_dirty_offset == p.segments[-1].base_offset
    manager.alter_topic_config("t", {"min.cleanable.dirty.ratio": "0.9"}, [])
    for r in range(3):
        p.append(keyed_batch([(b"k0", b"new%d" % r), (b"k1", b"new")]), NOW)
    assert not manager.run_cleaner(NOW + 200_000, 1.0)       # a little dirt under a big clean section
    manager.alter_topic_config("t", {"max.compaction.lag.ms": "1000"}, [])
    for r in range(30):
        p.append(keyed_batch([(b"k0", b"x" * 30)]), NOW)
    assert manager.run_cleaner(NOW + 200_000, 0.0)           # overdue: cleaned despite the ratio


def test_delete_policy_topic_is_not_cleaned(manager):
    p, _ = fill(manager, 10, configs={"segment.bytes": "600"})
    before = consume(p)
    clean_all(manager)
    assert consume(p) == before


def test_compact_and_delete_policies_both_apply(manager):
    cfg = dict(COMPACT, **{"cleanup.policy": "compact,delete", "retention.ms": "1000"})
    p, _ = fill(manager, 20, configs=cfg)
    clean_all(manager)
    # emptied segments are as old as their files' mtime (that of the segments they replace)
    manager.run_retention(int(time.time() * 1000) + 10_000)
    assert len(p.segments) == 1 and p.log_start_offset == p.segments[0].base_offset


def test_slices_interleave_with_appends_and_retention(manager):
    p, _ = fill(manager, 30)
    steps = 0
    while manager.run_cleaner(NOW, 0.0):
        steps += 1
        if steps == 40:
            p.append(keyed_batch([(b"k1", b"during")]), NOW)
        if steps == 60:
            p.delete_records_before(p.segments[1].base_offset)
            manager.run_retention(NOW)
    assert steps > 60
    recs = consume(p)
    assert latest(recs)[b"k1"] == b"during"
    clean_all(manager)
    assert latest(consume(p)) == latest(recs)


class _Crash(Exception):
    pass


@pytest.mark.parametrize("point", range(14))
def test_crash_during_swap_recovers(data_dir, monkeypatch, point):
    m = LogManager(data_dir, Config())
    m.load()
    p, _ = fill(m, 30, configs=dict(COMPACT, **{"segment.bytes": "1000"}))
    expect = latest(consume(p))
    leo = p.log_end_offset
    calls = [0]
    real_rename, real_unlink = os.rename, os.unlink

    def faulty(real):
        def call(*args, **kwargs):
            calls[0] += 1
            if calls[0] > point:
                raise _Crash
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(os, "rename", faulty(real_rename))
    monkeypatch.setattr(os, "unlink", faulty(real_unlink))
    clean_all(m)
    monkeypatch.undo()
    crash(m)
    m = LogManager(data_dir, Config())
    m.load()
    p = m.partition("t", 0)
    names = os.listdir(p.dir)
    assert not [n for n in names if n.endswith((".cleaned", ".swap", ".swaprange"))]
    recs = consume(p)
    assert latest(recs) == expect and p.log_end_offset == leo
    clean_all(m)
    assert latest(consume(p)) == expect
    m.close()


model_ops = st.lists(st.one_of(
    st.tuples(st.just("append"), st.lists(st.tuples(st.integers(0, 7), st.booleans()), min_size=1, max_size=4),
              st.sampled_from(["none", "none", "gzip", "lz4", "zstd", "snappy"])),
    st.tuples(st.just("clean"), st.integers(0, 3000)),
    st.tuples(st.just("restart"), st.booleans()),
), max_size=40)


@settings(max_examples=60, deadline=None)
@given(model_ops, st.sampled_from(["0.0", "0.5"]), st.sampled_from(["0", "1000"]))
def test_compaction_matches_dict_model(operations, ratio, delete_retention):
    data_dir = tempfile.mkdtemp(prefix="h11-model-")
    m = LogManager(data_dir, Config())
    m.load()
    try:
        m.create_topic("t", 1, {"cleanup.policy": "compact", "segment.bytes": "400",
                                "min.cleanable.dirty.ratio": ratio, "delete.retention.ms": delete_retention,
                                "index.interval.bytes": "64"})
        model: dict[bytes, bytes] = {}
        written: dict[int, tuple[bytes, bytes | None]] = {}
        now = NOW
        for op in operations:
            p = m.partition("t", 0)
            if op[0] == "append":
                pairs = []
                for k, tomb in op[1]:
                    key = b"key%d" % k
                    value = None if tomb else b"v%d" % len(written) + b"." * 20
                    pairs.append((key, value))
                r = p.append(keyed_batch(pairs, op[2], now), now)
                for i, kv in enumerate(pairs):
                    written[r.base_offset + i] = kv
                    if kv[1] is None:
                        model.pop(kv[0], None)
                    else:
                        model[kv[0]] = kv[1]
            elif op[0] == "clean":
                now += op[1]
                clean_all(m, now)
            elif op[1]:
                m = reopen(m)
            else:
                crash(m)
                m = LogManager(data_dir, Config())
                m.load()
            p = m.partition("t", 0)
            recs = consume(p)
            for off, _ts, k, v in recs:
                assert written[off] == (k, v)
            assert {k: v for k, v in latest(recs).items() if v is not None} == model
            assert p.log_end_offset == len(written)
    finally:
        m.close()
        shutil.rmtree(data_dir, ignore_errors=True)
