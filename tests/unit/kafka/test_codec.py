"""Framing and request headers, with golden bytes captured from real clients.

fixtures/api_versions_request_v3_librdkafka.bin: confluent-kafka 2.16 (librdkafka 2.16)'s
first request; fixtures/api_versions_request_v3_kcat.bin: Debian's kcat (librdkafka 2.0.2).
Both were captured by a plain socket server standing in for the broker.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keystream.kafka.apis.api_versions import unsupported_version_body
from keystream.kafka.apis.registry import APIS, load_all
from keystream.kafka.codec import messages
from keystream.kafka.codec.framing import FrameError, FrameReader
from keystream.kafka.codec.header import HeaderError, parse_request_header, peek_api

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("name, client, software, version", [
    ("api_versions_request_v3_librdkafka.bin", "golden", "confluent-kafka-python", "2.16.1-rdkafka-2.16.0"),
    ("api_versions_request_v3_kcat.bin", "rdkafka", "librdkafka", "2.0.2"),
])
def test_golden_api_versions_request(name: str, client: str, software: str, version: str) -> None:
    data = (FIXTURES / name).read_bytes()
    frames = FrameReader(1024).feed(data)
    assert len(frames) == 1
    frame = frames[0]
    assert peek_api(frame) == (18, 3, 1)
    header = parse_request_header(frame, messages.is_flexible(18, 3))
    assert header.client_id == client
    req = messages.decode(messages.request_class(18, 3), frame, header.body_offset)
    assert req.client_software_name == software
    assert req.client_software_version == version


def test_frames_split_across_reads_and_several_per_read() -> None:
    reader = FrameReader(100)
    stream = b"".join(len(p).to_bytes(4, "big") + p for p in (b"abc", b"", b"x" * 50))
    got = []
    for i in range(0, len(stream), 7):
        got.extend(reader.feed(stream[i:i + 7]))
    assert got == [b"abc", b"", b"x" * 50]
    assert reader.feed(stream) == [b"abc", b"", b"x" * 50]
    assert reader.buffered == 0


@pytest.mark.parametrize("size", [101, -1, 2**31 - 1])
def test_oversized_or_negative_frame_is_refused(size: int) -> None:
    with pytest.raises(FrameError):
        FrameReader(100).feed(size.to_bytes(4, "big", signed=True))


def test_truncated_headers_are_refused() -> None:
    with pytest.raises(HeaderError):
        parse_request_header(b"\x00\x12\x00\x03\x00\x00", True)
    with pytest.raises(HeaderError):  # client id longer than the frame
        parse_request_header(b"\x00\x12\x00\x03\x00\x00\x00\x01\x00\x09abc", False)
    with pytest.raises(HeaderError):  # tagged fields cut short
        parse_request_header(b"\x00\x12\x00\x03\x00\x00\x00\x01\xff\xff\x01\x05\x09", True)


def test_unsupported_version_body_is_v0_with_our_list() -> None:
    load_all()
    body = unsupported_version_body()
    resp = messages.decode(messages.response_class(18, 0), body, 0)
    assert resp.error_code == 35
    assert {k.api_key: (k.min_version, k.max_version) for k in resp.api_keys} == {
        s.key: (s.min_version, s.max_version) for s in APIS.values()}


def test_registry_versions() -> None:
    load_all()
    want = {18: (0, 3), 3: (0, 12), 0: (3, 12), 1: (4, 13), 2: (1, 7), 19: (0, 7), 20: (0, 6), 37: (0, 3),
            32: (0, 4), 33: (0, 2), 44: (0, 1), 21: (0, 2), 60: (0, 1), 35: (0, 4), 22: (0, 5)}
    want.update({10: (0, 4), 11: (0, 9), 14: (0, 5), 12: (0, 4), 13: (0, 5), 8: (0, 9), 9: (0, 9),
                 15: (0, 5), 16: (0, 5), 42: (0, 2), 47: (0, 0)})   # consumer groups
    want.update({24: (0, 5), 25: (0, 4), 26: (0, 5), 27: (1, 1), 28: (0, 5), 61: (0, 0), 65: (0, 0),
                 66: (0, 1)})   # transactions
    want.update({68: (0, 1), 69: (0, 1)})                            # KIP-848 consumer groups
    assert {k: (s.min_version, s.max_version) for k, s in APIS.items()} == want
    for key, (lo, hi) in want.items():  # every version has request and response classes
        for v in range(lo, hi + 1):
            messages.request_class(key, v)
            messages.response_class(key, v)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_give_frames_or_frame_error(data: bytes) -> None:
    reader = FrameReader(64)
    try:
        for frame in reader.feed(data):
            try:
                parse_request_header(frame, True)
            except HeaderError:
                pass
    except FrameError:
        pass


def test_null_where_the_schema_allows_none_is_malformed() -> None:
    """OffsetCommit v0: group_id, topics [name, partitions [...]]: a -1 partitions count is a null
    array, which Kafka refuses for a non-nullable field (found by the Kafka fuzzer: a crash)."""
    import struct

    cls = messages.request_class(8, 0)
    head = struct.pack(">h", 1) + b"g" + struct.pack(">i", 1) + struct.pack(">h", 1) + b"t"
    assert messages.decode(cls, head + struct.pack(">i", 0), 0).topics[0].partitions == ()
    with pytest.raises(ValueError, match="non-nullable field partitions"):
        messages.decode(cls, head + struct.pack(">i", -1), 0)
