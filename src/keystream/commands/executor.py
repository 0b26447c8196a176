"""The one place that runs a Redis command and does its bookkeeping.

`execute(client, argv, out)`: look up the command, check arity, authentication, the
transaction and pub/sub contexts, run the handler, then: statistics (INFO
commandstats/errorstats), the slow log, MONITOR feeds, propagation of the command's effect
(to the AOF and replicas, through `server.propagate`), reply-mode handling (CLIENT REPLY)
and encoding the reply into `out` for the client's protocol.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from keystream.commands.registry import COMMANDS, Command
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.writer import OK, QUEUED, encode_into

if TYPE_CHECKING:
    from keystream.resp.connection import Client

log = logging.getLogger("keystream.commands")

__all__ = ["execute", "BLOCKED", "run_command"]


class _Blocked:
    """Returned by a handler that parked the client (blocking list/zset/stream ops)."""

    __slots__ = ()


BLOCKED = _Blocked()

# Commands that run at once even inside MULTI.
_MULTI_IMMEDIATE = frozenset({b"exec", b"discard", b"multi", b"watch", b"unwatch", b"quit", b"reset"})
# Commands allowed without authentication.
_NO_AUTH = frozenset({b"auth", b"hello", b"quit", b"reset"})
# Commands a RESP2 client in subscribed state may send.
_SUBSCRIBED_OK = frozenset({
    b"subscribe", b"ssubscribe", b"unsubscribe", b"sunsubscribe", b"psubscribe", b"punsubscribe",
    b"ping", b"quit", b"reset",
})
_perf = time.perf_counter
_time_ns = time.time_ns


def resolve(argv: list[bytes]) -> Command:
    """The command for argv with arity checked, or raise the error Redis replies with."""
    cmd = COMMANDS.get(argv[0].lower())
    if cmd is None:
        raise CommandError(errors.unknown_command(argv[0], argv[1:]))
    if cmd.subcommands:
        if len(argv) == 1:
            raise CommandError(errors.wrong_arity(cmd.name))
        sub = cmd.subcommands.get(argv[1].lower())
        if sub is None:
            raise CommandError(errors.unknown_subcommand(argv[1], cmd.name))
        cmd = sub
    arity = cmd.arity
    n = len(argv)
    if (arity > 0 and n != arity) or n < -arity:
        raise CommandError(errors.wrong_arity(cmd.name))
    return cmd


# Exact-case command names seen on the wire -> Command, for commands without subcommands,
# so the hot path skips lower() and the container logic. Bounded: case variants are finite
# but a client could send many; past the cap we simply stop caching.
_FAST: dict[bytes, Command] = {}
_FAST_CAP = 4096


def execute(client: "Client", argv: list[bytes], out: list[bytes]) -> None:
    """Run one command and append its encoded reply to `out`."""
    cmd = _FAST.get(argv[0])
    if (cmd is None or client.multi is not None or not client.authenticated
            or client.channels or client.patterns):
        cmd = _checked(client, argv, out)
        if cmd is None:
            return
    else:
        arity = cmd.arity
        n = len(argv)
        if (arity > 0 and n != arity) or n < -arity:
            _reject(client, CommandError(errors.wrong_arity(cmd.name)), out)
            return
    reply = run_command(client, cmd, argv)
    if client.server.ready_keys:  # a push (maybe inside EXEC or a script) reached a blocked client
        client.server.serve_ready_keys()
    if reply is BLOCKED:
        return
    if client.reply_mode != "on" or client.skip_next:
        client.skip_next = False
        return
    t = type(reply)
    if t is bytes:
        n = len(reply)
        out.append(b"$%d\r\n" % n)
        out.append(reply)
        out.append(b"\r\n")
    elif reply is OK:
        out.append(b"+OK\r\n")
    else:
        encode_into(out, reply, client.proto)


def _checked(client: "Client", argv: list[bytes], out: list[bytes]) -> Command | None:
    """Slow path: resolve, check every context; None if an error reply was written."""
    try:
        cmd = resolve(argv)
        name = cmd.name.encode() if cmd.container is None else cmd.container.name.encode()
        if not client.authenticated and name not in _NO_AUTH:
            raise CommandError(errors.NOAUTH)
        if client.multi is not None and name not in _MULTI_IMMEDIATE:
            if "no_multi" in cmd.flags:
                raise CommandError("ERR Command not allowed inside a transaction")
            client.multi.append((cmd, argv))
            if client.reply_mode == "on" and not client.skip_next:
                out.append(b"+QUEUED\r\n")
            client.skip_next = False
            return None
        if client.proto == 2 and (client.channels or client.patterns) and name not in _SUBSCRIBED_OK:
            raise CommandError(errors.NOT_ALLOWED_IN_SUBSCRIBE.format(argv[0].decode("utf-8", "replace").lower()))
    except CommandError as e:
        if client.multi is not None:
            client.multi_error = True
        _reject(client, e, out)
        return None
    if cmd.container is None and len(_FAST) < _FAST_CAP:
        _FAST[argv[0]] = cmd
    return cmd


def _reject(client: "Client", e: CommandError, out: list[bytes]) -> None:
    client.server.count_error(e.text, rejected=True, cmd=None)
    _reply(client, e, out)


def run_command(client: "Client", cmd: Command, argv: list[bytes]) -> Any:
    """Run a resolved command (EXEC, scripts): handler, statistics, slow log, monitors,
    propagation. Returns the reply value (not encoded)."""
    server = client.server
    server.cmd_time_ms = _time_ns() // 1_000_000
    client.propagate_override = None
    dirty = server.dirty
    t0 = _perf()
    try:
        reply = cmd.handler(client, argv)  # type: ignore[misc]
    except CommandError as e:
        reply = e
    except Exception:  # a bug of ours: report it, keep serving
        log.exception("command %r failed", cmd.name)
        reply = CommandError(f"ERR internal error while running '{cmd.name}'")
    usec = (_perf() - t0) * 1e6
    cmd.calls += 1
    cmd.usec += usec
    if type(reply) is CommandError:
        cmd.failed_calls += 1
        server.count_error(reply.text, rejected=False, cmd=cmd)
    client.last_cmd = cmd.name
    if usec >= server.slowlog_threshold >= 0:
        server.slowlog_add(client, argv, usec)
    if server.monitors and "skip_monitor" not in cmd.flags and "admin" not in cmd.flags:
        server.feed_monitors(client, argv)
    if (server.dirty != dirty or client.propagate_override) and server.propagate_listeners:
        override = client.propagate_override
        server.propagate(client.db_index, override if override is not None else [argv])
    return reply


def _reply(client: "Client", reply: Any, out: list[bytes]) -> None:
    if client.reply_mode != "on" or client.skip_next:
        client.skip_next = False
        return
    if reply is QUEUED:
        out.append(b"+QUEUED\r\n")
        return
    encode_into(out, reply, client.proto)
