"""Exactly once end to end: a consume-transform-produce worker (eos_worker.py, confluent-kafka)
killed with kill -9 at random points, and the broker killed with kill -9 once; the output read
with read_committed holds every input record exactly once.

The default run kills the worker 4 times; the slow one (SLOW_TESTS=1) 20 times over more data.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.conftest import ServerHandle, start_keystream
from tests.integration.kafka.test_transactions import TXN_ARGS, bootstrap_of, create_topic

WORKER = os.path.join(os.path.dirname(__file__), "eos_worker.py")


def _read_committed(bs: str, topic: str, partitions: int) -> list[bytes]:
    c = Consumer({"bootstrap.servers": bs, "group.id": "check-" + uuid.uuid4().hex[:6],
                  "isolation.level": "read_committed", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out: list[bytes] = []
    idle_until = time.monotonic() + 1.5
    while time.monotonic() < idle_until:
        msgs = [m for m in c.consume(500, 0.2) if m.error() is None]
        if msgs:
            out.extend(m.value() for m in msgs)
            idle_until = time.monotonic() + 1.0
    c.close()
    return out


def _run(records: int, worker_kills: int, seed: int) -> None:
    rng = random.Random(seed)
    data = tempfile.mkdtemp(prefix="ks-eos-")
    h: ServerHandle | None = start_keystream(*TXN_ARGS, data_dir=data, kafka=True)
    worker: subprocess.Popen[bytes] | None = None
    try:
        bs = bootstrap_of(h)
        src, dst = create_topic(bs, 2), create_topic(bs, 2)
        feed = Producer({"bootstrap.servers": bs, "enable.idempotence": True})
        for i in range(records):
            feed.produce(src, key=b"%d" % i, value=b"in-%05d" % i)
        feed.flush(30)
        group = "eos-" + uuid.uuid4().hex[:6]

        def start_worker() -> subprocess.Popen[bytes]:
            return subprocess.Popen([sys.executable, WORKER, bs, src, dst, group, "2"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        broker_kill_at = worker_kills // 2
        for k in range(worker_kills):
            worker = start_worker()
            time.sleep(rng.uniform(1.0, 3.0))
            if k == broker_kill_at:
                h.stop(signal.SIGKILL)            # the broker dies under the worker
                h = start_keystream(*TXN_ARGS, "--kafka-port", str(h.kafka_port), data_dir=data, kafka=True)
                time.sleep(rng.uniform(0.5, 2.0))
            worker.kill()
            worker.wait()
        worker = start_worker()
        want = sorted(b"out:in-%05d" % i for i in range(records))
        deadline = time.monotonic() + 120
        got: list[bytes] = []
        while time.monotonic() < deadline:
            got = _read_committed(bs, dst, 2)
            if len(got) >= records:
                break
            if worker.poll() is not None:          # a failed worker (e.g. a timeout): start another
                worker = start_worker()
        dupes = [v for v, n in Counter(got).items() if n > 1]
        assert not dupes, f"{len(dupes)} records appear more than once, e.g. {dupes[:3]}"
        assert sorted(got) == want
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
        if h is not None:
            h.stop()
        shutil.rmtree(data, ignore_errors=True)


def test_exactly_once_through_worker_and_broker_kills() -> None:
    _run(records=2500, worker_kills=4, seed=int(time.time()))


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SLOW_TESTS"), reason="soak run: SLOW_TESTS=1")
def test_exactly_once_many_kills() -> None:
    _run(records=12000, worker_kills=20, seed=int(time.time()))
