"""bridge/recordio.py (stream entries): the batch XADD builds is one the log accepts, and decodes back to
the entry it came from, with every codec; the ID <-> offset mapping of bridge/topic_stream.py."""

from __future__ import annotations

import pytest

from keystream.bridge.recordio import CODECS, decode_entries, encode_entry_batch
from keystream.bridge.topic_stream import first_offset_at, last_offset_at
from keystream.log.batch import validate_batches
from keystream.log.errors import CorruptRecordError


def _sid(ms: int, seq: int) -> int:
    return (ms << 64) | seq


@pytest.mark.parametrize("codec", sorted(set(CODECS.values())))
def test_round_trip(codec: int) -> None:
    batch = encode_entry_batch(b"k", b"v" * 300, [(b"h", b"1"), (b"h", b"")], 1234, codec)
    assert validate_batches(memoryview(batch), 10**6)[0].record_count == 1
    d = decode_entries(batch, 0)
    assert (d.base_offset, d.last_offset, d.size, d.control, d.transactional) == (0, 0, len(batch), False, False)
    assert d.entries == [(0, b"*2\r\n$3\r\n0-1\r\n*10\r\n$9\r\ntimestamp\r\n$4\r\n1234\r\n$3\r\nkey\r\n$1\r\nk\r\n"
                             b"$5\r\nvalue\r\n$300\r\n" + b"v" * 300 + b"\r\n$8\r\nheader:h\r\n$1\r\n1\r\n"
                             b"$8\r\nheader:h\r\n$0\r\n\r\n")]


def test_null_key_and_value_are_absent_fields() -> None:
    d = decode_entries(encode_entry_batch(None, None, [], 7, 0), 0)
    assert d.entries == [(0, b"*2\r\n$3\r\n0-1\r\n*2\r\n$9\r\ntimestamp\r\n$1\r\n7\r\n")]


def test_garbage_records_are_a_corrupt_record_error() -> None:
    batch = bytearray(encode_entry_batch(b"k", b"v", [], 1, 0))
    batch[-3] = 0x7E      # a value length (63) running past the record
    with pytest.raises(CorruptRecordError):
        decode_entries(bytes(batch), 0)


def test_id_offset_mapping() -> None:
    # the entry of offset o is <o>-1: <o>-0 and <o>-1 start at o, <o>-2 after it
    assert [first_offset_at(_sid(5, s)) for s in (0, 1, 2, 2**64 - 1)] == [5, 5, 6, 6]
    assert [last_offset_at(_sid(5, s)) for s in (0, 1, 2, 2**64 - 1)] == [4, 5, 5, 5]
    assert last_offset_at(0) == -1
