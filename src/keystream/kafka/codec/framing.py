"""Splitting a byte stream into Kafka frames: a 4-byte big-endian size, then the request.

Sans-I/O: `FrameReader.feed(data)` returns the complete frames it now holds. A declared size
that is negative or above `max_size` (`socket.request.max.bytes`) raises `FrameError`; the
connection is then closed, as Kafka does. The buffer is a bytearray whose consumed prefix is
deleted once per feed (CPython makes that a pointer move), so cost stays linear in bytes read.
"""

from __future__ import annotations

__all__ = ["FrameError", "FrameReader"]


class FrameError(Exception):
    """A frame that cannot be accepted: the connection must be closed."""


class FrameReader:
    __slots__ = ("_buf", "max_size")

    def __init__(self, max_size: int) -> None:
        self._buf = bytearray()
        self.max_size = max_size

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        pos = 0
        end = len(buf)
        with memoryview(buf) as view:
            while end - pos >= 4:
                size = int.from_bytes(view[pos:pos + 4], "big", signed=True)
                if size < 0 or size > self.max_size:
                    raise FrameError(f"frame size {size} outside 0..{self.max_size}")
                if end - pos - 4 < size:
                    break
                frames.append(bytes(view[pos + 4:pos + 4 + size]))
                pos += 4 + size
        if pos:
            del buf[:pos]
        return frames

    @property
    def buffered(self) -> int:
        return len(self._buf)
