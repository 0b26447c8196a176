"""Idempotent producers over TCP: kafka-python's and librdkafka's, broker restarts, raw protocol checks."""

from __future__ import annotations

import datetime
import shutil
import signal
import socket
import tempfile
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from kafka import KafkaConsumer, KafkaProducer

from keystream.kafka.codec import messages
from tests.conftest import ServerHandle, free_port, start_keystream
from tests.integration.kafka.test_protocol import _metadata, connect, frame, response
from tests.unit.log.test_producer_state import idem_batch

_OUT_OF_ORDER, _INVALID_EPOCH, _INVALID_REQUEST = 45, 47, 42


def _mod(api_key: int, version: int) -> Any:
    return __import__(messages.request_class(api_key, version).__module__, fromlist=["x"])


def _init_pid(sock: socket.socket, version: int = 4, transactional_id: str | None = None,
              pid: int = -1, epoch: int = -1, corr: int = 1) -> Any:
    req = messages.build(messages.request_class(22, version), transactional_id=transactional_id,
                         transaction_timeout=60000, producer_id=pid, producer_epoch=epoch)
    sock.sendall(frame(22, version, corr, messages.encode(req)))
    got, resp = response(sock, 22, version)
    assert got == corr
    return resp


def _produce(sock: socket.socket, topic: str, records: bytes, corr: int = 2) -> Any:
    pmod = _mod(0, 9)
    req = messages.build(pmod.ProduceRequest, transactional_id=None, acks=-1,
                         timeout=datetime.timedelta(seconds=5), topic_data=(messages.build(
                             pmod.TopicProduceData, name=topic, partition_data=(messages.build(
                                 pmod.PartitionProduceData, index=0, records=records),)),))
    sock.sendall(frame(0, 9, corr, messages.encode(req)))
    got, resp = response(sock, 0, 9)
    assert got == corr
    return resp.responses[0].partition_responses[0]


def _end_offset(sock: socket.socket, topic: str) -> int:
    mod = _mod(2, 7)
    req = messages.build(mod.ListOffsetsRequest, replica_id=-1, isolation_level=0, topics=(messages.build(
        mod.ListOffsetsTopic, name=topic, partitions=(messages.build(
            mod.ListOffsetsPartition, partition_index=0, current_leader_epoch=-1, timestamp=-1),)),))
    sock.sendall(frame(2, 7, 9, messages.encode(req)))
    return response(sock, 2, 7)[1].topics[0].partitions[0].offset


def _create_topic(sock: socket.socket, topic: str) -> None:
    sock.sendall(frame(3, 12, 1, _metadata([topic])))       # auto-creates the topic
    response(sock, 3, 12)


# -- InitProducerId -------------------------------------------------------------------------------

def test_init_producer_id_all_versions(kafka_server: ServerHandle) -> None:
    seen = set()
    with connect(kafka_server) as s:
        for v in range(5):
            r = _init_pid(s, v)
            assert r.error_code == 0 and r.producer_id >= 0 and r.producer_epoch == 0
            seen.add(r.producer_id)
        # v3+: a current id and epoch still get a new id (Kafka, for a null transactional id)
        r = _init_pid(s, 4, pid=min(seen), epoch=0)
        assert r.error_code == 0 and r.producer_id not in seen and r.producer_epoch == 0
        # exactly one of id / epoch given
        r = _init_pid(s, 3, pid=5, epoch=-1)
        assert (r.error_code, r.producer_id, r.producer_epoch) == (_INVALID_REQUEST, -1, -1)


def test_empty_transactional_id_is_refused(kafka_server: ServerHandle) -> None:
    with connect(kafka_server) as s:
        assert _init_pid(s, 1, transactional_id="").error_code == _INVALID_REQUEST
        assert _init_pid(s, 4, transactional_id="").error_code == _INVALID_REQUEST


def test_producer_ids_never_repeat_across_restarts() -> None:
    data = tempfile.mkdtemp(prefix="h13-pid-")
    try:
        got = []
        for sig in (None, signal.SIGKILL, None):
            h = start_keystream(kafka=True, data_dir=data)
            try:
                with connect(h) as s:
                    got.extend(_init_pid(s, 4, corr=i).producer_id for i in range(3))
            finally:
                h.stop(sig)
        assert len(set(got)) == len(got) and got == sorted(got)
    finally:
        shutil.rmtree(data, ignore_errors=True)


# -- produce checks over the raw protocol ------------------------------------------------------------

def test_resent_batch_gets_original_offset(kafka_server: ServerHandle) -> None:
    topic = "idem-" + uuid.uuid4().hex[:8]
    with connect(kafka_server) as s:
        _create_topic(s, topic)
        pid = _init_pid(s).producer_id
        first = _produce(s, topic, idem_batch(3, pid, 0, 0))
        second = _produce(s, topic, idem_batch(2, pid, 0, 3))
        assert (first.error_code, first.base_offset, second.base_offset) == (0, 0, 3)
        for seq, base in ((0, 0), (3, 3), (0, 0)):
            again = _produce(s, topic, idem_batch(3 if seq == 0 else 2, pid, 0, seq))
            assert (again.error_code, again.base_offset) == (0, base)
        assert _end_offset(s, topic) == 5
        assert _produce(s, topic, idem_batch(1, pid, 0, 5)).base_offset == 5


def test_out_of_order_sequence_and_old_epoch(kafka_server: ServerHandle) -> None:
    topic = "idem-" + uuid.uuid4().hex[:8]
    with connect(kafka_server) as s:
        _create_topic(s, topic)
        pid = _init_pid(s).producer_id
        assert _produce(s, topic, idem_batch(1, pid, 0, 0)).error_code == 0
        bad = _produce(s, topic, idem_batch(1, pid, 0, 2))
        assert bad.error_code == _OUT_OF_ORDER and "sequence" in bad.error_message
        assert _produce(s, topic, idem_batch(1, pid, 1, 0)).error_code == 0      # epoch bump from 0
        assert _produce(s, topic, idem_batch(1, pid, 2, 4)).error_code == _OUT_OF_ORDER
        fenced = _produce(s, topic, idem_batch(1, pid, 0, 1))
        assert fenced.error_code == _INVALID_EPOCH
        assert _end_offset(s, topic) == 2


# -- real clients ----------------------------------------------------------------------------------

def test_kafka_python_default_producer(bootstrap: str, topic_name: str) -> None:
    p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    assert p.config["enable_idempotence"]
    futures = [p.send(topic_name, key=b"k%d" % (i % 3), value=b"%d" % i) for i in range(300)]
    p.flush(30)
    offsets = [f.get(timeout=10).offset for f in futures]
    p.close()
    assert sorted(offsets) == list(range(300))
    c = KafkaConsumer(topic_name, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                      consumer_timeout_ms=3000)
    values = [m.value for m in c]
    c.close()
    assert values == [b"%d" % i for i in range(300)]


def _consume_all(bootstrap: str, topic: str, count: int, timeout: float = 30.0) -> list[bytes]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "h13", "enable.auto.commit": False,
                  "fetch.wait.max.ms": 100})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    out: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < count and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None:
                assert m.error() is None, m.error()
                out.append(m.value())
        # anything beyond count would be a duplicate: give it a moment to show up
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            m = c.poll(0.1)
            if m is not None and m.error() is None:
                out.append(m.value())
    finally:
        c.close()
    return out


def test_confluent_idempotent_producer(bootstrap: str, topic_name: str) -> None:
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 2})
    errors: list[Any] = []
    for i in range(2000):
        p.produce(topic_name, b"%d" % i, on_delivery=lambda err, _m: err and errors.append(err))
        p.poll(0)
    assert p.flush(30) == 0 and not errors
    assert _consume_all(bootstrap, topic_name, 2000) == [b"%d" % i for i in range(2000)]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGSTOP], ids=["clean", "kill9", "stall"])
def test_confluent_idempotent_producer_across_broker_restart(sig: int) -> None:
    """Restart the broker (or stall it past the client's request timeout) in the middle of a stream.

    The stall makes librdkafka time out and re-send requests that the broker then appends
    twice over: without duplicate detection the log holds the same messages twice.
    """
    data = tempfile.mkdtemp(prefix="h13-restart-")
    kport = free_port()
    h = start_keystream("--kafka-port", str(kport), "--log.segment.bytes", "200000", kafka=True, data_dir=data)
    bootstrap = f"127.0.0.1:{kport}"
    topic = "restart-" + uuid.uuid4().hex[:8]
    total = 60000
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 1,
                  "batch.num.messages": 200, "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200,
                  "message.timeout.ms": 60000, "request.timeout.ms": 500, "socket.timeout.ms": 500})
    delivered: list[int] = []
    errors: list[Any] = []

    def on_delivery(err: Any, msg: Any) -> None:
        if err:
            errors.append(err)
        else:
            delivered.append(msg.offset())

    try:
        for i in range(total):
            while True:
                try:
                    p.produce(topic, b"%06d" % i, on_delivery=on_delivery)
                    break
                except BufferError:
                    p.poll(0.05)
            p.poll(0)
        while len(delivered) < total // 10:      # disturb the broker while requests are in flight
            p.poll(0.001)
        if sig == signal.SIGSTOP:
            h.proc.send_signal(signal.SIGSTOP)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                p.poll(0.05)
            h.proc.send_signal(signal.SIGCONT)
        else:
            h.stop(sig)
            h = start_keystream("--kafka-port", str(kport), "--log.segment.bytes", "200000",
                                kafka=True, data_dir=data)
        assert p.flush(60) == 0
        assert not errors, errors[:3]
        assert sorted(delivered) == list(range(total))
        assert _consume_all(bootstrap, topic, total) == [b"%06d" % i for i in range(total)]
    finally:
        h.stop()
        log = h.log()
        shutil.rmtree(data, ignore_errors=True)
    assert "Traceback" not in log, log


def test_idle_producer_ids_expire() -> None:
    h = start_keystream("--producer.id.expiration.ms", "1000", "--producer.id.expiration.check.interval.ms", "100",
                        kafka=True)
    topic = "expire-" + uuid.uuid4().hex[:8]
    try:
        with connect(h) as s:
            _create_topic(s, topic)
            pid = _init_pid(s).producer_id
            now = int(time.time() * 1000)
            assert _produce(s, topic, idem_batch(1, pid, 0, 0, ts=now)).error_code == 0
            assert _produce(s, topic, idem_batch(1, pid, 0, 5, ts=now)).error_code == _OUT_OF_ORDER
            deadline = time.monotonic() + 10
            while True:       # once forgotten, the producer may start at any sequence again
                r = _produce(s, topic, idem_batch(1, pid, 0, 5, ts=now))
                if r.error_code == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert r.error_code == 0
    finally:
        h.stop()
        shutil.rmtree(h.data_dir, ignore_errors=True)
