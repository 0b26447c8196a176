"""A quixstreams application with processing_guarantee="exactly-once" against Keystream.

The application (quix_eos_app.py) keeps a per-key count in a changelogged state store and
writes {"n", "count"} per input record; it is killed with kill -9 twice while it works and then
runs to the end. Read with read_committed, the output holds every input record exactly once,
and each key's counts run 1, 2, 3, ... in input order (the state moved exactly once too).

quixstreams pins an older confluent-kafka than the other tests use, so it may live in its own
environment: QUIXSTREAMS_PYTHON names that interpreter (default: this one).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.conftest import ALLOW_MISSING, start_keystream
from tests.integration.kafka.test_transactions import TXN_ARGS, bootstrap_of, create_topic

APP = os.path.join(os.path.dirname(__file__), "quix_eos_app.py")
PYTHON = os.environ.get("QUIXSTREAMS_PYTHON", sys.executable)
RECORDS = 1500
KEYS = 7


def _require_quixstreams() -> None:
    probe = subprocess.run([PYTHON, "-c", "import quixstreams"], capture_output=True, check=False)
    if probe.returncode != 0:
        message = f"quixstreams is not importable by {PYTHON} (pip install quixstreams, or set QUIXSTREAMS_PYTHON)"
        if ALLOW_MISSING:
            pytest.skip(message)
        pytest.fail(message, pytrace=False)


def _read_committed(bs: str, topic: str, partitions: int) -> list[tuple[bytes, dict[str, int]]]:
    c = Consumer({"bootstrap.servers": bs, "group.id": "check-" + uuid.uuid4().hex[:6],
                  "isolation.level": "read_committed", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out: list[tuple[bytes, dict[str, int]]] = []
    idle_until = time.monotonic() + 1.5
    while time.monotonic() < idle_until:
        msgs = [m for m in c.consume(500, 0.2) if m.error() is None]
        if msgs:
            out.extend((m.key(), json.loads(m.value())) for m in msgs)
            idle_until = time.monotonic() + 1.0
    c.close()
    return out


def test_quixstreams_exactly_once_with_kills() -> None:
    _require_quixstreams()
    rng = random.Random(848)
    data = tempfile.mkdtemp(prefix="ks-quix-")
    state = tempfile.mkdtemp(prefix="ks-quix-state-")
    h = start_keystream(*TXN_ARGS, data_dir=data, kafka=True)
    app: subprocess.Popen[bytes] | None = None
    log = open(os.path.join(state, "app.log"), "ab")       # noqa: SIM115 (closed in finally)
    try:
        bs = bootstrap_of(h)
        src = create_topic(bs, 3)
        dst = "quix-out-" + uuid.uuid4().hex[:6]
        feed = Producer({"bootstrap.servers": bs, "enable.idempotence": True})
        for i in range(RECORDS):
            feed.produce(src, key=b"k%d" % (i % KEYS), value=json.dumps({"n": i}).encode())
        assert feed.flush(30) == 0
        group = "quix-" + uuid.uuid4().hex[:6]

        def start_app() -> subprocess.Popen[bytes]:
            return subprocess.Popen([PYTHON, APP, bs, src, dst, group, state, "4"], stdout=log, stderr=log)

        for _ in range(2):
            app = start_app()
            time.sleep(rng.uniform(4.0, 7.0))
            app.send_signal(signal.SIGKILL)
            app.wait()
        app = start_app()
        got: list[tuple[bytes, dict[str, int]]] = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if app.poll() is not None:                  # idle for 4 s: it has processed what there is
                got = _read_committed(bs, dst, 3)
                if len(got) >= RECORDS:
                    break
                app = start_app()
            time.sleep(0.5)
        ns = sorted(v["n"] for _, v in got)
        assert ns == list(range(RECORDS)), f"{len(ns)} outputs, {len(set(ns))} distinct"
        by_key: dict[bytes, list[tuple[int, int]]] = defaultdict(list)
        for key, v in got:
            by_key[key].append((v["n"], v["count"]))
        for key, pairs in by_key.items():
            assert [c for _, c in sorted(pairs)] == list(range(1, len(pairs) + 1)), key
    finally:
        if app is not None and app.poll() is None:
            app.kill()
            app.wait()
        log.close()
        h.stop()
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)
