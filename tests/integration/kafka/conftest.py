"""Fixtures for the Kafka integration tests: one Keystream with its Kafka listener per module."""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import ServerHandle, start_keystream


@pytest.fixture(scope="module")
def kafka_server() -> Iterator[ServerHandle]:
    h = start_keystream(kafka=True)
    yield h
    h.stop()
    log = h.log()
    if "Traceback" in log:  # a handler crashed: show why (pytest prints it with the failure)
        sys.stderr.write(log)
    shutil.rmtree(h.data_dir, ignore_errors=True)


@pytest.fixture
def bootstrap(kafka_server: ServerHandle) -> str:
    return f"127.0.0.1:{kafka_server.kafka_port}"


@pytest.fixture
def topic_name() -> str:
    return "t-" + uuid.uuid4().hex[:12]
