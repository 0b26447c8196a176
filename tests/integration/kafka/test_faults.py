"""Kafka clients that go away mid-request, and a log whose disk fails.

- A client closing its connection while its Fetch long-polls, or while its Produce requests are
  in flight (waiting for an fsync with flush.messages=1): the broker goes on serving everyone
  else, and the partition holds a contiguous prefix of what was sent, each record intact.
- The disk under the Kafka log fills up (a small tmpfs: ENOSPC), turns read-only (tmpfs
  remounted ro: EROFS; root ignores file modes, so chmod cannot do this), or fails writes and
  fsyncs (EIO, injected in the broker process, as no loopback device is needed for that): produce
  answers an error instead of an acknowledgement, the RESP side and reads go on, every record
  acknowledged before is still there (also after a restart), and writing works again once the
  disk does.

The mount-based tests need root and mount(2) (CI has both); a machine without them fails the
test unless TESTS_ALLOW_MISSING_TOOLS=1. The server health check (tests/conftest.py) fails any of
these if a handler crashed: an I/O error must become an error code, not a traceback.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from kafka.record.default_records import DefaultRecordBatch

from keystream.kafka.codec import messages
from keystream.kafka.groups.client import MiniClient
from tests.conftest import ALLOW_MISSING, ServerHandle, start_keystream
from tests.unit.log.records import make_batch

KAFKA_STORAGE_ERROR = 56
PRODUCE_V, FETCH_V = 9, 12


def _frame(api_key: int, version: int, correlation: int, **values: object) -> bytes:
    body = messages.encode(messages.build(messages.request_class(api_key, version), **values))
    header = struct.pack(">hhih", api_key, version, correlation, 4) + b"test"
    if messages.is_flexible(api_key, version):
        header += b"\x00"
    return struct.pack(">i", len(header) + len(body)) + header + body


def _produce_values(topic: str, values: list[bytes], acks: int = -1) -> dict:
    t, p = MiniClient.cls(0, PRODUCE_V, "TopicProduceData"), MiniClient.cls(0, PRODUCE_V, "PartitionProduceData")
    return {"transactional_id": None, "acks": acks, "timeout": 30000,
            "topic_data": (t(name=topic, partition_data=(p(index=0, records=make_batch(values)),)),)}


def _fetch_values(topic: str, offset: int, max_wait: int) -> dict:
    t, p = MiniClient.cls(1, FETCH_V, "FetchTopic"), MiniClient.cls(1, FETCH_V, "FetchPartition")
    return {"replica_id": -1, "max_wait": max_wait, "min_bytes": 1, "max_bytes": 50 << 20, "isolation_level": 0,
            "session_id": 0, "session_epoch": -1, "rack_id": "", "forgotten_topics_data": (),
            "topics": (t(topic=topic, partitions=(p(partition=0, current_leader_epoch=-1, fetch_offset=offset,
                                                     last_fetched_epoch=-1, log_start_offset=-1,
                                                     partition_max_bytes=50 << 20),)),)}


def create_topic(mc: MiniClient, **config: str) -> str:
    name = "f-" + uuid.uuid4().hex[:8]
    t, c = MiniClient.cls(19, 5, "CreatableTopic"), MiniClient.cls(19, 5, "CreatableTopicConfig")
    r = mc.request(19, 5, topics=(t(name=name, num_partitions=1, replication_factor=1, assignments=(),
                                     configs=tuple(c(name=k, value=v) for k, v in config.items())),),
                   timeout=10000, validate_only=False)
    assert r.topics[0].error_code == 0, r.topics[0]
    return name


def produce(mc: MiniClient, topic: str, values: list[bytes]) -> tuple[int, int]:
    """(error code, base offset) of one acks=all produce of values."""
    r = mc.request(0, PRODUCE_V, **_produce_values(topic, values))
    part = r.responses[0].partition_responses[0]
    return part.error_code, part.base_offset


def read_all(mc: MiniClient, topic: str) -> list[tuple[int, bytes]]:
    """(offset, value) of every record of partition 0, from offset 0 to the end."""
    out: list[tuple[int, bytes]] = []
    while True:
        r = mc.request(1, FETCH_V, **_fetch_values(topic, len(out), 0))
        part = r.responses[0].partitions[0]
        assert part.error_code == 0, part
        data = bytes(part.records or b"")
        if not data:
            return out
        pos = 0
        while pos + 12 <= len(data):
            size = int.from_bytes(data[pos + 8:pos + 12], "big") + 12
            if pos + size > len(data):
                break
            batch = DefaultRecordBatch(data[pos:pos + size])
            assert batch.validate_crc()
            out.extend((rec.offset, rec.value) for rec in batch if rec.offset >= len(out))
            pos += size


def _assert_serving(h: ServerHandle) -> None:
    assert redis.Redis(port=h.port, socket_timeout=10).ping() is True
    with MiniClient("127.0.0.1", h.kafka_port) as mc:
        assert mc.request(18, 3, client_software_name="t", client_software_version="1").error_code == 0


# -- clients that go away -----------------------------------------------------------------------

def test_disconnect_during_long_poll_fetch(kafka_server: ServerHandle) -> None:
    with MiniClient("127.0.0.1", kafka_server.kafka_port) as mc:
        topic = create_topic(mc)
        dead = []
        for i in range(10):
            s = socket.create_connection(("127.0.0.1", kafka_server.kafka_port), timeout=10)
            # a fetch that waits up to 30 s for data, and an ApiVersions queued behind it
            s.sendall(_frame(1, FETCH_V, 1, **_fetch_values(topic, 0, 30000))
                      + _frame(18, 3, 2, client_software_name="t", client_software_version="1"))
            dead.append(s)
        s.settimeout(0.5)
        with pytest.raises(TimeoutError):
            s.recv(1)          # nothing: the fetch long-polls, and responses leave in request order
        for s in dead:
            s.close()
        assert produce(mc, topic, [b"wake"]) == (0, 0)     # wakes the fetches of closed connections
        assert read_all(mc, topic) == [(0, b"wake")]
    _assert_serving(kafka_server)


def test_disconnect_with_produces_in_flight_keeps_a_contiguous_prefix(kafka_server: ServerHandle) -> None:
    with MiniClient("127.0.0.1", kafka_server.kafka_port) as mc:
        topic = create_topic(mc, **{"flush.messages": "1"})   # every ack waits for an fsync
        values = [b"%04d" % i + b"x" * 20000 for i in range(60)]
        s = socket.create_connection(("127.0.0.1", kafka_server.kafka_port), timeout=10)
        s.sendall(b"".join(_frame(0, PRODUCE_V, i, **_produce_values(topic, [v])) for i, v in enumerate(values)))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()                                            # reset, replies unread
        got = read_all(mc, topic)
        assert got == list(enumerate(values[:len(got)])), "not a contiguous prefix of what was sent"
        assert produce(mc, topic, [b"after"]) == (0, len(got))   # offsets go on from there
    _assert_serving(kafka_server)


# -- disk errors ----------------------------------------------------------------------------------

def _mount(*args: str) -> None:
    out = subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30, check=False)
    if out.returncode != 0:
        message = f"mount {' '.join(args)} failed (needs root and mount(2)): {out.stderr.strip()}"
        if ALLOW_MISSING:
            pytest.skip(message)
        pytest.fail(message + "; set TESTS_ALLOW_MISSING_TOOLS=1 to skip locally", pytrace=False)


@pytest.fixture
def small_disk() -> Iterator[tuple[str, Path]]:
    """(data dir, its kafka/ directory on a 3 MB tmpfs of its own); the server log stays outside."""
    data_dir = tempfile.mkdtemp(prefix="ks-disk-")
    kafka_dir = Path(data_dir) / "kafka"
    kafka_dir.mkdir()
    _mount("-t", "tmpfs", "-o", "size=3m", "tmpfs", str(kafka_dir))
    try:
        yield data_dir, kafka_dir
    finally:
        subprocess.run(["umount", "-l", str(kafka_dir)], capture_output=True, timeout=30, check=False)
        shutil.rmtree(data_dir, ignore_errors=True)


def _fill_until_error(mc: MiniClient, topic: str, limit: int) -> tuple[list[bytes], int]:
    """Produce 16 KB records until one is refused: (acknowledged values, the error code)."""
    acked: list[bytes] = []
    for i in range(limit):
        value = b"%06d" % i + os.urandom(8000).hex().encode()
        code, base = produce(mc, topic, [value])
        if code:
            return acked, code
        assert base == len(acked)
        acked.append(value)
    raise AssertionError(f"{limit} records of 16 KB fitted on the small disk")


def _restart(h: ServerHandle, *args: str) -> ServerHandle:
    assert h.stop() == 0
    return start_keystream(*args, data_dir=h.data_dir, kafka=True)


@pytest.mark.parametrize("segment_bytes", ["1073741824", "65536"])   # the full disk hits a write, or a roll
def test_disk_full_refuses_produce_and_loses_nothing_acknowledged(small_disk: tuple[str, Path],
                                                                  segment_bytes: str) -> None:
    data_dir, kafka_dir = small_disk
    h = start_keystream(data_dir=data_dir, kafka=True)
    h.allow_log(r"(?i)no space left on device|log flush failed|Cannot append")
    try:
        with MiniClient("127.0.0.1", h.kafka_port) as mc:
            topic, other = create_topic(mc, **{"segment.bytes": segment_bytes}), create_topic(mc)
            assert produce(mc, other, [b"small"]) == (0, 0)
            acked, code = _fill_until_error(mc, topic, 400)
            assert code == KAFKA_STORAGE_ERROR and acked
            _assert_serving(h)
            assert [v for _, v in read_all(mc, topic)] == acked
            assert read_all(mc, other) == [(0, b"small")]
            _mount("-o", "remount,size=64m", str(kafka_dir))      # space again: writing goes on
            assert produce(mc, topic, [b"after"]) == (0, len(acked))
        h = _restart(h)
        with MiniClient("127.0.0.1", h.kafka_port) as mc:
            assert [v for _, v in read_all(mc, topic)] == [*acked, b"after"]
    finally:
        h.stop()


def test_read_only_disk_refuses_produce_and_loses_nothing_acknowledged(small_disk: tuple[str, Path]) -> None:
    """The kafka/ directory turns read-only under the running broker (a read-only bind mount over
    it: a plain `remount,ro` is refused while files are open for writing, and files already open
    stay writable, so every produce here needs a new segment: segment.bytes=100)."""
    data_dir, kafka_dir = small_disk
    h = start_keystream(data_dir=data_dir, kafka=True)
    h.allow_log(r"(?i)read-only file system|log flush failed|Cannot append")
    try:
        with MiniClient("127.0.0.1", h.kafka_port) as mc:
            topic = create_topic(mc, **{"segment.bytes": "100"})
            acked = [b"a%d" % i for i in range(20)]
            for i, v in enumerate(acked):
                assert produce(mc, topic, [v]) == (0, i)
            _mount("--bind", str(kafka_dir), str(kafka_dir))
            try:
                _mount("-o", "remount,bind,ro", str(kafka_dir))
                code, _ = produce(mc, topic, [b"refused"])
                assert code == KAFKA_STORAGE_ERROR
                t = MiniClient.cls(19, 5, "CreatableTopic")
                r = mc.request(19, 5, topics=(t(name="ro-" + uuid.uuid4().hex[:8], num_partitions=1,
                                                 replication_factor=1, assignments=(), configs=()),),
                               timeout=10000, validate_only=False)
                assert r.topics[0].error_code == KAFKA_STORAGE_ERROR
                _assert_serving(h)
                assert [v for _, v in read_all(mc, topic)] == acked
            finally:
                subprocess.run(["umount", str(kafka_dir)], capture_output=True, timeout=30, check=True)
            assert produce(mc, topic, [b"after"]) == (0, len(acked))
        h = _restart(h)
        with MiniClient("127.0.0.1", h.kafka_port) as mc:
            assert [v for _, v in read_all(mc, topic)] == [*acked, b"after"]
    finally:
        h.stop()


# Runs `keystream serve` with writev and fsync of Kafka log files failing with EIO while a file exists.
_FAILING_DISK = r"""
import errno, os, sys
_trigger = sys.argv.pop(1)
_writev, _fsync = os.writev, os.fsync

def _is_log(fd):
    try:
        return "/kafka/" in os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return False

def _fail(fd):
    if os.path.exists(_trigger) and _is_log(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

def writev(fd, buffers):
    _fail(fd)
    return _writev(fd, buffers)

def fsync(fd):
    _fail(fd)
    return _fsync(fd)

os.writev, os.fsync = writev, fsync
sys.argv = ["keystream", *sys.argv[1:]]
from keystream.cli import main
main()
"""


@pytest.mark.parametrize("flush", ["lazy", "every-message"])
def test_eio_refuses_produce_and_loses_nothing_acknowledged(flush: str) -> None:
    data_dir = tempfile.mkdtemp(prefix="ks-eio-")
    trigger = Path(data_dir) / "fail-disk"
    h = start_keystream(data_dir=data_dir, kafka=True, launcher=[sys.executable, "-c", _FAILING_DISK, str(trigger)])
    h.allow_log(r"(?i)input/output error|log flush failed|Cannot append")
    config = {"flush.messages": "1"} if flush == "every-message" else {}
    try:
        with MiniClient("127.0.0.1", h.kafka_port) as mc:
            topic = create_topic(mc, **config)
            acked = [b"a%d" % i for i in range(20)]
            for i, v in enumerate(acked):
                assert produce(mc, topic, [v]) == (0, i)
            trigger.touch()
            code, _ = produce(mc, topic, [b"refused"])
            assert code == KAFKA_STORAGE_ERROR
            _assert_serving(h)
            assert [v for _, v in read_all(mc, topic)] == acked
            trigger.unlink()
            code, base = produce(mc, topic, [b"after"])
            assert code == 0 and base == len(acked)
        h.stop(signal.SIGKILL)     # nothing acknowledged may depend on a clean shutdown
        h = start_keystream(data_dir=data_dir, kafka=True)
        with MiniClient("127.0.0.1", h.kafka_port) as mc:
            assert [v for _, v in read_all(mc, topic)][:len(acked)] == acked
    finally:
        h.stop()
        trigger.unlink(missing_ok=True)
        shutil.rmtree(data_dir, ignore_errors=True)

