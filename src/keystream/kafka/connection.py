"""One Kafka client connection: a thin asyncio.Protocol over the sans-I/O codec.

Plan: a BufferedProtocol: the socket reads straight into a `FrameBuffer`, which hands out
complete frames as memoryviews (a Produce frame is decoded from there without a copy; other,
small, frames are copied to bytes first); each request header is parsed, the body decoded
with kio, and the registered handler called. Results are encoded into buffers and queued
in request order; a handler that must wait (Fetch long polling) leaves a pending slot, and
later responses wait behind it, so responses always leave in request order even with many
requests in flight. All responses ready after one read are written with one `writelines`.

Warnings: a malformed frame, an unknown API key, an unsupported version (other than
ApiVersions, which answers UNSUPPORTED_VERSION in v0 format as Kafka does), a frame above
`socket.request.max.bytes` or a handler crash close this connection only.
Flow control: when the transport's buffer passes its high-water mark we stop reading.

Zero-copy Fetch: a response may hold ranges of segment files (log/file_slice.py) among its
bytes. Such output goes through a `_Sender`: bytes through the transport as usual; a range,
once the transport's buffer has drained (so the stream stays in order), with os.sendfile on
the socket itself, resumed on writability (watched on a duplicate of the socket's descriptor:
the loop refuses a second watcher on the transport's own) until the kernel has taken all of
it; everything after it waits its turn. Without a socket (or where sendfile refuses the file)
the range is read and written as bytes.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from collections import deque
from typing import TYPE_CHECKING, Any, cast

from keystream.kafka.apis.registry import APIS, NO_RESPONSE, Encoded, RequestContext
from keystream.kafka.codec import messages
from keystream.kafka.codec.framing import FrameBuffer, FrameError
from keystream.kafka.codec.header import parse_request_header, peek_api
from keystream.kafka.codec.primitives import I32
from keystream.log.file_slice import FileSlice

if TYPE_CHECKING:
    from keystream.kafka.broker import KafkaBroker

log = logging.getLogger("keystream.kafka")

__all__ = ["KafkaConnection"]

_API_VERSIONS = 18
_PRODUCE_KEY = b"\x00\x00"     # api key 0 as the frame's first two bytes


class _Slot:
    """One response in this connection's output order; `buffers` is None while pending."""

    __slots__ = ("buffers", "task")

    def __init__(self) -> None:
        self.buffers: list[bytes | memoryview | FileSlice] | None = None
        self.task: asyncio.Future[Any] | None = None


_PEER_GONE = frozenset({errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN})


class _Sender:
    """A connection's output in order when it holds file ranges (see the module notes)."""

    __slots__ = ("conn", "queue", "sock_fd", "wait_fd", "waiting")

    def __init__(self, conn: KafkaConnection, sock_fd: int) -> None:
        self.conn = conn
        self.sock_fd = sock_fd
        self.queue: deque[bytes | memoryview | FileSlice] = deque()
        self.wait_fd = -1
        self.waiting = False

    def push(self, items: list[bytes | memoryview | FileSlice]) -> None:
        self.queue.extend(items)
        if not self.waiting:
            self.run()

    def run(self) -> None:
        conn = self.conn
        transport = conn.transport
        queue = self.queue
        while queue and not conn.closed and transport is not None:
            head = queue[0]
            if type(head) is not FileSlice:
                plain: list[bytes | memoryview] = []
                while queue and type(queue[0]) is not FileSlice:
                    plain.append(queue.popleft())  # type: ignore[arg-type]
                transport.writelines(plain)
                continue
            if transport.get_write_buffer_size():
                self._wait()
                return
            try:
                sent = os.sendfile(self.sock_fd, head.fd, head.position, head.length)
            except BlockingIOError:
                self._wait()
                return
            except OSError as e:
                if e.errno in _PEER_GONE:
                    conn.abort(f"sendfile: {e}")
                    return
                try:
                    queue[0] = head.read()            # sendfile refused this file: copy it instead
                except OSError as e2:
                    conn.abort(f"reading a segment for a fetch failed: {e2}")
                    return
                head.close()
                continue
            if sent == 0:
                conn.abort("a segment file ended inside a fetched range")
                return
            head.advance(sent)
            if head.length == 0:
                head.close()
                queue.popleft()

    def _wait(self) -> None:
        if self.wait_fd < 0:
            try:
                self.wait_fd = os.dup(self.sock_fd)
            except OSError as e:                  # out of descriptors: this connection cannot go on
                self.conn.abort(f"cannot wait for the socket: {e}")
                return
        asyncio.get_running_loop().add_writer(self.wait_fd, self._writable)
        self.waiting = True

    def _writable(self) -> None:
        asyncio.get_running_loop().remove_writer(self.wait_fd)
        self.waiting = False
        self.run()

    def close(self) -> None:
        if self.wait_fd >= 0:
            if self.waiting:
                asyncio.get_running_loop().remove_writer(self.wait_fd)
                self.waiting = False
            os.close(self.wait_fd)
            self.wait_fd = -1
        for item in self.queue:
            if type(item) is FileSlice:
                item.close()
        self.queue.clear()


class KafkaConnection(asyncio.BufferedProtocol):
    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker
        self.reader = FrameBuffer(broker.config["socket.request.max.bytes"])
        self.transport: asyncio.Transport | None = None
        self.pending: deque[_Slot] = deque()
        self.out: list[bytes | memoryview | FileSlice] = []
        self.sender: _Sender | None = None        # created by the first response holding a file range
        self.sock_fd = -1
        self.closed = False
        self.local_host = "127.0.0.1"
        self.local_port = 0
        self.peer = ""

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream server's transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.sock_fd = sock.fileno()
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        sockname = transport.get_extra_info("sockname")
        if sockname:
            self.local_host, self.local_port = sockname[0], sockname[1]
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self.transport.set_write_buffer_limits(high=8 * 1024 * 1024)
        self.broker.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.broker.connections.discard(self)
        if self.sender is not None:
            self.sender.close()
        for slot in self.pending:
            if slot.task is not None:
                slot.task.cancel()
        self.pending.clear()

    def pause_writing(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.reader.get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        try:
            frames = self.reader.buffer_updated(nbytes)
        except FrameError as e:
            self.abort(str(e))
            return
        for frame in frames:
            if self.closed:
                return
            # frames are views of the receive buffer: decoded now, never kept past this loop
            self.handle_frame(frame if frame[:2] == _PRODUCE_KEY else frame.tobytes())
        self.flush()

    # -- requests ---------------------------------------------------------------------
    def abort(self, why: str) -> None:
        log.info("kafka client %s: closing connection: %s", self.peer, why)
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def handle_frame(self, frame: bytes | memoryview) -> None:
        try:
            api_key, version, correlation_id = peek_api(frame)
        except ValueError as e:
            self.abort(str(e))
            return
        spec = APIS.get(api_key)
        if spec is None:
            self.abort(f"unknown API key {api_key}")
            return
        if not spec.min_version <= version <= spec.max_version:
            if api_key == _API_VERSIONS:
                from keystream.kafka.apis.api_versions import unsupported_version_body

                self.queue_ready(correlation_id, [unsupported_version_body()], flexible=False)
                return
            self.abort(f"unsupported version {version} of {spec.name}")
            return
        flexible = messages.is_flexible(api_key, version)
        try:
            header = parse_request_header(frame, flexible)
            if spec.decoder is not None:
                request = spec.decoder(frame, header.body_offset, version)
            else:
                request = messages.decode(messages.request_class(api_key, version), frame, header.body_offset)
        except Exception as e:  # noqa: BLE001 - any decoding failure is a malformed request
            self.abort(f"malformed {spec.name} v{version} request: {e!r}")
            return
        ctx = RequestContext(self.broker, self, api_key, version, correlation_id, header.client_id)
        try:
            result = spec.handler(ctx, request)
        except Exception:
            log.exception("kafka %s v%d handler failed", spec.name, version)
            self.abort("handler error")
            return
        resp_flexible = flexible and api_key != _API_VERSIONS
        if result is NO_RESPONSE:
            return
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            slot = _Slot()
            task = asyncio.ensure_future(result)
            slot.task = task
            self.pending.append(slot)
            task.add_done_callback(
                lambda t: self.complete(slot, t, correlation_id, resp_flexible, spec.name))
            return
        self.queue_ready(correlation_id, self.body(result), resp_flexible)

    @staticmethod
    def body(result: Any) -> list[bytes | memoryview | FileSlice]:
        if isinstance(result, Encoded):
            return result.buffers
        return [messages.encode(result)]

    def frame(self, correlation_id: int, body: list[bytes | memoryview | FileSlice] | list[bytes],
              flexible: bool) -> list[bytes | memoryview | FileSlice]:
        header = I32(correlation_id) + (b"\x00" if flexible else b"")
        size = len(header)
        for b in body:
            size += len(b)
        return [I32(size) + header, *body]

    def queue_ready(self, correlation_id: int, body: list[bytes | memoryview | FileSlice] | list[bytes],
                    flexible: bool) -> None:
        buffers = self.frame(correlation_id, body, flexible)
        if self.pending:
            slot = _Slot()
            slot.buffers = buffers
            self.pending.append(slot)
        else:
            self.out.extend(buffers)

    def complete(self, slot: _Slot, task: asyncio.Future[Any], correlation_id: int, flexible: bool,
                 name: str) -> None:
        if self.closed or task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("kafka %s handler failed", name, exc_info=exc)
            self.abort("handler error")
            return
        result = task.result()
        slot.buffers = [] if result is NO_RESPONSE else self.frame(correlation_id, self.body(result), flexible)
        self.flush()

    def flush(self) -> None:
        pending = self.pending
        out = self.out
        while pending and pending[0].buffers is not None:
            out.extend(pending.popleft().buffers)  # type: ignore[arg-type]
        if out and not self.closed and self.transport is not None:
            if self.sender is None and not any(type(b) is FileSlice for b in out):
                self.transport.writelines(out)  # type: ignore[arg-type]
            elif self.sock_fd >= 0:
                if self.sender is None:
                    self.sender = _Sender(self, self.sock_fd)
                self.sender.push(out)
            else:
                self.transport.writelines([b.read() if isinstance(b, FileSlice) else b for b in out])
        self.out = []

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()
