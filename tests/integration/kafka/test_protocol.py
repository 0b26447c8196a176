"""The Kafka wire protocol over raw sockets: versions, ordering, bad frames, legacy versions, fuzz."""

from __future__ import annotations

import datetime
import socket
import struct
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keystream.kafka.codec import messages
from tests.conftest import ServerHandle, start_keystream


def _req(api_key: int, version: int, **fields: Any) -> Any:
    return messages.build(messages.request_class(api_key, version), **fields)


def frame(api_key: int, version: int, corr: int, body: bytes, client_id: bytes = b"raw") -> bytes:
    header = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id
    if messages.is_flexible(api_key, version):
        header += b"\x00"
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def read_frame(sock: socket.socket) -> bytes:
    def exact(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf

    (size,) = struct.unpack(">i", exact(4))
    return exact(size)


def response(sock: socket.socket, api_key: int, version: int) -> tuple[int, Any]:
    data = read_frame(sock)
    (corr,) = struct.unpack_from(">i", data, 0)
    offset = 4 + (1 if messages.is_flexible(api_key, version) and api_key != 18 else 0)
    return corr, messages.decode(messages.response_class(api_key, version), data, offset)


def connect(server: ServerHandle) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.kafka_port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def api_versions_ok(server: ServerHandle) -> bool:
    with connect(server) as s:
        s.sendall(frame(18, 3, 7, messages.encode(_req(18, 3, client_software_name="t",
                                                         client_software_version="1"))))
        corr, resp = response(s, 18, 3)
        return corr == 7 and resp.error_code == 0


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def _metadata(names: list[str] | None, version: int = 12) -> bytes:
    mod = __import__(messages.request_class(3, version).__module__, fromlist=["x"])
    topics = None if names is None else tuple(
        messages.build(mod.MetadataRequestTopic, name=n, topic_id=uuid.UUID(int=0)) for n in names)
    return messages.encode(messages.build(mod.MetadataRequest, topics=topics, allow_auto_topic_creation=True,
                                          include_topic_authorized_operations=False))


@pytest.mark.parametrize("version", range(4))
def test_api_versions_each_version(kafka_server: ServerHandle, version: int) -> None:
    with connect(kafka_server) as s:
        body = messages.encode(_req(18, version, client_software_name="t", client_software_version="1"))
        s.sendall(frame(18, version, 42, body))
        corr, resp = response(s, 18, version)
        assert corr == 42 and resp.error_code == 0
        keys = {k.api_key: (k.min_version, k.max_version) for k in resp.api_keys}
        assert keys[0] == (3, 12) and keys[1] == (4, 13) and keys[3] == (0, 12)
        if version >= 3:     # the features of a Kafka 4.0 cluster that we implement (KIP-584 tagged fields)
            assert {(f.name, f.min_version, f.max_version) for f in resp.supported_features} == {
                ("group.version", 0, 1), ("transaction.version", 0, 2)}
            assert resp.finalized_features_epoch >= 0
            assert {(f.name, f.min_version_level, f.max_version_level) for f in resp.finalized_features} == {
                ("group.version", 1, 1), ("transaction.version", 2, 2)}


@pytest.mark.parametrize("version", [4, 99])
def test_api_versions_too_new_gets_unsupported_version_in_v0(kafka_server: ServerHandle, version: int) -> None:
    with connect(kafka_server) as s:
        # Header only (null client id, no tags): the body of an unknown version is not read.
        s.sendall(struct.pack(">i", 11) + struct.pack(">hhih", 18, version, 5, -1) + b"\x00")
        corr, resp = response(s, 18, 0)
        assert corr == 5 and resp.error_code == 35
        assert {k.api_key for k in resp.api_keys} >= {0, 1, 3, 18}
        # The connection stays usable: the client now retries with a version we know.
        s.sendall(frame(18, 3, 6, messages.encode(_req(18, 3, client_software_name="t",
                                                         client_software_version="1"))))
        assert response(s, 18, 3)[0] == 6


def test_pipelined_responses_keep_request_order(kafka_server: ServerHandle) -> None:
    topic = "order-" + uuid.uuid4().hex[:8]
    with connect(kafka_server) as s:
        s.sendall(frame(3, 12, 1, _metadata([topic])))
        _, md = response(s, 3, 12)
        topic_id = md.topics[0].topic_id
        fmod = __import__(messages.request_class(1, 13).__module__, fromlist=["x"])
        fetch = messages.build(
            fmod.FetchRequest, max_wait=datetime.timedelta(milliseconds=300), min_bytes=1, max_bytes=1 << 20,
            isolation_level=0, session_id=0, session_epoch=-1, forgotten_topics_data=(), rack_id="",
            topics=(messages.build(fmod.FetchTopic, topic_id=topic_id, partitions=(
                messages.build(fmod.FetchPartition, partition=0, fetch_offset=0, partition_max_bytes=1 << 20),)),))
        api = messages.encode(_req(18, 3, client_software_name="t", client_software_version="1"))
        s.sendall(frame(18, 3, 10, api) + frame(1, 13, 11, messages.encode(fetch)) + frame(18, 3, 12, api)
                  + frame(3, 12, 13, _metadata([topic])))
        got = [response(s, k, v)[0] for k, v in ((18, 3), (1, 13), (18, 3), (3, 12))]
        assert got == [10, 11, 12, 13]


def test_unknown_api_key_closes_only_that_connection(kafka_server: ServerHandle) -> None:
    other = connect(kafka_server)
    with connect(kafka_server) as s:
        s.sendall(struct.pack(">i", 10) + struct.pack(">hhih", 9999, 0, 1, -1))
        assert closed_by_server(s)
    other.sendall(frame(18, 3, 3, messages.encode(_req(18, 3, client_software_name="t",
                                                         client_software_version="1"))))
    assert response(other, 18, 3)[0] == 3
    other.close()


def test_oversized_and_malformed_frames_close_the_connection(kafka_server: ServerHandle) -> None:
    with connect(kafka_server) as s:
        s.sendall(struct.pack(">i", 200 * 1024 * 1024) + b"\x00" * 100)
        assert closed_by_server(s)
    with connect(kafka_server) as s:  # a Metadata v12 body cut short
        s.sendall(frame(3, 12, 1, _metadata(["abc"])[:3]))
        assert closed_by_server(s)
    assert api_versions_ok(kafka_server)


def test_produce_acks_zero_sends_no_response(kafka_server: ServerHandle) -> None:
    topic = "acks0-" + uuid.uuid4().hex[:8]
    pmod = __import__(messages.request_class(0, 9).__module__, fromlist=["x"])
    with connect(kafka_server) as s:
        s.sendall(frame(3, 12, 1, _metadata([topic])))
        response(s, 3, 12)
        produce = messages.build(pmod.ProduceRequest, transactional_id=None, acks=0,
                                 timeout=datetime.timedelta(seconds=1), topic_data=(messages.build(
                                     pmod.TopicProduceData, name=topic, partition_data=(messages.build(
                                         pmod.PartitionProduceData, index=0, records=b"not a batch"),)),))
        s.sendall(frame(0, 9, 2, messages.encode(produce)) + frame(3, 12, 3, _metadata([topic])))
        assert response(s, 3, 12)[0] == 3


def test_legacy_versions(kafka_server: ServerHandle) -> None:
    topic = "legacy-" + uuid.uuid4().hex[:8]
    with connect(kafka_server) as s:
        cls = messages.request_class(19, 0)
        ns = __import__("keystream.kafka.codec.legacy", fromlist=["x"])._modules(19, 0)[0]
        req = cls(topics=(ns.CreatableTopic(name=topic, num_partitions=2, replication_factor=1, assignments=(),
                                            configs=()),), timeout=datetime.timedelta(seconds=5))
        s.sendall(frame(19, 0, 1, messages.encode(req)))
        corr, resp = response(s, 19, 0)
        assert corr == 1 and resp.topics[0].name == topic and resp.topics[0].error_code == 0

        dns = __import__("keystream.kafka.codec.legacy", fromlist=["x"])._modules(32, 0)[0]
        req = messages.request_class(32, 0)(resources=(dns.DescribeConfigsResource(
            resource_type=2, resource_name=topic, configuration_keys=("retention.ms",)),))
        s.sendall(frame(32, 0, 2, messages.encode(req)))
        corr, resp = response(s, 32, 0)
        (entry,) = resp.results[0].configs
        assert entry.name == "retention.ms" and entry.is_default

        req = messages.request_class(35, 0)(topics=None)
        s.sendall(frame(35, 0, 3, messages.encode(req)))
        corr, resp = response(s, 35, 0)
        assert topic in {t.name for t in resp.results[0].topics}

        req = messages.request_class(20, 0)(topic_names=(topic, topic + "-nope"),
                                            timeout=datetime.timedelta(seconds=5))
        s.sendall(frame(20, 0, 4, messages.encode(req)))
        corr, resp = response(s, 20, 0)
        assert [r.error_code for r in resp.responses] == [0, 3]


def test_auto_create_off() -> None:
    h = start_keystream("--auto.create.topics.enable", "no", kafka=True)
    try:
        with connect(h) as s:
            s.sendall(frame(3, 12, 1, _metadata(["nope"])))
            _, md = response(s, 3, 12)
            assert md.topics[0].error_code == 3
            s.sendall(frame(3, 4, 2, _metadata(["nope"], 4)))
            _, md = response(s, 3, 4)
            assert md.topics[0].error_code == 3
    finally:
        h.stop()


_api_keys = st.sampled_from([0, 1, 2, 3, 18, 19, 20, 21, 32, 33, 35, 37, 44, 60, 7, 9999, -1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(api_key=_api_keys, version=st.integers(-1, 20), body=st.binary(max_size=300),
       declared=st.one_of(st.none(), st.integers(-5, 2**31 - 1)), cut=st.integers(0, 400))
def test_fuzzed_frames_never_hurt_the_broker(kafka_server: ServerHandle, api_key: int, version: int,
                                            body: bytes, declared: int | None, cut: int) -> None:
    payload = struct.pack(">hhih", api_key, version, 1, 3) + b"abc" + body
    size = len(payload) if declared is None else declared
    data = (struct.pack(">i", size) + payload)[:cut + 4]
    with connect(kafka_server) as s:
        s.settimeout(2)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass
    assert api_versions_ok(kafka_server)
