"""One RESP client connection: `RespProtocol`, the I/O of a `Client` (keystream/client.py).

Flow: `data_received` feeds the parser, executes every complete command in order, and
writes all their replies with one `transport.write` per read. A client that is blocked
(BLPOP and friends) keeps its later commands queued until it is unblocked. A protocol
error is replied to after the replies of the commands before it, then the connection
closes.

Flow control: when the transport's unsent output passes the high-water mark, we stop
reading from that client (`pause_writing` -> `pause_reading`) and resume once it drained
below the low-water mark, so a client that does not read its replies cannot make us
buffer without bound. A client whose output exceeds `client-output-buffer-limit` (hard
limit of its class) is disconnected, as in Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any, cast

from keystream.client import Client
from keystream.commands.executor import execute
from keystream.resp.parser import RequestParser

if TYPE_CHECKING:
    from keystream.engine import Engine

log = logging.getLogger("keystream.resp")

__all__ = ["RespProtocol"]

HIGH_WATER = 4 * 1024 * 1024
LOW_WATER = 1024 * 1024
# What CLIENT LIST reports as a fresh query buffer's size (Redis: 16 KB read + sds slack).
QBUF_INITIAL = 20474


class RespProtocol(asyncio.Protocol):
    """asyncio glue: bytes in -> parser -> executor -> bytes out."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.transport: asyncio.Transport | None = None
        self.client: Client | None = None
        self.parser: RequestParser | None = None
        self.pending: deque[list[bytes]] = deque()
        self.pending_error: str | None = None
        self.closed = False
        self.reading_paused = False
        self.write_paused = False

    # -- asyncio callbacks ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        engine = self.engine
        self.transport = t = cast(asyncio.Transport, transport)  # a stream server's transport
        t.set_write_buffer_limits(high=HIGH_WATER, low=LOW_WATER)
        cfg = engine.config
        self.parser = RequestParser(cfg["proto-max-bulk-len"], cfg["client-query-buffer-limit"])
        client = Client(engine, engine.next_client_id(), self)
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        client.addr = _fmt_addr(peer)
        client.laddr = _fmt_addr(sock)
        s = transport.get_extra_info("socket")
        if s is not None:
            client.fd = s.fileno()
        self.client = client
        self.parser.authenticated = client.authenticated
        if len(engine.clients) >= cfg["maxclients"]:
            t.write(b"-ERR max number of clients reached\r\n")
            self.closed = True
            transport.close()
            return
        engine.clients[client.id] = client

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.engine.snapshots.aof.forget(self)
        client = self.client
        if client is not None:
            self.engine.client_gone(client)

    def pause_writing(self) -> None:
        self.write_paused = True
        if not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()
        self._check_output_limit()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.closed or self.transport is None:
            return
        if self.pending:
            self.run_pending()
        if (self.reading_paused and not self.write_paused and self.pending_error is None
                and not self.closed):
            self.reading_paused = False
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        client = self.client
        parser = self.parser
        if client is None or parser is None or self.closed:
            return
        client.last_interaction = time.time()
        used = parser.buffered + len(data)
        if used > client.qbuf_peak:
            client.qbuf_peak = used
            if used > client.qbuf_alloc:
                client.qbuf_alloc = max(QBUF_INITIAL, used)
        cmds = parser.feed(data)
        if parser.error is not None:
            # Nothing after a malformed frame is read; the error is sent once the commands
            # before it have been answered (they may be waiting behind a blocked command).
            self.pending_error = parser.error
            parser.error = None
            if not self.reading_paused and self.transport is not None:
                self.reading_paused = True
                self.transport.pause_reading()
        if self.pending or client.blocked is not None or self.write_paused:
            self.pending.extend(cmds)
            self.run_pending()
        else:
            self._run(cmds)

    def _run(self, cmds: list[list[bytes]]) -> None:
        """Execute cmds in order, writing their replies; what cannot run now is queued.

        Replies go out in one write per call, except that a long batch is flushed every 64
        commands: once the transport says its buffer is full (`pause_writing`), the rest
        waits in `pending` until the client has read (`resume_writing`), so a client that
        pipelines faster than it reads cannot make us buffer its replies without bound.
        """
        client = self.client
        assert client is not None
        out: list[bytes] = []
        n = len(cmds)
        i = 0
        run = execute  # a local: looked up once per batch, not per command
        now_ns = 0  # the end of the previous command: the next one's start (see execute)
        while i < n:
            now_ns = run(client, cmds[i], out, now_ns)
            i += 1
            if client.blocked is not None or client.close_after_reply:
                break
            if not i & 63 and out:
                self.write(b"".join(out))
                out.clear()
                now_ns = 0
                if self.write_paused:
                    break
        if i < n and not client.close_after_reply:
            self.pending.extend(cmds[i:])
        if out:
            self.write(b"".join(out))
        if client.close_after_reply:
            self.close_after_write()
        elif self.pending_error is not None and not self.pending and client.blocked is None:
            self._protocol_error(self.pending_error)

    def run_pending(self) -> None:
        """Execute queued commands (after an unblock, an unpause, or once the client has
        read its replies) until none are left, or it blocks again, or output fills up."""
        client = self.client
        if client is None or self.closed or client.blocked is not None or self.write_paused:
            return
        cmds = list(self.pending)
        self.pending.clear()
        self._run(cmds)

    # -- what the command layer asks of a connection (keystream.client.Connection) ----------
    def authenticated(self) -> None:
        if self.parser is not None:
            self.parser.authenticated = True

    def input_buffered(self) -> int:
        return self.parser.buffered if self.parser is not None else 0

    def output_buffered(self) -> int:
        if self.transport is None or self.closed:
            return 0
        return self.transport.get_write_buffer_size()

    # -- output ---------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.closed or self.transport is None:
            return
        aof = self.engine.snapshots.aof
        if aof.fd is not None and (aof.held and self in aof.held or aof.holding()):
            # appendfsync always: this reply waits for the fsync of the effects before it.
            aof.hold(self, data)
            return
        self.write_now(data)

    def write_now(self, data: bytes) -> None:
        if self.closed or self.transport is None:
            return
        self.transport.write(data)
        if self.write_paused:
            self._check_output_limit()

    def _check_output_limit(self) -> None:
        t = self.transport
        if t is None or self.client is None:
            return
        hard = self.engine.output_hard_limit(self.client)
        if hard and t.get_write_buffer_size() > hard:
            log.warning("client %d closed: output buffer over its limit", self.client.id)
            self.engine.stats.client_output_disconnects += 1
            self.close()

    def _protocol_error(self, text: str) -> None:
        self.engine.stats.protocol_errors += 1
        self.write(b"-ERR " + text.encode("utf-8", "surrogateescape") + b"\r\n")
        self.close_after_write()

    def close_after_write(self) -> None:
        aof = self.engine.snapshots.aof
        if aof.held and aof.holds(self):
            aof.close_when_released(self)
            return
        if self.transport is not None and not self.closed:
            self.closed = True
            if self.reading_paused:
                self.transport.resume_reading()
            self.transport.close()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.abort()
            if self.client is not None:
                self.engine.client_gone(self.client)


def _fmt_addr(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = addr[0]
        return f"[{host}]:{addr[1]}" if ":" in host else f"{host}:{addr[1]}"
    return str(addr or "")
