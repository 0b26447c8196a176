"""Transactions (multi.c): MULTI EXEC DISCARD WATCH UNWATCH.

Redis 7.0 semantics. Queuing is done by the executor (a command rejected while queuing —
unknown, wrong arity, not allowed in MULTI — flags the transaction, and EXEC then aborts with
EXECABORT). EXEC runs the queued commands through the engine's `run` (Redis's call()) with
`client.in_exec` set (blocking commands do not block), replies with their replies in one
array, or with a null array when a WATCHed key was modified — including a key that expired
since it was watched, as in 7.0. EXEC is one execution unit: the effects of its commands are
emitted once at its end, wrapped in MULTI/EXEC when there are several.

WATCH state: `db.watched[key]` lists the clients watching key; `client.watched` lists
(db, key); `client.watched_stale` holds the (db id, key) pairs that were already logically
expired when watched (deleting those is no change; see `Database.touch`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keystream.commands.registry import KeySpec, command
from keystream.resp.errors import CommandError
from keystream.resp.writer import NULL_ARRAY, OK

if TYPE_CHECKING:
    from keystream.client import Client

EXECABORT = "EXECABORT Transaction discarded because of previous errors."


@command("multi", 1, "noscript loading stale fast allow_busy runs_in_multi", acl="transaction",
         group="transactions", summary="Start a transaction", since="1.2.0")
def multi_command(client: Client, argv: list[bytes]) -> Any:
    """MULTI"""
    if client.multi is not None:
        raise CommandError("ERR MULTI calls can not be nested")
    client.multi = []
    client.multi_error = False
    return OK


def discard_transaction(client: Any) -> None:
    client.multi = None
    client.multi_error = False
    unwatch_all(client)


@command("discard", 1, "noscript loading stale fast allow_busy runs_in_multi", acl="transaction",
         group="transactions", summary="Discard the queued commands of a transaction",
         since="2.0.0", complexity="O(N), when N is the number of queued commands")
def discard_command(client: Client, argv: list[bytes]) -> Any:
    """DISCARD"""
    if client.multi is None:
        raise CommandError("ERR DISCARD without MULTI")
    discard_transaction(client)
    return OK


def _watched_key_expired(client: Any) -> bool:
    stale = client.watched_stale
    for db, key in client.watched:
        if (db.id, key) not in stale and db.is_expired(key):
            return True
    return False


@command("exec", 1, "noscript loading stale skip_slowlog runs_in_multi", acl="transaction",
         group="transactions", summary="Run the queued commands of a transaction",
         since="1.2.0", complexity="Depends on commands in the transaction")
def exec_command(client: Client, argv: list[bytes]) -> Any:
    """EXEC"""
    if client.multi is None:
        raise CommandError("ERR EXEC without MULTI")
    if client.multi_error:
        discard_transaction(client)
        raise CommandError(EXECABORT)
    if client.dirty_cas or _watched_key_expired(client):
        discard_transaction(client)
        return NULL_ARRAY
    queued = client.multi
    client.multi = None
    unwatch_all(client)
    engine = client.engine
    replies: list[Any] = []
    # One execution unit: the queued commands' effects join EXEC's and are emitted once,
    # when EXEC ends (wrapped in MULTI/EXEC when there are several).
    client.in_exec = True
    engine.unit_depth += 1
    try:
        for cmd, args in queued:
            replies.append(engine.run(client, cmd, args))
    finally:
        client.in_exec = False
        engine.unit_depth -= 1
    client.propagate_override = []  # EXEC itself is no effect: its commands' effects are
    return replies


@command("watch", -2, "noscript loading stale fast allow_busy runs_in_multi", 1, -1, 1, acl="transaction",
         group="transactions", summary="Watch keys: a later EXEC fails if any changed",
         since="2.2.0", complexity="O(1) for every key.",
         key_specs=(KeySpec(("index", 1), ("range", -1, 1, 0), ("RO",)),),
         args="key...")
def watch_command(client: Client, argv: list[bytes]) -> Any:
    """WATCH key [key ...]"""
    if client.multi is not None:
        raise CommandError("ERR WATCH inside MULTI is not allowed")
    if client.dirty_cas:
        # Already doomed: Redis skips the work too.
        return OK
    db = client.db
    for key in argv[1:]:
        if any(d is db and k == key for d, k in client.watched):
            continue
        client.watched.append((db, key))
        db.watched.setdefault(key, []).append(client)
        if db.is_expired(key) and key in db.data:
            client.watched_stale.add((db.id, key))
    return OK


def unwatch_all(client: Any) -> None:
    for db, key in client.watched:
        watchers = db.watched.get(key)
        if watchers is not None:
            try:
                watchers.remove(client)
            except ValueError:
                pass
            if not watchers:
                del db.watched[key]
    client.watched = []
    client.watched_stale.clear()
    client.dirty_cas = False


@command("unwatch", 1, "noscript loading stale fast allow_busy", acl="transaction",
         group="transactions", summary="Forget every key watched by the connection",
         since="2.2.0")
def unwatch_command(client: Client, argv: list[bytes]) -> Any:
    """UNWATCH"""
    unwatch_all(client)
    return OK
