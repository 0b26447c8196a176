"""The Kafka front end: listener, connections, fetch waiters, dynamic broker configs.

Started by the server (`Server.kafka`) on the server's event loop when `kafka-port` is not 0.
It acts on the engine's state: the `LogManager`, the group and transaction coordinators and
the producer ids belong to the `Engine` (they exist with the listener off); handlers reach
them as `ctx.broker.logs`, `ctx.broker.groups`, `ctx.broker.txn`, `ctx.broker.producer_ids`.
The log timers (retention, flush, cleaner) are the engine's too (`log/maintenance.py`).

Long polling: a Fetch that has less than `min.bytes` waits on a future registered under each
partition it reads; `notify_append` (called by Produce after each append, and by the group
coordinator) tells the engine's append listeners, ours among them, which wake those waiters.

Dynamic broker configs: settings changed through AlterConfigs/IncrementalAlterConfigs are kept
in `<dir>/meta/broker-configs.json` (name -> text; Kafka keeps them in its metadata log) and
applied again at start, over the file/environment/flag values, as Kafka's dynamic configs
override server.properties.

Single node: this broker is the controller and the leader of every partition (epoch 0).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import time
import uuid
from typing import TYPE_CHECKING, Any

from keystream.config import Config, ConfigError
from keystream.kafka.apis.registry import load_all
from keystream.kafka.connection import KafkaConnection
from keystream.netaddr import bind_hosts

if TYPE_CHECKING:
    from keystream.engine import Engine

log = logging.getLogger("keystream.kafka")

__all__ = ["KafkaBroker"]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class KafkaBroker:
    def __init__(self, engine: Engine, config: Config) -> None:
        load_all()
        self.engine = engine
        self.config = config
        self.node_id: int = config["node.id"]
        self.data_dir = config["dir"]
        # The engine's: the Kafka front end acts on them, the Redis side may too.
        self.logs = engine.logs
        self.producer_ids = engine.producer_ids
        self.groups = engine.groups
        self.txn = engine.txn
        self.cluster_id = ""
        self.connections: set[KafkaConnection] = set()
        self.waiters: dict[tuple[str, int], list[asyncio.Future[None]]] = {}
        self._listener: asyncio.Server | None = None
        # Broker settings changed through AlterConfigs, and their values before the first change.
        self.dynamic_settings: set[str] = set()
        self.startup_settings: dict[str, Any] = {}
        self._load_dynamic_settings()
        engine.log_tasks.append_listeners.append(self._wake_fetchers)

    # -- life cycle --------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.cluster_id = self._load_cluster_id()
        self._listener = await loop.create_server(
            lambda: KafkaConnection(self), host=bind_hosts(self.config["bind"]),
            port=self.config["kafka-port"], reuse_address=True, backlog=511,
        )

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
        for c in list(self.connections):
            c.close()
        for futs in self.waiters.values():
            for f in futs:
                if not f.done():
                    f.cancel()
        self.waiters.clear()

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

    async def flush_appended(self) -> None:
        """See `LogMaintenance.flush_appended`."""
        await self.engine.log_tasks.flush_appended()

    # -- long polling ------------------------------------------------------------------
    def notify_append(self, topic: str, partition: int) -> None:
        """A partition grew: tell every listener (our long-polling fetches among them)."""
        self.engine.log_tasks.notify_append(topic, partition)

    def _wake_fetchers(self, topic: str, partition: int) -> None:
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
