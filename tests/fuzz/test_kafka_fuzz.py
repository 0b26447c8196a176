"""Fuzz the Kafka listener with real clients' requests (tests/unit/kafka/golden/) mutated:
bytes flipped, cut short, extended, header fields changed, and with random frames. The fuzzed
connection's own answer is checked (whole response frames carrying the request's correlation id,
or the connection closed, as Kafka does with a malformed request), the server logs no traceback
(the health check of tests/conftest.py, run after every example) and serves a new client."""

from __future__ import annotations

import os
import socket
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keystream.kafka.groups.client import MiniClient
from tests.conftest import check_servers, serve_keystream
from tests.unit.kafka.golden_clients import goldens

EXAMPLES = 1500 if os.environ.get("SLOW_TESTS") else 120
GOLDEN_FRAMES = [g.request[4:] for g in goldens()]


@pytest.fixture(scope="module")
def kafka_fuzz_server():
    yield from serve_keystream("--group.initial.rebalance.delay.ms", "0", kafka=True)


def _mutate(frame: bytes, flips: list[tuple[int, int]], cut: int | None, tail: bytes,
            api: int | None, version: int | None) -> bytes:
    b = bytearray(frame)
    for pos, value in flips:
        if b:
            b[pos % len(b)] = value
    if api is not None and len(b) >= 2:
        b[0:2] = struct.pack(">h", api)
    if version is not None and len(b) >= 4:
        b[2:4] = struct.pack(">h", version)
    if cut is not None:
        b = b[:cut % (len(b) + 1)]
    return bytes(b) + tail


mutated = st.builds(
    _mutate, st.sampled_from(GOLDEN_FRAMES),
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=4),
    st.one_of(st.none(), st.integers(0, 1 << 16)), st.binary(max_size=16),
    st.one_of(st.none(), st.integers(-2, 80)), st.one_of(st.none(), st.integers(-1, 20)))
random_frames = st.binary(min_size=0, max_size=300)


def exchange(port: int, frame: bytes) -> bytes:
    """Send one size-prefixed frame, close the writing side, return all that comes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        try:
            s.sendall(struct.pack(">i", len(frame)) + frame)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        out = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out.append(chunk)
    return b"".join(out)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(mutated, random_frames))
def test_mutated_requests_get_a_response_or_a_close(kafka_fuzz_server, frame: bytes) -> None:
    got = exchange(kafka_fuzz_server.kafka_port, frame)
    check_servers([kafka_fuzz_server])
    correlation = frame[4:8] if len(frame) >= 8 else None
    pos = 0
    while pos < len(got):
        assert len(got) - pos >= 8, f"a partial response: {got[pos:]!r}"
        size = int.from_bytes(got[pos:pos + 4], "big")
        assert pos + 4 + size <= len(got), "a partial response frame"
        assert got[pos + 4:pos + 8] == correlation, "a response to a request that was not sent"
        pos += 4 + size
    with MiniClient("127.0.0.1", kafka_fuzz_server.kafka_port) as mc:
        assert mc.request(18, 3, client_software_name="t", client_software_version="1").error_code == 0
