"""The broker's own CPU per GB fetched, with a raw-protocol reader that costs next to nothing.

Consumers like librdkafka spend several times the broker's CPU per GB, so on a shared machine
their work blurs the broker's figure. This reader sends Fetch v12 requests one at a time and
reads each response into one preallocated buffer (recv_into, no decoding beyond the batch
headers it needs for the next offset), so what it measures is the broker: utime + stime from
/proc/<pid>/stat over the reads, per GB, and MB/s.

It starts `keystream serve` (kafka_benchmark.py's Broker; the checkout on PYTHONPATH), writes
--mb MB of 1 KB messages into one partition with confluent-kafka (1 MB batches), then reads
them --repeat times from offset 0 with `partition_max_bytes` 1 MB (librdkafka's default) and
16 MB, alternating.

Usage: python benchmarks/kafka_fetch_cpu.py [--mb 512] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kafka_benchmark import Broker, cpu_seconds, produce_run

from keystream.kafka.codec.header import read_uvarint
from keystream.kafka.codec.primitives import uvarint

_FETCH_V12 = 1, 12


def fetch_request(topic: str, offset: int, partition_max: int, corr: int) -> bytes:
    """A Fetch v12 request (flexible): one topic, partition 0, no waiting."""
    name = topic.encode()
    body = (struct.pack(">iiiibii", -1, 0, 0, 64 << 20, 0, 0, -1)      # replica, wait, min, max, iso, session
            + uvarint(2) + uvarint(len(name) + 1) + name            # one topic
            + uvarint(2) + struct.pack(">iiqiqi", 0, -1, offset, -1, -1, partition_max) + b"\x00"
            + b"\x00"                                                 # topic tags
            + uvarint(1) + uvarint(1) + b"\x00")                    # no forgotten topics, rack "", tags
    header = struct.pack(">hhih", *_FETCH_V12, corr, 5) + b"bench" + b"\x00"
    return struct.pack(">i", len(header) + len(body)) + header + body


def _records_span(data: memoryview, topic_len: int) -> tuple[int, int]:
    """(start, length) of the records of the one partition in a Fetch v12 response."""
    pos = 4 + 1 + 4 + 2 + 4 + 1 + 1 + topic_len + 1 + 4 + 2 + 8 + 8 + 8
    pos += 1 + 4                              # aborted transactions (null), preferred read replica
    n, pos = read_uvarint(data, pos)
    return pos, n - 1


def read_all(port: int, pid: int, topic: str, end: int, partition_max: int) -> tuple[float, float, int]:
    """Read offsets [0, end): (seconds, broker CPU seconds, bytes of records)."""
    buf = bytearray(80 << 20)
    mv = memoryview(buf)
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        offset = got = corr = 0
        cpu0 = cpu_seconds(pid)
        t0 = time.perf_counter()
        while offset < end:
            corr += 1
            s.sendall(fetch_request(topic, offset, partition_max, corr))
            (size,) = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))
            have = 0
            while have < size:
                have += s.recv_into(mv[have:size])
            start, length = _records_span(mv, len(topic))
            pos, stop = start, start + length
            while pos + 61 <= stop:
                base, blen = struct.unpack_from(">qi", mv, pos)
                (delta,) = struct.unpack_from(">i", mv, pos + 23)
                offset = base + delta + 1
                pos += 12 + blen
            got += length
        return time.perf_counter() - t0, cpu_seconds(pid) - cpu0, got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    broker = Broker([])
    try:
        topic = "fetchcpu"
        produce_run(broker.bootstrap, broker.pid, topic, 1, "1MB", "1", args.mb)
        end = args.mb * 1_000_000 // 1024
        for r in range(args.repeat):
            for pmax in (1 << 20, 16 << 20):
                secs, cpu, got = read_all(broker.kafka_port, broker.pid, topic, end, pmax)
                gb = got / 2**30
                print(f"round {r + 1} partition_max_bytes {pmax >> 20:2d} MB: {got / 2**20 / secs:7.1f} MB/s, "
                      f"broker CPU {cpu / gb:.3f} s/GB", flush=True)
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
