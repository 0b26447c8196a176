"""Fixtures for the partition log tests: a fresh LogManager in a temporary data dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from keystream.config import Config
from keystream.log.manager import LogManager


@pytest.fixture
def data_dir(tmp_path: Path) -> str:
    return str(tmp_path / "data")


@pytest.fixture
def manager(data_dir: str) -> Iterator[LogManager]:
    m = LogManager(data_dir, Config())
    m.load()
    yield m
    m.close()


def reopen(m: LogManager) -> LogManager:
    """Close cleanly and load the same data dir again."""
    m.close()
    m2 = LogManager(m.dir, m.config)
    m2.load()
    return m2
