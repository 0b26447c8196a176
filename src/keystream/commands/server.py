"""Server commands (server.c, db.c, debug.c): DBSIZE FLUSHDB FLUSHALL TIME SHUTDOWN DEBUG.

Redis 7.0 syntax, replies and error texts. Deliberate differences:
- FLUSHALL/FLUSHDB ASYNC (or neither, under lazyfree-lazy-user-flush) hand the old keyspace
  to the lazy free queue (keyspace/lazyfree.py), freed in slices between clients' commands.
- SHUTDOWN: NOSAVE/SAVE/NOW/FORCE are accepted; the persistence layer's shutdown hooks decide
  what is written. The server stops cleanly and exits with status 0, as on SIGTERM.
  SHUTDOWN ABORT replies that no shutdown is in progress (ours never waits for replicas).
- DEBUG implements SLEEP, SET-ACTIVE-EXPIRE, LOG, PROTOCOL and HELP; other families register more in
  `DEBUG_SUBCOMMANDS` (name -> (min args, max args or -1, handler)). `enable-debug-command`
  defaults to yes (Redis: no), so tests and the conformance suite can use DEBUG; no/local are
  honoured, but the refusal comes when DEBUG runs, not when MULTI queues it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from keystream.commands import blocking
from keystream.commands.registry import command
from keystream.commands.util import parse_float
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.writer import OK, BigNumber, Bool, Push, Raw, SetReply, Status, Verbatim, encode

if TYPE_CHECKING:
    from keystream.client import Client

log = logging.getLogger("keystream")


def _flush_mode(client: Any, argv: list[bytes]) -> bool:
    """The optional ASYNC|SYNC argument of FLUSHALL/FLUSHDB: True for ASYNC (the default:
    lazyfree-lazy-user-flush)."""
    if len(argv) > 2:
        raise CommandError(errors.SYNTAX)
    if len(argv) == 2:
        mode = argv[1].lower()
        if mode not in (b"async", b"sync"):
            raise CommandError(errors.SYNTAX)
        return mode == b"async"
    return bool(client.engine.config["lazyfree-lazy-user-flush"])


@command("flushall", -1, "write", acl="keyspace dangerous", group="server",
         summary="Remove every key of every database", since="1.0.0",
         complexity="O(N) where N is the total number of keys in all databases",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"),
         history=(("4.0.0", "ASYNC option."), ("6.2.0", "SYNC option.")),
         args="async=[ASYNC@4.0.0 | SYNC@6.2.0]")
def flushall_command(client: Client, argv: list[bytes]) -> Any:
    """FLUSHALL [ASYNC | SYNC]"""
    lazy = _flush_mode(client, argv)
    engine = client.engine
    for db in engine.dbs:
        db.flush(lazy)
        blocking.signal_db_ready(db)  # clients in XREADGROUP on a flushed stream get -UNBLOCKED
    # As Redis: a running BGSAVE is stopped, and with save points the (empty) dump is written
    # now, so that a restart does not bring the old keys back.
    engine.snapshots.after_flushall()
    engine.tracking.flushed()
    engine.dirty += 1
    # Always propagated, even when there was nothing to remove, and even though the save
    # above reset the dirty counter (Redis's forceCommandPropagation)
    client.propagate(list(argv))
    return OK


@command("flushdb", -1, "write", acl="keyspace dangerous", group="server",
         summary="Remove every key of the current database", since="1.0.0",
         complexity="O(N) where N is the number of keys in the selected database",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"),
         history=(("4.0.0", "ASYNC option."), ("6.2.0", "SYNC option.")),
         args="async=[ASYNC@4.0.0 | SYNC@6.2.0]")
def flushdb_command(client: Client, argv: list[bytes]) -> Any:
    """FLUSHDB [ASYNC | SYNC]"""
    lazy = _flush_mode(client, argv)
    client.db.flush(lazy)
    blocking.signal_db_ready(client.db)
    client.engine.tracking.flushed()
    client.engine.dirty += 1
    return OK


@command("dbsize", 1, "readonly fast", acl="keyspace", group="server",
         summary="The number of keys in the current database", since="1.0.0",
         tips=("request_policy:all_shards", "response_policy:agg_sum"))
def dbsize_command(client: Client, argv: list[bytes]) -> Any:
    """DBSIZE"""
    return len(client.db)


@command("time", 1, "loading stale fast", group="server", summary="The server's clock",
         since="2.6.0", tips=("nondeterministic_output",))
def time_command(client: Client, argv: list[bytes]) -> Any:
    """TIME"""
    us = time.time_ns() // 1000
    return [b"%d" % (us // 1_000_000), b"%d" % (us % 1_000_000)]


@command("shutdown", -1, "admin noscript loading stale no_multi allow_busy", group="server",
         summary="Stop the server", since="1.0.0",
         complexity="O(N) when saving, where N is the total number of keys in all databases "
                    "when saving data, otherwise O(1)",
         history=(("7.0.0", "NOW, FORCE and ABORT options."),),
         args="nosave_save=[NOSAVE | SAVE] [NOW@7.0.0] [FORCE@7.0.0] [ABORT@7.0.0]")
def shutdown_command(client: Client, argv: list[bytes]) -> Any:
    """SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]"""
    opts = set()
    for a in argv[1:]:
        low = a.lower()
        if low not in (b"nosave", b"save", b"now", b"force", b"abort"):
            raise CommandError(errors.SYNTAX)
        opts.add(low)
    if (b"abort" in opts and len(opts) > 1) or (b"nosave" in opts and b"save" in opts):
        raise CommandError(errors.SYNTAX)
    if b"abort" in opts:
        raise CommandError("ERR No shutdown in progress.")
    engine = client.engine
    log.warning("User requested shutdown...")
    # SAVE: save; NOSAVE: do not; neither: save when save points are configured.
    save = True if b"save" in opts else False if b"nosave" in opts else None
    if not engine.snapshots.prepare_shutdown(save, b"force" in opts):
        raise CommandError("ERR Errors trying to SHUTDOWN. Check logs.")
    engine.request_shutdown()
    # As Redis, the client gets no reply: the connection closes with the server.
    client.close_after_reply = True
    return Raw(b"")


# -- DEBUG ------------------------------------------------------------------------------
DebugHandler = Callable[[Any, list[bytes]], Any]
# name -> (least arguments after DEBUG <name>, most (-1: any), handler(client, argv))
DEBUG_SUBCOMMANDS: dict[bytes, tuple[int, int, DebugHandler]] = {}


def debug_subcommand(name: str, min_args: int, max_args: int) -> Callable[[DebugHandler], DebugHandler]:
    def deco(fn: DebugHandler) -> DebugHandler:
        DEBUG_SUBCOMMANDS[name.encode()] = (min_args, max_args, fn)
        return fn

    return deco


@debug_subcommand("sleep", 1, 1)
def _debug_sleep(client: Any, argv: list[bytes]) -> Any:
    """DEBUG SLEEP <seconds>: block the server, as Redis does (unparsable means 0)."""
    try:
        secs = parse_float(argv[2])
    except CommandError:
        secs = 0.0
    if secs > 0:
        time.sleep(secs)
    return OK


@debug_subcommand("set-active-expire", 1, 1)
def _debug_set_active_expire(client: Any, argv: list[bytes]) -> Any:
    """DEBUG SET-ACTIVE-EXPIRE <0|1>"""
    try:
        flag = int(argv[2])
    except ValueError:
        flag = 0
    client.engine.active_expire_enabled = bool(flag)
    return OK


@debug_subcommand("log", 1, 1)
def _debug_log(client: Any, argv: list[bytes]) -> Any:
    """DEBUG LOG <message>"""
    log.warning("DEBUG LOG: %s", argv[2].decode("utf-8", "replace"))
    return OK


# DEBUG PROTOCOL <type>: one sample reply of each RESP type, as Redis's (clients test their
# RESP3 parsers with it; we test our writer against Redis's bytes with it).
_PROTOCOL_SAMPLES: dict[bytes, Any] = {
    b"string": b"Hello World",
    b"integer": 12345,
    b"double": 3.141,
    b"bignum": BigNumber(b"1234567999999999999999999999999999999"),
    b"null": None,
    b"array": [0, 1, 2],
    b"set": SetReply([0, 1, 2]),
    b"map": {0: Bool(False), 1: Bool(True), 2: Bool(False)},
    b"true": Bool(True),
    b"false": Bool(False),
    b"verbatim": Verbatim(b"This is a verbatim\nstring"),
}


@debug_subcommand("protocol", 1, 1)
def _debug_protocol(client: Any, argv: list[bytes]) -> Any:
    """DEBUG PROTOCOL <string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false>"""
    name = argv[2].lower()
    sample = _PROTOCOL_SAMPLES.get(name, _PROTOCOL_SAMPLES)
    if sample is not _PROTOCOL_SAMPLES:
        return sample
    if name == b"attrib":
        # An attribute is not a reply of its own: a real reply follows it (RESP2: only that).
        follow = encode(b"Some real reply following the attribute", client.proto)
        if client.proto < 3:
            return Raw(follow)
        return Raw(b"|1\r\n" + encode(b"key-popularity", 3) + encode([b"key:123", 90], 3) + follow)
    if name == b"push":
        if client.proto < 3:
            raise CommandError("ERR RESP2 is not supported by this command")
        return Raw(encode(Push([b"server-cpu-usage", 42]), 3)
                   + encode(b"Some real reply following the push reply", 3))
    raise CommandError("ERR Wrong protocol type name. Please use one of the following: "
                       "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")


@debug_subcommand("help", 0, 0)
def _debug_help(client: Any, argv: list[bytes]) -> Any:
    lines = ["DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"]
    for name in sorted(DEBUG_SUBCOMMANDS):
        lines.append(name.decode().upper())
    return [Status(line.encode()) for line in lines]


_DEBUG_NOT_ALLOWED = (
    'ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", you can run it '
    "from a local connection, otherwise you need to set this option in the configuration file, and then "
    "restart the server.")


def _is_local(client: Any) -> bool:
    """A connection over a Unix socket or the loopback interface (enable-debug-command local)."""
    addr = client.addr or ""
    return addr.startswith(("127.0.0.1:", "[::1]:")) or ":" not in addr


@command("debug", -2, "admin noscript loading stale", group="server",
         summary="Debugging and testing helpers", since="1.0.0", complexity="Depends on subcommand.",
         doc_flags=("syscmd",))
def debug_command(client: Client, argv: list[bytes]) -> Any:
    """DEBUG <subcommand> [arg ...]"""
    allowed = client.engine.config["enable-debug-command"]
    if allowed == "no" or (allowed == "local" and not _is_local(client)):
        raise CommandError(_DEBUG_NOT_ALLOWED)
    sub = argv[1].lower()
    entry = DEBUG_SUBCOMMANDS.get(sub)
    nargs = len(argv) - 2
    if entry is None or nargs < entry[0] or (entry[1] >= 0 and nargs > entry[1]):
        raise CommandError(
            f"ERR unknown subcommand or wrong number of arguments for "
            f"'{argv[1].decode('utf-8', 'replace')}'. Try DEBUG HELP.")
    return entry[2](client, argv)
