"""`read_slices` (file ranges for sendfile) against `read` (copied bytes): the same batches for
any offset, size limit and read_committed bound, across segments, with and without index
entries; and a slice stays readable after its segment is deleted."""

from __future__ import annotations

import random

from keystream.log.manager import LogManager
from tests.unit.log.records import make_batch


def _slice_bytes(slices: list) -> bytes:  # type: ignore[type-arg]
    out = b"".join(s.read() for s in slices)
    for s in slices:
        s.close()
    return out


def test_slices_are_the_bytes_read_returns(manager: LogManager) -> None:
    rng = random.Random(7)
    manager.create_topic("t", 1, {"segment.bytes": "60000", "index.interval.bytes": "3000"})
    p = manager.partition("t", 0)
    assert p is not None
    ts = 1_700_000_000_000
    for i in range(300):
        values = [bytes(rng.randrange(1, 800)) for _ in range(rng.randrange(1, 6))]
        p.append(make_batch(values, base_ts=ts + i), ts + i)
    assert len(p.segments) > 3
    end = p.log_end_offset
    for _ in range(600):
        offset = rng.randrange(0, end + 1)
        max_bytes = rng.choice([1, 100, 1000, 5000, 20000, 100000])
        upper = rng.choice([None, rng.randrange(0, end + 1), end])
        want = b"".join(bytes(c) for c in p.read(offset, max_bytes, upper))
        assert _slice_bytes(p.read_slices(offset, max_bytes, upper)) == want, (offset, max_bytes, upper)


def test_a_slice_outlives_its_segment(manager: LogManager) -> None:
    manager.create_topic("d", 1, {"segment.bytes": "2000"})
    p = manager.partition("d", 0)
    assert p is not None
    for i in range(20):
        p.append(make_batch([b"x" * 300], base_ts=1_700_000_000_000 + i), 1_700_000_000_000 + i)
    want = b"".join(bytes(c) for c in p.read(0, 10_000))
    slices = p.read_slices(0, 10_000)
    manager.delete_topic("d")
    assert _slice_bytes(slices) == want
