"""Client-side caching, the server's half (Redis 7.0's tracking.c): who may hold which key
cached, and the invalidation messages that tell them it changed.

Default mode: after a read-only command of a tracking client, its keys are remembered in
one table, key -> ids of the clients that read it (OPTIN: only after CLIENT CACHING YES;
OPTOUT: unless CLIENT CACHING NO; keys are names, whatever the database, as in Redis).
When a key is modified, each client in its entry gets an invalidation (not the modifier
itself under NOLOOP) and the entry goes: the next read tracks it again.

BCAST mode: no table; a client registers prefixes (none: every key). Keys modified during
one turn of the event loop are collected per prefix and sent once per turn to the prefix's
clients (NOLOOP clients without the keys they modified themselves).

Delivery: RESP3 clients get a push `invalidate [keys]`; a redirected client's go to the
client it names: as a push if that one speaks RESP3, as a message on
`__redis__:invalidate` if it is a RESP2 subscriber, else nowhere. A redirect to a client
that went away marks the tracking client's redirect broken (a RESP3 client is told with a
`tracking-redir-broken` push). Invalidations for the client whose command is running wait
until that command's reply (an EXEC's whole reply) has gone out (`after_command`), as in
Redis 7.0; the others go out at once. Flushing a database (FLUSHDB, FLUSHALL) sends every
tracking client one invalidation with a null key list and empties the table.
`tracking-table-max-keys`: when the table has more keys, keys are invalidated at random
until it fits, with an effort that grows while it does not (before commands and in cron).

Scripts, as Redis 7.0's call(): a read-only command a script runs makes its caller track
the script's declared keys (KEYS, not the keys the command read: `remember_keys`), and
EVAL_RO, EVALSHA_RO and FCALL_RO are not themselves tracked as read-only commands.

Not here: the commands (commands/tracking.py).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from keystream.pubsub import bulk
from keystream.resp import errors
from keystream.resp.writer import Push

if TYPE_CHECKING:
    from keystream.client import Client
    from keystream.commands.registry import Command
    from keystream.engine import Engine

__all__ = ["INVALIDATE_CHANNEL", "ClientTracking", "Tracking"]

INVALIDATE_CHANNEL = b"__redis__:invalidate"
_RESP2_HEAD = b"*3\r\n" + bulk(b"message") + bulk(INVALIDATE_CHANNEL)
_RESP3_HEAD = b">2\r\n" + bulk(b"invalidate")
# The null key list of a flush, in the tracking client's protocol (even when redirected).
_NULL = {2: b"$-1\r\n", 3: b"_\r\n"}


# Read-only script commands: only the commands their scripts run are tracked.
_SCRIPT_RO = frozenset({"eval_ro", "evalsha_ro", "fcall_ro"})

class ClientTracking:
    """A tracking client's mode (Redis's CLIENT_TRACKING_* flags and its redirect)."""

    __slots__ = ("bcast", "broken_redirect", "caching", "noloop", "optin", "optout", "prefixes",
                 "redirect")

    def __init__(self, redirect: int, bcast: bool, optin: bool, optout: bool, noloop: bool) -> None:
        self.redirect = redirect  # 0: none
        self.bcast = bcast
        self.optin = optin
        self.optout = optout
        self.noloop = noloop
        self.caching = False  # CLIENT CACHING given for the next command / transaction
        self.broken_redirect = False
        self.prefixes: dict[bytes, None] = {}


class _Prefix:
    """A BCAST prefix: its clients, and the keys modified this turn -> who modified them."""

    __slots__ = ("clients", "keys")

    def __init__(self) -> None:
        self.clients: dict[Client, None] = {}
        self.keys: dict[bytes, Client | None] = {}


class Tracking:
    """The server's client-side caching state (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.table: dict[bytes, dict[int, None]] = {}
        self.items = 0  # client ids stored over all the table's keys
        self.prefixes: dict[bytes, _Prefix] = {}
        self.clients = 0
        # The client whose commands run now (Redis's current_client), and the invalidations
        # for it held until its reply is out (None: a flush's null invalidation).
        self.current: Client | None = None
        self.pending: list[tuple[Client, bytes | None]] = []
        self._limit_effort_runs = 0
        self._broadcast_scheduled = False
        self._listening = False
        engine.client_gone_hooks.append(self.disable)
        engine.client_reset_hooks.append(self.disable)
        engine.config.listeners.append(self._on_config_change)

    # -- enabling --------------------------------------------------------------------
    def enable(self, client: Client, redirect: int, bcast: bool, optin: bool, optout: bool,
               noloop: bool, prefixes: list[bytes]) -> None:
        """CLIENT TRACKING ON with checked options (again: a new mode, BCAST prefixes add up)."""
        old = client.tracking
        if old is None:
            self.clients += 1
            state = ClientTracking(redirect, bcast, optin, optout, noloop)
            client.tracking = state
        else:
            state = old
            state.redirect = redirect
            state.bcast, state.optin, state.optout, state.noloop = bcast, optin, optout, noloop
            state.broken_redirect = False
        if bcast:
            for prefix in prefixes or [b""]:
                entry = self.prefixes.get(prefix)
                if entry is None:
                    entry = self.prefixes[prefix] = _Prefix()
                entry.clients[client] = None
                state.prefixes[prefix] = None
        self._listen()

    def disable(self, client: Client) -> None:
        """CLIENT TRACKING OFF, RESET, disconnection: the client's entries stay in the table
        (ids are not cleaned up, as in Redis) but it gets nothing more."""
        state = client.tracking
        if state is None:
            return
        for prefix in state.prefixes:
            entry = self.prefixes[prefix]
            del entry.clients[client]
            if not entry.clients:
                del self.prefixes[prefix]
        client.tracking = None
        self.clients -= 1
        if self.pending:
            self.pending = [p for p in self.pending if p[0] is not client]

    @staticmethod
    def prefix_conflict(state: ClientTracking | None, prefixes: list[bytes]) -> str | None:
        """Redis's error when BCAST prefixes overlap each other or the client's, else None."""
        existing = list(state.prefixes) if state is not None else []
        for i, p in enumerate(prefixes):
            for q in existing:
                if p.startswith(q) or q.startswith(p):
                    return errors.prefix_overlaps_existing(p, q)
            for q in prefixes[i + 1:]:
                if p.startswith(q) or q.startswith(p):
                    return errors.prefix_overlaps_provided(p, q)
        return None

    def _listen(self) -> None:
        if not self._listening:
            self._listening = True
            self.engine.event_subscribers.append(self.on_event)

    # -- reads -----------------------------------------------------------------------
    def remember(self, client: Client, cmd: Command, argv: list[bytes]) -> None:
        """After a read-only command of a tracking client: remember the keys it read."""
        if "pubsub" in cmd.flags or cmd.name in _SCRIPT_RO:
            return
        self.remember_keys(client, [argv[i] for i in cmd.key_indexes(argv)])

    def remember_keys(self, client: Client, keys: list[bytes]) -> None:
        """Remember keys as read by client (if it tracks them, and not in BCAST mode)."""
        state = client.tracking
        if state is None or state.bcast:
            return
        if (state.optin and not state.caching) or (state.optout and state.caching):
            return
        cid = client.id
        table = self.table
        for key in keys:
            ids = table.get(key)
            if ids is None:
                ids = table[key] = {}
            if cid not in ids:
                ids[cid] = None
                self.items += 1

    def after_command(self, client: Client, cmd: Command, argv: list[bytes]) -> None:
        """After a top-level command of a tracking client (its reply written): remember what
        it read, end a CLIENT CACHING that applied to it, send it what waited for its reply."""
        state = client.tracking
        if state is not None:
            if "readonly" in cmd.flags:
                self.remember(client, cmd, argv)
            if client.multi is None and (cmd.container is None or cmd.container.name != "client"):
                state.caching = False
        if self.pending:
            self.flush_pending(client)
        self.limit()

    # -- writes ----------------------------------------------------------------------
    def on_event(self, kind: str, db_index: int, key: bytes) -> None:
        """A write event: Redis's signalModifiedKey -> trackingInvalidateKey(current client,
        key, bcast=1) (every event but a key miss modified its key)."""
        if kind != "keymiss":
            self._invalidate(key, self.current, True)

    def _invalidate(self, key: bytes, modifier: Client | None, bcast: bool) -> None:
        """Redis's trackingInvalidateKey; the running client's invalidation waits for its
        reply unless modifier is None (the table limit: Redis applies it between commands)."""
        if bcast and self.prefixes:
            for prefix, entry in self.prefixes.items():
                if key.startswith(prefix):
                    entry.keys[key] = modifier
                    self._schedule_broadcast()
        ids = self.table.pop(key, None)
        if ids is None:
            return
        self.items -= len(ids)
        clients = self.engine.clients
        for cid in ids:
            target = clients.get(cid)
            if target is None:
                continue
            state = target.tracking
            if state is None or state.bcast:
                continue
            if state.noloop and target is modifier:
                continue
            if target is self.current and modifier is not None:
                self.pending.append((target, key))
            else:
                self._send(target, [key])

    def flushed(self) -> None:
        """A database was flushed: a null invalidation for every tracking client."""
        if self.clients:
            for c in list(self.engine.clients.values()):
                if c.tracking is not None:
                    if c is self.current:
                        self.pending.append((c, None))
                    else:
                        self._send(c, None)
        self.table = {}
        self.items = 0

    def flush_pending(self, client: Client) -> None:
        """Send client the invalidations held for it while its command ran."""
        mine = [key for c, key in self.pending if c is client]
        self.pending = [p for p in self.pending if p[0] is not client]
        for key in mine:
            if client.tracking is not None:
                self._send(client, None if key is None else [key])

    # -- delivery --------------------------------------------------------------------
    def _send(self, client: Client, keys: list[bytes] | None) -> None:
        """Redis's sendTrackingMessage: keys (None: all of them) to client or its redirect."""
        state = client.tracking
        target = client
        redirected = False
        if state is not None and state.redirect:
            redir = self.engine.clients.get(state.redirect)
            if redir is None:
                state.broken_redirect = True
                if client.proto == 3:
                    client.send(Push([b"tracking-redir-broken", state.redirect]))
                return
            target = redir
            redirected = True
        if target.proto == 3:
            head = _RESP3_HEAD
        elif redirected and target.subscribed:
            head = _RESP2_HEAD
        else:
            return  # RESP2 has no push messages on the client's own connection
        body = _NULL[client.proto] if keys is None else b"*%d\r\n" % len(keys) + b"".join(map(bulk, keys))
        target.send_raw(head + body)

    def _schedule_broadcast(self) -> None:
        if not self._broadcast_scheduled:
            self._broadcast_scheduled = True
            loop = self.engine.loop
            if loop is not None:
                loop.call_soon(self.broadcast)

    def broadcast(self) -> None:
        """Once per event-loop turn: each BCAST prefix's modified keys to its clients."""
        self._broadcast_scheduled = False
        for entry in list(self.prefixes.values()):
            keys = entry.keys
            if not keys:
                continue
            entry.keys = {}
            everything = list(keys)
            for c in list(entry.clients):
                if c.tracking is None:
                    continue
                if c.tracking.noloop:
                    mine = [k for k, by in keys.items() if by is not c]
                    if mine:
                        self._send(c, mine)
                else:
                    self._send(c, everything)

    # -- tracking-table-max-keys -----------------------------------------------------
    def limit(self) -> None:
        """Invalidate random keys while the table holds more than tracking-table-max-keys
        (at most 100 x the number of consecutive runs that could not get under it)."""
        max_keys = self.engine.config["tracking-table-max-keys"]
        table = self.table
        if not max_keys or len(table) <= max_keys:
            self._limit_effort_runs = 0
            return
        effort = 100 * (self._limit_effort_runs + 1)
        keys = random.sample(list(table), min(effort, len(table)))
        for key in keys:
            self._invalidate(key, None, False)
            if len(table) <= max_keys:
                self._limit_effort_runs = 0
                return
        self._limit_effort_runs += 1

    def _on_config_change(self, name: str, value: Any) -> None:
        if name == "tracking-table-max-keys" and self.clients:
            self.limit()

    # -- INFO --------------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        return {"tracking_total_keys": len(self.table), "tracking_total_items": self.items,
                "tracking_total_prefixes": len(self.prefixes)}

