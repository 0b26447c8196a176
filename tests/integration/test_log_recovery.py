"""Crash recovery of the partition log: a writer process is killed with SIGKILL mid-appends.

The child appends 3-record batches with flush.messages=1 and prints each batch's offsets only
after its fsync ran; the parent kills it at a random moment, tears the tail of the active
segment as a half-finished write would, reloads the log, and checks that every acknowledged
record is there exactly once, in order, and that the log keeps working.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from keystream.config import Config
from keystream.log.manager import LogManager
from tests.unit.log.records import make_batch
from tests.unit.log.test_partition import records_of

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import sys, time
from keystream.config import Config
from keystream.log.manager import LogManager
from tests.unit.log.records import make_batch

m = LogManager(sys.argv[1], Config())
m.load()
if "t" not in m.topics:
    m.create_topic("t", 1, {"segment.bytes": "5000", "flush.messages": "1", "index.interval.bytes": "500"})
p = m.partition("t", 0)
i = p.log_end_offset
while True:
    now = time.time_ns() // 1_000_000
    r = p.append(make_batch([b"rec-%08d" % (i + j) + b"x" * (i % 300) for j in range(3)]), now)
    m.flush_due(now)
    print(r.base_offset, r.last_offset, flush=True)
    i = r.last_offset + 1
"""


def run_and_kill(data_dir: str, acks_before_kill: int) -> int:
    """Run the writer until it acknowledged enough batches, SIGKILL it; returns the last acked offset."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, data_dir], cwd=ROOT, stdout=subprocess.PIPE)
    last = -1
    try:
        assert proc.stdout is not None
        for n, line in enumerate(proc.stdout, 1):
            last = int(line.split()[1])
            if n >= acks_before_kill:
                os.kill(proc.pid, signal.SIGKILL)
                break
        for line in proc.stdout:      # acknowledged before the kill landed
            last = int(line.split()[1])
    finally:
        proc.kill()
        proc.wait(timeout=10)
    return last


def check_log(data_dir: str, last_acked: int) -> LogManager:
    m = LogManager(data_dir, Config())
    m.load()
    p = m.partition("t", 0)
    assert p.log_end_offset > last_acked
    offset = 0
    while offset < p.log_end_offset:
        for o, _ts, value in records_of(p.read(offset, 256 * 1024)):
            assert o == offset and value.startswith(b"rec-%08d" % o)
            offset += 1
    return m


def tear_tail(data_dir: str) -> int:
    part = Path(data_dir) / "kafka" / "t-0"
    active = max(part.glob("*.log"))
    torn = make_batch([b"never acknowledged"] * 3, base_offset=10**6)
    cut = random.randrange(1, len(torn))
    with open(active, "ab") as f:
        f.write(torn[:cut])
    return cut


def test_kill9_during_appends_then_recover(tmp_path):
    data_dir = str(tmp_path / "data")
    for round_ in range(2):
        last = run_and_kill(data_dir, random.randrange(30, 120))
        cut = tear_tail(data_dir)
        m = check_log(data_dir, last)
        try:
            assert m.truncated_bytes >= cut
            assert len(m.partition("t", 0).segments) > round_ + 1
        finally:
            m.close()


def test_recovered_log_appends_and_survives_clean_restart(tmp_path):
    data_dir = str(tmp_path / "data")
    last = run_and_kill(data_dir, 40)
    tear_tail(data_dir)
    m = check_log(data_dir, last)
    p = m.partition("t", 0)
    end = p.log_end_offset
    r = p.append(make_batch([b"rec-%08d" % end, b"rec-%08d" % (end + 1)]), 0)
    assert r.base_offset == end
    m.close()
    m = check_log(data_dir, end + 1)
    assert m.truncated_bytes == 0
    m.close()
