"""The server: owns the event loop, the listeners, the keyspace, timers and statistics.

One event-loop thread owns all state (as Redis's main thread does): every command runs
to completion without locks. Background work (active expiry, client timeouts) runs as
timer callbacks on the same loop, each within a small time budget.

Not here: command semantics (commands/), wire formats (resp/, kafka/), storage (log/,
persistence/).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from keystream import REDIS_VERSION, __version__
from keystream.commands import executor
from keystream.commands.registry import load_all
from keystream.config import Config, parse_memory
from keystream.keyspace import blocking
from keystream.keyspace.db import Database
from keystream.resp.connection import Client, RespProtocol
from keystream.resp.writer import Status
from keystream.scripting.runner import Scripting

log = logging.getLogger("keystream")

__all__ = ["Server", "run"]


class Server:
    def __init__(self, config: Config) -> None:
        load_all()
        self.config = config
        self.started = time.time()
        self.started_mono = time.monotonic()
        self.run_id = os.urandom(20).hex()
        self.version = __version__
        self.redis_version = REDIS_VERSION
        self.dbs = [Database(i, self) for i in range(config["databases"])]
        self.clients: dict[int, Client] = {}
        self._next_client_id = 0
        self.cmd_time_ms = 0
        self.dirty = 0
        self.key_listeners: list[Callable[[Database, bytes], None]] = []
        # (db id, key) -> Database for keys blocked clients wait on that changed (keyspace/blocking.py)
        self.ready_keys: dict[tuple[int, bytes], Database] = {}
        self.propagate_listeners: list[Callable[[int, list[list[bytes]]], None]] = []
        self.expire_listeners: list[Callable[[Database, bytes], None]] = []
        self.monitors: list[Client] = []
        self.slowlog: deque[list[Any]] = deque(maxlen=max(config["slowlog-max-len"], 0) or None)
        self.slowlog_next_id = 0
        self.slowlog_threshold: int = config["slowlog-log-slower-than"]
        self.error_stats: dict[str, int] = {}
        self.stat_total_errors = 0
        self.stat_rejected_calls = 0
        self.stat_expired_keys = 0
        self.stat_protocol_errors = 0
        self.stat_client_output_disconnects = 0
        self.stat_connections = 0
        self.active_expire_enabled = True
        self.pause: Any = None  # CLIENT PAUSE state, set by the server commands
        self.loop: asyncio.AbstractEventLoop | None = None
        self.listeners: list[asyncio.AbstractServer] = []
        self.shutdown_event: asyncio.Event | None = None
        self.extra_services: list[Any] = []  # other protocol front-ends (Kafka) started with us
        self.execute = executor.execute
        self.client_gone_hooks: list[Callable[[Client], None]] = []
        # RESET: each hook clears one family's per-client state (pub/sub, tracking, ...)
        self.client_reset_hooks: list[Callable[[Client], None]] = []
        self.shutdown_hooks: list[Callable[[], None]] = []
        self.scripting = Scripting(self)
        config.listeners.append(self._on_config_change)
        if config["kafka-port"]:
            from keystream.kafka.broker import KafkaBroker

            self.extra_services.append(KafkaBroker(self))

    # -- clients ---------------------------------------------------------------------
    def next_client_id(self) -> int:
        self._next_client_id += 1
        self.stat_connections += 1
        return self._next_client_id

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
        for hook in self.client_gone_hooks:
            hook(client)

    def output_hard_limit(self, client: Client) -> int:
        """Hard output-buffer limit in bytes for the client's class (0: none)."""
        spec = str(self.config["client-output-buffer-limit"]).split()
        cls = "pubsub" if client.subscribed else "normal"
        for i in range(0, len(spec) - 3, 4):
            if spec[i] == cls:
                try:
                    return parse_memory(spec[i + 1])
                except ValueError:
                    return 0
        return 0

    # -- bookkeeping used by the executor ---------------------------------------------
    def serve_ready_keys(self) -> None:
        """Serve clients blocked on keys that became ready (run after each top-level command)."""
        blocking.serve_ready_keys(self)

    def count_error(self, text: str, rejected: bool, cmd: Any) -> None:
        prefix = text.split(" ", 1)[0]
        self.stat_total_errors += 1
        if prefix in self.error_stats or len(self.error_stats) < 128:  # Redis tracks 128 kinds
            self.error_stats[prefix] = self.error_stats.get(prefix, 0) + 1
        if rejected:
            self.stat_rejected_calls += 1

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
                a = a[:128] + b"... (%d more bytes)" % (len(a) - 128)
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

    def propagate(self, db_index: int, commands: list[list[bytes]]) -> None:
        for listener in self.propagate_listeners:
            listener(db_index, commands)

    def on_key_expired(self, db: Database, key: bytes) -> None:
        self.propagate(db.id, [[b"DEL", key]])
        for listener in self.expire_listeners:
            listener(db, key)

    def _on_config_change(self, name: str, value: Any) -> None:
        if name == "slowlog-log-slower-than":
            self.slowlog_threshold = value
        elif name == "slowlog-max-len":
            self.slowlog = deque(list(self.slowlog)[:value], maxlen=value)

    # -- timers ----------------------------------------------------------------------
    def _cron(self) -> None:
        loop = self.loop
        assert loop is not None
        hz = max(1, min(500, self.config["hz"]))
        if self.active_expire_enabled and self.pause is None:
            # Redis spends at most ~25% of CPU time per cycle on active expiry.
            budget = 0.25 / hz
            effort = self.config["active-expire-effort"]
            for db in self.dbs:
                if db.expires:
                    db.active_expire_cycle(budget / len(self.dbs) + 0.001, effort)
        timeout = self.config["timeout"]
        if timeout:
            now = time.time()
            for c in list(self.clients.values()):
                if c.blocked is None and not c.subscribed and now - c.last_interaction > timeout:
                    c.close()
        loop.call_later(1.0 / hz, self._cron)

    # -- life cycle ------------------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.shutdown_event = asyncio.Event()
        cfg = self.config
        if cfg["port"]:
            srv = await self.loop.create_server(
                lambda: RespProtocol(self), host=_bind_hosts(cfg["bind"]), port=cfg["port"],
                reuse_address=True, backlog=511,
            )
            for s in srv.sockets:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.listeners.append(srv)
        for service in self.extra_services:
            await service.start()
        self.loop.call_soon(self._cron)

    def request_shutdown(self) -> None:
        if self.shutdown_event is not None:
            self.shutdown_event.set()

    async def serve_until_shutdown(self) -> None:
        assert self.shutdown_event is not None
        await self.shutdown_event.wait()
        await self.stop()

    async def stop(self) -> None:
        for srv in self.listeners:
            srv.close()
        for service in self.extra_services:
            await service.stop()
        for c in list(self.clients.values()):
            c.close()
        for hook in self.shutdown_hooks:
            hook()

    def listening_on(self) -> list[str]:
        out = []
        for srv in self.listeners:
            for s in srv.sockets:
                host, port = s.getsockname()[:2]
                out.append(f"{host}:{port}")
        return out


def _bind_hosts(bind: str) -> list[str] | str:
    hosts = [h.lstrip("-") for h in bind.split() if h]
    return hosts if len(hosts) > 1 else (hosts[0] if hosts else "127.0.0.1")


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


def run(config: Config, ready: Callable[[Server], None] | None = None) -> None:
    """Run a server until SIGINT/SIGTERM or SHUTDOWN."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency; keep asyncio as fallback
        pass

    async def main() -> None:
        server = Server(config)
        await server.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, server.request_shutdown)
        if ready is not None:
            ready(server)
        await server.serve_until_shutdown()

    asyncio.run(main())
