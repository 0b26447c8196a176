"""The hand-written Produce/Fetch/Metadata encoders give kio's bytes, version by version, and the
in-place Produce request decoder reads what kio's encoder wrote."""

from __future__ import annotations

import uuid

import pytest
from kio.schema.errors import ErrorCode

from keystream.kafka.codec import messages as m
from keystream.kafka.codec.fast import (
    FetchPartitionResult,
    FetchTopicResult,
    MetadataBroker,
    MetadataPartition,
    MetadataTopic,
    ProducePartitionResult,
    decode_produce_request,
    encode_fetch_response,
    encode_metadata_response,
    encode_produce_response,
)


def _join(parts: list) -> bytes:
    return b"".join(bytes(p) for p in parts)


@pytest.mark.parametrize("version", range(3, 10))
def test_produce_response_matches_kio(version: int) -> None:
    mod = m.response_module(0, version)
    parts = [ProducePartitionResult(0, 0, 42, -1, 7), ProducePartitionResult(3, 10, -1, -1, -1, "too big")]
    ours = _join(encode_produce_response(version, [("t1", parts), ("other", [])], throttle_ms=5))
    kio_topics = []
    for name, ps in [("t1", parts), ("other", [])]:
        kio_parts = tuple(
            m.build(mod.PartitionProduceResponse, index=p.index, error_code=ErrorCode(p.error_code),
                    base_offset=p.base_offset, log_append_time_ms=p.log_append_time,
                    log_start_offset=p.log_start_offset, record_errors=(), error_message=p.error_message)
            for p in ps)
        kio_topics.append(m.build(mod.TopicProduceResponse, name=name, partition_responses=kio_parts))
    ref = m.encode(m.build(mod.ProduceResponse, responses=tuple(kio_topics), throttle_time=5))
    assert ours == ref


@pytest.mark.parametrize("version", range(4, 14))
@pytest.mark.parametrize("committed", [False, True])
def test_fetch_response_matches_kio(version: int, committed: bool) -> None:
    mod = m.response_module(1, version)
    tid = uuid.UUID(int=12345)
    recs = [b"abc", memoryview(b"defgh")]
    ours = _join(encode_fetch_response(version, [FetchTopicResult("topic", tid, [
        FetchPartitionResult(0, 0, 10, 10, 2, recs), FetchPartitionResult(1, 1, 5, 5, 0, [])])],
        session_id=0, read_committed=committed, throttle_ms=3))
    kio_parts = (
        m.build(mod.PartitionData, partition_index=0, error_code=ErrorCode.none, high_watermark=10,
                last_stable_offset=10, log_start_offset=2, aborted_transactions=() if committed else None,
                records=b"abcdefgh"),
        m.build(mod.PartitionData, partition_index=1, error_code=ErrorCode(1), high_watermark=5,
                last_stable_offset=5, log_start_offset=0, aborted_transactions=() if committed else None,
                records=b""),
    )
    topic = m.build(mod.FetchableTopicResponse, topic="topic", topic_id=tid, partitions=kio_parts)
    ref = m.encode(m.build(mod.FetchResponse, throttle_time=3, error_code=ErrorCode.none, session_id=0,
                           responses=(topic,)))
    assert ours == ref


@pytest.mark.parametrize("version", range(13))
def test_metadata_response_matches_kio(version: int) -> None:
    mod = m.response_module(3, version)
    tid = uuid.UUID(int=99)
    brokers = [MetadataBroker(1, "localhost", 9092, None)]
    topics = [MetadataTopic("a", tid, [MetadataPartition(0, 1, 0, 0, (1,), (1,), ()),
                                       MetadataPartition(1, 1, 0, 0, (1,), (1,), ())]),
              MetadataTopic("missing", None, [], error_code=3)]
    ours = _join(encode_metadata_response(version, brokers, "cid", 1, topics, throttle_ms=0))
    kio_topics = []
    for t in topics:
        ps = tuple(m.build(mod.MetadataResponsePartition, error_code=ErrorCode(p.error_code),
                           partition_index=p.index, leader_id=p.leader, leader_epoch=p.leader_epoch,
                           replica_nodes=p.replicas, isr_nodes=p.isr, offline_replicas=p.offline)
                   for p in t.partitions)
        kio_topics.append(m.build(mod.MetadataResponseTopic, error_code=ErrorCode(t.error_code), name=t.name,
                                  topic_id=t.topic_id or uuid.UUID(int=0), is_internal=False, partitions=ps,
                                  topic_authorized_operations=-2147483648))
    ref = m.encode(m.build(mod.MetadataResponse, throttle_time=0,
                           brokers=(m.build(mod.MetadataResponseBroker, node_id=1, host="localhost",
                                            port=9092, rack=None),),
                           cluster_id="cid", controller_id=1, topics=tuple(kio_topics),
                           cluster_authorized_operations=-2147483648))
    assert ours == ref


@pytest.mark.parametrize("version", range(3, 13))
def test_produce_request_decoded_in_place(version: int) -> None:
    cls = m.request_class(0, version)
    mod = __import__(cls.__module__, fromlist=["x"])
    topics = (
        m.build(mod.TopicProduceData, name="a\u00e9", partition_data=(
            m.build(mod.PartitionProduceData, index=0, records=b"\x01" * 70),
            m.build(mod.PartitionProduceData, index=3, records=None))),
        m.build(mod.TopicProduceData, name="b" * 200, partition_data=(
            m.build(mod.PartitionProduceData, index=7, records=bytes(range(256)) * 3),)),
    )
    for tid in (None, "tx-1"):
        body = m.encode(m.build(cls, transactional_id=tid, acks=-1, timeout=1234, topic_data=topics))
        frame = memoryview(b"\x00" * 5 + body).toreadonly()
        got = decode_produce_request(frame, 5, version)
        assert (got.transactional_id, got.acks, got.timeout_ms) == (tid, -1, 1234)
        assert [(t.name, [(p.index, None if p.records is None else bytes(p.records)) for p in t.partition_data])
                for t in got.topic_data] == [
            ("a\u00e9", [(0, b"\x01" * 70), (3, None)]), ("b" * 200, [(7, bytes(range(256)) * 3)])]
        assert all(isinstance(p.records, memoryview) for p in got.topic_data[1].partition_data)
        with pytest.raises((ValueError, IndexError)):
            decode_produce_request(frame[:-3], 5, version)
