"""Hypothesis: random appends, reads, DeleteRecords, clean and unclean restarts against a model."""

from __future__ import annotations

import shutil
import tempfile

from hypothesis import example, given, settings
from hypothesis import strategies as st

from keystream.config import Config
from keystream.log.manager import LogManager
from tests.unit.log.records import make_batch
from tests.unit.log.test_partition import records_of
from tests.unit.log.test_recovery import crash

ops = st.lists(st.one_of(
    st.tuples(st.just("append"), st.lists(st.integers(0, 300), min_size=1, max_size=4), st.integers(1, 3)),
    st.tuples(st.just("read"), st.integers(0, 200), st.integers(1, 3000)),
    st.tuples(st.just("delete_records"), st.integers(0, 200)),
    st.tuples(st.just("restart"), st.booleans()),
    st.tuples(st.just("retention"), st.integers(0, 4000)),
), max_size=40)


def batch_count(chunk: bytes | memoryview) -> int:
    """Record batches in a chunk: each is 12 header bytes plus its batchLength field."""
    n, pos = 0, 0
    while pos + 12 <= len(chunk):
        pos += 12 + int.from_bytes(chunk[pos + 8:pos + 12], "big")
        n += 1
    return n


@settings(max_examples=60, deadline=None)
@example([("append", [43], 3), ("delete_records", 3), ("append", [0], 1), ("retention", 0)], "300", "0")
@given(ops, st.sampled_from(["300", "700", "5000"]), st.sampled_from(["0", "150", "4096"]))
def test_log_matches_model(operations, segment_bytes, interval):
    data_dir = tempfile.mkdtemp(prefix="h8-model-")
    m = LogManager(data_dir, Config())
    m.load()
    try:
        m.create_topic("t", 1, {"segment.bytes": segment_bytes, "index.interval.bytes": interval,
                                "retention.bytes": "2000"})
        model: list[bytes] = []     # value of each offset
        start = 0
        for op in operations:
            p = m.partition("t", 0)
            if op[0] == "append":
                batches = b""
                values = []
                for size in op[1]:
                    vals = [b"%06d" % (len(model) + len(values) + j) + b"v" * size for j in range(op[2])]
                    values.extend(vals)
                    batches += make_batch(vals)
                if len(batches) > int(segment_bytes):
                    continue
                r = p.append(batches, 0)
                assert (r.base_offset, r.record_count) == (len(model), len(values))
                model.extend(values)
            elif op[0] == "read":
                offset = start + op[1] % (len(model) - start + 1)
                chunks = p.read(offset, op[2])
                if offset == len(model):
                    assert chunks == []
                    continue
                got = records_of(chunks)
                assert got[0][0] <= offset <= got[-1][0]
                assert [v for _, _, v in got] == model[got[0][0]:got[-1][0] + 1]
                # Over max_bytes only when the first batch alone is bigger (the one-batch minimum).
                assert len(chunks[0]) <= op[2] or batch_count(chunks[0]) == 1
            elif op[0] == "delete_records":
                target = op[1] % (len(model) + 1)
                start = max(start, target)
                assert p.delete_records_before(target) == start
            elif op[0] == "retention":
                before = p.size_bytes()
                m.run_retention(op[1])     # timestamps are 2023: retention.ms (7 days) keeps all
                assert p.log_end_offset == len(model) and p.log_start_offset >= start
                # Size retention stops at retention.bytes; below it, only segments wholly
                # under the log start (moved by DeleteRecords) go, and the start stays put.
                assert (p.size_bytes() == before or p.size_bytes() >= 2000
                        or p.log_start_offset == start)
                start = p.log_start_offset
            else:
                if op[1]:
                    m.close()
                else:
                    m.flush_due(0)
                    crash(m)
                m = LogManager(data_dir, Config())
                m.load()
                p = m.partition("t", 0)
                assert (p.log_start_offset, p.log_end_offset) == (start, len(model))
        p = m.partition("t", 0)
        assert (p.log_start_offset, p.log_end_offset) == (start, len(model))
    finally:
        m.close()
        shutil.rmtree(data_dir, ignore_errors=True)
