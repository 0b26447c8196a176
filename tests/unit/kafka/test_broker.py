"""The log maintenance in-process: periodic jobs keep one timer each; topic ids resolve by dict."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from keystream.config import Config
from keystream.engine import Engine
from keystream.log.manager import LogManager


def test_fired_timers_are_not_kept(tmp_path: Path) -> None:
    config = Config()
    for name, text in (("dir", str(tmp_path)), ("kafka-port", "0"), ("log.retention.check.interval.ms", "1"),
                       ("producer.id.expiration.check.interval.ms", "1"), ("log.cleaner.backoff.ms", "0"),
                       ("log.flush.interval.ms", "0")):
        config.set_text(name, text)
    engine = Engine(config)  # the log and its timers run with the Kafka listener off

    async def run() -> tuple[int, int]:
        await engine.start()
        calls = 0
        run_retention = engine.logs.run_retention

        def counting(now_ms: int) -> None:
            nonlocal calls
            calls += 1
            run_retention(now_ms)

        engine.logs.run_retention = counting      # type: ignore[method-assign]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while calls < 50 and loop.time() < deadline:
            await asyncio.sleep(0.01)
        n = len(engine.log_tasks._timers)
        await engine.stop()
        return calls, n

    calls, kept = asyncio.run(run())
    assert calls >= 50
    assert kept <= 4          # retention, producer expiry, flush, cleaner: the next firing of each


def test_topics_by_id_follow_create_delete_and_reload(tmp_path: Path) -> None:
    m = LogManager(str(tmp_path), Config())
    m.load()
    a = m.create_topic("a", 1, {})
    b = m.create_topic("b", 2, {})
    assert m.topics_by_id == {a.topic_id: a, b.topic_id: b}
    m.delete_topic("a")
    assert m.topics_by_id == {b.topic_id: b}
    m.close()
    m = LogManager(str(tmp_path), Config())
    m.load()
    assert list(m.topics_by_id) == [b.topic_id] and m.topics_by_id[b.topic_id].name == "b"
    assert m.topics_by_id.get(uuid.uuid4()) is None
    m.close()
