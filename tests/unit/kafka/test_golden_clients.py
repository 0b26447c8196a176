"""Requests captured from librdkafka (confluent-kafka), kafka-python, aiokafka and kafkajs, for
every API version each sent to Keystream, decode with our codec and encode back to the same
bytes; Keystream's recorded response to each decodes with our codec and with kafka-python's
independent classes, which encode it back byte for byte (what the client read is what we meant).
The live replay of these requests is in tests/integration/kafka/test_golden_replay.py."""

from __future__ import annotations

import pytest
from kio.serial import entity_reader

from keystream.kafka.apis.registry import APIS, load_all
from keystream.kafka.codec import messages
from keystream.kafka.codec.header import parse_request_header, peek_api
from tests.unit.kafka.golden_clients import Golden, goldens, kafka_python_roundtrip, response_version

load_all()
GOLDENS = goldens()


def test_every_client_was_captured() -> None:
    clients = {g.client for g in GOLDENS}
    assert clients == {"librdkafka", "kafka-python", "aiokafka", "kafkajs"}
    for client in clients:   # the APIs every client needs to produce and consume in a group
        apis = {int(g.name[:2]) for g in GOLDENS if g.client == client}
        assert {0, 1, 2, 3, 8, 9, 10, 11, 14, 18} <= apis, client


@pytest.mark.parametrize("g", GOLDENS, ids=lambda g: g.id)
def test_request_decodes_and_encodes_back(g: Golden) -> None:
    frame = g.request[4:]
    assert int.from_bytes(g.request[:4], "big") == len(frame)
    api_key, version, _corr = peek_api(frame)
    assert g.name == f"{api_key:02d}-{APIS[api_key].name}-v{version}"
    assert APIS[api_key].min_version <= version <= APIS[api_key].max_version or api_key == 18
    header = parse_request_header(frame, messages.is_flexible(api_key, version))
    assert header.client_id == f"golden-{g.client}"
    cls = messages.request_class(api_key, version)
    value, size = entity_reader(cls)(frame, header.body_offset)
    assert header.body_offset + size == len(frame), "bytes left after the request body"
    assert messages.encode(value) == frame[header.body_offset:]


@pytest.mark.parametrize("g", GOLDENS, ids=lambda g: g.id)
def test_recorded_response_decodes_as_the_client_expects(g: Golden) -> None:
    api_key, version, corr = peek_api(g.request[4:])
    check_response(api_key, version, corr, g.response)


def check_response(api_key: int, version: int, corr: int, response: bytes) -> None:
    """A response frame to (api_key, version, corr) decodes whole with our codec and with
    kafka-python, and kafka-python encodes what it read back to the same bytes."""
    assert int.from_bytes(response[:4], "big") == len(response) - 4
    assert int.from_bytes(response[4:8], "big", signed=True) == corr
    flexible = messages.is_flexible(api_key, version) and api_key != 18
    if flexible:
        assert response[8] == 0, "response header tagged fields"
    body = response[9 if flexible else 8:]
    version = response_version(api_key, version, body)
    _value, size = entity_reader(messages.response_class(api_key, version))(body, 0)
    assert size == len(body), "bytes left after the response body"
    _decoded, encoded = kafka_python_roundtrip(api_key, version, body)
    assert encoded == body
