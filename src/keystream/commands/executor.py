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

from keystream.commands.introspection import record_command_latency
from keystream.commands.registry import COMMANDS, Command
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.writer import BULK_HEADERS as _BULK_HDR
from keystream.resp.writer import INT_REPLIES as _INT_CACHE
from keystream.resp.writer import OK, QUEUED, Raw, encode_into

if TYPE_CHECKING:
    from keystream.resp.connection import Client

log = logging.getLogger("keystream.commands")

__all__ = ["execute", "BLOCKED", "run_command", "PauseState", "pause_clients", "unpause_clients",
           "paused_count"]


class _Blocked:
    """Returned by a handler that parked the client (blocking list/zset/stream ops)."""

    __slots__ = ()


BLOCKED = _Blocked()

# Commands that run at once even inside MULTI.
_MULTI_IMMEDIATE = frozenset({b"exec", b"discard", b"multi", b"watch", b"quit", b"reset"})
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
            if cmd.handler is None:  # a pure container (COMMAND alone has its own handler)
                raise CommandError(errors.wrong_arity(cmd.name))
        else:
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


def execute(client: "Client", argv: list[bytes], out: list[bytes], now_ns: int = 0) -> int:
    """Run one command and append its encoded reply to `out`.

    This is the hot path of every RESP request: the common case (a cached command name,
    no transaction, no pause, authenticated, not subscribed) runs the handler inline with
    only the statistics every command needs; the rare bookkeeping (slow log, latency
    monitor, MONITOR feeds, propagation, errors) is in `_after`.

    Clock: like Redis's call(), a command reads the wall clock when it starts (its command
    time, and the start of its duration) and when it ends. A caller running a batch of
    pipelined commands passes as `now_ns` what the previous one returned: the time it
    ended, which is the next one's start, so a command costs one clock read, not two.
    0 (the default) makes the command read the clock itself. Returns the end time in ns
    (0 when something ran after the command that took time of its own).
    """
    server = client.server
    cmd = _FAST.get(argv[0])
    if (cmd is None or client.multi is not None or not client.authenticated
            or client.subscribed or server.pause is not None):
        cmd = _checked(client, argv, out)
        if cmd is None:
            return now_ns
    else:
        arity = cmd.arity
        n = len(argv)
        if (arity > 0 and n != arity) or n < -arity:
            cmd.rejected_calls += 1
            _reject(client, CommandError(errors.wrong_arity(cmd.name)), out)
            return now_ns
    # The command clock keeps its int object while the millisecond does not change: keys
    # written in the same millisecond then share one access-time object (see keyspace/db.py).
    # Redis 7.0 times call() with the wall clock too; a clock stepped back counts as zero.
    t0 = now_ns or _time_ns()
    now = t0 // 1_000_000
    if now != server.cmd_time_ms:
        server.cmd_time_ms = now
    if client.propagate_override is not None:
        client.propagate_override = None
    client.last_cmd = cmd.name
    dirty = server.dirty
    # run_command's body, inlined on purpose (the hot path: no extra call per command) and
    # with _after only when needed; a change to one belongs in the other.
    try:
        reply = cmd.handler(client, argv)  # type: ignore[misc]
    except CommandError as e:
        reply = e
    except Exception:  # a bug of ours: report it, keep serving
        reply = _internal_error(cmd)
    t1 = _time_ns()
    usec = (t1 - t0) / 1000
    if usec < 0.0:  # noqa: PLR1730 (cheaper than a max() call here)
        usec = 0.0
    cmd.calls += 1
    cmd.usec += usec
    if (usec >= 1000.0 or usec >= server.slowlog_threshold >= 0 or server.monitors
            or type(reply) is CommandError
            or (server.propagate_listeners
                and (dirty != server.dirty or client.propagate_override is not None))):
        _after(client, cmd, argv, reply, usec, dirty)
    if server.ready_keys:  # a push (maybe inside EXEC or a script) reached a blocked client
        server.serve_ready_keys()
        t1 = 0
    if reply is BLOCKED:
        return t1
    if client.tracking is not None:
        _reply(client, reply, out)
        server.tracking.after_command(client, cmd, argv)
        return 0
    if client.reply_mode != "on" or client.skip_next:
        _swallow(client)
        return t1
    t = type(reply)
    if t is bytes:
        n = len(reply)
        out.append(_BULK_HDR[n] if n <= 1024 else b"$%d\r\n" % n)
        out.append(reply)
        out.append(b"\r\n")
    elif reply is OK:
        out.append(b"+OK\r\n")
    elif t is int and -1 <= reply <= 10000:
        out.append(_INT_CACHE[reply + 1])
    elif t is Raw:
        out.append(reply)
    else:
        encode_into(out, reply, client.proto)
    return t1


def _checked(client: "Client", argv: list[bytes], out: list[bytes]) -> Command | None:
    """Slow path: resolve, check every context; None if an error reply was written."""
    try:
        cmd = resolve(argv)
        name = cmd.name.encode() if cmd.container is None else cmd.container.name.encode()
        if not client.authenticated and name not in _NO_AUTH:
            raise CommandError(errors.NOAUTH)
        if client.multi is not None and name not in _MULTI_IMMEDIATE and "no_multi" in cmd.flags:
            raise CommandError("ERR Command not allowed inside a transaction")
        if client.proto == 2 and client.subscribed and name not in _SUBSCRIBED_OK:
            raise CommandError(errors.NOT_ALLOWED_IN_SUBSCRIBE.format(cmd.name))
        pause = client.server.pause
        if pause is not None and client.conn is not None and (pause.all or _may_replicate(client, cmd)):
            _postpone(client, pause, argv)
            return None
        if client.multi is not None and name not in _MULTI_IMMEDIATE:
            client.multi.append((cmd, argv))
            if client.reply_mode == "on" and not client.skip_next:
                out.append(b"+QUEUED\r\n")
            else:
                _swallow(client)
            return None
    except CommandError as e:
        if client.multi is not None:
            client.multi_error = True
        known = _known(argv)
        if known is not None:
            known.rejected_calls += 1
        _reject(client, e, out)
        return None
    if cmd.container is None and not cmd.subcommands and len(_FAST) < _FAST_CAP:
        _FAST[argv[0]] = cmd
    return cmd


def _known(argv: list[bytes]) -> Command | None:
    """The command (or subcommand) argv names, if it exists, for rejected-call statistics."""
    cmd = COMMANDS.get(argv[0].lower())
    if cmd is not None and cmd.subcommands:
        return cmd.subcommands.get(argv[1].lower()) if len(argv) > 1 else None
    return cmd


def _reject(client: "Client", e: CommandError, out: list[bytes]) -> None:
    client.server.count_error(e.text, rejected=True, cmd=None)
    _reply(client, e, out)


def run_command(client: "Client", cmd: Command, argv: list[bytes]) -> Any:
    """Run a resolved command (EXEC, scripts, unpaused clients): handler, statistics, slow
    log, monitors, propagation. Returns the reply value (not encoded)."""
    server = client.server
    server.cmd_time_ms = _time_ns() // 1_000_000
    client.propagate_override = None
    client.last_cmd = cmd.name
    dirty = server.dirty
    t0 = _perf()
    try:
        reply = cmd.handler(client, argv)  # type: ignore[misc]
    except CommandError as e:
        reply = e
    except Exception:  # a bug of ours: report it, keep serving
        reply = _internal_error(cmd)
    usec = (_perf() - t0) * 1e6
    cmd.calls += 1
    cmd.usec += usec
    _after(client, cmd, argv, reply, usec, dirty)
    if client.tracking is not None and "readonly" in cmd.flags:
        server.tracking.remember(client, cmd, argv)
    return reply


def _internal_error(cmd: Command) -> CommandError:
    log.exception("command %r failed", cmd.name)
    return CommandError(f"ERR internal error while running '{cmd.name}'")


def _after(client: "Client", cmd: Command, argv: list[bytes], reply: Any, usec: float, dirty: int) -> None:
    """The bookkeeping most commands do not need: latency monitor, errors, slow log,
    MONITOR feeds, propagation."""
    server = client.server
    if usec >= 1000.0:  # the latency monitor's threshold is in whole milliseconds
        record_command_latency(server, cmd, usec)
    if type(reply) is CommandError:
        cmd.failed_calls += 1
        server.count_error(reply.text, rejected=False, cmd=cmd)
    if usec >= server.slowlog_threshold >= 0 and "skip_slowlog" not in cmd.flags:
        server.slowlog_add(client, argv, usec)
    if server.monitors and "skip_monitor" not in cmd.flags and "admin" not in cmd.flags:
        server.feed_monitors(client, argv)
    if (server.dirty != dirty or client.propagate_override) and server.propagate_listeners:
        override = client.propagate_override
        if override is None:
            # Only a write command propagates itself: a read that changed the dirty count
            # did so by expiring keys lazily, and those deletions were propagated as DELs.
            if cmd.is_write:
                server.propagate(client.db_index, [argv])
        elif override:
            server.propagate(client.db_index, override)


def _reply(client: "Client", reply: Any, out: list[bytes]) -> None:
    if client.reply_mode != "on" or client.skip_next:
        _swallow(client)
        return
    if reply is QUEUED:
        out.append(b"+QUEUED\r\n")
        return
    encode_into(out, reply, client.proto)


def _swallow(client: "Client") -> None:
    """A reply was not sent (CLIENT REPLY OFF|SKIP): advance the SKIP state.

    `reply_mode == "skip"` is set by CLIENT REPLY SKIP itself: its own reply is dropped and
    so is the reply of the command after it (`skip_next`)."""
    if client.reply_mode == "skip":
        client.reply_mode = "on"
        client.skip_next = True
    else:
        client.skip_next = False


# -- CLIENT PAUSE ----------------------------------------------------------------------
class PauseState:
    """An active CLIENT PAUSE: its kind, its end (ms since the epoch), the postponed clients."""

    __slots__ = ("all", "end_ms", "clients", "timer")

    def __init__(self, all_commands: bool, end_ms: int) -> None:
        self.all = all_commands
        self.end_ms = end_ms
        self.clients: list[Client] = []
        self.timer: Any = None


class _Paused:
    """`client.blocked` of a client whose command waits for the end of a CLIENT PAUSE."""

    __slots__ = ()


PAUSED = _Paused()


def _may_replicate(client: "Client", cmd: Command) -> bool:
    """Whether CLIENT PAUSE WRITE holds this command back (writes, may-replicate commands,
    and an EXEC whose queue holds one)."""
    if _pausable(cmd):
        return True
    if cmd.name == "exec" and client.multi:
        return any(_pausable(c) for c, _ in client.multi)
    return False


# Commands Redis flags may-replicate (they may propagate something although not writes).
_MAY_REPLICATE = frozenset({"pfcount", "publish", "spublish", "eval", "evalsha", "fcall",
                            "script|load", "script|flush"})


def _pausable(cmd: Command) -> bool:
    flags = cmd.flags
    return "write" in flags or "may_replicate" in flags or cmd.name in _MAY_REPLICATE


def _postpone(client: "Client", pause: PauseState, argv: list[bytes]) -> None:
    conn = client.conn
    assert conn is not None
    client.blocked = PAUSED
    conn.pending.appendleft(argv)
    pause.clients.append(client)


def pause_clients(server: Any, end_ms: int, all_commands: bool) -> None:
    """Start (or extend: the later end and the stricter kind win) a CLIENT PAUSE."""
    pause = server.pause
    if pause is None:
        pause = server.pause = PauseState(all_commands, end_ms)
    else:
        pause.all = pause.all or all_commands
        pause.end_ms = max(pause.end_ms, end_ms)
        if pause.timer is not None:
            pause.timer.cancel()
    loop = server.loop
    if loop is not None:
        delay = max(0.0, (pause.end_ms - _time_ns() // 1_000_000) / 1000)
        pause.timer = loop.call_later(delay, unpause_clients, server)


def unpause_clients(server: Any) -> None:
    """End the CLIENT PAUSE: postponed clients run their commands, in the order they came."""
    pause = server.pause
    if pause is None:
        return
    server.pause = None
    if pause.timer is not None:
        pause.timer.cancel()
    loop = server.loop
    for client in pause.clients:
        if client.blocked is PAUSED:
            client.blocked = None
            conn = client.conn
            if conn is not None and not conn.closed:
                if loop is not None:
                    loop.call_soon(conn.run_pending)
                else:
                    conn.run_pending()


def paused_count(server: Any) -> int:
    pause = server.pause
    if pause is None:
        return 0
    return sum(1 for c in pause.clients if c.blocked is PAUSED and c.conn is not None and not c.conn.closed)
