"""Record batch validation: sizes, magic, CRC-32C, counts; LogAppendTime patching; fuzzing."""

from __future__ import annotations

import struct

import pytest
from crc32c import crc32c
from hypothesis import given, settings
from hypothesis import strategies as st

from keystream.log.batch import patch_log_append_time, read_records, validate_batches
from keystream.log.errors import CorruptRecordError, InvalidRecordError, LogError, RecordTooLargeError
from tests.unit.log.records import make_batch


def test_valid_batches_are_described():
    data = make_batch([b"a", b"b", b"c"]) + make_batch([b"d"], base_ts=5)
    infos = validate_batches(memoryview(data), 10**6)
    assert [(i.start, i.record_count) for i in infos] == [(0, 3), (infos[0].size, 1)]
    assert infos[0].size + infos[1].size == len(data)
    assert infos[1].max_timestamp == 5


def test_base_offset_is_not_covered_by_crc():
    data = bytearray(make_batch([b"x"]))
    data[0:8] = struct.pack(">q", 12345)
    assert [(b.start, b.size, b.record_count) for b in validate_batches(memoryview(data), 10**6)] == [
        (0, len(data), 1)]


@pytest.mark.parametrize("pos", [17, 21, 30, 61, -1])
def test_flipped_byte_fails_crc(pos):
    data = bytearray(make_batch([b"hello", b"world"]))
    data[pos] ^= 0xFF
    with pytest.raises(CorruptRecordError):
        validate_batches(memoryview(data), 10**6)


def test_legacy_magic_refused():
    data = bytearray(make_batch([b"x"]))
    data[16] = 1
    with pytest.raises(CorruptRecordError, match="magic"):
        validate_batches(memoryview(data), 10**6)


def test_truncated_batch_refused():
    data = make_batch([b"x" * 100])
    for cut in (5, 40, 61, len(data) - 1):
        with pytest.raises(CorruptRecordError):
            validate_batches(memoryview(data[:cut]), 10**6)
    with pytest.raises(CorruptRecordError):
        validate_batches(memoryview(b""), 10**6)


def test_too_large():
    data = make_batch([b"x" * 1000])
    with pytest.raises(RecordTooLargeError):
        validate_batches(memoryview(data), len(data) - 1)
    validate_batches(memoryview(data), len(data))


def _with_header(data: bytes, fmt: str, pos: int, value: int) -> bytes:
    b = bytearray(data)
    struct.pack_into(fmt, b, pos, value)
    struct.pack_into(">I", b, 17, crc32c(bytes(b[21:])))
    return bytes(b)


def test_count_must_match_offset_delta():
    data = make_batch([b"a", b"b"])
    with pytest.raises(InvalidRecordError):
        validate_batches(memoryview(_with_header(data, ">i", 57, 3)), 10**6)
    with pytest.raises(InvalidRecordError):
        validate_batches(memoryview(_with_header(data, ">i", 57, 0)), 10**6)


def test_control_batch_refused():
    data = _with_header(make_batch([b"a"]), ">h", 21, 0x20)
    with pytest.raises(InvalidRecordError):
        validate_batches(memoryview(data), 10**6)


def test_log_append_time_patch_keeps_crc_valid():
    data = make_batch([b"a", b"b"])
    mv = memoryview(data)
    pieces = patch_log_append_time(mv, 42)
    patched = data[:8] + b"".join(bytes(p) for p in pieces)
    assert len(patched) == len(data)
    (info,) = validate_batches(memoryview(patched), 10**6)
    assert info.max_timestamp == 42
    assert struct.unpack_from(">h", patched, 21)[0] & 0x08
    assert list(read_records(memoryview(patched))) == [(0, 42), (1, 42)]


def test_read_records_plain_and_gzip():
    for gz in (False, True):
        data = make_batch([b"a", None, b"c"], timestamps=[10, 30, 20], gzip_codec=gz)
        assert list(read_records(memoryview(data))) == [(0, 10), (1, 30), (2, 20)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_never_crash(data):
    try:
        infos = validate_batches(memoryview(data), 10**6)
    except LogError:
        return
    assert sum(b.size for b in infos) == len(data)   # accepted: whole batches, nothing left over


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=255),
       st.integers(min_value=0, max_value=250))
def test_fuzz_mutated_batches_raise_corrupt(pos, byte, cut):
    data = bytearray(make_batch([b"key-value-1", b"v2", b"x" * 50]))
    pos %= len(data)
    if pos < 8 or 12 <= pos < 16 or data[pos] == byte:
        return          # base offset and leader epoch are not covered by the CRC
    data[pos] = byte
    data = data[:len(data) - cut % len(data)]
    with pytest.raises((CorruptRecordError, InvalidRecordError)):
        validate_batches(memoryview(bytes(data)), 10**6)


def test_read_records_of_undecodable_batches_is_none():
    good = make_batch([b"a", b"b"], gzip_codec=True)
    bad = bytearray(good[:61]) + b"not gzip at all"
    assert read_records(memoryview(bytes(bad))) is None
    plain = bytearray(make_batch([b"a", b"b"]))
    assert read_records(memoryview(bytes(plain[:65]))) is None        # records cut short


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=0, max_value=7))
def test_fuzz_read_records_never_crashes(body, codec):
    header = bytearray(make_batch([b"x"])[:61])
    struct.pack_into(">h", header, 21, codec)
    struct.pack_into(">i", header, 57, 3)
    got = read_records(memoryview(bytes(header) + body))
    assert got is None or len(got) == 3
