"""Fetch responses sent with sendfile: large responses to a slow reader (the kernel takes a
range in many pieces), pipelined with other requests (responses stay in request order, the
bytes of each whole), read_committed cut at the LSO, and every real client reading them."""

from __future__ import annotations

import random
import socket
import struct
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kafka.record.default_records import DefaultRecordBatch

from keystream.kafka.codec import messages
from tests.conftest import ServerHandle, require_tool, start_keystream
from tests.integration.kafka.test_protocol import frame, read_frame
from tests.integration.kafka.test_txn_protocol import build, call, create_topic, init_pid, produce, txn_batch
from tests.unit.log.records import make_batch

_TS = 1_700_000_000_000


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    h = start_keystream("--transaction.state.log.num.partitions", "1", kafka=True)
    yield h
    h.stop()


def _connect(server: ServerHandle, rcvbuf: int = 0) -> socket.socket:
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)   # before connect: a small window
    s.settimeout(30)
    s.connect(("127.0.0.1", server.kafka_port))
    return s


def _fetch_request(topic: str, offset: int, isolation: int = 0, version: int = 12) -> bytes:
    p = build(1, version, "FetchPartition", partition=0, current_leader_epoch=-1, fetch_offset=offset,
              last_fetched_epoch=-1, log_start_offset=-1, partition_max_bytes=32 << 20)
    t = build(1, version, "FetchTopic", topic=topic, partitions=(p,))
    req = messages.build(messages.request_class(1, version), replica_id=-1, max_wait=0, min_bytes=0,
                         max_bytes=64 << 20, isolation_level=isolation, session_id=0, session_epoch=-1,
                         topics=(t,), forgotten_topics_data=(), rack_id="")
    return messages.encode(req)


def _values(records: bytes | None) -> list[tuple[int, bytes]]:
    out = []
    data = records or b""
    pos = 0
    while pos + 12 <= len(data):
        size = struct.unpack_from(">i", data, pos + 8)[0] + 12
        batch = DefaultRecordBatch(data[pos:pos + size])
        assert batch.validate_crc()
        if not batch.is_control_batch:
            out.extend((r.offset, r.value) for r in batch)
        pos += size
    return out


def test_large_pipelined_fetches_to_a_slow_reader(server: ServerHandle) -> None:
    rng = random.Random(1)
    with _connect(server) as s:
        topic = create_topic(s)
        want: list[tuple[int, bytes]] = []
        for i in range(12):                                          # ~12 MB in 1 MB batches
            values = [rng.randbytes(60 * 1024) for _ in range(16)]
            r = produce(s, topic, make_batch(values, base_ts=_TS + i), None)
            assert r.error_code == 0
            want.extend((r.base_offset + k, v) for k, v in enumerate(values))
    with _connect(server, rcvbuf=16 * 1024) as s:
        api_versions = messages.encode(messages.build(messages.request_class(18, 3), client_software_name="t",
                                                      client_software_version="1"))
        s.sendall(frame(1, 12, 1, _fetch_request(topic, 0)) + frame(18, 3, 2, api_versions)
                  + frame(1, 12, 3, _fetch_request(topic, 100)) + frame(1, 4, 4, _fetch_request(topic, 50, 0, 4)))
        got: dict[int, Any] = {}
        for corr, key, version in ((1, 1, 12), (2, 18, 3), (3, 1, 12), (4, 1, 4)):
            data = read_frame(s)
            assert struct.unpack_from(">i", data, 0)[0] == corr               # in request order
            offset = 4 + (1 if messages.is_flexible(key, version) and key != 18 else 0)
            got[corr] = messages.decode(messages.response_class(key, version), data, offset)
    assert got[2].error_code == 0
    assert _values(got[1].responses[0].partitions[0].records) == want
    assert _values(got[3].responses[0].partitions[0].records) == want[96:]      # from the batch holding 100
    assert _values(got[4].responses[0].partitions[0].records) == want[48:]


def test_read_committed_stops_at_the_lso(server: ServerHandle) -> None:
    with _connect(server) as s:
        topic = create_topic(s)
        now = int(time.time() * 1000)          # one segment: an old timestamp next to a new one would roll
        assert produce(s, topic, make_batch([b"a", b"b"], base_ts=now), None).error_code == 0
        tid = "sf-" + uuid.uuid4().hex[:6]
        r = init_pid(s, tid)
        pid, epoch = r.producer_id, r.producer_epoch
        assert produce(s, topic, txn_batch(2, pid, epoch, 0), tid, version=12).error_code == 0   # open: LSO 2
        assert produce(s, topic, make_batch([b"c"], base_ts=now), None).error_code == 0
        s.sendall(frame(1, 12, 9, _fetch_request(topic, 0, isolation=1)))
        data = read_frame(s)
        resp = messages.decode(messages.response_class(1, 12), data, 5)
        part = resp.responses[0].partitions[0]
        assert part.last_stable_offset == 2 and _values(part.records) == [(0, b"a"), (1, b"b")]
        assert call(s, 26, 5, transactional_id=tid, producer_id=pid, producer_epoch=epoch, committed=False
                    ).error_code == 0
        s.sendall(frame(1, 12, 10, _fetch_request(topic, 0, isolation=1)))
        part = messages.decode(messages.response_class(1, 12), read_frame(s), 5).responses[0].partitions[0]
        assert [(a.producer_id, a.first_offset) for a in part.aborted_transactions] == [(pid, 2)]
        assert [v for _, v in _values(part.records)][-1] == b"c"


def test_a_reader_that_goes_away_mid_response(server: ServerHandle) -> None:
    rng = random.Random(2)
    with _connect(server) as s:
        topic = create_topic(s)
        for i in range(8):
            values = [rng.randbytes(60 * 1024) for _ in range(16)]
            assert produce(s, topic, make_batch(values, base_ts=_TS + i), None).error_code == 0
    for _ in range(5):
        s = _connect(server, rcvbuf=8 * 1024)
        s.sendall(frame(1, 12, 1, _fetch_request(topic, 0)) + frame(1, 12, 2, _fetch_request(topic, 0)))
        s.recv(1000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))   # reset, not FIN
        s.close()
    with _connect(server) as s:               # the broker serves on, whole responses
        s.sendall(frame(1, 12, 7, _fetch_request(topic, 0)))
        data = read_frame(s)
        part = messages.decode(messages.response_class(1, 12), data, 5).responses[0].partitions[0]
        assert len(_values(part.records)) == 8 * 16


def test_out_of_descriptors_the_ranges_are_copied() -> None:
    # 80 descriptors: the server's own (~17), one per segment of 40 partitions, and not enough left to
    # hold a duplicate per partition of a 40-partition fetch
    prlimit = require_tool("prlimit")
    h = start_keystream(kafka=True, launcher=[prlimit, "--nofile=80", sys.executable, "-m", "keystream"])
    try:
        with _connect(h) as s:
            topic = create_topic(s, 40)
            for part in range(40):
                r = produce(s, topic, make_batch([b"p%d" % part] * 3, base_ts=_TS), None, partition=part)
                assert r.error_code == 0
            p = [build(1, 12, "FetchPartition", partition=i, current_leader_epoch=-1, fetch_offset=0,
                       last_fetched_epoch=-1, log_start_offset=-1, partition_max_bytes=1 << 20) for i in range(40)]
            for corr in range(3):
                body = messages.encode(messages.build(
                    messages.request_class(1, 12), replica_id=-1, max_wait=0, min_bytes=0, max_bytes=64 << 20,
                    isolation_level=0, session_id=0, session_epoch=-1, forgotten_topics_data=(), rack_id="",
                    topics=(build(1, 12, "FetchTopic", topic=topic, partitions=tuple(p)),)))
                s.sendall(frame(1, 12, corr, body))
                resp = messages.decode(messages.response_class(1, 12), read_frame(s), 5)
                got = {q.partition_index: [v for _, v in _values(q.records)] for q in resp.responses[0].partitions}
                assert got == {i: [b"p%d" % i] * 3 for i in range(40)}
    finally:
        h.stop()
