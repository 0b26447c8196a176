"""One RESP client connection: `Client` (state commands see) and `RespProtocol` (I/O).

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
from typing import TYPE_CHECKING, Any

from keystream.resp.parser import RequestParser
from keystream.resp.writer import Raw, encode_into

if TYPE_CHECKING:
    from keystream.keyspace.db import Database
    from keystream.server import Server

log = logging.getLogger("keystream.resp")

__all__ = ["Client", "RespProtocol"]

HIGH_WATER = 4 * 1024 * 1024
LOW_WATER = 1024 * 1024
# What CLIENT LIST reports as a fresh query buffer's size (Redis: 16 KB read + sds slack).
QBUF_INITIAL = 20474


class Client:
    """What commands know of the client that sent them."""

    def __init__(self, server: "Server", client_id: int, conn: "RespProtocol | None") -> None:
        self.server = server
        self.id = client_id
        self.conn = conn
        self.proto = 2
        self.db_index = 0
        self.db: Database = server.dbs[0]
        self.name: bytes = b""
        self.lib_name: bytes = b""
        self.lib_ver: bytes = b""
        self.addr = ""
        self.laddr = ""
        self.fd = -1
        self.created = time.time()
        self.last_interaction = self.created
        self.authenticated = not server.config["requirepass"]
        self.user = b"default"
        self.flags: set[str] = set()
        # transactions
        self.multi: list[tuple[Any, list[bytes]]] | None = None
        self.multi_error = False
        self.in_exec = False  # True while EXEC (or a script) runs queued commands: never block
        self.dirty_cas = False
        self.watched: list[tuple[Database, bytes]] = []
        # (db id, key) watched while already logically expired (multi.c's wk->expired)
        self.watched_stale: set[tuple[int, bytes]] = set()
        # reply control: "on" | "off" | "skip"
        self.reply_mode = "on"
        self.skip_next = False
        self.close_after_reply = False
        self.last_cmd = "NULL"
        # query buffer accounting for CLIENT LIST qbuf/qbuf-free (see RespProtocol)
        self.qbuf_alloc = 0
        self.qbuf_peak = 0
        # set by a handler to replace what is propagated for the current command
        self.propagate_override: list[list[bytes]] | None = None
        # blocking operations (lists, zsets, streams): the wait state, or None
        self.blocked: Any = None
        # pub/sub (keystream/pubsub.py keeps these): ordered as subscribed; `subscribed` is
        # their total count, kept as a plain attribute because the executor's hot path reads it
        self.channels: dict[bytes, None] = {}
        self.patterns: dict[bytes, None] = {}
        self.shard_channels: dict[bytes, None] = {}
        self.subscribed = 0
        # Inside EXEC: push messages for this client, held until the queued command's reply
        # (see exec_command); None otherwise.
        self.push_capture: list[Any] | None = None
        # When the client passed its output buffer's soft limit (0: it is below it).
        self.obuf_soft_since = 0.0
        self.no_evict = False
        self.no_touch = False
        self.tracking: Any = None

    # -- database ----------------------------------------------------------------------
    def select(self, index: int) -> None:
        self.db_index = index
        self.db = self.server.dbs[index]

    # -- effects -----------------------------------------------------------------------
    def propagate(self, *commands: list[bytes]) -> None:
        """Propagate these commands instead of the one being executed."""
        if self.propagate_override is None:
            self.propagate_override = []
        self.propagate_override.extend(commands)

    # -- output outside the request/reply flow (push messages, unblocked replies) -------
    def send(self, value: Any) -> None:
        """Send value now, in order with the replies: while this client's own commands run,
        it joins their output (before the running command's reply, as in Redis); inside
        EXEC it is held for the queued command's element."""
        conn = self.conn
        if conn is None or conn.closed:
            return
        if self.push_capture is not None:
            self.push_capture.append(value)
            return
        out = conn.out
        if out is not None:
            encode_into(out, value, self.proto)
            return
        chunks: list[bytes] = []
        encode_into(chunks, value, self.proto)
        conn.write(b"".join(chunks))

    def send_raw(self, data: bytes) -> None:
        """As `send`, for bytes already encoded for this client's protocol."""
        conn = self.conn
        if conn is None or conn.closed:
            return
        if self.push_capture is not None:
            self.push_capture.append(Raw(data))
            return
        out = conn.out
        if out is not None:
            out.append(data)
        else:
            conn.defer(data)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


class RespProtocol(asyncio.Protocol):
    """asyncio glue: bytes in -> parser -> executor -> bytes out."""

    def __init__(self, server: "Server") -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.client: Client | None = None
        self.parser: RequestParser | None = None
        self.pending: deque[list[bytes]] = deque()
        self.pending_error: str | None = None
        self.closed = False
        self.reading_paused = False
        self.write_paused = False
        # The output of the batch of commands being run (see _run), or None between batches.
        self.out: list[bytes] | None = None
        # Output for the end of this event-loop turn (see defer).
        self.deferred: list[bytes] = []

    # -- asyncio callbacks ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        server = self.server
        self.transport = transport  # type: ignore[assignment]
        transport.set_write_buffer_limits(high=HIGH_WATER, low=LOW_WATER)
        cfg = server.config
        self.parser = RequestParser(cfg["proto-max-bulk-len"], cfg["client-query-buffer-limit"])
        client = Client(server, server.next_client_id(), self)
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        client.addr = _fmt_addr(peer)
        client.laddr = _fmt_addr(sock)
        s = transport.get_extra_info("socket")
        if s is not None:
            client.fd = s.fileno()
        self.client = client
        self.parser.authenticated = client.authenticated
        if len(server.clients) >= cfg["maxclients"]:
            transport.write(b"-ERR max number of clients reached\r\n")
            self.closed = True
            transport.close()
            return
        server.clients[client.id] = client

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        client = self.client
        if client is not None:
            self.server.client_gone(client)

    def pause_writing(self) -> None:
        self.write_paused = True
        if not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()
        self.check_output_limits()

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
                client.qbuf_alloc = used if used > QBUF_INITIAL else QBUF_INITIAL
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
        self.out = out
        execute = self.server.execute
        tracking = self.server.tracking
        outer = tracking.current  # (a blocked client served inside another's command)
        tracking.current = client
        n = len(cmds)
        i = 0
        now_ns = 0  # the end of the previous command: the next one's start (see execute)
        while i < n:
            now_ns = execute(client, cmds[i], out, now_ns)
            i += 1
            if client.blocked is not None or client.close_after_reply:
                break
            if not i & 63 and out:
                self.write(b"".join(out))
                out.clear()
                now_ns = 0
                if self.write_paused:
                    break
        self.out = None
        tracking.current = outer
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

    # -- output ---------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.closed or self.transport is None:
            return
        if self.deferred:
            self.deferred.append(data)
            data = b"".join(self.deferred)
            self.deferred.clear()
        self.transport.write(data)
        if self.write_paused:
            self.check_output_limits()

    def defer(self, data: bytes) -> None:
        """Send data at the end of this turn of the event loop, with whatever else this
        connection gets meanwhile (one write for many messages, as Redis's beforeSleep
        does); anything written before then goes after it."""
        if self.closed or self.transport is None:
            return
        if not self.deferred:
            batch = self.server.deferred_writes
            if not batch and self.server.loop is not None:
                self.server.loop.call_soon(flush_deferred, self.server)
            batch.append(self)
        self.deferred.append(data)

    def flush_deferred(self) -> None:
        deferred = self.deferred
        t = self.transport
        if deferred and not self.closed and t is not None:
            t.write(deferred[0] if len(deferred) == 1 else b"".join(deferred))
            deferred.clear()
            if t.get_write_buffer_size():  # the socket did not take it all: limits apply
                self.check_output_limits()
            elif self.client is not None and self.client.obuf_soft_since:
                self.check_output_limits()  # back under the soft limit

    def check_output_limits(self) -> None:
        """Close the connection if its unsent output is over the hard limit of its class, or
        has been over the soft limit for longer than the soft limit's seconds (Redis's
        checkClientOutputBufferLimits; the soft-limit clock starts at the first check over)."""
        t = self.transport
        client = self.client
        if t is None or client is None or self.closed:
            return
        hard, soft, soft_seconds = self.server.output_limits(client)
        used = t.get_write_buffer_size()
        over = bool(hard) and used >= hard
        if not over and soft and used >= soft:
            now = time.monotonic()
            if not client.obuf_soft_since:
                client.obuf_soft_since = now
                # checked again by the cron, so that it goes even if nothing more is sent
                self.server.soft_limited.add(self)
            else:
                over = now - client.obuf_soft_since > soft_seconds
        elif not over and client.obuf_soft_since:
            client.obuf_soft_since = 0.0
            self.server.soft_limited.discard(self)
        if over:
            log.warning("client %d closed: output buffer over its limit", client.id)
            self.server.stat_client_output_disconnects += 1
            self.close()

    def _protocol_error(self, text: str) -> None:
        self.server.stat_protocol_errors += 1
        self.write(b"-ERR " + text.encode() + b"\r\n")
        self.close_after_write()

    def close_after_write(self) -> None:
        if self.transport is not None and not self.closed:
            if self.deferred:
                self.transport.write(b"".join(self.deferred))
                self.deferred.clear()
            self.closed = True
            self.server.soft_limited.discard(self)
            if self.reading_paused:
                self.transport.resume_reading()
            self.transport.close()
            # Gone for everyone else now, as Redis frees it once its reply is written: a
            # tracking redirect to it is broken, its subscriptions end.
            if self.client is not None:
                self.server.client_gone(self.client)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.server.soft_limited.discard(self)
            self.transport.abort()
            if self.client is not None:
                self.server.client_gone(self.client)


def flush_deferred(server: "Server") -> None:
    """Write what connections were given with `defer` during this turn of the event loop."""
    batch = server.deferred_writes
    server.deferred_writes = []
    for conn in batch:
        conn.flush_deferred()


def _fmt_addr(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = addr[0]
        return f"[{host}]:{addr[1]}" if ":" in host else f"{host}:{addr[1]}"
    return str(addr or "")
