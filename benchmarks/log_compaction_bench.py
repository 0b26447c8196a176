"""Log compaction throughput: MB/s of log the cleaner compacts (100 MB of keyed data by default).

    python benchmarks/log_compaction_bench.py [--mb 100] [--keys 100000] [--codec none|gzip|lz4|zstd|snappy]

Writes batches of 100 keyed records (values 100-200 bytes) to one compacted partition with
64 MiB segments, then times LogManager.run_cleaner until the pass is done (map building and
rewrite of every inactive segment, fsyncs included). Throughput = log bytes before cleaning /
wall time.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import struct
import sys
import tempfile
import time

import cramjam
from crc32c import crc32c

from keystream.config import Config
from keystream.log.batch import encode_varint
from keystream.log.manager import LogManager

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def batch(pairs: list[tuple[bytes, bytes]], codec: str, ts: int) -> bytes:
    recs = []
    for i, (k, v) in enumerate(pairs):
        body = b"\x00" + encode_varint(0) + encode_varint(i) + encode_varint(len(k)) + k + encode_varint(len(v)) + v + encode_varint(0)
        recs.append(encode_varint(len(body)) + body)
    data = b"".join(recs)
    if codec == "gzip":
        data = bytes(cramjam.gzip.compress(data))
    elif codec == "snappy":
        data = bytes(cramjam.snappy.compress_raw(data))
    elif codec == "lz4":
        data = bytes(cramjam.lz4.compress(data))
    elif codec == "zstd":
        data = bytes(cramjam.zstd.compress(data))
    n = len(pairs)
    after_crc = struct.pack(">hiqqqhii", CODECS[codec], n - 1, ts, ts, -1, -1, -1, n) + data
    body = struct.pack(">ibI", 0, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(body)) + body


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--codec", default="none", choices=sorted(CODECS))
    args = ap.parse_args()
    data_dir = tempfile.mkdtemp(prefix="h11-bench-")
    m = LogManager(data_dir, Config())
    m.load()
    try:
        m.create_topic("bench", 1, {"cleanup.policy": "compact", "segment.bytes": str(64 * 1024 * 1024),
                                    "min.cleanable.dirty.ratio": "0.01"})
        p = m.partition("bench", 0)
        rnd = random.Random(1)
        now = int(time.time() * 1000)
        records = 0
        while p.size_bytes() < args.mb * 1024 * 1024:
            pairs = [(b"key-%08d" % rnd.randrange(args.keys), os.urandom(rnd.randint(50, 100)).hex().encode())
                     for _ in range(100)]
            p.append(batch(pairs, args.codec, now), now)
            records += 100
        p._roll(now)        # everything written becomes cleanable
        before = p.size_bytes()
        start = time.perf_counter()
        slices = 0
        while m.run_cleaner(now, 0.02):
            slices += 1
            if m.cleaner.pending is not None:
                m.cleaner.pending.result()
        elapsed = time.perf_counter() - start
        after = p.size_bytes()
        mb = before / 1024 / 1024
        print(f"codec={args.codec} records={records} keys<={args.keys} log={mb:.1f} MB -> {after / 1024 / 1024:.1f} MB "
              f"in {elapsed:.2f} s ({slices} slices of 20 ms): {mb / elapsed:.1f} MB/s "
              f"(cleaner read {m.cleaner.bytes_read / 1024 / 1024:.0f} MB, wrote "
              f"{m.cleaner.bytes_written / 1024 / 1024:.0f} MB)")
    finally:
        m.close()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
