"""`Client`: what commands know of the client that sent them, and the connection it needs.

A client belongs to the engine; it may have a connection (`Connection`: the RESP front end's
`RespProtocol` implements it) or none (Redis's "fake client": scripts, the bridge, tests;
`Engine.fake_client`). Commands reach the engine as `client.engine` and the selected database
as `client.db`.

Not here: executing commands (engine.py, commands/executor.py), socket I/O (resp/).
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

from keystream.resp.writer import Raw, encode_into

if TYPE_CHECKING:
    from keystream.engine import Engine
    from keystream.keyspace.db import Database
    from keystream.tracking import ClientTracking

__all__ = ["Client", "Connection"]


class Connection(Protocol):
    """What the command layer needs of a client's connection."""

    closed: bool
    # Commands received but not run yet (the client is blocked, paused or its output is full).
    pending: deque[list[bytes]]

    # The output of the batch of commands this connection is running, or None between
    # batches: what its client is sent meanwhile joins it, in order with the replies.
    out: list[bytes] | None
    # Output deferred to the end of this event-loop turn (see defer).
    deferred: list[bytes]

    def write(self, data: bytes) -> None:
        """Send encoded bytes (replies outside the request/reply flow, pushes)."""

    def defer(self, data: bytes) -> None:
        """Send encoded bytes at the end of this turn of the event loop (messages)."""

    def close(self) -> None:
        """Drop the connection now."""

    def run_pending(self) -> None:
        """Run the pending commands (after an unblock or an unpause)."""

    def authenticated(self) -> None:
        """The client authenticated: lift the limits on what an unauthenticated one may send."""

    def input_buffered(self) -> int:
        """Bytes received and not parsed into commands yet (CLIENT LIST qbuf)."""
        return 0

    def output_buffered(self) -> int:
        """Bytes of replies not sent yet (CLIENT LIST omem, INFO, MEMORY); 0 once closed."""
        return 0


class Client:
    """What commands know of the client that sent them."""

    def __init__(self, engine: Engine, client_id: int, conn: Connection | None) -> None:
        self.engine = engine
        self.id = client_id
        self.conn = conn
        self.proto = 2
        self.db_index = 0
        self.db: Database = engine.dbs[0]
        self.name: bytes = b""
        self.lib_name: bytes = b""
        self.lib_ver: bytes = b""
        self.addr = ""
        self.laddr = ""
        self.fd = -1
        self.created = time.time()
        self.last_interaction = self.created
        self.authenticated = not engine.config["requirepass"]
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
        self.qbuf_checked = 0.0  # when CLIENT LIST last resized the query buffer
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
        self.tracking: ClientTracking | None = None  # CLIENT TRACKING (keystream/tracking.py)

    # -- database ----------------------------------------------------------------------
    def select(self, index: int) -> None:
        self.db_index = index
        self.db = self.engine.dbs[index]

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
        """As `send`, for bytes already encoded for this client's protocol; outside this
        client's own commands it goes out at the end of this event-loop turn (`defer`)."""
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
