"""Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK ...), as Redis's blocked.c.

How a blocking command uses it (lists, sorted sets, streams all work the same way):

    from keystream.keyspace import blocking

    def blpop_command(client, argv):
        timeout_ms = blocking.parse_timeout(argv[-1])        # raises Redis's errors
        ...try to serve at once; if something was served, return the reply...
        if not blocking.may_block(client):                     # inside MULTI/EXEC or a script
            return NULL_ARRAY                                  # what Redis replies there
        return blocking.block_client(client, keys, timeout_ms, on_ready)   # returns BLOCKED

    def on_ready(client, key):
        # Called when `key` (in the client's database) may have become servable. Runs
        # like a command of `client` (cmd_time_ms set, propagation collected): pop, call
        # client.propagate([b"LPOP", key]) for what to replicate, return the reply. Return
        # None to keep waiting (key gone, wrong type, nothing new). Raising CommandError
        # sends that error and unblocks the client.

`on_timeout(client) -> reply` is optional: by default a timed-out client gets a null array
(RESP2 `*-1`, RESP3 `_`), as every Redis blocking type does. `timeout_ms` 0 waits forever;
fractional seconds are honoured with a loop timer.

Waking: every modification of a key goes through `Database.touch`; while at least one
client is blocked, a listener in `server.key_listeners` records the keys someone waits on
as ready (nobody blocked -> no listener, so the GET/SET path pays nothing). The executor
calls `serve_ready_keys(server)` after each top-level command, so a push inside MULTI/EXEC
or a script is served once the whole transaction/script is done, as Redis's
handleClientsBlockedOnKeys. Clients are served first-come-first-served per key; what a
served client writes (BLMOVE's push) can make more keys ready, served in the same loop.
`signal_key_ready(db, key)` marks a key ready by hand (e.g. SWAPDB: `signal_db_ready(db)`).

`unblock_client(client, error)` implements CLIENT UNBLOCK (TIMEOUT|ERROR);
`blocked_count(server)` is INFO's `blocked_clients`; a blocked client has `client.blocked`
set (CLIENT LIST flag `b`). A blocked client's later pipelined commands stay queued in its
connection and run after it is unblocked.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from keystream.commands.executor import BLOCKED
from keystream.resp.errors import (
    TIMEOUT_NEGATIVE,
    TIMEOUT_NOT_FLOAT,
    UNBLOCKED_BY_CLIENT,
    CommandError,
)
from keystream.resp.writer import NULL_ARRAY, encode_into

if TYPE_CHECKING:
    from keystream.keyspace.db import Database
    from keystream.resp.connection import Client
    from keystream.server import Server

__all__ = [
    "Waiter",
    "block_client",
    "blocked_count",
    "may_block",
    "parse_timeout",
    "serve_ready_keys",
    "signal_db_ready",
    "signal_key_ready",
    "unblock_client",
]

OnReady = Callable[["Client", bytes], Any]
OnTimeout = Callable[["Client"], Any]

_LLONG_MAX = 2**63 - 1


class Waiter:
    """One blocked client: what it waits on and what to do when served or timed out."""

    __slots__ = ("client", "db", "keys", "on_ready", "on_timeout", "timer")

    def __init__(self, client: Client, db: Database, keys: list[bytes], on_ready: OnReady,
                 on_timeout: OnTimeout | None) -> None:
        self.client = client
        self.db = db
        self.keys = keys
        self.on_ready = on_ready
        self.on_timeout = on_timeout
        self.timer: Any = None


class _Blocking:
    """Per-server state: waiters by database and key, in arrival order."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.waiting: dict[int, dict[bytes, deque[Waiter]]] = {}
        self.count = 0
        self.listening = False
        server.client_gone_hooks.append(self.client_gone)

    def on_touch(self, db: Database, key: bytes) -> None:
        keys = self.waiting.get(db.id)
        if keys is not None and key in keys:
            server = self.server
            if not server.ready_keys and server.loop is not None:
                # Normally the executor serves right after the command; this covers writes
                # made outside any client command (e.g. by the Kafka bridge).
                server.loop.call_soon(serve_ready_keys, server)
            server.ready_keys[(db.id, key)] = db

    def add(self, w: Waiter) -> None:
        keys = self.waiting.setdefault(w.db.id, {})
        for key in w.keys:
            q = keys.get(key)
            if q is None:
                keys[key] = q = deque()
            q.append(w)
        self.count += 1
        if not self.listening:
            self.server.key_listeners.append(self.on_touch)
            self.listening = True

    def remove(self, w: Waiter) -> None:
        keys = self.waiting.get(w.db.id)
        if keys is not None:
            for key in w.keys:
                q = keys.get(key)
                if q is not None:
                    try:
                        q.remove(w)
                    except ValueError:
                        pass
                    if not q:
                        del keys[key]
            if not keys:
                del self.waiting[w.db.id]
        if w.timer is not None:
            w.timer.cancel()
            w.timer = None
        if w.client.blocked is w:
            w.client.blocked = None
        self.count -= 1
        if self.count == 0 and self.listening:
            self.server.key_listeners.remove(self.on_touch)
            self.listening = False

    def finish(self, w: Waiter, reply: Any) -> None:
        """Unblock w's client with reply, then let its queued commands run."""
        self.remove(w)
        client = w.client
        conn = client.conn
        if conn is None or conn.closed:
            return
        if client.reply_mode == "on" and not client.skip_next:
            out: list[bytes] = []
            encode_into(out, reply, client.proto)
            conn.write(b"".join(out))
        client.skip_next = False
        if conn.pending:
            loop = self.server.loop
            if loop is not None:
                loop.call_soon(conn.run_pending)
            else:
                conn.run_pending()

    def timed_out(self, w: Waiter) -> None:
        w.timer = None
        if w.client.blocked is not w:
            return
        reply = w.on_timeout(w.client) if w.on_timeout is not None else NULL_ARRAY
        self.finish(w, reply)

    def client_gone(self, client: Client) -> None:
        w = client.blocked
        if type(w) is Waiter:
            self.remove(w)


def _manager(server: Server) -> _Blocking:
    m = server.__dict__.get("blocking")
    if m is None:
        m = _Blocking(server)
        server.blocking = m  # type: ignore[attr-defined]
    return m


def parse_timeout(arg: bytes) -> int:
    """A blocking timeout in seconds (float) as milliseconds, rounded up; 0 means forever.

    Accepts what Redis's string2ld (strtold) accepts, hexadecimal floats included; values
    that overflow a 64-bit millisecond count are "negative", as Redis's cast makes them.
    """
    try:
        s = arg.decode("ascii")
    except UnicodeDecodeError:
        raise CommandError(TIMEOUT_NOT_FLOAT) from None
    if not s or len(s) >= 5120 or s != s.strip() or "_" in s:
        raise CommandError(TIMEOUT_NOT_FLOAT)
    try:
        f = float(s)
    except ValueError:
        if not s.lstrip("+-")[:2].lower() == "0x":  # strtold also reads C99 hex floats
            raise CommandError(TIMEOUT_NOT_FLOAT) from None
        try:
            f = float.fromhex(s)
        except ValueError:
            raise CommandError(TIMEOUT_NOT_FLOAT) from None
    if math.isnan(f):
        raise CommandError(TIMEOUT_NOT_FLOAT)
    if math.isinf(f):
        raise CommandError(TIMEOUT_NEGATIVE)
    ms = math.ceil(f * 1000.0)
    if ms < 0 or ms > _LLONG_MAX:
        raise CommandError(TIMEOUT_NEGATIVE)
    return ms


def may_block(client: Client) -> bool:
    """False inside MULTI/EXEC or a script (Redis's CLIENT_DENY_BLOCKING): reply at once."""
    return not client.in_exec and client.conn is not None


def block_client(client: Client, keys: list[bytes], timeout_ms: int, on_ready: OnReady,
                 on_timeout: OnTimeout | None = None) -> Any:
    """Park client until on_ready serves it for one of keys, or timeout_ms passes (0: never).

    Returns the executor's BLOCKED sentinel: the handler returns it as its reply.
    """
    server = client.server
    m = _manager(server)
    w = Waiter(client, client.db, list(dict.fromkeys(keys)), on_ready, on_timeout)
    client.blocked = w
    m.add(w)
    if timeout_ms > 0 and server.loop is not None:
        # The deadline counts from the command's start, as Redis's mstime()-based one.
        delay = (server.cmd_time_ms + timeout_ms) / 1000.0 - time.time()
        w.timer = server.loop.call_later(max(delay, 0.0), m.timed_out, w)
    return BLOCKED


def signal_key_ready(db: Database, key: bytes) -> None:
    """Mark key as possibly servable for clients blocked on it (served after this command)."""
    server = db.server
    if server is None:
        return
    m = server.__dict__.get("blocking")
    if m is not None and m.count:
        m.on_touch(db, key)


def signal_db_ready(db: Database) -> None:
    """Mark every key someone waits on in db as ready (after SWAPDB, as Redis does)."""
    server = db.server
    if server is None:
        return
    m = server.__dict__.get("blocking")
    if m is not None:
        for key in list(m.waiting.get(db.id, ())):
            server.ready_keys[(db.id, key)] = db


def serve_ready_keys(server: Server) -> None:
    """Serve clients blocked on keys that became ready, first come first served per key."""
    m = server.__dict__.get("blocking")
    ready = server.ready_keys
    if m is None:
        ready.clear()
        return
    while ready:
        dbkey = next(iter(ready))
        del ready[dbkey]
        keys = m.waiting.get(dbkey[0])
        if keys is None:
            continue
        key = dbkey[1]
        q = keys.get(key)
        if not q:
            continue
        for w in list(q):
            client = w.client
            if client.blocked is not w:
                continue
            server.cmd_time_ms = time.time_ns() // 1_000_000
            client.propagate_override = None
            dirty = server.dirty
            try:
                reply = w.on_ready(client, key)
            except CommandError as e:
                reply = e
                server.count_error(e.text, rejected=False, cmd=None)
            if reply is None:
                continue
            override = client.propagate_override
            if server.dirty != dirty or override:
                if override:
                    server.propagate(w.db.id, override)
                client.propagate_override = None
            m.finish(w, reply)


def unblock_client(client: Client, error: bool) -> bool:
    """CLIENT UNBLOCK: end a key wait as a timeout, or with an -UNBLOCKED error."""
    w = client.blocked
    if type(w) is not Waiter:
        return False
    m = _manager(client.server)
    if error:
        reply: Any = CommandError(UNBLOCKED_BY_CLIENT)
        client.server.count_error(UNBLOCKED_BY_CLIENT, rejected=False, cmd=None)
    else:
        reply = w.on_timeout(client) if w.on_timeout is not None else NULL_ARRAY
    m.finish(w, reply)
    return True


def blocked_count(server: Server) -> int:
    """How many clients are blocked on keys (INFO blocked_clients)."""
    m = server.__dict__.get("blocking")
    return m.count if m is not None else 0
