"""One RESP client connection: `RespProtocol`, the I/O of a `Client` (keystream/client.py).

Flow: `data_received` feeds the parser, executes every complete command in order, and
writes all their replies with one `transport.write` per read. A client that is blocked
(BLPOP and friends) keeps its later commands queued until it is unblocked. A protocol
error is replied to after the replies of the commands before it, then the connection
closes. With the AOF on, a reply never leaves before the effects it acknowledges are in
the file: replies that follow unwritten effects wait for the end of the event-loop turn,
where the AOF is written once for every client and then the replies (Redis's beforeSleep),
or, under `appendfsync always`, for the fsync.

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
from keystream.commands.executor import execute_batch
from keystream.resp.parser import RequestParser

if TYPE_CHECKING:
    from keystream.engine import Engine

log = logging.getLogger("keystream.resp")

__all__ = ["RespProtocol"]

HIGH_WATER = 4 * 1024 * 1024
LOW_WATER = 1024 * 1024
# What CLIENT LIST reports as a fresh query buffer's size (Redis: 16 KB read + sds slack).
QBUF_INITIAL = 20474


class RespProtocol:
    """asyncio glue: bytes in -> parser -> executor -> bytes out.

    An asyncio protocol by its methods (the event loop only calls them; subclassing
    `asyncio.Protocol` would keep mypyc from compiling it as a native class: hot path)."""

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
        # The output of the batch of commands being run (see _run), or None between batches.
        self.out: list[bytes] | None = None
        # Output for the end of this event-loop turn (see defer).
        self.deferred: list[bytes] = []

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

    def eof_received(self) -> bool | None:
        return None  # (close our side too, as asyncio.Protocol does)

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

        Replies go out in one write per call, except that a long batch is flushed every
        `BATCH` (64) commands: once the transport says its buffer is full (`pause_writing`),
        the rest waits in `pending` until the client has read (`resume_writing`), so a client
        that pipelines faster than it reads cannot make us buffer its replies without bound.
        The commands themselves run in `execute_batch` (compiled with the executor).
        """
        client = self.client
        assert client is not None
        out: list[bytes] = []
        self.out = out
        tracking = self.engine.tracking
        outer = tracking.current  # (a blocked client served inside another's command)
        tracking.current = client
        n = len(cmds)
        i = 0
        while i < n:
            i = execute_batch(client, cmds, i, out)
            if client.blocked is not None or client.close_after_reply:
                break
            if i < n and out:
                self.engine.snapshots.aof.flush()  # so that this part of the replies can go now
                self.write(b"".join(out))
                out.clear()
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
        if aof.fd is not None:
            if aof.held and self in aof.held or aof.holding():
                # appendfsync always: this reply waits for the fsync of the effects before it.
                aof.hold(self, data)
                return
            if aof.written != aof.generation:
                # Effects not yet in the file: the reply goes out at the end of this turn,
                # after the AOF write (flush_deferred), as Redis's beforeSleep orders them.
                self.defer(data)
                return
        self.write_now(data)

    def write_now(self, data: bytes) -> None:
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
            batch = self.engine.deferred_writes
            if not batch and self.engine.loop is not None:
                self.engine.loop.call_soon(flush_deferred, self.engine)
            batch.append(self)
        self.deferred.append(data)

    def check_output_limits(self) -> None:
        """Close the connection if its unsent output is over the hard limit of its class, or
        has been over the soft limit for longer than the soft limit's seconds (Redis's
        checkClientOutputBufferLimits; the soft-limit clock starts at the first check over)."""
        t = self.transport
        client = self.client
        if t is None or client is None or self.closed:
            return
        hard, soft, soft_seconds = self.engine.output_limits(client)
        used = t.get_write_buffer_size()
        over = bool(hard) and used >= hard
        if not over and soft and used >= soft:
            now = time.monotonic()
            if not client.obuf_soft_since:
                client.obuf_soft_since = now
                # checked again by the cron, so that it goes even if nothing more is sent
                self.engine.soft_limited.add(self)
            else:
                over = now - client.obuf_soft_since > soft_seconds
        elif not over and client.obuf_soft_since:
            client.obuf_soft_since = 0.0
            self.engine.soft_limited.discard(self)
        if over:
            log.warning("client %d closed: output buffer over its limit", client.id)
            self.engine.stats.client_output_disconnects += 1
            self.close()

    def _protocol_error(self, text: str) -> None:
        self.engine.stats.protocol_errors += 1
        self.write(b"-ERR %b\r\n" % text.encode("utf-8", "surrogateescape"))
        self.close_after_write()

    def close_after_write(self) -> None:
        aof = self.engine.snapshots.aof
        if aof.held and aof.holds(self):
            aof.close_when_released(self)
            return
        if self.transport is not None and not self.closed:
            if self.deferred:
                aof.flush()  # the effects before these replies are written first
                self.transport.write(b"".join(self.deferred))
                self.deferred.clear()
            self.closed = True
            self.engine.soft_limited.discard(self)
            if self.reading_paused:
                self.transport.resume_reading()
            self.transport.close()
            # Gone for everyone else now, as Redis frees it once its reply is written: a
            # tracking redirect to it is broken, its subscriptions end.
            if self.client is not None:
                self.engine.client_gone(self.client)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.engine.soft_limited.discard(self)
            self.transport.abort()
            if self.client is not None:
                self.engine.client_gone(self.client)


def flush_deferred(engine: Engine) -> None:
    """Write what connections were given with `defer` during this turn of the event loop:
    one write each, after the AOF buffer (Redis's beforeSleep order: no reply leaves before
    the effects it acknowledges are in the file); output limits are checked when the socket
    did not take it all."""
    engine.snapshots.aof.flush()
    batch = engine.deferred_writes
    engine.deferred_writes = []
    for conn in batch:
        deferred = conn.deferred
        t = conn.transport
        if deferred and not conn.closed and t is not None:
            t.write(deferred[0] if len(deferred) == 1 else b"".join(deferred))
            deferred.clear()
            if t.get_write_buffer_size():
                conn.check_output_limits()
            elif conn.client is not None and conn.client.obuf_soft_since:
                conn.check_output_limits()  # back under the soft limit


def _fmt_addr(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = addr[0]
        return f"[{host}]:{addr[1]}" if ":" in host else f"{host}:{addr[1]}"
    return str(addr or "")
