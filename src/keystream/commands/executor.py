"""The RESP front end's way into the engine: `execute(client, argv, out)`.

Look up the command, check arity and the connection's contexts (authentication, MULTI
queuing, the subscribed state, CLIENT PAUSE: each read from the command's decorator flags),
then run it as the engine's `call()` does (`Engine.run`: clock, handler, statistics, slow
log, MONITOR, effects through `Engine.after_command`, the unit's effects emitted at its end),
reply-mode handling (CLIENT REPLY) and encoding the reply into `out` for the client's
protocol. The common case is inlined here for speed; it is the same call path (the same
steps, the same shared bookkeeping), not a second semantics.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from keystream.commands.registry import BLOCKED, COMMANDS, Command
from keystream.engine import internal_error
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.writer import BULK_HEADERS as _BULK_HDR
from keystream.resp.writer import INT_REPLIES as _INT_CACHE
from keystream.resp.writer import OK, QUEUED, Raw, encode_into

if TYPE_CHECKING:
    from keystream.client import Client
    from keystream.engine import Engine

__all__ = [
    "BATCH", "PauseState", "execute", "execute_batch", "pause_clients", "paused_count", "resolve",
    "unpause_clients",
]

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


def execute(client: Client, argv: list[bytes], out: list[bytes], now_ns: int = 0) -> int:
    """Run one command and append its encoded reply to `out`.

    This is the hot path of every RESP request: the common case (a cached command name,
    no transaction, no pause, authenticated, not subscribed: `_checked` is the slow path,
    and the one place where permission checks such as ACLs plug in) runs the handler inline
    with only the statistics every command needs; the rare bookkeeping (slow log, latency
    monitor, MONITOR feeds, errors, effects) is `Engine.after_command`, shared with
    `Engine.run`, and the command's effects are emitted as one unit at its end.

    Clock: like Redis's call(), a command reads the wall clock when it starts (its command
    time, and the start of its duration) and when it ends. A caller running a batch of
    pipelined commands passes as `now_ns` what the previous one returned: the time it
    ended, which is the next one's start, so a command costs one clock read, not two.
    0 (the default) makes the command read the clock itself. Returns the end time in ns
    (0 when something ran after the command that took time of its own).
    """
    engine = client.engine
    cmd = _FAST.get(argv[0])
    if (cmd is None or client.multi is not None or not client.authenticated
            or client.subscribed or engine.pause is not None or engine.gated):
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
        if engine.maxmemory:  # evict first; OOM for a denyoom command if still over the limit
            refusal = engine.memory_refusal(cmd, client)
            if refusal is not None:
                cmd.rejected_calls += 1
                _reject(client, CommandError(refusal), out)
                return now_ns
    # The command clock keeps its int object while the millisecond does not change: keys
    # written in the same millisecond then share one access-time object (see keyspace/db.py).
    # Redis 7.0 times call() with the wall clock too; a clock stepped back counts as zero.
    t0 = now_ns or _time_ns()
    now = t0 // 1_000_000
    if now != engine.cmd_time_ms:
        engine.cmd_time_ms = now
    client.last_cmd = cmd.name
    engine.running_cmd = cmd
    engine.running_argv = argv
    dirty = engine.dirty
    # Engine.run's steps, inlined on purpose (the hot path: no extra call per command).
    try:
        if cmd.is_write and engine.logs.topics:  # a topic's stream key is append-only (bridge/)
            engine.topic_streams.check_write(cmd, argv)
        if cmd.is_write and engine.views.guarding:  # view keys are read-only or write-through
            reply = engine.views.run_guarded(client, cmd, argv)
        else:
            reply = cmd.handler(client, argv)  # type: ignore[misc]
    except CommandError as e:
        reply = e
    except Exception:  # noqa: BLE001 - a bug of ours: report it, keep serving
        reply = internal_error(cmd)
    t1 = _time_ns()
    usec = (t1 - t0) / 1000
    if usec < 0.0:  # noqa: PLR1730 (cheaper than a max() call here)
        usec = 0.0
    cmd.calls += 1
    cmd.usec += usec
    # What the handler asked to propagate instead of itself (`Client.propagate`): None
    # outside a command, so it is read here and cleared once the command's effects are in.
    override = client.propagate_override
    # Effects are only ever buffered while someone subscribes to them.
    if (usec >= 1000.0 or usec >= engine.slowlog_threshold >= 0 or engine.monitors
            or type(reply) is CommandError
            or (engine.effect_subscribers
                and (dirty != engine.dirty or override is not None or engine.effects))):
        engine.after_command(client, cmd, argv, reply, usec, dirty)
        if engine.effects:  # the end of this command's execution unit
            engine.emit_effects()
    if override is not None:
        client.propagate_override = None
    if engine.ready_keys:  # a push (maybe inside EXEC or a script) reached a blocked client
        engine.blocking.serve_ready_keys()
        t1 = 0
    if reply is BLOCKED:
        return t1
    if client.tracking is not None:
        _reply(client, reply, out)
        engine.tracking.after_command(client, cmd, argv)
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


# Commands run between two writes of a long pipelined batch (see RespProtocol._run).
BATCH = 64


def execute_batch(client: Client, cmds: list[list[bytes]], start: int, out: list[bytes]) -> int:
    """Run cmds from index start with `execute`, appending their replies to `out`, until the
    next multiple of BATCH, or a command that blocks the client or asks to close it; the
    index of the first command not run. One clock read per command (see `execute`)."""
    end = min(len(cmds), start - start % BATCH + BATCH)
    i = start
    now_ns = 0
    while i < end:
        now_ns = execute(client, cmds[i], out, now_ns)
        i += 1
        if client.blocked is not None or client.close_after_reply:
            break
    return i


def _checked(client: Client, argv: list[bytes], out: list[bytes]) -> Command | None:
    """Slow path: resolve, check every context; None if an error reply was written."""
    try:
        cmd = resolve(argv)
        top = cmd if cmd.container is None else cmd.container
        if not client.authenticated and not top.no_auth:
            raise CommandError(errors.NOAUTH)
        if client.engine.gated or client.engine.maxmemory:
            refusal = client.engine.command_refusal(cmd, client)
            if refusal is not None:
                raise CommandError(refusal)
        if client.multi is not None and not top.runs_in_multi and cmd.no_multi:
            raise CommandError(errors.NOT_ALLOWED_IN_MULTI)
        if client.proto == 2 and client.subscribed and not top.while_subscribed:
            raise CommandError(errors.NOT_ALLOWED_IN_SUBSCRIBE.format(cmd.name))
        pause = client.engine.pause
        if pause is not None and client.conn is not None and (pause.all or _held_by_pause(client, cmd)):
            _postpone(client, pause, argv)
            return None
        if client.multi is not None and not top.runs_in_multi:
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


def _reject(client: Client, e: CommandError, out: list[bytes]) -> None:
    client.engine.count_error(e.text, rejected=True)
    _reply(client, e, out)


def _reply(client: Client, reply: Any, out: list[bytes]) -> None:
    if client.reply_mode != "on" or client.skip_next:
        _swallow(client)
        return
    if reply is QUEUED:
        out.append(b"+QUEUED\r\n")
        return
    encode_into(out, reply, client.proto)


def _swallow(client: Client) -> None:
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

    __slots__ = ("all", "clients", "end_ms", "timer")

    def __init__(self, all_commands: bool, end_ms: int) -> None:
        self.all = all_commands
        self.end_ms = end_ms
        self.clients: list[Client] = []
        self.timer: Any = None


class _Paused:
    """`client.blocked` of a client whose command waits for the end of a CLIENT PAUSE."""

    __slots__ = ()


PAUSED = _Paused()


def _held_by_pause(client: Client, cmd: Command) -> bool:
    """Whether CLIENT PAUSE WRITE holds this command back (writes, may-replicate commands,
    and an EXEC whose queue holds one)."""
    if cmd.may_replicate:
        return True
    if cmd.name == "exec" and client.multi:
        return any(c.may_replicate for c, _ in client.multi)
    return False


def _postpone(client: Client, pause: PauseState, argv: list[bytes]) -> None:
    conn = client.conn
    assert conn is not None
    client.blocked = PAUSED
    conn.pending.appendleft(argv)
    pause.clients.append(client)


def pause_clients(engine: Engine, end_ms: int, all_commands: bool) -> None:
    """Start (or extend: the later end and the stricter kind win) a CLIENT PAUSE."""
    pause = engine.pause
    if pause is None:
        pause = engine.pause = PauseState(all_commands, end_ms)
    else:
        pause.all = pause.all or all_commands
        pause.end_ms = max(pause.end_ms, end_ms)
        if pause.timer is not None:
            pause.timer.cancel()
    loop = engine.loop
    if loop is not None:
        delay = max(0.0, (pause.end_ms - _time_ns() // 1_000_000) / 1000)
        pause.timer = loop.call_later(delay, unpause_clients, engine)


def unpause_clients(engine: Engine) -> None:
    """End the CLIENT PAUSE: postponed clients run their commands, in the order they came."""
    pause = engine.pause
    if pause is None:
        return
    engine.pause = None
    if pause.timer is not None:
        pause.timer.cancel()
    loop = engine.loop
    for client in pause.clients:
        if client.blocked is PAUSED:
            client.blocked = None
            conn = client.conn
            if conn is not None and not conn.closed:
                if loop is not None:
                    loop.call_soon(conn.run_pending)
                else:
                    conn.run_pending()


def paused_count(engine: Engine) -> int:
    pause = engine.pause
    if pause is None:
        return 0
    return sum(1 for c in pause.clients if c.blocked is PAUSED and c.conn is not None and not c.conn.closed)
