"""Periodic work on the partition logs, and append notification.

Timers on the event loop, started by the engine whether or not the Kafka listener is on:
retention every `log.retention.check.interval.ms`, the flush policy every second at most
(`LogManager.flush_async` decides what is due; the fsyncs run in a worker thread), the
cleaner in 20 ms slices, and producer-id expiry. `flush_appended` is awaited when an append
must not be acknowledged before its fsync (`log.flush.interval.messages` reached).

`notify_append(topic, partition)` tells `append_listeners` (the Kafka front end's long-polling
fetches) that a partition grew; whoever appends calls it.

Not here: what is appended (kafka/apis, groups), the log format (log/).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from keystream.config import Config
from keystream.log.manager import LogManager

log = logging.getLogger("keystream.log")

__all__ = ["LogMaintenance"]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _log_flush_error(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.error("log flush failed", exc_info=fut.exception())


class LogMaintenance:
    def __init__(self, logs: LogManager, config: Config) -> None:
        self.logs = logs
        self.config = config
        self.append_listeners: list[Callable[[str, int], None]] = []
        self._timers: dict[str, asyncio.TimerHandle] = {}   # the next firing of each periodic job
        self._flush_running: asyncio.Future[None] | None = None

    def start(self) -> None:
        self._cleaner_tick()
        self._schedule_retention()
        self._schedule_flush()
        self._expire_producers_tick()

    async def stop(self) -> None:
        for t in self._timers.values():
            t.cancel()
        self._timers.clear()
        if self._flush_running is not None:
            with contextlib.suppress(Exception):  # already logged by _log_flush_error
                await self._flush_running

    def notify_append(self, topic: str, partition: int) -> None:
        for listener in self.append_listeners:
            listener(topic, partition)

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
