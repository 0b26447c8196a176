"""Durability with real clients over TCP: retention, restart, crash recovery, flush-before-ack, auto-create.

Each test that restarts or kills the broker starts its own `keystream serve` (free ports, its own
data dir) and talks to it with confluent-kafka (librdkafka). Every wait is on a condition with a
deadline: the log start offset moving (ListOffsets earliest), a delivery report, a high watermark.

- Retention: small `segment.bytes`, `retention.ms` on the topic, a short
  `log.retention.check.interval.ms`; old-timestamped records go, new ones stay readable.
- Restart (SIGTERM): every message, key, header and offset is there afterwards.
- Crash: `kill -9` while an acks=all producer is producing with `log.flush.interval.messages=1`,
  then a torn batch appended to the active segment; after restart every acknowledged message is
  read back once, at its acknowledged offset, in order, and the log holds no gap or duplicate.
- Flush before ack: with fsync held back (a launcher that gates `os.fsync` in worker threads),
  a produce to a topic with `flush.messages=1` is not acknowledged until the fsync runs, while a
  topic without that policy is acknowledged at once.
- Auto-create on (the default) and off.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerHandle, require_module, start_keystream

ck = require_module("confluent_kafka")
admin_mod = require_module("confluent_kafka.admin")

_SEQ = struct.Struct(">q")
_LATEST_EARLIEST = -2


def _name() -> str:
    return "d-" + uuid.uuid4().hex[:10]


def _create(bootstrap: str, topic: str, partitions: int = 1, config: dict[str, str] | None = None) -> None:
    admin = admin_mod.AdminClient({"bootstrap.servers": bootstrap})
    new = admin_mod.NewTopic(topic, num_partitions=partitions, replication_factor=1, config=config or {})
    admin.create_topics([new])[topic].result(timeout=15)


def _producer(bootstrap: str, **extra: object) -> ck.Producer:
    conf = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2, "enable.idempotence": False,
            "socket.nagle.disable": True}
    conf.update(extra)
    return ck.Producer(conf)


def _consumer(bootstrap: str) -> ck.Consumer:
    return ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "durability-" + uuid.uuid4().hex[:8],
                        "enable.auto.commit": False, "auto.offset.reset": "earliest",
                        "enable.partition.eof": False})


def _watermarks(bootstrap: str, topic: str, partition: int = 0) -> tuple[int, int]:
    """(earliest, latest) by ListOffsets, asked of the broker (never cached)."""
    c = _consumer(bootstrap)
    try:
        return c.get_watermark_offsets(ck.TopicPartition(topic, partition), timeout=10, cached=False)
    finally:
        c.close()


def _read_all(bootstrap: str, topic: str, partition: int, start: int, end: int,
              timeout: float = 30.0) -> list[ck.Message]:
    """Every message of [start, end) of one partition, in the order the broker returns them."""
    c = _consumer(bootstrap)
    out: list[ck.Message] = []
    try:
        if end <= start:
            return out
        c.assign([ck.TopicPartition(topic, partition, start)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            assert m.error() is None, m.error()
            out.append(m)
            if m.offset() >= end - 1:
                break
    finally:
        c.close()
    return out


@pytest.fixture
def server_dirs() -> Iterator[list[ServerHandle]]:
    """Servers a test starts; stopped (SIGKILL if needed) and removed afterwards."""
    handles: list[ServerHandle] = []
    yield handles
    for h in handles:
        h.stop(signal.SIGKILL)
    for d in {h.data_dir for h in handles}:
        shutil.rmtree(d, ignore_errors=True)


def _wait_kafka(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _start(handles: list[ServerHandle], *args: str, data_dir: str | None = None) -> ServerHandle:
    h = start_keystream(*args, data_dir=data_dir, kafka=True)
    handles.append(h)
    _wait_kafka(h.kafka_port, h.proc)
    return h


def _bootstrap(h: ServerHandle) -> str:
    return f"127.0.0.1:{h.kafka_port}"


# -- retention ----------------------------------------------------------------------------------

def test_retention_deletes_old_segments(server_dirs: list[ServerHandle]) -> None:
    h = _start(server_dirs, "--log.retention.check.interval.ms", "100")
    bs = _bootstrap(h)
    topic = _name()
    _create(bs, topic, config={"segment.bytes": "2048", "retention.ms": "60000"})
    p = _producer(bs, **{"linger.ms": 0})
    old_ts = int(time.time() * 1000) - 3_600_000        # an hour ago: past retention.ms at once
    value = b"o" * 300
    for i in range(40):
        p.produce(topic, value=value, key=b"%d" % i, timestamp=old_ts + i)
        p.flush(10)                                       # one batch each: several segments
    new_values = [b"new-%d" % i for i in range(10)]
    for v in new_values:
        p.produce(topic, value=v, key=b"n")
        p.flush(10)
    assert p.flush(10) == 0
    pdir = Path(h.data_dir) / "kafka" / f"{topic}-0"

    # A segment holds 5 of these batches (about 370 bytes each), so once every segment of old
    # records is gone the log starts in (40 - 5, 40]; retention may already have begun while we
    # produced, so wait for that end state rather than for the first move.
    deadline = time.monotonic() + 20
    earliest, latest = _watermarks(bs, topic)
    while earliest <= 32 and time.monotonic() < deadline:
        time.sleep(0.05)
        earliest, latest = _watermarks(bs, topic)
    assert earliest > 32, f"retention moved the log start offset only to {earliest}"
    assert latest == 50
    assert earliest <= 40          # the segments holding new records stay
    # the deleted segments (about 7 records of 2048 bytes each) are gone from disk and the log
    # start is the base of the oldest one left
    bases = sorted(int(f.name.split(".")[0]) for f in pdir.glob("*.log"))
    assert bases[0] == earliest
    got = _read_all(bs, topic, 0, earliest, latest)
    assert [m.offset() for m in got] == list(range(earliest, latest))
    assert [m.value() for m in got][-10:] == new_values
    # a fetch below the log start is out of range: the consumer resets to earliest
    again = _read_all(bs, topic, 0, 0, latest)
    assert again and again[0].offset() == earliest


# -- restart ------------------------------------------------------------------------------------

def test_restart_keeps_everything(server_dirs: list[ServerHandle]) -> None:
    h = _start(server_dirs)
    bs = _bootstrap(h)
    topic = _name()
    _create(bs, topic, partitions=3, config={"segment.bytes": "65536"})
    p = _producer(bs, **{"batch.size": 16384})      # batches below segment.bytes
    errors: list[object] = []
    sent: dict[int, list[tuple[bytes, bytes, list]]] = {0: [], 1: [], 2: []}
    for i in range(1500):
        part = i % 3
        key, value = b"k%d" % i, os.urandom(50 + i % 200)
        headers = [("n", b"%d" % i)]
        p.produce(topic, value=value, key=key, partition=part, headers=headers,
                  on_delivery=lambda err, m: err is not None and errors.append(err))
        sent[part].append((key, value, headers))
        if i % 100 == 0:
            p.poll(0)
    assert p.flush(15) == 0 and not errors
    assert h.stop() == 0                           # SIGTERM: clean shutdown
    h2 = _start(server_dirs, data_dir=h.data_dir)
    bs2 = _bootstrap(h2)
    for part, expected in sent.items():
        assert _watermarks(bs2, topic, part) == (0, len(expected))
        got = _read_all(bs2, topic, part, 0, len(expected))
        assert [m.offset() for m in got] == list(range(len(expected)))
        assert [(m.key(), m.value(), m.headers()) for m in got] == expected


# -- crash recovery -----------------------------------------------------------------------------

def _tear_tail(partition_dir: Path) -> int:
    """Append half a record batch to the active segment, as a crash mid-write leaves it."""
    active = max(partition_dir.glob("*.log"), key=lambda f: int(f.name.split(".")[0]))
    torn = struct.pack(">qiib", 999_999, 5000, 0, 2) + os.urandom(200)
    with open(active, "ab") as f:
        f.write(torn)
    return len(torn)


def test_crash_recovery_keeps_every_acknowledged_message(server_dirs: list[ServerHandle]) -> None:
    h = _start(server_dirs, "--log.flush.interval.messages", "1")
    bs = _bootstrap(h)
    topic = _name()
    _create(bs, topic, config={"segment.bytes": "262144"})
    acked: dict[int, int] = {}                   # sequence number -> offset
    failed: list[int] = []

    def report(err: object, msg: ck.Message) -> None:
        seq = _SEQ.unpack_from(msg.value(), 0)[0]
        if err is None:
            acked[seq] = msg.offset()
        else:
            failed.append(seq)

    p = _producer(bs, **{"retries": 0, "message.timeout.ms": 4000, "batch.size": 65536, "max.in.flight.requests.per.connection": 5,
                         "socket.timeout.ms": 2000})
    pad = b"p" * 120
    seq = 0
    killed_at = None
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if seq - len(acked) - len(failed) > 2000:     # keep the queue short: no local timeouts
            p.poll(0.005)
            continue
        p.produce(topic, value=_SEQ.pack(seq) + pad, partition=0, on_delivery=report)
        seq += 1
        p.poll(0)
        if killed_at is None and len(acked) >= 3000:
            h.stop(signal.SIGKILL)                 # mid-stream: requests are in flight
            killed_at = len(acked)
        if killed_at is not None and seq % 50 == 0:
            break
    assert killed_at is not None, f"only {len(acked)} messages acknowledged in 40 s"
    p.flush(10)
    assert acked, "nothing was acknowledged"
    pdir = Path(h.data_dir) / "kafka" / f"{topic}-0"
    _tear_tail(pdir)

    h2 = _start(server_dirs, data_dir=h.data_dir)
    bs2 = _bootstrap(h2)
    earliest, latest = _watermarks(bs2, topic)
    assert earliest == 0
    assert latest >= max(acked.values()) + 1
    got = _read_all(bs2, topic, 0, 0, latest)
    seqs = [_SEQ.unpack_from(m.value(), 0)[0] for m in got]
    assert [m.offset() for m in got] == list(range(latest))
    # in production order with no duplicate (retries are off); every acknowledged message is
    # at the offset it was acknowledged with
    assert all(a < b for a, b in itertools.pairwise(seqs)), "duplicate or reordered"
    for s, off in acked.items():
        assert seqs[off] == s
    assert not failed or min(failed) > max(acked), "a message failed before the crash"
    # the torn batch is gone; new appends continue the log
    p2 = _producer(bs2)
    p2.produce(topic, value=b"after", partition=0)
    assert p2.flush(10) == 0
    assert _watermarks(bs2, topic) == (0, latest + 1)


# -- flush before ack ---------------------------------------------------------------------------

_GATED = """
import os, sys, threading, time
_real_fsync = os.fsync
_gate = sys.argv.pop(1)
def _gated_fsync(fd):
    if threading.current_thread() is not threading.main_thread():
        while not os.path.exists(_gate):
            time.sleep(0.002)
    _real_fsync(fd)
os.fsync = _gated_fsync
from keystream.cli import main
main()
"""


def test_ack_waits_for_fsync_when_flush_messages_is_1() -> None:
    data_dir = tempfile.mkdtemp(prefix="ks-test-")
    gate = os.path.join(data_dir, "fsync-gate")
    h = start_keystream(data_dir=data_dir, kafka=True, launcher=[sys.executable, "-c", _GATED, gate])
    try:
        bs = f"127.0.0.1:{h.kafka_port}"
        lazy, strict = _name(), _name()
        _create(bs, lazy)
        _create(bs, strict, config={"flush.messages": "1"})
        delivered: list[str] = []
        p = _producer(bs, **{"linger.ms": 0})
        p.produce(lazy, value=b"x", on_delivery=lambda err, m: delivered.append(f"lazy {err}"))
        deadline = time.monotonic() + 10
        while not delivered and time.monotonic() < deadline:
            p.poll(0.05)
        assert delivered == ["lazy None"], "a topic without a per-message flush policy is acked at once"
        p.produce(strict, value=b"y", on_delivery=lambda err, m: delivered.append(f"strict {err}"))
        deadline = time.monotonic() + 1.5             # fsync is held back: no ack may come
        while time.monotonic() < deadline:
            p.poll(0.05)
        assert delivered == ["lazy None"], "acknowledged before the fsync"
        Path(gate).touch()
        deadline = time.monotonic() + 10
        while len(delivered) < 2 and time.monotonic() < deadline:
            p.poll(0.05)
        assert delivered == ["lazy None", "strict None"]
    finally:
        Path(gate).touch()
        h.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


# -- auto-create ----------------------------------------------------------------------------------

def test_auto_create_on(bootstrap: str) -> None:
    topic = _name()
    p = _producer(bootstrap)
    errors: list[object] = []
    p.produce(topic, value=b"hello", on_delivery=lambda err, m: errors.append(err))
    assert p.flush(15) == 0
    assert errors == [None]
    md = p.list_topics(topic, timeout=10).topics[topic]
    assert md.error is None and len(md.partitions) == 1    # num.partitions
    got = _read_all(bootstrap, topic, 0, 0, 1)
    assert [m.value() for m in got] == [b"hello"]


def test_auto_create_off(server_dirs: list[ServerHandle]) -> None:
    h = _start(server_dirs, "--auto.create.topics.enable", "false")
    bs = _bootstrap(h)
    topic = _name()
    p = _producer(bs, **{"topic.metadata.propagation.max.ms": 1000, "message.timeout.ms": 5000})
    errors: list[object] = []
    p.produce(topic, value=b"nowhere", on_delivery=lambda err, m: errors.append(err))
    p.flush(15)
    assert len(errors) == 1 and errors[0] is not None
    assert errors[0].code() in (ck.KafkaError._UNKNOWN_TOPIC, ck.KafkaError.UNKNOWN_TOPIC_OR_PART)
    md = p.list_topics(topic, timeout=10).topics[topic]
    assert md.error is not None and md.error.code() == ck.KafkaError.UNKNOWN_TOPIC_OR_PART
    admin = admin_mod.AdminClient({"bootstrap.servers": bs})
    assert topic not in admin.list_topics(timeout=10).topics
    # explicit creation still works
    _create(bs, topic)
    p2 = _producer(bs)
    p2.produce(topic, value=b"now", on_delivery=lambda err, m: errors.append(err))
    assert p2.flush(15) == 0 and errors[-1] is None
