"""Fixtures for the Kafka integration tests: one Keystream with its Kafka listener per module."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import ServerHandle, serve_keystream


@pytest.fixture(scope="module")
def kafka_server() -> Iterator[ServerHandle]:
    yield from serve_keystream(kafka=True)


@pytest.fixture
def bootstrap(kafka_server: ServerHandle) -> str:
    return f"127.0.0.1:{kafka_server.kafka_port}"


@pytest.fixture
def topic_name() -> str:
    return "t-" + uuid.uuid4().hex[:12]
