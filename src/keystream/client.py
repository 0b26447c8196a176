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

from keystream.resp.writer import encode_into

if TYPE_CHECKING:
    from keystream.engine import Engine
    from keystream.keyspace.db import Database

__all__ = ["Client", "Connection", "TrackingState"]


class Connection(Protocol):
    """What the command layer needs of a client's connection."""

    closed: bool
    # Commands received but not run yet (the client is blocked, paused or its output is full).
    pending: deque[list[bytes]]

    def write(self, data: bytes) -> None:
        """Send encoded bytes (replies outside the request/reply flow, pushes)."""

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


class TrackingState(Protocol):
    """A client's CLIENT TRACKING state, as the client-tracking layer keeps it."""

    redirect: int


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
        # pub/sub
        self.channels: set[bytes] = set()
        self.patterns: set[bytes] = set()
        self.no_evict = False
        self.no_touch = False
        self.shard_channels: set[bytes] = set()
        self.tracking: TrackingState | None = None

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
        conn = self.conn
        if conn is None or conn.closed:
            return
        out: list[bytes] = []
        encode_into(out, value, self.proto)
        conn.write(b"".join(out))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    @property
    def subscribed(self) -> int:
        return len(self.channels) + len(self.patterns)
