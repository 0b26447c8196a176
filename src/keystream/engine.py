"""The engine: the state both protocols act on, and Redis's `call()`.

`Engine` holds the 16 databases, the command clock and dirty counter, the clients and their
statistics, the Kafka partition logs (`LogManager`), the consumer-group coordinator and
producer ids, and the declared subsystems (blocking, pause, latency monitor, INFO sections of
features that register one). `Server` creates it whether or not a listener is on; the RESP
front end, the Kafka front end and in-process callers (scripts, the bridge, tests) all use it.

Execution, as Redis 7's `call()` / `alsoPropagate()` / `propagatePendingCommands()`:

- `call(client, argv)` resolves argv and runs it for `client` (a connection's client or a
  connectionless `fake_client()`), with statistics, slow log and MONITOR bookkeeping, and
  returns the reply value (a `CommandError` for an error), never encoded bytes. The pipelined
  fast path (`commands/executor.py`) runs the same steps inline and shares `after_command`.
- Effects: what a command did, as Redis 7 propagates it (INCRBYFLOAT as SET, SPOP as SREM,
  BLPOP as LPOP, expiry as DEL), are buffered with `propagate(db, argv)` during an execution
  unit (one command, an EXEC, a script, a client served after a blocking wait) and emitted
  once at its end to every `effect_subscribers` callable as a list of `(db, argv)`, wrapped in
  MULTI/EXEC when the unit has more than one. A command that changed nothing emits nothing:
  a command's own effect is recorded only when it moved the dirty counter (lazy expiry does
  not: it records its DEL itself).
- Typed write events: every database write method reports `(kind, db index, key)` with kind
  Redis's keyspace-notification event name (`set`, `del`, `expired`, `lpush`, ...) to
  `event_subscribers` (see `keyspace/db.py`).

Not here: command semantics (commands/), wire formats and sockets (resp/, kafka/), the event
loop and the listeners (server.py), storage formats (log/, persistence/).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from keystream import REDIS_VERSION, __version__
from keystream.bridge.capture import Captures
from keystream.bridge.views import Views
from keystream.client import Client
from keystream.commands.registry import Command, load_all
from keystream.config import Config, parse_memory
from keystream.keyspace.db import Database
from keystream.keyspace.evict import EVICT_FAIL, Evictor
from keystream.keyspace.lazyfree import LazyFree
from keystream.keyspace.notify import KeyspaceNotifier
from keystream.log.maintenance import LogMaintenance
from keystream.log.manager import LogManager
from keystream.persistence.aof import AofError
from keystream.persistence.snapshot import Snapshots
from keystream.pubsub import PubSub
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.values import raw_value
from keystream.resp.writer import Raw, Status
from keystream.tracking import Tracking

if TYPE_CHECKING:
    from keystream.bridge.topic_stream import TopicStreams
    from keystream.commands.blocking import BlockingState
    from keystream.commands.executor import PauseState
    from keystream.commands.introspection import LatencyMonitor
    from keystream.commands.migrate import MigrateSockets
    from keystream.kafka.groups.coordinator import GroupCoordinator
    from keystream.kafka.txn.coordinator import TransactionCoordinator
    from keystream.kafka.txn.producer_ids import ProducerIdManager
    from keystream.scripting.runner import Scripting

log = logging.getLogger("keystream.engine")

__all__ = ["Effect", "EffectsSubscriber", "Engine", "EventSubscriber", "Stats"]

Effect = tuple[int, list[bytes]]
EffectsSubscriber = Callable[[list[Effect]], None]
EventSubscriber = Callable[[str, int, bytes], None]
InfoSection = Callable[[], list[str]]

_time_ns = time.time_ns

# used_memory's share for the server's own structures (not measured: the keyspace, lazily
# freed values and client buffers are; see Engine.used_memory). Redis 7.0 starts at ~0.9 MB.
USED_MEMORY_STARTUP = 1 << 20


@dataclasses.dataclass
class Stats:
    """The counters INFO stats reports and CONFIG RESETSTAT zeroes."""

    connections: int = 0
    rejected_conn: int = 0
    total_errors: int = 0
    rejected_calls: int = 0
    expired_keys: int = 0
    evicted_keys: int = 0
    lazyfreed_objects: int = 0
    keyspace_hits: int = 0
    keyspace_misses: int = 0
    protocol_errors: int = 0
    client_output_disconnects: int = 0
    auth_failures: int = 0
    net_input_bytes: int = 0
    net_output_bytes: int = 0


class Engine:
    # Every part is declared here and set in __init__: nothing is added later (and the
    # command path reads slots, not a dict).
    __slots__ = (
        "_clients_mem", "_clients_mem_at", "_next_client_id", "_output_limits", "active_expire_enabled", "blocking", "captures", "client_gone_hooks",
        "client_reset_hooks", "clients", "cmd_time_ms", "config", "dbs", "deferred_writes", "dirty",
        "effect_subscribers", "effects", "error_stats", "event_subscribers", "evictor", "function_libraries", "gated",
        "groups", "latency_monitor", "lazyfree", "log_tasks", "logs", "loop", "maxmemory", "mem_peak", "mem_startup", "migrate_sockets", "monitors",
        "notifier", "pause", "pre_command_oom", "producer_ids", "pubsub", "ready_keys", "redis_version", "replication_info",
        "request_shutdown", "resp_addresses", "run_id", "running_argv", "running_cmd", "scripting", "shutdown_hooks", "slowlog",
        "slowlog_next_id", "slowlog_threshold", "snapshots", "soft_limited", "started", "started_mono", "stats", "topic_streams", "tracking", "txn",
        "unit_depth", "version", "views",
    )

    def __init__(self, config: Config) -> None:
        load_all()
        from keystream.bridge.topic_stream import TopicStreams
        from keystream.commands.blocking import BlockingState
        from keystream.commands.introspection import LatencyMonitor
        from keystream.commands.migrate import MigrateSockets
        from keystream.kafka.groups.coordinator import GroupCoordinator
        from keystream.kafka.txn.coordinator import TransactionCoordinator
        from keystream.kafka.txn.producer_ids import ProducerIdManager
        from keystream.scripting.runner import Scripting

        self.config = config
        self.started = time.time()
        self.started_mono = time.monotonic()
        self.run_id = os.urandom(20).hex()
        self.version = __version__
        self.redis_version = REDIS_VERSION
        self.loop: asyncio.AbstractEventLoop | None = None
        # -- the keyspace and its clock
        self.cmd_time_ms = 0
        self.dirty = 0
        self.event_subscribers: list[EventSubscriber] = []
        self.dbs = [Database(i, self) for i in range(config["databases"])]
        # -- memory: lazy freeing of big values, eviction under maxmemory (keyspace/)
        self.lazyfree: LazyFree = LazyFree(self)
        self.evictor: Evictor = Evictor(self)
        # the `maxmemory` setting, read before every command (0: no limit)
        self.maxmemory: int = config["maxmemory"]
        # over maxmemory with nothing left to evict when the running command started
        # (Redis's pre_command_oom_state: what a script's first write is checked against)
        self.pre_command_oom = False
        # clients' buffered bytes, as last summed, and the command time of that sum
        self._clients_mem = 0
        self._clients_mem_at = -1
        # -- execution: effects of the open execution unit, and who receives them
        self.effects: list[Effect] = []
        self.effect_subscribers: list[EffectsSubscriber] = []
        self.unit_depth = 0  # > 0 while an EXEC (or a script) runs commands of one unit
        # The command running (or that ran last) and its arguments: what a key miss was part of.
        self.running_cmd: Command | None = None
        self.running_argv: list[bytes] = []
        # -- clients and their bookkeeping
        self.clients: dict[int, Client] = {}
        self._next_client_id = 0
        self.monitors: list[Client] = []
        self.stats = Stats()
        self.error_stats: dict[str, int] = {}
        self.slowlog: deque[list[Any]] = deque(maxlen=max(config["slowlog-max-len"], 0) or None)
        self.slowlog_next_id = 0
        self.slowlog_threshold: int = config["slowlog-log-slower-than"]
        self.latency_monitor: LatencyMonitor = LatencyMonitor()
        self.mem_peak = 0  # the highest used_memory reported
        self.mem_startup = USED_MEMORY_STARTUP
        self.active_expire_enabled = True
        self.pause: PauseState | None = None
        self.blocking: BlockingState = BlockingState(self)
        # The blocking layer's dict of keys made ready, referenced here so that the fast
        # path tests one attribute after each command.
        self.ready_keys = self.blocking.ready_keys
        self.client_gone_hooks: list[Callable[[Client], None]] = []
        # RESET: each hook clears one family's per-client state (pub/sub, tracking, ...)
        self.client_reset_hooks: list[Callable[[Client], None]] = []
        self.shutdown_hooks: list[Callable[[], None]] = []
        # -- messaging: pub/sub, keyspace notifications, client-side caching
        self.pubsub = PubSub(self)
        self.notifier = KeyspaceNotifier(self)
        self.tracking = Tracking(self)
        # connections with output deferred to the end of this event-loop turn (RespProtocol.defer)
        self.deferred_writes: list[Any] = []
        # connections over their output buffer's soft limit (the cron checks them)
        self.soft_limited: set[Any] = set()
        # client-output-buffer-limit parsed per class (None: parse again on next use)
        self._output_limits: dict[str, tuple[int, int, int]] | None = None
        # Features that report an INFO section of their own set these (None: the defaults).
        self.replication_info: InfoSection | None = None
        self.function_libraries: dict[bytes, Any] = {}
        # -- Lua: the script cache, function libraries (in function_libraries), the running script
        self.scripting: Scripting = Scripting(self)
        # Set by the server: SHUTDOWN asks it to stop; INFO reports where RESP listens.
        self.request_shutdown: Callable[[], None] = _no_shutdown
        self.resp_addresses: list[str] = []
        # -- the Kafka side's state: partition logs, groups, transactions, producer ids
        data_dir = config["dir"]
        self.logs = LogManager(data_dir, config)
        self.log_tasks = LogMaintenance(self.logs, config)
        self.producer_ids: ProducerIdManager = ProducerIdManager(os.path.join(data_dir, "meta"))
        self.groups: GroupCoordinator = GroupCoordinator(self)
        self.txn: TransactionCoordinator = TransactionCoordinator(self)
        # -- the bridge: topic partitions as Redis stream keys (bridge/topic_stream.py)
        self.topic_streams: TopicStreams = TopicStreams(self)
        # -- Redis persistence: RDB snapshots and the AOF (persistence/)
        # True while some commands may be refused (loading, MISCONF): sends every command
        # through the executor's checked path, which asks `command_refusal`.
        self.gated = False
        self.snapshots = Snapshots(self)
        # -- the bridge: topics materialised as Redis data, Redis changes captured as topics
        self.views = Views(self)
        self.captures = Captures(self)
        # MIGRATE's cached connections to other servers (commands/migrate.py)
        self.migrate_sockets: MigrateSockets = MigrateSockets()
        config.listeners.append(self._on_config_change)

    # -- life cycle --------------------------------------------------------------------
    async def start(self) -> None:
        """Load the partition logs and start their maintenance and the group and transaction coordinators."""
        self.loop = asyncio.get_running_loop()
        self.logs.load()
        self.captures.load()     # before the dataset: it watches the AOF replay (bridge/capture.py)
        self.groups.start()      # loads __consumer_offsets in the background
        self.txn.start()         # loads __transaction_state in the background
        self.log_tasks.start()

    def loaded(self) -> None:
        """The dataset is loaded: captures append what the AOF replay found missing, views
        are rebuilt from their topics."""
        self.captures.loaded()
        self.views.start()

    async def stop(self) -> None:
        await self.txn.stop()
        await self.groups.stop()
        await self.log_tasks.stop()
        for hook in self.shutdown_hooks:
            hook()
        self.migrate_sockets.close_all()
        self.logs.close()

    # -- the Kafka side -----------------------------------------------------------------
    def now_ms(self) -> int:
        """The wall clock in ms, as the log and the group coordinator read it."""
        return _time_ns() // 1_000_000

    def notify_append(self, topic: str, partition: int) -> None:
        """A partition log grew (see `LogMaintenance.notify_append`)."""
        self.log_tasks.notify_append(topic, partition)

    # -- clients -----------------------------------------------------------------------
    def next_client_id(self) -> int:
        self._next_client_id += 1
        self.stats.connections += 1
        return self._next_client_id

    def fake_client(self, db: int = 0, proto: int = 2) -> Client:
        """A client with no connection (Redis's fake client): for scripts, the bridge, tests."""
        client = Client(self, 0, None)
        client.select(db)
        client.proto = proto
        client.authenticated = True
        return client

    def client_gone(self, client: Client) -> None:
        if self.clients.pop(client.id, None) is None:
            return
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
        if client in self.monitors:
            self.monitors.remove(client)
        self.blocking.client_gone(client)
        for hook in self.client_gone_hooks:
            hook(client)

    def output_limits(self, client: Client) -> tuple[int, int, int]:
        """(hard bytes, soft bytes, soft seconds) of the client's output-buffer class
        (0: no limit), from `client-output-buffer-limit`."""
        limits = self._output_limits
        if limits is None:
            limits = self._output_limits = _parse_output_limits(self.config["client-output-buffer-limit"])
        return limits["pubsub" if client.subscribed else "normal"]

    # -- execution ---------------------------------------------------------------------
    def call(self, client: Client, argv: list[bytes]) -> Any:
        """Resolve argv and run it for client; the reply value (a CommandError for an error,
        never bytes in wire form).

        The command joins the open execution unit (EXEC, a script) or is a unit of its own.
        Context checks that belong to a connection (authentication, queuing inside MULTI,
        the subscribed state, CLIENT PAUSE) are the front end's (see executor.execute)."""
        from keystream.commands.executor import resolve

        try:
            cmd = resolve(argv)
        except CommandError as e:
            self.count_error(e.text, rejected=True)
            return e
        reply = self.run(client, cmd, argv)
        if type(reply) is Raw:  # kept in wire form for connections: give the value
            return raw_value(reply)
        return reply

    def run(self, client: Client, cmd: Command, argv: list[bytes]) -> Any:
        """Run a resolved command (EXEC's queue, unpaused clients, `call`): as `call`."""
        t0 = _time_ns()
        self.cmd_time_ms = t0 // 1_000_000
        client.propagate_override = None
        client.last_cmd = cmd.name
        self.running_cmd = cmd
        self.running_argv = argv
        dirty = self.dirty
        try:
            if cmd.is_write and self.logs.topics:  # a topic's stream key is append-only
                self.topic_streams.check_write(cmd, argv)
            if cmd.is_write and self.views.guarding:
                reply = self.views.run_guarded(client, cmd, argv)
            else:
                reply = cmd.handler(client, argv)  # type: ignore[misc]
        except CommandError as e:
            reply = e
        except Exception:  # noqa: BLE001 - a bug of ours: report it, keep serving
            reply = internal_error(cmd)
        usec = (_time_ns() - t0) / 1000
        usec = max(usec, 0.0)
        cmd.calls += 1
        cmd.usec += usec
        # As the executor's fast path: the rare bookkeeping only when it has work to do.
        if (usec >= 1000.0 or usec >= self.slowlog_threshold >= 0 or self.monitors
                or type(reply) is CommandError or self.effect_subscribers):
            self.after_command(client, cmd, argv, reply, usec, dirty)
        if client.tracking is not None and "readonly" in cmd.flags:
            self.tracking.remember(client, cmd, argv)
        if self.effects and not self.unit_depth:
            self.emit_effects()
        return reply

    def run_unit(self, client: Client, cmd: Command, argv: list[bytes],
                 body: Callable[[], Any]) -> Any:
        """Run body as the rest of client's command cmd (a client served after a blocking
        wait): the same clock, effects and error bookkeeping as `run`, as a unit of its own.
        A None reply means body did nothing (the client keeps waiting)."""
        self.cmd_time_ms = _time_ns() // 1_000_000
        client.propagate_override = None
        dirty = self.dirty
        try:
            if cmd.is_write and self.views.guarding:  # a view created while the client waited
                self.views.check_served(client, cmd, argv)
            reply = body()
        except CommandError as e:
            reply = e
        except Exception:  # noqa: BLE001 - a bug of ours: report it, keep serving
            reply = internal_error(cmd)
        if reply is not None:
            if type(reply) is CommandError:
                self.count_error(reply.text, rejected=False)
            self.record_effects(client, argv, dirty)
        if self.effects and not self.unit_depth:
            self.emit_effects()
        return reply

    def after_command(self, client: Client, cmd: Command, argv: list[bytes], reply: Any,
                      usec: float, dirty: int) -> None:
        """The bookkeeping most commands do not need: latency monitor, errors, slow log,
        MONITOR feeds, the command's effects."""
        if usec >= 1000.0:  # the latency monitor's threshold is in whole milliseconds
            self.latency_monitor.record_command(self.config, cmd, usec)
        if type(reply) is CommandError:
            cmd.failed_calls += 1
            if not reply.counted:
                self.count_error(reply.text, rejected=False)
        if usec >= self.slowlog_threshold >= 0 and "skip_slowlog" not in cmd.flags:
            self.slowlog_add(client, argv, usec)
        if self.monitors and "skip_monitor" not in cmd.flags and "admin" not in cmd.flags:
            self.feed_monitors(client, argv)
        if self.effect_subscribers:
            self.record_effects(client, argv, dirty)

    def record_effects(self, client: Client, argv: list[bytes], dirty: int) -> None:
        """Buffer what the command that just ran did: what it asked to propagate instead of
        itself (`client.propagate`), or itself if it moved the dirty counter."""
        override = client.propagate_override
        if override is None:
            if self.dirty != dirty:
                self.effects.append((client.db_index, argv))
        elif override:
            db = client.db_index
            self.effects.extend((db, c) for c in override)
        client.propagate_override = None

    def propagate(self, db_index: int, argv: list[bytes]) -> None:
        """Add an effect to the open execution unit (Redis's alsoPropagate)."""
        if self.effect_subscribers:
            self.effects.append((db_index, argv))

    def emit_effects(self) -> None:
        """End of an execution unit: send its effects, MULTI/EXEC-wrapped if several."""
        effects = self.effects
        self.effects = []
        if len(effects) > 1:
            effects = [(effects[0][0], [b"MULTI"]), *effects, (effects[-1][0], [b"EXEC"])]
        for subscriber in self.effect_subscribers:
            subscriber(effects)

    # -- write events ------------------------------------------------------------------
    def key_expired(self, db: Database, key: bytes) -> None:
        """A key was deleted because its time ran out (lazily or by the active cycle)."""
        self.stats.expired_keys += 1
        self.propagate(db.id, [b"DEL", key])

    # -- bookkeeping -------------------------------------------------------------------
    def count_error(self, text: str, rejected: bool) -> None:
        prefix = text.split(" ", 1)[0]
        self.stats.total_errors += 1
        if prefix in self.error_stats or len(self.error_stats) < 128:  # Redis tracks 128 kinds
            self.error_stats[prefix] = self.error_stats.get(prefix, 0) + 1
        if rejected:
            self.stats.rejected_calls += 1

    def reset_stats(self) -> None:
        """CONFIG RESETSTAT: counters, error statistics (command statistics: the caller)."""
        self.stats = Stats()
        self.error_stats.clear()

    def slowlog_add(self, client: Client, argv: list[bytes], usec: float) -> None:
        if self.slowlog.maxlen == 0:
            return
        args: list[bytes] = []
        limit = 32
        for i, a in enumerate(argv):
            if i == limit - 1 and len(argv) > limit:
                args.append(b"... (%d more arguments)" % (len(argv) - limit + 1))
                break
            if len(a) > 128:
                a = b"%b... (%d more bytes)" % (a[:128], len(a) - 128)
            args.append(a)
        entry = [self.slowlog_next_id, int(time.time()), int(usec), args,
                 client.addr.encode(), client.name]
        self.slowlog_next_id += 1
        self.slowlog.appendleft(entry)

    def feed_monitors(self, client: Client, argv: list[bytes]) -> None:
        t = time.time()
        parts = " ".join('"' + _repr_arg(a) + '"' for a in argv)
        addr = "lua" if client.conn is None else client.addr
        line = f"{t:.6f} [{client.db_index} {addr}] {parts}".encode()
        for m in list(self.monitors):
            m.send(Status(line))

    def _on_config_change(self, name: str, value: Any) -> None:
        if name == "maxmemory":
            self.maxmemory = value
            self.pre_command_oom = False
            if value:
                self.evictor.schedule()  # as Redis's updateMaxmemory starts the eviction timer
        elif name == "client-output-buffer-limit":
            self._output_limits = None
        elif name == "slowlog-log-slower-than":
            self.slowlog_threshold = value
        elif name == "slowlog-max-len":
            self.slowlog = deque(list(self.slowlog)[:value], maxlen=value)

    # -- background work ---------------------------------------------------------------
    def command_refusal(self, cmd: Command, client: Client) -> str | None:
        """Why cmd may not run now for client (OOM over maxmemory, MISCONF after a failed
        save or AOF write, LOADING), or None. Evicts keys first while maxmemory is set."""
        if self.maxmemory:
            refusal = self.memory_refusal(cmd, client)
            if refusal is not None:
                return refusal
        snapshots = self.snapshots
        if cmd.is_write or cmd.name == "ping":
            denied = snapshots.write_denied()
            if denied is not None:
                return denied
        if snapshots.loading and "loading" not in cmd.flags:
            return errors.LOADING
        return None

    def memory_refusal(self, cmd: Command, client: Client) -> str | None:
        """Redis's processCommand under maxmemory (the executor asks before every command
        while `maxmemory` is set): evict what the policy allows; if still over the limit, refuse a denyoom command (EXEC of a transaction holding one, which
        is discarded; inside MULTI any command but EXEC, DISCARD, QUIT and RESET)."""
        oom = self.pre_command_oom = self.evictor.perform() == EVICT_FAIL
        if not oom:
            return None
        name = cmd.name if cmd.container is None else cmd.container.name
        multi = client.multi
        deny = cmd.denyoom
        if name == "exec" and multi is not None:
            deny = any(queued.denyoom for queued, _ in multi)
            if deny:
                from keystream.commands.transactions import discard_transaction

                discard_transaction(client)
                return errors.EXECABORT_BECAUSE.format(errors.OOM)
        elif multi is not None and name not in ("discard", "quit", "reset"):
            deny = True
        return errors.OOM if deny else None

    def used_memory(self, fresh: bool = True) -> int:
        """INFO's used_memory: what the keyspace holds by its own accounting (keyspace/db.py),
        values waiting to be freed lazily, clients' input and output buffers (summed at most
        once per millisecond: this runs before every command under maxmemory), and a fixed
        `USED_MEMORY_STARTUP` for the server's own structures (not measured). Not fresh: see
        Database.memory (the eviction check)."""
        used = self.mem_startup + self.lazyfree.pending_bytes
        for db in self.dbs:
            if db.data:
                used += db.memory(fresh)
        if self._clients_mem_at != self.cmd_time_ms:
            self._clients_mem_at = self.cmd_time_ms
            clients = 0
            for c in self.clients.values():
                conn = c.conn
                if conn is not None:
                    clients += conn.input_buffered() + conn.output_buffered()
            self._clients_mem = clients
        return used + self._clients_mem

    def replay_command(self) -> Callable[[list[bytes]], None]:
        """What replays AOF commands: a connectionless client running them one by one."""
        from keystream.commands.executor import resolve

        client = self.fake_client()

        def replay(argv: list[bytes]) -> None:
            try:
                cmd = resolve(argv)
            except CommandError as e:
                name = argv[0].decode("utf-8", "replace")
                if e.text.startswith("ERR unknown command"):
                    raise AofError(f"Unknown command '{name}' reading the append only file") from None
                raise AofError(f"{e.text} (command '{name}' reading the append only file)") from None
            self.run(client, cmd, argv)

        return replay

    def cron(self) -> None:
        """Run `hz` times a second: active expiry (within its CPU budget), client timeouts,
        persistence (reaping save/rewrite children, save points, AOF fsync and rewrites)."""
        self.snapshots.cron()
        self.snapshots.aof.cron()
        self.migrate_sockets.cron()
        hz = max(1, min(500, self.config["hz"]))
        if self.active_expire_enabled and self.pause is None:
            # Redis spends at most ~25% of CPU time per cycle on active expiry.
            budget = 0.25 / hz
            effort = self.config["active-expire-effort"]
            for db in self.dbs:
                if db.expires:
                    db.active_expire_cycle(budget / len(self.dbs) + 0.001, effort)
        if self.tracking.clients:
            self.tracking.limit()
        for conn in list(self.soft_limited):
            conn.check_output_limits()
        timeout = self.config["timeout"]
        if timeout:
            now = time.time()
            for c in list(self.clients.values()):
                if c.blocked is None and not c.subscribed and now - c.last_interaction > timeout:
                    c.close()


def _parse_output_limits(spec: str) -> dict[str, tuple[int, int, int]]:
    """`normal 0 0 0 pubsub 32mb 8mb 60 ...` -> {class: (hard, soft, soft seconds)}."""
    limits = {"normal": (0, 0, 0), "replica": (0, 0, 0), "pubsub": (0, 0, 0)}
    words = str(spec).split()
    for i in range(0, len(words) - 3, 4):
        cls = "replica" if words[i] == "slave" else words[i]
        try:
            limits[cls] = (parse_memory(words[i + 1]), parse_memory(words[i + 2]), int(words[i + 3]))
        except ValueError:
            continue
    return limits


def internal_error(cmd: Command) -> CommandError:
    log.exception("command %r failed", cmd.name)
    return CommandError(errors.internal_error(cmd.name))


def _no_shutdown() -> None:
    """SHUTDOWN of an engine no server runs: nothing to stop."""


def _repr_arg(a: bytes) -> str:
    out = []
    for b in a:
        if b == 0x5C:
            out.append("\\\\")
        elif b == 0x22:
            out.append('\\"')
        elif b == 10:
            out.append("\\n")
        elif b == 13:
            out.append("\\r")
        elif b == 9:
            out.append("\\t")
        elif b == 7:
            out.append("\\a")
        elif b == 8:
            out.append("\\b")
        elif 32 <= b < 127:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)
