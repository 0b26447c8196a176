"""FUNCTION DUMP / RESTORE payloads in Redis 7.0's format.

A payload is what DUMP produces for a key, with function libraries as the value: for each
library the RDB opcode FUNCTION2 (245) and the library code as an RDB string, then the RDB
version (2 bytes, little-endian; 10 for Redis 7.0) and a CRC-64 (Jones polynomial, as Redis's
crc64.c) of everything before it, little-endian.

We write strings uncompressed (valid RDB, which Redis reads); we read the LZF-compressed
strings Redis writes when rdbcompression is on, and the integer-encoded ones.
"""

from __future__ import annotations

import struct

from keystream.resp import errors

__all__ = ["PayloadError", "crc64", "dump_libraries", "load_libraries"]

OPCODE_FUNCTION2 = 245
RDB_VERSION = 10


class PayloadError(ValueError):
    """A payload that is not a Redis function dump this version can read."""


def _crc64_table() -> list[int]:
    poly = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9, bit-reflected
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc64_table()


def crc64(data: bytes, crc: int = 0) -> int:
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def _length(n: int) -> bytes:
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if n <= 0xFFFFFFFF:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)


def dump_libraries(codes: list[bytes]) -> bytes:
    body = b"".join(bytes([OPCODE_FUNCTION2]) + _length(len(c)) + c for c in codes)
    body += struct.pack("<H", RDB_VERSION)
    return body + struct.pack("<Q", crc64(body))


def load_libraries(payload: bytes) -> list[bytes]:
    """The library codes in payload, or raise PayloadError."""
    if len(payload) < 10:
        raise PayloadError(errors.BAD_DUMP_PAYLOAD)
    body, footer = payload[:-8], payload[-8:]
    version = struct.unpack("<H", payload[-10:-8])[0]
    if version > RDB_VERSION or struct.unpack("<Q", footer)[0] != crc64(body):
        raise PayloadError(errors.BAD_DUMP_PAYLOAD)
    data = payload[:-10]
    codes = []
    pos = 0
    while pos < len(data):
        if data[pos] != OPCODE_FUNCTION2:
            raise PayloadError(errors.LUA_DUMP_NOT_A_FUNCTION)
        code, pos = _read_string(data, pos + 1)
        codes.append(code)
    return codes


def _read_length(data: bytes, pos: int) -> tuple[int, bool, int]:
    """(length or encoding, is an encoding, next position)."""
    try:
        first = data[pos]
        kind = first >> 6
        if kind == 0:
            return first & 0x3F, False, pos + 1
        if kind == 1:
            return ((first & 0x3F) << 8) | data[pos + 1], False, pos + 2
        if kind == 3:
            return first & 0x3F, True, pos + 1
        if first == 0x80:
            return struct.unpack(">I", data[pos + 1:pos + 5])[0], False, pos + 5
        if first == 0x81:
            return struct.unpack(">Q", data[pos + 1:pos + 9])[0], False, pos + 9
    except (IndexError, struct.error):
        pass
    raise PayloadError(errors.LUA_DUMP_INVALID)


def _read_string(data: bytes, pos: int) -> tuple[bytes, int]:
    n, encoded, pos = _read_length(data, pos)
    if not encoded:
        if pos + n > len(data):
            raise PayloadError(errors.LUA_DUMP_INVALID)
        return data[pos:pos + n], pos + n
    if n in (0, 1, 2):
        size = 1 << n
        value = int.from_bytes(data[pos:pos + size], "little", signed=True)
        return b"%d" % value, pos + size
    if n == 3:
        clen, _, pos = _read_length(data, pos)
        ulen, _, pos = _read_length(data, pos)
        return lzf_decompress(data[pos:pos + clen], ulen), pos + clen
    raise PayloadError(errors.LUA_DUMP_INVALID)


def lzf_decompress(src: bytes, size: int) -> bytes:
    out = bytearray()
    i = 0
    n = len(src)
    try:
        while i < n:
            ctrl = src[i]
            i += 1
            if ctrl < 32:
                out += src[i:i + ctrl + 1]
                i += ctrl + 1
            else:
                length = ctrl >> 5
                if length == 7:
                    length += src[i]
                    i += 1
                ref = len(out) - ((ctrl & 0x1F) << 8) - src[i] - 1
                i += 1
                if ref < 0:
                    raise PayloadError(errors.LUA_DUMP_INVALID)
                for _ in range(length + 2):
                    out.append(out[ref])
                    ref += 1
    except IndexError:
        raise PayloadError(errors.LUA_DUMP_INVALID) from None
    if len(out) != size:
        raise PayloadError(errors.LUA_DUMP_INVALID)
    return bytes(out)
