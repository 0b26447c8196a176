"""Request header parsing and response header bytes.

Request header v1 (non-flexible requests): api_key int16, api_version int16, correlation_id
int32, client_id nullable legacy string. v2 (flexible requests) adds a tagged-field section;
client_id stays a legacy string there too (Kafka special-cases it). Header v0 (no client id)
is only used by ControlledShutdown v0, which we do not serve.

Response header v0 is the correlation id; v1 (flexible responses) adds an empty tagged-field
section. ApiVersions responses always use v0 so that any client can read our version list.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = [
    "HeaderError", "RequestHeader", "parse_request_header", "peek_api", "read_uvarint", "skip_tagged_fields",
]

_HEAD = struct.Struct(">hhih")


class HeaderError(ValueError):
    """A request header that cannot be parsed."""


@dataclass(slots=True)
class RequestHeader:
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    body_offset: int


def read_uvarint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Read an unsigned varint (at most 5 bytes); returns (value, new position)."""
    value = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise HeaderError("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 28:
            raise HeaderError("varint too long")


def skip_tagged_fields(buf: bytes | memoryview, pos: int) -> int:
    count, pos = read_uvarint(buf, pos)
    for _ in range(count):
        _tag, pos = read_uvarint(buf, pos)
        size, pos = read_uvarint(buf, pos)
        pos += size
        if pos > len(buf):
            raise HeaderError("truncated tagged field")
    return pos


def parse_request_header(frame: bytes | memoryview, flexible: bool) -> RequestHeader:
    """Parse a v1 (or, if `flexible`, v2) request header at the start of `frame`."""
    if len(frame) < 10:
        raise HeaderError("truncated request header")
    api_key, api_version, correlation_id, n = _HEAD.unpack_from(frame, 0)
    pos = 10
    client_id: str | None = None
    if n >= 0:
        if pos + n > len(frame):
            raise HeaderError("truncated client id")
        client_id = str(frame[pos:pos + n], "utf-8", "replace")   # frame: bytes or memoryview
        pos += n
    elif n != -1:
        raise HeaderError("bad client id length")
    if flexible:
        pos = skip_tagged_fields(frame, pos)
    return RequestHeader(api_key, api_version, correlation_id, client_id, pos)


def peek_api(frame: bytes | memoryview) -> tuple[int, int, int]:
    """(api_key, api_version, correlation_id) of a frame, before knowing its header version."""
    if len(frame) < 8:
        raise HeaderError("truncated request header")
    return struct.unpack_from(">hhi", frame, 0)
