"""The log manager: topics, their metadata and configs, and every partition log on this node.

Disk layout (Kafka's, under the data dir):

    meta/topics/<topic>.json                  name, topic id, partition count, config overrides
    kafka/<topic>-<partition>/                segments (see segment.py) + partition.metadata
    kafka/recovery-point-offset-checkpoint    per partition: offsets below are fsynced
    kafka/log-start-offset-checkpoint         per partition: log start offsets (DeleteRecords)
    kafka/cleaner-offset-checkpoint           per partition: first dirty offset (compaction)
    kafka/.kafka_cleanshutdown                written by close(), removed by load()

Topic metadata files are replaced atomically (write tmp, fsync, rename, fsync the dir). A
topic is created by writing its metadata first and then its directories, and deleted in the
reverse order, so `load()` can finish either half-done operation: directories without a
topic (or of an older topic of the same name, by topic id) are removed.
`delete_listeners` are told the name of each deleted topic (the bridge's views empty theirs).

Threading: everything runs on the event loop except the jobs `flush_async()` returns, which
only fsync duplicated file descriptors and write the checkpoint files; run them in a worker
thread; the log cleaner (cleaner.py) is stepped from the loop by `run_cleaner()` within a time
budget and fsyncs in its own worker thread. After an unclean shutdown `load()` recovers (validates, truncates, re-indexes) each
partition from its recovery point on.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from keystream.config import Config
from keystream.log import topic_config
from keystream.log.cleaner import LogCleaner
from keystream.log.errors import (
    InvalidPartitionsError,
    InvalidTopicError,
    LogError,
    TopicExistsError,
    UnknownTopicError,
)
from keystream.log.partition import PartitionLog, read_partition_topic_id
from keystream.log.topic_config import TOPIC_CONFIGS, LogConfig

__all__ = ["INTERNAL_TOPICS", "LogManager", "TopicMeta", "validate_topic_name"]

# Kafka's internal topics (Topic.isInternal): written by the coordinators only, never by Produce.
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})

_LEGAL_TOPIC = re.compile(r"[a-zA-Z0-9._-]+")
_MAX_TOPIC_LEN = 249
_CLEAN_SHUTDOWN = ".kafka_cleanshutdown"
_RECOVERY_CHECKPOINT = "recovery-point-offset-checkpoint"
_START_CHECKPOINT = "log-start-offset-checkpoint"
_CLEANER_CHECKPOINT = "cleaner-offset-checkpoint"
_BROKER_SETTINGS = {d.broker_setting for d in TOPIC_CONFIGS.values()}


@dataclass
class TopicMeta:
    name: str
    topic_id: uuid.UUID
    num_partitions: int
    configs: dict[str, str] = field(default_factory=dict)   # overrides only


def validate_topic_name(name: str) -> None:
    """Kafka's topic name rules; InvalidTopicError with Kafka's text."""
    if not name:
        raise InvalidTopicError("Topic name is illegal, it can't be empty")
    if name in (".", ".."):
        raise InvalidTopicError('Topic name cannot be "." or ".."')
    if len(name) > _MAX_TOPIC_LEN:
        raise InvalidTopicError(
            f"Topic name is illegal, it can't be longer than {_MAX_TOPIC_LEN} characters, topic name: {name}")
    if not _LEGAL_TOPIC.fullmatch(name):
        raise InvalidTopicError(
            f'Topic name "{name}" is illegal, it contains a character other than '
            "ASCII alphanumerics, '.', '_' and '-'")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class LogManager:
    """All topics and partition logs under one data directory."""

    def __init__(self, data_dir: str, config: Config) -> None:
        self.dir = data_dir
        self.config = config
        self.kafka_dir = os.path.join(data_dir, "kafka")
        self.meta_dir = os.path.join(data_dir, "meta", "topics")
        self.topics: dict[str, TopicMeta] = {}
        self.topics_by_id: dict[uuid.UUID, TopicMeta] = {}   # the same topics, by topic id (Fetch v13+)
        self.delete_listeners: list[Callable[[str], None]] = []   # told the name of each deleted topic
        self._logs: dict[str, list[PartitionLog]] = {}
        self._checkpoint_lock = threading.Lock()
        self.truncated_bytes = 0     # bytes recovery cut off in the last load()
        self.cleaner = LogCleaner(self)
        for key in TOPIC_CONFIGS:       # fail early on a bad broker default
            topic_config.broker_default(config, key)
        config.listeners.append(self._on_broker_config_change)

    # -- loading ------------------------------------------------------------------------------

    def load(self) -> None:
        os.makedirs(self.kafka_dir, exist_ok=True)
        os.makedirs(self.meta_dir, exist_ok=True)
        marker = os.path.join(self.kafka_dir, _CLEAN_SHUTDOWN)
        clean = os.path.exists(marker)
        recovery = _read_checkpoint(os.path.join(self.kafka_dir, _RECOVERY_CHECKPOINT))
        starts = _read_checkpoint(os.path.join(self.kafka_dir, _START_CHECKPOINT))
        cleaned = _read_checkpoint(os.path.join(self.kafka_dir, _CLEANER_CHECKPOINT))
        for name in sorted(os.listdir(self.meta_dir)):
            path = os.path.join(self.meta_dir, name)
            if not name.endswith(".json"):
                os.unlink(path)       # a tmp file from an interrupted write
                continue
            with open(path) as f:
                data = json.load(f)
            meta = TopicMeta(data["name"], uuid.UUID(data["topic_id"]), int(data["num_partitions"]),
                             dict(data.get("configs", {})))
            self.topics[meta.name] = meta
            self.topics_by_id[meta.topic_id] = meta
        wanted: set[str] = set()
        now = _now_ms()
        for meta in self.topics.values():
            cfg = self._resolve(meta)
            logs = []
            for p in range(meta.num_partitions):
                dname = f"{meta.name}-{p}"
                wanted.add(dname)
                pdir = os.path.join(self.kafka_dir, dname)
                owner = read_partition_topic_id(pdir)
                if owner is not None and owner != meta.topic_id:
                    shutil.rmtree(pdir)      # left by a deleted topic of the same name
                log = PartitionLog.open(pdir, meta.name, p, cfg, meta.topic_id, now,
                                        recovery.get((meta.name, p), 0), starts.get((meta.name, p), 0),
                                        clean)
                self.truncated_bytes += log.truncated_bytes
                log.first_dirty_offset = cleaned.get((meta.name, p), 0)
                logs.append(log)
            self._logs[meta.name] = logs
        for name in os.listdir(self.kafka_dir):
            path = os.path.join(self.kafka_dir, name)
            if os.path.isdir(path) and name not in wanted:
                shutil.rmtree(path, ignore_errors=True)
        if clean:
            os.unlink(marker)

    # -- topics -------------------------------------------------------------------------------

    def create_topic(self, name: str, num_partitions: int, configs: dict[str, str],
                     validate_only: bool = False) -> TopicMeta:
        """Create a topic (num_partitions -1: num.partitions); returns its metadata."""
        validate_topic_name(name)
        if name in self.topics:
            raise TopicExistsError(f"Topic '{name}' already exists.")
        collision = name.replace(".", "_")
        for other in self.topics:
            if other.replace(".", "_") == collision:
                raise InvalidTopicError(f"Topic '{name}' collides with existing topic: {other}")
        if num_partitions == -1:
            num_partitions = self.config["num.partitions"]
        if num_partitions <= 0:
            raise InvalidPartitionsError("Number of partitions was set to an invalid non-positive value.")
        for key, text in configs.items():
            topic_config.validate_value(key, text)
        meta = TopicMeta(name, uuid.uuid4(), num_partitions, dict(configs))
        if validate_only:
            return meta
        cfg = self._resolve(meta)
        now = _now_ms()
        dirs = [os.path.join(self.kafka_dir, f"{name}-{p}") for p in range(num_partitions)]
        logs: list[PartitionLog] = []
        try:
            # partitions first, the metadata last: a crash in between leaves stray directories
            # that load() removes, and an I/O error leaves no half-made topic behind
            for p, path in enumerate(dirs):
                logs.append(PartitionLog.open(path, name, p, cfg, meta.topic_id, now, clean=True))
            self._write_meta(meta)
        except OSError as e:
            for log in logs:
                log.delete()
            for path in dirs:
                shutil.rmtree(path, ignore_errors=True)
            raise LogError(f"Cannot create topic {name}: {e}") from None
        self.topics[name] = meta
        self.topics_by_id[meta.topic_id] = meta
        self._logs[name] = logs
        return meta

    def delete_topic(self, name: str) -> None:
        meta = self._meta(name)
        try:
            os.unlink(self._meta_path(meta))
        except FileNotFoundError:
            pass
        _fsync_dir(self.meta_dir)
        del self.topics[name]
        del self.topics_by_id[meta.topic_id]
        doomed: list[str] = []
        for log in self._logs.pop(name, []):
            self.cleaner.forget(log)
            log.delete()
            target = os.path.join(self.kafka_dir, f"{meta.topic_id.hex}-{log.index}.delete")
            os.rename(log.dir, target)
            doomed.append(target)
        threading.Thread(target=_remove_dirs, args=(doomed,), daemon=True).start()
        for listener in self.delete_listeners:
            listener(name)

    def create_partitions(self, name: str, total: int, validate_only: bool = False) -> None:
        meta = self._meta(name)
        if total < meta.num_partitions:
            raise InvalidPartitionsError(
                f"Topic currently has {meta.num_partitions} partitions, which is higher than the "
                f"requested {total}.")
        if total == meta.num_partitions:
            raise InvalidPartitionsError(f"Topic already has {meta.num_partitions} partitions.")
        if validate_only:
            return
        old = meta.num_partitions
        cfg = self._resolve(meta)
        now = _now_ms()
        dirs = [os.path.join(self.kafka_dir, f"{name}-{p}") for p in range(old, total)]
        logs: list[PartitionLog] = []
        try:   # as create_topic: the new partitions first, then the metadata
            for p, path in enumerate(dirs, old):
                logs.append(PartitionLog.open(path, name, p, cfg, meta.topic_id, now, clean=True))
            meta.num_partitions = total
            self._write_meta(meta)
        except OSError as e:
            meta.num_partitions = old
            for log in logs:
                log.delete()
            for path in dirs:
                shutil.rmtree(path, ignore_errors=True)
            raise LogError(f"Cannot add partitions to {name}: {e}") from None
        self._logs[name].extend(logs)

    def topic_config(self, name: str) -> dict[str, tuple[str, str]]:
        """Every topic config of a topic: name -> (value text, 'default' | 'broker' | 'topic')."""
        meta = self._meta(name)
        out: dict[str, tuple[str, str]] = {}
        for key in TOPIC_CONFIGS:
            if key in meta.configs:
                out[key] = (meta.configs[key], "topic")
            else:
                out[key] = topic_config.broker_default(self.config, key)
        return out

    def alter_topic_config(self, name: str, set_: dict[str, str], delete: list[str],
                           validate_only: bool = False, incremental: bool = True) -> None:
        """Change a topic's overrides: incremental (set/delete keys) or replace them all (AlterConfigs)."""
        meta = self._meta(name)
        new = dict(meta.configs) if incremental else {}
        for key in delete:
            if key not in TOPIC_CONFIGS:
                topic_config.validate_value(key, "")     # raises: unknown config
            new.pop(key, None)
        for key, text in set_.items():
            topic_config.validate_value(key, text)
            new[key] = text
        if validate_only:
            return
        meta.configs = new
        self._write_meta(meta)
        cfg = self._resolve(meta)
        for log in self._logs.get(name, []):
            log.config = cfg

    def partition(self, topic: str, index: int) -> PartitionLog | None:
        logs = self._logs.get(topic)
        if logs is None or not 0 <= index < len(logs):
            return None
        return logs[index]

    def _meta(self, name: str) -> TopicMeta:
        meta = self.topics.get(name)
        if meta is None:
            raise UnknownTopicError(f"Topic '{name}' does not exist.")
        return meta

    def _resolve(self, meta: TopicMeta) -> LogConfig:
        return topic_config.resolve(self.config, meta.configs)

    def _on_broker_config_change(self, name: str, _value: Any) -> None:
        if name not in _BROKER_SETTINGS:
            return
        for meta in self.topics.values():
            cfg = self._resolve(meta)
            for log in self._logs.get(meta.name, []):
                log.config = cfg

    def _meta_path(self, meta: TopicMeta) -> str:
        # by topic id: a 249-character topic name plus ".json.tmp" would not fit in a file name
        return os.path.join(self.meta_dir, meta.topic_id.hex + ".json")

    def _write_meta(self, meta: TopicMeta) -> None:
        data = {"name": meta.name, "topic_id": str(meta.topic_id), "num_partitions": meta.num_partitions,
                "configs": meta.configs}
        _atomic_write(self._meta_path(meta),
                      json.dumps(data, indent=1, sort_keys=True).encode())

    # -- background work ----------------------------------------------------------------------

    def all_partitions(self) -> list[PartitionLog]:
        return [log for logs in self._logs.values() for log in logs]

    def run_retention(self, now_ms: int) -> None:
        """Delete segments past their topic's retention (call every log.retention.check.interval.ms)."""
        for log in self.all_partitions():
            log.run_retention(now_ms)

    def run_cleaner(self, now_ms: int, budget_s: float) -> bool:
        """Compact for about budget_s seconds; True if work remains (call again soon), else back off."""
        if not self.config["log.cleaner.enable"]:
            return False
        return self.cleaner.step(now_ms, budget_s)

    def write_cleaner_checkpoint(self, entries: list[tuple[str, int, int]]) -> None:
        """Write `cleaner-offset-checkpoint` (called by the cleaner's worker thread and at close)."""
        with self._checkpoint_lock:
            _write_checkpoint(os.path.join(self.kafka_dir, _CLEANER_CHECKPOINT), entries)

    def flush_async(self, now_ms: int) -> Callable[[], None] | None:
        """Collect what the flush policy says is due; return a job for a worker thread, or None.

        The job fsyncs duplicated descriptors (so a segment deleted meanwhile is harmless) and
        then rewrites the checkpoint files. Segments rolled since the last flush are always
        synced, as Kafka does at roll.
        """
        fds: list[int] = []
        points: list[tuple[PartitionLog, int]] = []
        starts_moved = False
        logs = self.all_partitions()
        for log in logs:
            due = log.flush_due(now_ms)
            if due or log.has_rolled_dirty():
                got, point = log.take_flush(now_ms, due)
                fds.extend(got)
                points.append((log, point))
            if log.log_start_offset != log.checkpointed_start:
                log.checkpointed_start = log.log_start_offset
                starts_moved = True
        if not fds and not starts_moved:
            return None
        return lambda: self._flush_job(fds, points, logs)

    def flush_due(self, now_ms: int) -> None:
        """Run the flush policy here and now (tests, shutdown); the server uses flush_async()."""
        job = self.flush_async(now_ms)
        if job is not None:
            job()

    def _flush_job(self, fds: list[int], points: list[tuple[PartitionLog, int]],
                   logs: list[PartitionLog]) -> None:
        try:
            for fd in fds:
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            for log, point in points:
                log.recovery_point = max(log.recovery_point, point)
            self._write_checkpoints(logs)
        except OSError as e:
            raise LogError(f"flush failed: {e}") from None

    def _write_checkpoints(self, logs: list[PartitionLog]) -> None:
        with self._checkpoint_lock:
            _write_checkpoint(os.path.join(self.kafka_dir, _RECOVERY_CHECKPOINT),
                              [(log.topic, log.index, log.recovery_point) for log in logs])
            _write_checkpoint(os.path.join(self.kafka_dir, _START_CHECKPOINT),
                              [(log.topic, log.index, log.log_start_offset) for log in logs])

    def close(self) -> None:
        """fsync everything, write checkpoints and the clean-shutdown marker."""
        self.cleaner.close()
        logs = self.all_partitions()
        for log in logs:
            log.close()
            log.recovery_point = log.log_end_offset
        if not os.path.isdir(self.kafka_dir):
            return
        self._write_checkpoints(logs)
        cleaned = [(log.topic, log.index, log.first_dirty_offset) for log in logs if log.first_dirty_offset > 0]
        if cleaned or os.path.exists(os.path.join(self.kafka_dir, _CLEANER_CHECKPOINT)):
            self.write_cleaner_checkpoint(cleaned)
        _atomic_write(os.path.join(self.kafka_dir, _CLEAN_SHUTDOWN), b"")
        self._logs = {}
        self.topics = {}
        self.topics_by_id = {}


def _remove_dirs(paths: list[str]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: str, data: bytes) -> None:
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(os.path.dirname(path))


def _read_checkpoint(path: str) -> dict[tuple[str, int], int]:
    """Kafka's checkpoint text: version 0, a count, then `topic partition offset` lines."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return {}
    out: dict[tuple[str, int], int] = {}
    try:
        if lines[0].strip() != "0":
            return {}
        for line in lines[2:2 + int(lines[1])]:
            topic, part, offset = line.split()
            out[(topic, int(part))] = int(offset)
    except (IndexError, ValueError):
        return {}
    return out


def _write_checkpoint(path: str, entries: list[tuple[str, int, int]]) -> None:
    lines = ["0", str(len(entries))] + [f"{t} {p} {o}" for t, p, o in entries]
    _atomic_write(path, ("\n".join(lines) + "\n").encode())
