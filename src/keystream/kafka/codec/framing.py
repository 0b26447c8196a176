"""Splitting a byte stream into Kafka frames: a 4-byte big-endian size, then the request.

Sans-I/O: `FrameReader.feed(data)` returns the complete frames it now holds. A declared size
that is negative or above `max_size` (`socket.request.max.bytes`) raises `FrameError`; the
connection is then closed, as Kafka does. The buffer is a bytearray whose consumed prefix is
deleted once per feed (CPython makes that a pointer move), so cost stays linear in bytes read.

`FrameBuffer` is the same splitter for an `asyncio.BufferedProtocol`: the socket reads straight
into its buffer (no bytes object per read, no copy into a second buffer) and complete frames
come out as memoryviews of it, valid until the next `get_buffer()`: the caller must decode them
(kio copies what it keeps) and drop them before reading again (a later read may move bytes
within the buffer). The buffer always has room for the whole frame being received, so a frame
is never assembled from pieces; it grows to twice the largest frame and is then reused, the
start of a frame moving to the front when the tail has no room left.
"""

from __future__ import annotations

__all__ = ["FrameBuffer", "FrameError", "FrameReader"]

_INITIAL = 256 * 1024
_MIN_FREE = 64 * 1024
_KEEP_MAX = 4 * 1024 * 1024     # a buffer grown past this for a big frame is dropped once idle


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


class FrameBuffer:
    __slots__ = ("_buf", "_end", "_start", "max_size")

    def __init__(self, max_size: int) -> None:
        self._buf = bytearray(_INITIAL)
        self._start = 0     # first byte not yet handed out as a frame
        self._end = 0       # end of the bytes received
        self.max_size = max_size

    def get_buffer(self) -> memoryview:
        """Where the next read goes: the free tail, with room for the whole pending frame."""
        buf = self._buf
        start, end = self._start, self._end
        pending = end - start
        need = _MIN_FREE
        if pending >= 4:
            size = int.from_bytes(buf[start:start + 4], "big", signed=True)
            if 0 <= size <= self.max_size:
                need = max(need, 4 + size - pending)
        if len(buf) - end < need:
            if len(buf) >= pending + need:
                # room once the pending bytes move to the front: move them within the buffer
                with memoryview(buf) as view:
                    view[:pending] = view[start:end]
            else:
                # room for two frames of this size, so that a frame followed by the start of
                # the next does not move (or, worse, reallocate: fresh pages fault in) every time
                new = bytearray(max(_INITIAL, 2 * (pending + need)))
                new[:pending] = buf[start:end]
                self._buf = new
            self._start, self._end = 0, pending
            end = pending
        return memoryview(self._buf)[end:]

    def buffer_updated(self, nbytes: int) -> list[memoryview]:
        """Account for nbytes read into the last buffer; returns the frames now complete."""
        self._end += nbytes
        buf = self._buf
        pos, end = self._start, self._end
        frames: list[memoryview] = []
        view = memoryview(buf).toreadonly()     # kio decodes only read-only buffers
        while end - pos >= 4:
            size = int.from_bytes(buf[pos:pos + 4], "big", signed=True)
            if size < 0 or size > self.max_size:
                raise FrameError(f"frame size {size} outside 0..{self.max_size}")
            if end - pos - 4 < size:
                break
            frames.append(view[pos + 4:pos + 4 + size])
            pos += 4 + size
        if pos == end:              # all consumed: the next read starts at the front again
            pos = end = 0
            self._end = 0
            if len(buf) > _KEEP_MAX:
                self._buf = bytearray(_INITIAL)
        self._start = pos
        return frames

    @property
    def buffered(self) -> int:
        return self._end - self._start
