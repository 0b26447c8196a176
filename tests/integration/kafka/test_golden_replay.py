"""Replay the requests real clients sent (tests/unit/kafka/golden/) to a fresh Keystream, one
connection per client in capture order: every request gets a response with its correlation id
that decodes whole with our codec and with kafka-python, which encodes it back byte for byte;
nothing crashes (the server health check runs after the test)."""

from __future__ import annotations

import socket

import pytest

from keystream.kafka.codec.header import peek_api
from tests.conftest import ServerHandle
from tests.unit.kafka.golden_clients import goldens
from tests.unit.kafka.test_golden_clients import check_response

CLIENTS = sorted({g.client for g in goldens()})


def _read_frame(sock: socket.socket) -> bytes:
    def exactly(n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            out += chunk
        return out

    head = exactly(4)
    return head + exactly(int.from_bytes(head, "big"))


@pytest.mark.parametrize("client", CLIENTS)
def test_replayed_requests_get_responses_the_client_can_read(kafka_server: ServerHandle, client: str) -> None:
    with socket.create_connection(("127.0.0.1", kafka_server.kafka_port), timeout=30) as sock:
        for g in (g for g in goldens() if g.client == client):
            api_key, version, corr = peek_api(g.request[4:])
            sock.sendall(g.request)
            check_response(api_key, version, corr, _read_frame(sock))
