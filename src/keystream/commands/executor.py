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
from keystream.resp.writer import QUEUED, encode_into

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


def execute(client: "Client", argv: list[bytes], out: list[bytes]) -> None:
    server = client.server
    try:
        cmd = resolve(argv)
        name = cmd.name.encode() if cmd.container is None else cmd.container.name.encode()
        if not client.authenticated and name not in _NO_AUTH:
            raise CommandError(errors.NOAUTH)
        if client.multi is not None and name not in _MULTI_IMMEDIATE:
            if "no_multi" in cmd.flags:
                raise CommandError(f"ERR Command not allowed inside a transaction")
            client.multi.append((cmd, argv))
            if client.reply_mode == "on" and not client.skip_next:
                out.append(b"+QUEUED\r\n")
            client.skip_next = False
            return
        if client.proto == 2 and (client.channels or client.patterns) and name not in _SUBSCRIBED_OK:
            raise CommandError(errors.NOT_ALLOWED_IN_SUBSCRIBE.format(argv[0].decode("utf-8", "replace").lower()))
    except CommandError as e:
        if client.multi is not None:
            client.multi_error = True
        server.count_error(e.text, rejected=True, cmd=None)
        _reply(client, e, out)
        return
    reply = run_command(client, cmd, argv)
    if reply is BLOCKED:
        return
    _reply(client, reply, out)


def run_command(client: "Client", cmd: Command, argv: list[bytes]) -> Any:
    """Run a resolved command: handler, statistics, slow log, monitors, propagation."""
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
    if server.dirty != dirty or client.propagate_override:
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
