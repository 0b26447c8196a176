"""The Kafka broker service: listener, partition logs, fetch waiters, timers.

Started by the server (as one of `Server.extra_services`) on the server's event loop when
`kafka-port` is not 0. It owns the `LogManager`; handlers reach it as `ctx.broker.logs`.

Long polling: a Fetch that has less than `min.bytes` waits on a future registered under each
partition it reads; `notify_append` (called by Produce after each append) wakes those
waiters, which re-read. Timers: retention every `log.retention.check.interval.ms`, the flush
policy every second at most (`LogManager.flush_async` decides what is due; the fsyncs run in
a worker thread), and `flush_appended` when a Produce must not be acknowledged before its
fsync (`log.flush.interval.messages` reached).

Dynamic broker configs: settings changed through AlterConfigs/IncrementalAlterConfigs are kept
in `<dir>/meta/broker-configs.json` (name -> text; Kafka keeps them in its metadata log) and
applied again at start, over the file/environment/flag values, as Kafka's dynamic configs
override server.properties.

Single node: this broker is the controller and the leader of every partition (epoch 0).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from keystream.config import ConfigError
from keystream.kafka.apis.registry import load_all
from keystream.kafka.connection import KafkaConnection
from keystream.kafka.groups.coordinator import GroupCoordinator
from keystream.kafka.txn.coordinator import TransactionCoordinator
from keystream.kafka.txn.producer_ids import ProducerIdManager
from keystream.log.manager import LogManager

if TYPE_CHECKING:
    from keystream.server import Server

log = logging.getLogger("keystream.kafka")

__all__ = ["KafkaBroker"]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _log_flush_error(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.error("log flush failed", exc_info=fut.exception())


class KafkaBroker:
    def __init__(self, server: Server) -> None:
        load_all()
        self.server = server
        self.config = server.config
        self.node_id: int = self.config["node.id"]
        self.data_dir = self.config["dir"]
        self.logs = LogManager(self.data_dir, self.config)
        self.producer_ids = ProducerIdManager(os.path.join(self.data_dir, "meta"))
        self.cluster_id = ""
        self.connections: set[KafkaConnection] = set()
        self.waiters: dict[tuple[str, int], list[asyncio.Future[None]]] = {}
        self._listener: asyncio.AbstractServer | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}   # the next firing of each periodic job
        self._flush_running: asyncio.Future[None] | None = None
        # Broker settings changed through AlterConfigs, and their values before the first change.
        self.dynamic_settings: set[str] = set()
        self.startup_settings: dict[str, Any] = {}
        self._load_dynamic_settings()
        self.groups = GroupCoordinator(self)
        self.txn = TransactionCoordinator(self)

    # -- life cycle --------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.logs.load()
        self.cluster_id = self._load_cluster_id()
        self.groups.start()      # loads __consumer_offsets in the background
        self.txn.start()         # loads __transaction_state in the background
        from keystream.server import _bind_hosts

        self._listener = await loop.create_server(
            lambda: KafkaConnection(self), host=_bind_hosts(self.config["bind"]),
            port=self.config["kafka-port"], reuse_address=True, backlog=511,
        )
        self._cleaner_tick()
        self._schedule_retention()
        self._schedule_flush()
        self._expire_producers_tick()

    async def stop(self) -> None:
        await self.txn.stop()
        await self.groups.stop()
        for t in self._timers.values():
            t.cancel()
        self._timers.clear()
        if self._listener is not None:
            self._listener.close()
        for c in list(self.connections):
            c.close()
        for futs in self.waiters.values():
            for f in futs:
                if not f.done():
                    f.cancel()
        self.waiters.clear()
        if self._flush_running is not None:
            with contextlib.suppress(Exception):  # already logged by _log_flush_error
                await self._flush_running
        self.logs.close()

    def listening_on(self) -> list[str]:
        if self._listener is None:
            return []
        return [f"{s.getsockname()[0]}:{s.getsockname()[1]}" for s in self._listener.sockets]

    def _load_cluster_id(self) -> str:
        """The cluster id (Kafka's 22-character base64 UUID), kept in <dir>/meta/cluster.id."""
        meta = os.path.join(self.data_dir, "meta")
        path = os.path.join(meta, "cluster.id")
        try:
            with open(path) as f:
                text = f.read().strip()
            if text:
                return text
        except OSError:
            pass
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        os.makedirs(meta, exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, path)
        return text

    def _dynamic_settings_path(self) -> str:
        return os.path.join(self.data_dir, "meta", "broker-configs.json")

    def _load_dynamic_settings(self) -> None:
        """Apply the dynamic broker configs saved by an earlier run (before the logs resolve theirs)."""
        try:
            with open(self._dynamic_settings_path()) as f:
                saved = json.load(f)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as e:
            log.error("ignoring unreadable dynamic broker configs: %s", e)
            return
        for name, text in saved.items():
            try:
                setting = self.config.setting(name)
                if setting.redis_visible or not setting.mutable:
                    raise ConfigError(f"'{name}' is not a dynamic broker config")
                before = self.config[name]
                self.config.set_text(name, text)
            except (ConfigError, TypeError) as e:
                log.error("ignoring dynamic broker config %s=%r: %s", name, text, e)
                continue
            self.startup_settings.setdefault(setting.name, before)
            self.dynamic_settings.add(setting.name)

    def save_dynamic_settings(self) -> None:
        """Write the dynamic broker configs (atomically: tmp, fsync, rename)."""
        data = {n: self.config.setting(n).render(self.config[n]) for n in sorted(self.dynamic_settings)}
        path = self._dynamic_settings_path()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    # -- timers ------------------------------------------------------------------------
    def _call_later(self, delay: float, job: Callable[[], None]) -> None:
        """Schedule job, replacing the handle of its previous (fired) run."""
        self._timers[job.__name__] = asyncio.get_running_loop().call_later(delay, job)

    def _schedule_retention(self) -> None:
        self._call_later(self.config["log.retention.check.interval.ms"] / 1000, self._retention_tick)

    def _retention_tick(self) -> None:
        try:
            self.logs.run_retention(_now_ms())
        except Exception:
            log.exception("retention check failed")
        self._schedule_retention()

    def _expire_producers_tick(self) -> None:
        """Forget idle producer ids (producer.id.expiration.ms), now and every check interval."""
        try:
            now, ttl = _now_ms(), self.config["producer.id.expiration.ms"]
            for plog in self.logs.all_partitions():
                plog.producers.remove_expired(now, ttl)
        except Exception:
            log.exception("producer id expiration failed")
        self._call_later(self.config["producer.id.expiration.check.interval.ms"] / 1000,
                         self._expire_producers_tick)

    def _schedule_flush(self) -> None:
        self._call_later(max(0.01, min(self.config["log.flush.interval.ms"], 1000) / 1000), self._flush_tick)

    def _flush_tick(self) -> None:
        if self._flush_running is None or self._flush_running.done():
            try:
                job = self.logs.flush_async(_now_ms())
            except Exception:
                log.exception("log flush failed")
                job = None
            if job is not None:
                # fsync runs in a worker thread; one flush job at a time.
                self._flush_running = asyncio.get_running_loop().run_in_executor(None, job)
                self._flush_running.add_done_callback(_log_flush_error)
        self._schedule_flush()

    def _cleaner_tick(self) -> None:
        """Compact logs for a 20 ms slice; again in 10 ms while work remains, else after the backoff."""
        try:
            more = self.logs.run_cleaner(_now_ms(), 0.02)
        except Exception:
            log.exception("log cleaner failed")
            more = False
        self._call_later(0.01 if more else self.config["log.cleaner.backoff.ms"] / 1000, self._cleaner_tick)

    async def flush_appended(self) -> None:
        """Return once everything appended so far that the flush policy says is due is fsynced.

        Produce awaits this before acknowledging when an append reached
        `log.flush.interval.messages` (as Kafka flushes inside the append). Requests that
        arrive while a flush runs wait for it and then share the next one (group commit).
        A failed fsync raises: the produce is not acknowledged.
        """
        while True:
            running = self._flush_running
            if running is not None and not running.done():
                await asyncio.shield(running)
                continue
            job = self.logs.flush_async(_now_ms())
            if job is None:
                return
            running = asyncio.get_running_loop().run_in_executor(None, job)
            running.add_done_callback(_log_flush_error)
            self._flush_running = running
            await asyncio.shield(running)
            return

    # -- long polling ------------------------------------------------------------------
    def notify_append(self, topic: str, partition: int) -> None:
        futs = self.waiters.pop((topic, partition), None)
        if futs:
            for f in futs:
                if not f.done():
                    f.set_result(None)

    async def wait_for_append(self, keys: list[tuple[str, int]], timeout: float) -> None:
        """Wait until one of `keys` gets an append, or `timeout` seconds pass."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for k in keys:
            self.waiters.setdefault(k, []).append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            pass
        finally:
            for k in keys:
                futs = self.waiters.get(k)
                if futs is not None:
                    try:
                        futs.remove(fut)
                    except ValueError:
                        pass
                    if not futs:
                        del self.waiters[k]

    # -- helpers used by handlers ----------------------------------------------------------
    def now_ms(self) -> int:
        return _now_ms()

    def topic_by_id(self, topic_id: uuid.UUID) -> Any:
        return self.logs.topics_by_id.get(topic_id)
