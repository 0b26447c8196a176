"""Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK ...), as Redis's blocked.c.

How a blocking command uses it (lists, sorted sets, streams all work the same way):

    from keystream.commands import blocking

    def blpop_command(client: Client, argv: list[bytes]) -> Any:
        timeout_ms = blocking.parse_timeout(argv[-1])        # raises Redis's errors
        ...try to serve at once; if something was served, return the reply...
        if not blocking.may_block(client):                     # inside MULTI/EXEC or a script
            return NULL_ARRAY                                  # what Redis replies there
        return blocking.block_client(client, argv, keys, timeout_ms, on_ready)  # BLOCKED

    def on_ready(client, key):
        # Called when `key` (in the client's database) may have become servable. Runs as
        # the rest of the client's command through `Engine.run_unit` (clock set, effects
        # collected and emitted as one unit): pop, call client.propagate([b"LPOP", key]) for
        # the effect (a blocking pop propagates as its non-blocking form), return the reply.
        # Return None to keep waiting (key gone, wrong type, nothing new). Raising
        # CommandError sends that error and unblocks the client.

`on_timeout(client) -> reply` is optional: by default a timed-out client gets a null array
(RESP2 `*-1`, RESP3 `_`), as every Redis blocking type does. `timeout_ms` 0 waits forever;
fractional seconds are honoured with a loop timer.

Waking: while at least one client is blocked, `BlockingState` subscribes to the engine's
typed write events and records the keys someone waits on as ready (nobody blocked -> no
subscriber, so the GET/SET path pays nothing). The executor calls `serve_ready_keys` after
each top-level command, so a push inside MULTI/EXEC or a script is served once the whole
transaction/script is done, as Redis's handleClientsBlockedOnKeys. Clients are served
first-come-first-served per key; what a served client writes (BLMOVE's push) can make more
keys ready, served in the same loop. `signal_db_ready(db)` marks every waited key of a
database ready (SWAPDB).

`unblock_client(client, error)` implements CLIENT UNBLOCK (TIMEOUT|ERROR);
`engine.blocking.count` is INFO's `blocked_clients`; a blocked client has `client.blocked`
set (CLIENT LIST flag `b`). A blocked client's later pipelined commands stay queued in its
connection and run after it is unblocked. Replies go out through the client (`client.send`).

Not here: what a key holds (keyspace/), sockets (resp/).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from keystream.commands.registry import BLOCKED, COMMANDS, Command
from keystream.resp.errors import (
    TIMEOUT_NEGATIVE,
    TIMEOUT_NOT_FLOAT,
    UNBLOCKED_BY_CLIENT,
    CommandError,
)
from keystream.resp.writer import NULL_ARRAY

if TYPE_CHECKING:
    from keystream.client import Client
    from keystream.engine import Engine
    from keystream.keyspace.db import Database

__all__ = [
    "BlockingState",
    "Waiter",
    "block_client",
    "may_block",
    "parse_timeout",
    "signal_db_ready",
    "unblock_client",
]

OnReady = Callable[["Client", bytes], Any]
OnTimeout = Callable[["Client"], Any]

_LLONG_MAX = 2**63 - 1


class Waiter:
    """One blocked client: what it waits on and what to do when served or timed out."""

    __slots__ = ("argv", "client", "cmd", "db", "keys", "on_ready", "on_timeout", "timer")

    def __init__(self, client: Client, cmd: Command, argv: list[bytes], db: Database,
                 keys: list[bytes], on_ready: OnReady, on_timeout: OnTimeout | None) -> None:
        self.client = client
        self.cmd = cmd
        self.argv = argv
        self.db = db
        self.keys = keys
        self.on_ready = on_ready
        self.on_timeout = on_timeout
        self.timer: Any = None


class BlockingState:
    """The engine's blocked clients: waiters by database and key, in arrival order, and the
    keys that became ready since they were last served."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.waiting: dict[int, dict[bytes, deque[Waiter]]] = {}
        # (db id, key) -> Database of keys waited on that changed, in the order they changed
        self.ready_keys: dict[tuple[int, bytes], Database] = {}
        self.count = 0
        self.listening = False

    def on_write(self, kind: str, db_index: int, key: bytes) -> None:
        """A write event: a key someone waits on may have become servable."""
        keys = self.waiting.get(db_index)
        if keys is not None and key in keys:
            engine = self.engine
            if not self.ready_keys and engine.loop is not None:
                # Normally the executor serves right after the command; this covers writes
                # made outside any client command (e.g. by the Kafka bridge).
                engine.loop.call_soon(self.serve_ready_keys)
            self.ready_keys[(db_index, key)] = engine.dbs[db_index]

    def add(self, w: Waiter) -> None:
        keys = self.waiting.setdefault(w.db.id, {})
        for key in w.keys:
            q = keys.get(key)
            if q is None:
                keys[key] = q = deque()
            q.append(w)
        self.count += 1
        if not self.listening:
            self.engine.event_subscribers.append(self.on_write)
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
            self.engine.event_subscribers.remove(self.on_write)
            self.listening = False

    def finish(self, w: Waiter, reply: Any) -> None:
        """Unblock w's client with reply, then let its queued commands run."""
        self.remove(w)
        client = w.client
        if type(reply) is CommandError:  # an error ends the blocked command: it failed
            w.cmd.failed_calls += 1
        conn = client.conn
        if conn is None or conn.closed:
            return
        if client.reply_mode == "on" and not client.skip_next:
            client.send(reply)
        client.skip_next = False
        if conn.pending:
            loop = self.engine.loop
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

    def serve_ready_keys(self) -> None:
        """Serve clients blocked on keys that became ready, first come first served per key;
        each served client's command ends as an execution unit of its own."""
        ready = self.ready_keys
        engine = self.engine
        while ready:
            dbkey = next(iter(ready))
            del ready[dbkey]
            keys = self.waiting.get(dbkey[0])
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
                reply = engine.run_unit(client, w.cmd, w.argv, partial(w.on_ready, client, key))
                if reply is not None:
                    self.finish(w, reply)

    def signal_db_ready(self, db: Database) -> None:
        """Mark every key someone waits on in db as ready (after SWAPDB, as Redis does)."""
        for key in list(self.waiting.get(db.id, ())):
            self.ready_keys[(db.id, key)] = db


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


def block_client(client: Client, argv: list[bytes], keys: list[bytes], timeout_ms: int,
                 on_ready: OnReady, on_timeout: OnTimeout | None = None) -> Any:
    """Park client (running argv) until on_ready serves it for one of keys, or timeout_ms
    passes (0: never). Returns the BLOCKED sentinel: the handler returns it as its reply.
    """
    engine = client.engine
    m = engine.blocking
    w = Waiter(client, COMMANDS[argv[0].lower()], argv, client.db, list(dict.fromkeys(keys)),
               on_ready, on_timeout)
    client.blocked = w
    m.add(w)
    if timeout_ms > 0 and engine.loop is not None:
        # The deadline counts from the command's start, as Redis's mstime()-based one.
        delay = (engine.cmd_time_ms + timeout_ms) / 1000.0 - time.time()
        w.timer = engine.loop.call_later(max(delay, 0.0), m.timed_out, w)
    return BLOCKED


def signal_db_ready(db: Database) -> None:
    """Mark every key someone waits on in db as ready (after SWAPDB, as Redis does)."""
    if db.engine is not None:
        db.engine.blocking.signal_db_ready(db)


def unblock_client(client: Client, error: bool) -> bool:
    """CLIENT UNBLOCK: end a key wait as a timeout, or with an -UNBLOCKED error."""
    w = client.blocked
    if type(w) is not Waiter:
        return False
    engine = client.engine
    if error:
        reply: Any = CommandError(UNBLOCKED_BY_CLIENT)
        engine.count_error(UNBLOCKED_BY_CLIENT, rejected=False)
    else:
        reply = w.on_timeout(client) if w.on_timeout is not None else NULL_ARRAY
    engine.blocking.finish(w, reply)
    return True
