"""The server: owns the event loop, the listeners, the timers and the engine.

One event-loop thread owns all state (as Redis's main thread does): every command runs
to completion without locks. Background work (active expiry, client timeouts, log
maintenance) runs as timer callbacks on the same loop, each within a small time budget.

The `Engine` (engine.py) is created here whether or not a listener is on; the RESP listener
(`RespProtocol`) and the Kafka front end (`KafkaBroker`, when `kafka-port` is not 0) act on it.

Not here: command semantics (commands/), wire formats (resp/, kafka/), state (engine.py),
storage (log/, persistence/).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable
from typing import cast

from keystream import hotpath
from keystream.config import Config
from keystream.engine import Engine
from keystream.kafka.broker import KafkaBroker
from keystream.netaddr import bind_hosts
from keystream.resp.connection import RespProtocol

log = logging.getLogger("keystream")

__all__ = ["Server", "run"]


class Server:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.engine = Engine(config)
        self.engine.request_shutdown = self.request_shutdown
        self.kafka: KafkaBroker | None = (
            KafkaBroker(self.engine, config) if config["kafka-port"] else None)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.listeners: list[asyncio.Server] = []
        self.shutdown_event: asyncio.Event | None = None

    # -- timers ----------------------------------------------------------------------
    def _cron(self) -> None:
        loop = self.loop
        assert loop is not None
        self.engine.cron()
        loop.call_later(1.0 / max(1, min(500, self.config["hz"])), self._cron)

    # -- life cycle ------------------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.shutdown_event = asyncio.Event()
        engine = self.engine
        await engine.start()
        cfg = self.config
        if cfg["port"]:
            # (a protocol by its methods, not by subclassing: see RespProtocol)
            srv = await self.loop.create_server(
                lambda: cast(asyncio.BaseProtocol, RespProtocol(engine)), host=bind_hosts(cfg["bind"]), port=cfg["port"],
                reuse_address=True, backlog=511,
            )
            for s in srv.sockets:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.listeners.append(srv)
        engine.resp_addresses = self.listening_on()
        if self.kafka is not None:
            await self.kafka.start()
        self.loop.call_soon(self._cron)
        # Listening, not loaded yet: clients get LOADING errors until the dataset is in.
        log.info("Keystream %s, PID: %d, listening on %s", engine.version, os.getpid(),
                 ", ".join(self.listening_on()) or "nothing")
        log.info("hot path: %s", hotpath.mode())
        if hotpath.stale():
            log.warning("hot path: compiled modules older than their sources (build again, or set "
                        "KEYSTREAM_PURE=1): %s", ", ".join(hotpath.stale()))
        await engine.snapshots.load_at_startup(engine.replay_command())
        engine.loaded()

    def shutdown_on_signal(self) -> None:
        """SIGTERM/SIGINT: save as SHUTDOWN without options would, then stop (as Redis, stay
        up if that save fails)."""
        log.warning("Received signal, scheduling shutdown...")
        if self.engine.snapshots.prepare_shutdown(None, False):
            self.request_shutdown()
        else:
            log.warning("SIGTERM received but errors trying to shut down the server, check the logs "
                        "for more information")

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
        if self.kafka is not None:
            await self.kafka.stop()
        for c in list(self.engine.clients.values()):
            c.close()
        await self.engine.stop()

    def listening_on(self) -> list[str]:
        out = []
        for srv in self.listeners:
            for s in srv.sockets:
                host, port = s.getsockname()[:2]
                out.append(f"{host}:{port}")
        return out


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
            loop.add_signal_handler(sig, server.shutdown_on_signal)
        if ready is not None:
            ready(server)
        await server.serve_until_shutdown()

    asyncio.run(main())
