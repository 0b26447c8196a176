"""In-process microbenchmark of PartitionLog.append (no network): MB/s for 1 MB and 16 KB batches.

Each batch holds 1 KB records, is built once, and is appended over and over (the broker only
patches its base offset, so the same bytes are valid every time). Also times read() of the
whole log in 1 MB fetches. Usage: python benchmarks/log_append_bench.py [--seconds 2] [--dir D]
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import tempfile
import time

from crc32c import crc32c

from keystream.config import Config
from keystream.log.batch import encode_varint
from keystream.log.manager import LogManager


def build_batch(total_bytes: int, record_size: int = 1024) -> bytes:
    """A v2 batch of ~total_bytes made of uncompressed records with record_size-byte values."""
    value = b"v" * record_size
    n = max(1, total_bytes // (record_size + 16))
    recs = []
    for i in range(n):
        body = b"\x00" + encode_varint(0) + encode_varint(i) + encode_varint(-1) + encode_varint(len(value)) + value + encode_varint(0)
        recs.append(encode_varint(len(body)) + body)
    records = b"".join(recs)
    after_crc = struct.pack(">hiqqqhii", 0, n - 1, 1_700_000_000_000, 1_700_000_000_000, -1, -1, -1, n) + records
    body = struct.pack(">ibI", 0, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(body)) + body


def run(data_dir: str, size: int, seconds: float) -> tuple[float, float]:
    m = LogManager(data_dir, Config())
    m.load()
    name = f"bench-{size}"
    m.create_topic(name, 1, {"segment.bytes": str(256 * 1024 * 1024), "max.message.bytes": str(2 * size + 4096)})
    p = m.partition(name, 0)
    batch = build_batch(size)
    now = int(time.time() * 1000)
    appended = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(16):
            p.append(batch, now)
        appended += 16 * len(batch)
    append_s = time.perf_counter() - t0
    read = 0
    t0 = time.perf_counter()
    offset = p.log_start_offset
    while offset < p.log_end_offset:
        chunks = p.read(offset, 1024 * 1024)
        for c in chunks:
            read += len(c)
            last = c[-len(batch):]
            offset = struct.unpack_from(">q", last, 0)[0] + struct.unpack_from(">i", last, 23)[0] + 1
    read_s = time.perf_counter() - t0
    m.delete_topic(name)
    m.close()
    return appended / append_s / 1e6, read / read_s / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--dir", default=None, help="data dir (default: a temporary one)")
    args = ap.parse_args()
    data_dir = args.dir or tempfile.mkdtemp(prefix="log-bench-")
    try:
        for size in (1024 * 1024, 16 * 1024):
            append_mbs, read_mbs = run(os.path.join(data_dir, str(size)), size, args.seconds)
            print(f"batch {size // 1024:5d} KB: append {append_mbs:8.0f} MB/s   read (1 MB fetches) {read_mbs:8.0f} MB/s")
    finally:
        if args.dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
