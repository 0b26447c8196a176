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
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from typing import TYPE_CHECKING, Any, cast

from keystream.kafka.apis.registry import APIS, NO_RESPONSE, Encoded, RequestContext
from keystream.kafka.codec import messages
from keystream.kafka.codec.framing import FrameBuffer, FrameError
from keystream.kafka.codec.header import parse_request_header, peek_api
from keystream.kafka.codec.primitives import I32

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
        self.buffers: list[bytes | memoryview] | None = None
        self.task: asyncio.Future[Any] | None = None


class KafkaConnection(asyncio.BufferedProtocol):
    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker
        self.reader = FrameBuffer(broker.config["socket.request.max.bytes"])
        self.transport: asyncio.Transport | None = None
        self.pending: deque[_Slot] = deque()
        self.out: list[bytes | memoryview] = []
        self.closed = False
        self.local_host = "127.0.0.1"
        self.local_port = 0
        self.peer = ""

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream server's transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
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
    def body(result: Any) -> list[bytes | memoryview]:
        if isinstance(result, Encoded):
            return result.buffers
        return [messages.encode(result)]

    def frame(self, correlation_id: int, body: list[bytes | memoryview],
              flexible: bool) -> list[bytes | memoryview]:
        header = I32(correlation_id) + (b"\x00" if flexible else b"")
        size = len(header)
        for b in body:
            size += len(b)
        return [I32(size) + header, *body]

    def queue_ready(self, correlation_id: int, body: list[bytes | memoryview], flexible: bool) -> None:
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
        while pending and pending[0].buffers is not None:
            self.out.extend(pending.popleft().buffers)  # type: ignore[arg-type]
        if self.out and not self.closed and self.transport is not None:
            self.transport.writelines(self.out)
        self.out = []

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()
