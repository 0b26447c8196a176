"""Pipelined requests read together are answered with one transport write (long batches
are flushed every 64 commands so back-pressure can stop a client that does not read)."""

from __future__ import annotations

from typing import Any

from keystream.config import Config
from keystream.engine import Engine
from keystream.resp.connection import RespProtocol


class _Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        pass

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1234) if name in ("peername", "sockname") else None

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def get_write_buffer_size(self) -> int:
        return 0


def _connect() -> tuple[RespProtocol, _Transport]:
    proto = RespProtocol(Engine(Config()))
    transport = _Transport()
    proto.connection_made(transport)  # type: ignore[arg-type]
    return proto, transport


def test_pipelined_batch_is_one_write() -> None:
    proto, transport = _connect()
    batch = b"".join(b"*3\r\n$3\r\nSET\r\n$2\r\nk%d\r\n$1\r\nv\r\n" % (i % 10) for i in range(50))
    batch += b"GET k1\r\nINCR n\r\nPING\r\n"
    proto.data_received(batch)
    assert transport.writes == [b"+OK\r\n" * 50 + b"$1\r\nv\r\n:1\r\n+PONG\r\n"]


def test_batch_split_across_reads_writes_once_per_read() -> None:
    proto, transport = _connect()
    proto.data_received(b"PING\r\nPING\r\n*1\r\n$4\r\nPI")
    proto.data_received(b"NG\r\nPING\r\n")
    assert transport.writes == [b"+PONG\r\n+PONG\r\n", b"+PONG\r\n+PONG\r\n"]


def test_long_batch_is_flushed_every_64_commands() -> None:
    proto, transport = _connect()
    proto.data_received(b"PING\r\n" * 200)
    assert [len(w) // len(b"+PONG\r\n") for w in transport.writes] == [64, 64, 64, 8]
