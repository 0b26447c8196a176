"""Every API of the broker core at its lowest and highest version, as raw requests over TCP.

Each case builds the request with kio's class of that exact version (legacy.py for the
versions Kafka 4.0 dropped), sends it on a socket, decodes the response with the class of
that version and checks that the broker did what was asked: a version we list in
ApiVersions must be one we serve correctly, not only one we parse.
"""

from __future__ import annotations

import socket
import sys
import uuid
from typing import Any

import pytest
from kafka.record.default_records import DefaultRecordBatch

from keystream.kafka.codec import legacy, messages
from tests.conftest import ServerHandle
from tests.integration.kafka.test_protocol import connect, frame, response
from tests.unit.log.records import make_batch

_TS = 1_700_000_000_000
_ZERO_UUID = uuid.UUID(int=0)


def _ns(api_key: int, version: int) -> Any:
    """The message classes of one API version, by name."""
    if (api_key, version) in legacy.LEGACY:
        return legacy._modules(api_key, version)[0]
    return sys.modules[messages.request_class(api_key, version).__module__]


def _b(ns: Any, class_name: str, /, **values: Any) -> Any:
    return messages.build(getattr(ns, class_name), **values)


class Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.corr = 0

    def call(self, api_key: int, version: int, request: Any) -> Any:
        self.corr += 1
        self.sock.sendall(frame(api_key, version, self.corr, messages.encode(request)))
        corr, resp = response(self.sock, api_key, version)
        assert corr == self.corr
        return resp

    def create(self, topic: str, partitions: int = 1, configs: dict[str, str] | None = None) -> None:
        ns = _ns(19, 7)
        req = _b(ns, "CreateTopicsRequest", timeout=5000, validate_only=False, topics=(_b(
            ns, "CreatableTopic", name=topic, num_partitions=partitions, replication_factor=1, assignments=(),
            configs=tuple(_b(ns, "CreatableTopicConfig", name=k, value=v) for k, v in (configs or {}).items())),))
        assert self.call(19, 7, req).topics[0].error_code == 0

    def produce(self, topic: str, version: int, values: list[bytes], partition: int = 0) -> Any:
        ns = _ns(0, version)
        req = _b(ns, "ProduceRequest", transactional_id=None, acks=-1, timeout=5000, topic_data=(_b(
            ns, "TopicProduceData", name=topic, partition_data=(_b(
                ns, "PartitionProduceData", index=partition,
                records=make_batch(values, base_ts=_TS, ts_step=1000)),)),))
        return self.call(0, version, req).responses[0].partition_responses[0]

    def topic_id(self, topic: str) -> uuid.UUID:
        ns = _ns(3, 12)
        req = _b(ns, "MetadataRequest", topics=(_b(ns, "MetadataRequestTopic", name=topic, topic_id=_ZERO_UUID),),
                 allow_auto_topic_creation=False, include_topic_authorized_operations=False)
        return self.call(3, 12, req).topics[0].topic_id


@pytest.fixture
def client(kafka_server: ServerHandle) -> Any:
    with connect(kafka_server) as s:
        yield Client(s)


def _name() -> str:
    return "m-" + uuid.uuid4().hex[:10]


@pytest.mark.parametrize("version", [3, 12])
def test_produce(client: Client, version: int) -> None:
    topic = _name()
    client.create(topic)
    r = client.produce(topic, version, [b"a", b"b"])
    assert (r.error_code, r.base_offset) == (0, 0)
    r = client.produce(topic, version, [b"c"])
    assert (r.error_code, r.base_offset) == (0, 2)


def test_produce_larger_than_segment_bytes_is_record_list_too_large(client: Client) -> None:
    topic = _name()
    client.create(topic, configs={"segment.bytes": "1000", "max.message.bytes": "100000"})
    assert client.produce(topic, 9, [b"x" * 2000]).error_code == 18      # RECORD_LIST_TOO_LARGE
    assert client.produce(topic, 9, [b"y" * 800]).error_code == 0


@pytest.mark.parametrize("version", [4, 13])
def test_fetch(client: Client, version: int) -> None:
    topic = _name()
    client.create(topic)
    client.produce(topic, 9, [b"a", b"b", b"c"])
    ns = _ns(1, version)
    part = _b(ns, "FetchPartition", partition=0, fetch_offset=1, partition_max_bytes=1 << 20, current_leader_epoch=-1,
              last_fetched_epoch=-1, log_start_offset=-1)
    req = _b(ns, "FetchRequest", replica_id=-1, max_wait=100, min_bytes=1, max_bytes=1 << 20, isolation_level=0,
             session_id=0, session_epoch=-1, forgotten_topics_data=(), rack_id="",
             topics=(_b(ns, "FetchTopic", topic=topic, topic_id=client.topic_id(topic), partitions=(part,)),))
    p = client.call(1, version, req).responses[0].partitions[0]
    assert p.error_code == 0 and p.high_watermark == 3
    batch = DefaultRecordBatch(bytes(p.records))
    assert batch.validate_crc()
    assert [(r.offset, r.value) for r in batch] == [(0, b"a"), (1, b"b"), (2, b"c")]   # whole batch


@pytest.mark.parametrize("version", [1, 7])
def test_list_offsets(client: Client, version: int) -> None:
    topic = _name()
    client.create(topic)
    client.produce(topic, 9, [b"a", b"b", b"c"])        # timestamps _TS, _TS+1000, _TS+2000
    ns = _ns(2, version)
    wanted = [-2, -1, _TS + 500] + ([-3] if version >= 7 else [])
    got = []
    for ts in wanted:
        req = _b(ns, "ListOffsetsRequest", replica_id=-1, isolation_level=0, topics=(_b(
            ns, "ListOffsetsTopic", name=topic, partitions=(_b(
                ns, "ListOffsetsPartition", partition_index=0, timestamp=ts, current_leader_epoch=-1),)),))
        p = client.call(2, version, req).topics[0].partitions[0]
        assert p.error_code == 0
        got.append(p.offset)
    assert got == [0, 3, 1] + ([2] if version >= 7 else [])


@pytest.mark.parametrize("version", [0, 12])
def test_metadata(client: Client, version: int) -> None:
    topic = _name()
    client.create(topic, partitions=3)
    ns = _ns(3, version)
    req = _b(ns, "MetadataRequest", topics=(_b(ns, "MetadataRequestTopic", name=topic, topic_id=_ZERO_UUID),),
             allow_auto_topic_creation=False, include_topic_authorized_operations=False)
    md = client.call(3, version, req)
    (t,) = md.topics
    assert t.error_code == 0 and t.name == topic and sorted(p.partition_index for p in t.partitions) == [0, 1, 2]
    assert md.brokers[0].node_id == 0


@pytest.mark.parametrize("version", [0, 7])
def test_create_topics(client: Client, version: int) -> None:
    topic = _name()
    ns = _ns(19, version)

    def req(name: str, configs: dict[str, str]) -> Any:
        return _b(ns, "CreateTopicsRequest", timeout=5000, validate_only=False, topics=(_b(
            ns, "CreatableTopic", name=name, num_partitions=2, replication_factor=1, assignments=(),
            configs=tuple(_b(ns, "CreatableTopicConfig", name=k, value=v) for k, v in configs.items())),))

    assert client.call(19, version, req(topic, {"retention.ms": "1000"})).topics[0].error_code == 0
    assert client.call(19, version, req(topic, {})).topics[0].error_code == 36        # TOPIC_ALREADY_EXISTS
    assert client.call(19, version, req(_name(), {"retention.ms": "x"})).topics[0].error_code == 40  # INVALID_CONFIG
    assert client.call(19, version, req("bad/name", {})).topics[0].error_code == 17   # INVALID_TOPIC_EXCEPTION


@pytest.mark.parametrize("version", [0, 6])
def test_delete_topics(client: Client, version: int) -> None:
    topic = _name()
    client.create(topic)
    ns = _ns(20, version)
    if version >= 6:
        req = _b(ns, "DeleteTopicsRequest", timeout=5000, topics=(
            _b(ns, "DeleteTopicState", name=None, topic_id=client.topic_id(topic)),
            _b(ns, "DeleteTopicState", name=topic + "-nope", topic_id=_ZERO_UUID)))
    else:
        req = _b(ns, "DeleteTopicsRequest", timeout=5000, topic_names=(topic, topic + "-nope"))
    assert [r.error_code for r in client.call(20, version, req).responses] == [0, 3]


@pytest.mark.parametrize("version", [0, 3])
def test_create_partitions(client: Client, version: int) -> None:
    topic = _name()
    client.create(topic)
    ns = _ns(37, version)
    for validate_only, count, code in ((True, 4, 0), (False, 3, 0), (False, 2, 37)):   # 37: INVALID_PARTITIONS
        req = _b(ns, "CreatePartitionsRequest", timeout=5000, validate_only=validate_only, topics=(_b(
            ns, "CreatePartitionsTopic", name=topic, count=count, assignments=None),))
        assert client.call(37, version, req).results[0].error_code == code
    assert client.produce(topic, 9, [b"x"], partition=2).error_code == 0


@pytest.mark.parametrize("version", [0, 4])
def test_describe_configs(client: Client, version: int) -> None:
    topic = _name()
    client.create(topic, configs={"retention.ms": "1234"})
    ns = _ns(32, version)
    req = _b(ns, "DescribeConfigsRequest", include_synonyms=True, include_documentation=True, resources=(
        _b(ns, "DescribeConfigsResource", resource_type=2, resource_name=topic,
           configuration_keys=("retention.ms", "segment.bytes")),
        _b(ns, "DescribeConfigsResource", resource_type=4, resource_name="0", configuration_keys=("num.partitions",))))
    topic_res, broker_res = client.call(32, version, req).results
    entries = {c.name: c for c in topic_res.configs}
    assert entries["retention.ms"].value == "1234" and entries["segment.bytes"].value == str(1 << 30)
    assert [c.name for c in broker_res.configs] == ["num.partitions"]
    if version == 0:
        assert not entries["retention.ms"].is_default and entries["segment.bytes"].is_default
    else:
        assert entries["retention.ms"].config_source == 1 and entries["segment.bytes"].config_source == 5
        assert entries["retention.ms"].documentation


@pytest.mark.parametrize("version", [0, 2])
def test_alter_configs(client: Client, version: int) -> None:
    topic = _name()
    client.create(topic, configs={"retention.ms": "1234"})
    ns = _ns(33, version)

    def alter(configs: dict[str, str], validate_only: bool = False) -> int:
        req = _b(ns, "AlterConfigsRequest", validate_only=validate_only, resources=(_b(
            ns, "AlterConfigsResource", resource_type=2, resource_name=topic,
            configs=tuple(_b(ns, "AlterableConfig", name=k, value=v) for k, v in configs.items())),))
        return client.call(33, version, req).responses[0].error_code

    assert alter({"segment.ms": "60000"}) == 0
    assert alter({"segment.ms": "-5"}) == 40
    assert alter({"segment.ms": "5"}, validate_only=True) == 0
    assert _topic_overrides(client, topic) == {"segment.ms": "60000"}       # retention.ms replaced away


@pytest.mark.parametrize("version", [0, 1])
def test_incremental_alter_configs(client: Client, version: int) -> None:
    topic = _name()
    client.create(topic, configs={"retention.ms": "1234"})
    ns = _ns(44, version)
    req = _b(ns, "IncrementalAlterConfigsRequest", validate_only=False, resources=(_b(
        ns, "AlterConfigsResource", resource_type=2, resource_name=topic, configs=(
            _b(ns, "AlterableConfig", name="segment.ms", config_operation=0, value="60000"),
            _b(ns, "AlterableConfig", name="cleanup.policy", config_operation=2, value="compact"))),))
    assert client.call(44, version, req).responses[0].error_code == 0
    assert _topic_overrides(client, topic) == {"retention.ms": "1234", "segment.ms": "60000",
                                               "cleanup.policy": "delete,compact"}


def _topic_overrides(client: Client, topic: str) -> dict[str, str]:
    ns = _ns(32, 4)
    req = _b(ns, "DescribeConfigsRequest", include_synonyms=False, include_documentation=False, resources=(
        _b(ns, "DescribeConfigsResource", resource_type=2, resource_name=topic, configuration_keys=None),))
    return {c.name: c.value for c in client.call(32, 4, req).results[0].configs if c.config_source == 1}


@pytest.mark.parametrize("version", [0, 2])
def test_delete_records(client: Client, version: int) -> None:
    topic = _name()
    client.create(topic)
    client.produce(topic, 9, [b"a", b"b", b"c"])
    ns = _ns(21, version)

    def delete(offset: int) -> Any:
        req = _b(ns, "DeleteRecordsRequest", timeout=5000, topics=(_b(
            ns, "DeleteRecordsTopic", name=topic, partitions=(_b(
                ns, "DeleteRecordsPartition", partition_index=0, offset=offset),)),))
        return client.call(21, version, req).topics[0].partitions[0]

    r = delete(2)
    assert (r.error_code, r.low_watermark) == (0, 2)
    assert delete(9).error_code == 1                      # OFFSET_OUT_OF_RANGE
    assert (delete(-1).error_code, delete(-1).low_watermark) == (0, 3)   # -1: up to the high watermark


@pytest.mark.parametrize("version", [0, 1])
def test_describe_cluster(client: Client, version: int) -> None:
    ns = _ns(60, version)
    req = _b(ns, "DescribeClusterRequest", include_cluster_authorized_operations=False, endpoint_type=1)
    r = client.call(60, version, req)
    assert r.error_code == 0 and r.controller_id == 0 and [b.broker_id for b in r.brokers] == [0]
    assert len(r.cluster_id) == 22


@pytest.mark.parametrize("version", [0, 4])
def test_describe_log_dirs(client: Client, version: int) -> None:
    topic = _name()
    client.create(topic, partitions=2)
    client.produce(topic, 9, [b"x" * 100])
    ns = _ns(35, version)
    req = _b(ns, "DescribeLogDirsRequest", topics=(_b(ns, "DescribableLogDirTopic", topic=topic, partitions=(0, 1)),))
    r = client.call(35, version, req)
    (d,) = r.results
    (t,) = d.topics
    sizes = {p.partition_index: p.partition_size for p in t.partitions}
    assert t.name == topic and sizes[1] == 0 and sizes[0] > 100


def test_every_listed_range_is_exercised() -> None:
    """The ranges tested above are the ones the registry announces (a changed range must change the tests)."""
    from keystream.kafka.apis.registry import APIS, load_all

    load_all()
    ranges = {k: (APIS[k].min_version, APIS[k].max_version) for k in (0, 1, 2, 3, 19, 20, 21, 32, 33, 35, 37, 44, 60)}
    assert ranges == {0: (3, 12), 1: (4, 13), 2: (1, 7), 3: (0, 12), 19: (0, 7), 20: (0, 6), 21: (0, 2),
                      32: (0, 4), 33: (0, 2), 35: (0, 4), 37: (0, 3), 44: (0, 1), 60: (0, 1)}
