"""The one settings table.

Every setting Keystream knows is declared once here: name (as the reference system spells
it), type, default, whether it may change at run time, and a help line. The table feeds
the CLI flags of `keystream serve`, the `keystream.toml` file, `KEYSTREAM_*` environment
variables, `CONFIG GET/SET/REWRITE` on the Redis side and (later) DescribeConfigs on the
Kafka side.

Values are kept parsed (ints, bools, strings, enums) in `Config.values`; `render()` gives
the text form that `CONFIG GET` replies with, which is what Redis prints for that type
(memory sizes as plain byte counts, booleans as yes/no).

Not here: per-topic Kafka configs (they live with the topic metadata).
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from dataclasses import dataclass, field
from typing import Any, Callable

from keystream.hotpath import PURE_ENV
from keystream.keyspace.notify import parse_classes, render_classes

__all__ = ["Setting", "SETTINGS", "Config", "ConfigError", "parse_memory"]


class ConfigError(ValueError):
    """A setting name or value that cannot be accepted; the text names the setting."""


_MEMORY_UNITS = {
    "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3,
}


def parse_memory(text: str) -> int:
    """Parse a Redis memory size: `100`, `1k`, `1kb`, `2mb`, `1gb` (case-insensitive)."""
    t = text.strip().lower()
    for unit in ("kb", "mb", "gb", "k", "m", "g", "b"):
        if t.endswith(unit):
            num = t[: -len(unit)]
            if not num or not num.lstrip("-").isdigit():
                raise ValueError(text)
            return int(num) * _MEMORY_UNITS[unit]
    if not t.lstrip("-").isdigit():
        raise ValueError(text)
    return int(t)


def _parse_bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("yes", "true", "1", "on"):
        return True
    if t in ("no", "false", "0", "off"):
        return False
    raise ValueError(text)


@dataclass(frozen=True)
class Setting:
    name: str
    # "int" | "memory" | "bool" | "str" | "enum" | "float" | "list" | "flags" | "events" (the
    # notify-keyspace-events classes: rendered in Redis's canonical spelling)
    kind: str
    default: Any
    mutable: bool = True
    help: str = ""
    choices: tuple[str, ...] = ()
    minimum: int | float | None = None
    maximum: int | float | None = None
    aliases: tuple[str, ...] = ()
    # Called after a successful change at run time: on_change(server, new_value).
    redis_visible: bool = True

    def parse(self, text: str) -> Any:
        """Parse the text form into a value, raising ConfigError naming the setting."""
        try:
            if self.kind == "int":
                value: Any = int(text.strip())
            elif self.kind == "memory":
                value = parse_memory(text)
            elif self.kind == "float":
                value = float(text)
            elif self.kind == "bool":
                value = _parse_bool(text)
            elif self.kind == "enum":
                value = text.strip().lower()
                if value not in self.choices:
                    raise ValueError(text)
            elif self.kind == "events":
                parse_classes(text)  # validated; kept as given (see render)
                value = text
            elif self.kind == "list":
                items = [x.strip() for x in text.split(",")]
                if not all(items) or any(x not in self.choices for x in items):
                    raise ValueError(text)
                value = ",".join(items)
            elif self.kind == "flags":
                value = text
                for ch in text:
                    if ch not in self.choices[0]:
                        raise ValueError(text)
            else:
                value = text
        except ValueError as e:
            if self.kind == "events":
                raise ConfigError(str(e)) from None
            raise ConfigError(f"Invalid argument '{text}' for CONFIG SET '{self.name}'") from None
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(
                f"Invalid argument '{text}' for CONFIG SET '{self.name}' - "
                f"argument must be between {self.minimum} and {self.maximum}"
            )
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(
                f"Invalid argument '{text}' for CONFIG SET '{self.name}' - "
                f"argument must be between {self.minimum} and {self.maximum}"
            )
        check = CHECKS.get(self.name)
        if check is not None:
            reason = check(value)
            if reason is not None:
                raise ConfigError(reason)
        return value

    def render(self, value: Any) -> str:
        if self.kind == "events":
            # Redis's spelling, which can lose letters (A hides n): the value keeps them
            return render_classes(parse_classes(value))
        if self.kind == "bool":
            return "yes" if value else "no"
        if isinstance(value, float):
            text = repr(value)
            return text[:-2] if text.endswith(".0") else text
        return str(value)


def _check_save_points(text: str) -> str | None:
    """Redis's rule for `save`: pairs of <seconds >= 1> <changes >= 0>."""
    words = text.split()
    if len(words) % 2:
        return "Invalid save parameters"
    for i, w in enumerate(words):
        if not w.lstrip("-").isdigit() or int(w) < (1 if i % 2 == 0 else 0):
            return "Invalid save parameters"
    return None


# Extra checks of a parsed value: setting name -> reason to refuse it, or None. Values that
# would promise something the server does not do yet are refused by name here rather than
# accepted and ignored.
CHECKS: dict[str, Callable[[Any], str | None]] = {
    "save": _check_save_points,
    "dbfilename": lambda v: "dbfilename can't be a path, just a filename" if "/" in v else None,
    "bridge-views": lambda v: _check_bridge("views", v),
    "bridge-captures": lambda v: _check_bridge("captures", v),
}


def _check_bridge(kind: str, text: str) -> str | None:
    """A `bridge-views` / `bridge-captures` value that does not parse: the reason."""
    from keystream.bridge.capture import parse_capture_declarations
    from keystream.bridge.views import parse_declarations

    try:
        if kind == "views":
            parse_declarations(text)
        else:
            parse_capture_declarations(text)
    except ValueError as e:
        return str(e)
    return None

_INT_MAX = 2**31 - 1
_LONG_MAX = 2**63 - 1

SETTINGS: list[Setting] = [
    # --- process / listeners --------------------------------------------------------
    Setting("bind", "str", "127.0.0.1", False, "Address the listeners bind to"),
    Setting("port", "int", 6379, False, "RESP (Redis protocol) port; 0 disables", minimum=0, maximum=65535),
    Setting("kafka-port", "int", 9092, False, "Kafka protocol port; 0 disables", minimum=0, maximum=65535),
    Setting("dir", "str", "./keystream-data", False, "Data directory"),
    Setting("databases", "int", 16, False, "Number of Redis databases", minimum=1, maximum=_INT_MAX),
    Setting("loglevel", "enum", "notice", True, "Log verbosity",
            choices=("debug", "verbose", "notice", "warning", "nothing")),
    Setting("logfile", "str", "", False, "Log file ('' logs to stderr)"),
    # --- RESP protocol limits -------------------------------------------------------
    Setting("proto-max-bulk-len", "memory", 512 * 1024 * 1024, True,
            "Largest bulk string a client may send", minimum=1024 * 1024, maximum=_LONG_MAX),
    Setting("client-query-buffer-limit", "memory", 1024 * 1024 * 1024, True,
            "Largest unparsed input kept for one client", minimum=1024 * 1024, maximum=_LONG_MAX),
    Setting("client-output-buffer-limit", "str", "normal 0 0 0 slave 268435456 67108864 60 "
            "pubsub 33554432 8388608 60", True, "Output buffer limits per client class"),
    Setting("maxclients", "int", 10000, True, "Most clients connected at once", minimum=1, maximum=_INT_MAX),
    Setting("timeout", "int", 0, True, "Close idle clients after this many seconds (0: never)",
            minimum=0, maximum=_INT_MAX),
    Setting("tcp-keepalive", "int", 300, True, "TCP keepalive seconds", minimum=0, maximum=_INT_MAX),
    Setting("requirepass", "str", "", True, "Password of the default user ('' : none)"),
    # --- keyspace -------------------------------------------------------------------
    Setting("hz", "int", 10, True, "Background task frequency (active expiry cycles per second)",
            minimum=0, maximum=_INT_MAX),
    Setting("active-expire-effort", "int", 1, True, "Active expiry effort 1..10", minimum=1, maximum=10),
    Setting("lazyfree-lazy-user-del", "bool", False, True, "DEL behaves as UNLINK"),
    Setting("lazyfree-lazy-user-flush", "bool", False, True, "FLUSH* default to ASYNC"),
    Setting("lazyfree-lazy-expire", "bool", False, True, "Free expired values in the background"),
    Setting("lazyfree-lazy-server-del", "bool", False, True, "Free overwritten values in the background"),
    Setting("lazyfree-lazy-eviction", "bool", False, True, "Free evicted values in the background"),
    Setting("notify-keyspace-events", "events", "", True, "Keyspace event classes to publish"),
    Setting("maxmemory", "memory", 0, True, "Memory limit (0: none)", minimum=0, maximum=_LONG_MAX),
    Setting("maxmemory-policy", "enum", "noeviction", True, "Eviction policy",
            choices=("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                     "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction")),
    Setting("maxmemory-samples", "int", 5, True, "Keys sampled per eviction", minimum=1, maximum=_INT_MAX),
    Setting("lfu-log-factor", "int", 10, True, "LFU counter logarithm factor", minimum=0, maximum=_INT_MAX),
    Setting("lfu-decay-time", "int", 1, True, "LFU counter decay minutes", minimum=0, maximum=_INT_MAX),
    # --- encodings (reported by OBJECT ENCODING) ------------------------------------
    Setting("hash-max-listpack-entries", "int", 512, True, "Hash listpack entry limit",
            minimum=0, maximum=_LONG_MAX, aliases=("hash-max-ziplist-entries",)),
    Setting("hash-max-listpack-value", "memory", 64, True, "Hash listpack value limit",
            minimum=0, maximum=_LONG_MAX, aliases=("hash-max-ziplist-value",)),
    Setting("list-max-listpack-size", "int", -2, True, "List node size limit",
            minimum=-_INT_MAX - 1, maximum=_INT_MAX, aliases=("list-max-ziplist-size",)),
    Setting("list-compress-depth", "int", 0, True, "List compression depth", minimum=0, maximum=_INT_MAX),
    Setting("set-max-intset-entries", "int", 512, True, "Set intset entry limit", minimum=0, maximum=_LONG_MAX),
    Setting("zset-max-listpack-entries", "int", 128, True, "Sorted set listpack entry limit",
            minimum=0, maximum=_LONG_MAX, aliases=("zset-max-ziplist-entries",)),
    Setting("zset-max-listpack-value", "memory", 64, True, "Sorted set listpack value limit",
            minimum=0, maximum=_LONG_MAX, aliases=("zset-max-ziplist-value",)),
    Setting("stream-node-max-bytes", "memory", 4096, True, "Stream node byte limit", minimum=0,
            maximum=_LONG_MAX),
    Setting("stream-node-max-entries", "int", 100, True, "Stream node entry limit", minimum=0,
            maximum=_LONG_MAX),
    Setting("bridge-stream-prefix", "str", "kafka:", True,
            "Key prefix of Kafka topic partitions as Redis streams (<prefix><topic>:<partition>; empty: off)"),
    Setting("hll-sparse-max-bytes", "memory", 3000, True, "HyperLogLog sparse limit", minimum=0,
            maximum=_LONG_MAX),
    Setting("activerehashing", "bool", True, True, "Incremental rehashing (accepted, no effect)"),
    # --- persistence ----------------------------------------------------------------
    Setting("appendonly", "bool", False, True, "Append-only file of effects"),
    Setting("appendfsync", "enum", "everysec", True, "fsync policy", choices=("always", "everysec", "no")),
    Setting("appendfilename", "str", "appendonly.aof", False, "AOF base name"),
    Setting("save", "str", "3600 1 300 100 60 10000", True,
            "Snapshot points: BGSAVE after <seconds> if at least <changes> writes ..."),
    Setting("dbfilename", "str", "dump.rdb", True, "Snapshot file name"),
    Setting("rdbcompression", "bool", True, True, "Compress snapshot strings"),
    Setting("stop-writes-on-bgsave-error", "bool", True, True,
            "Refuse writes (MISCONF) while the last background save failed and save points are set"),
    Setting("rdbchecksum", "bool", True, True, "Checksum snapshots"),
    Setting("rdb-key-save-delay", "int", 0, True,
            "Testing aid: microseconds to sleep per key saved (negative: 1 us every -N keys)",
            minimum=-_INT_MAX - 1, maximum=_INT_MAX),
    Setting("key-load-delay", "int", 0, True,
            "Testing aid: microseconds to sleep per key loaded (negative: 1 us every -N keys)",
            minimum=-_INT_MAX - 1, maximum=_INT_MAX),
    Setting("loading-process-events-interval-bytes", "memory", 2 * 1024 * 1024, True,
            "Accepted for compatibility: clients are always served while a dump loads",
            minimum=1024, maximum=_INT_MAX),
    Setting("sanitize-dump-payload", "enum", "no", True, "Check RESTORE payloads",
            choices=("no", "yes", "clients")),
    # --- diagnostics ----------------------------------------------------------------
    Setting("slowlog-log-slower-than", "int", 10000, True, "Slow log threshold in microseconds",
            minimum=-1, maximum=_LONG_MAX),
    Setting("slowlog-max-len", "int", 128, True, "Slow log length", minimum=0, maximum=_LONG_MAX),
    Setting("latency-monitor-threshold", "int", 0, True, "Latency monitor threshold (ms)",
            minimum=0, maximum=_LONG_MAX),
    Setting("latency-tracking", "bool", True, True, "Per-command latency histograms"),
    Setting("latency-tracking-info-percentiles", "str", "50 99 99.9", True, "Percentiles in INFO"),
    Setting("busy-reply-threshold", "int", 5000, True, "Script time before BUSY replies (ms)",
            minimum=0, maximum=_LONG_MAX, aliases=("lua-time-limit",)),
    Setting("enable-debug-command", "enum", "yes", False, "Allow DEBUG", choices=("yes", "no", "local")),
    Setting("lua-replicate-commands", "bool", True, True, "Accepted for compatibility"),
    Setting("tracking-table-max-keys", "int", 1000000, True, "Client-side caching table size",
            minimum=0, maximum=_LONG_MAX),
    Setting("replica-read-only", "bool", True, True, "Replicas refuse writes",
            aliases=("slave-read-only",)),
    Setting("protected-mode", "bool", True, True, "Accepted for compatibility"),
    # --- Kafka broker (issue: Kafka broker core) ------------------------------------
    Setting("node.id", "int", 0, False, "Kafka broker/node id", minimum=0, maximum=_INT_MAX,
            redis_visible=False),
    Setting("num.partitions", "int", 1, True, "Default partitions of an auto-created topic",
            minimum=1, maximum=_INT_MAX, redis_visible=False),
    Setting("auto.create.topics.enable", "bool", True, True, "Create topics on first use",
            redis_visible=False),
    Setting("log.retention.ms", "int", 7 * 24 * 3600 * 1000, True, "Default retention.ms",
            minimum=-1, maximum=_LONG_MAX, redis_visible=False),
    Setting("log.retention.bytes", "int", -1, True, "Default retention.bytes", minimum=-1,
            maximum=_LONG_MAX, redis_visible=False),
    Setting("log.segment.bytes", "int", 1024 * 1024 * 1024, True, "Default segment.bytes",
            minimum=14, maximum=_INT_MAX, redis_visible=False),
    Setting("log.roll.ms", "int", 7 * 24 * 3600 * 1000, True, "Default segment.ms", minimum=1,
            maximum=_LONG_MAX, redis_visible=False),
    Setting("log.retention.check.interval.ms", "int", 300000, True, "Retention check period",
            minimum=1, maximum=_LONG_MAX, redis_visible=False),
    Setting("log.flush.interval.messages", "int", _LONG_MAX, True, "fsync after this many messages",
            minimum=1, maximum=_LONG_MAX, redis_visible=False),
    Setting("log.flush.interval.ms", "int", _LONG_MAX, True, "fsync after this many ms",
            minimum=0, maximum=_LONG_MAX, redis_visible=False),
    Setting("message.max.bytes", "int", 1048588, True, "Largest record batch accepted",
            minimum=0, maximum=_INT_MAX, redis_visible=False),
    Setting("socket.request.max.bytes", "int", 104857600, False, "Largest Kafka request",
            minimum=1, maximum=_INT_MAX, redis_visible=False),
    # --- Kafka idempotent producers (issue: idempotent producers) ----------------------
    Setting("producer.id.expiration.ms", "int", 86400000, True,
            "Forget a producer id this long after its last batch's timestamp",
            minimum=1, maximum=_INT_MAX, redis_visible=False),
    Setting("producer.id.expiration.check.interval.ms", "int", 600000, False,
            "How often idle producer ids are looked for", minimum=1, maximum=_INT_MAX, redis_visible=False),
    # --- Kafka transactions (issue: exactly-once) --------------------------------------
    Setting("transaction.max.timeout.ms", "int", 900000, True,
            "Largest transaction.timeout.ms a transactional producer may ask for",
            minimum=1, maximum=_INT_MAX, redis_visible=False),
    Setting("transaction.state.log.num.partitions", "int", 50, False,
            "Partitions of __transaction_state (when it is created)", minimum=1, maximum=_INT_MAX,
            redis_visible=False),
    Setting("transaction.state.log.segment.bytes", "int", 104857600, False,
            "segment.bytes of __transaction_state (when it is created)", minimum=14, maximum=_INT_MAX,
            redis_visible=False),
    Setting("transactional.id.expiration.ms", "int", 604800000, True,
            "Forget a transactional id this long after its last transaction ended",
            minimum=1, maximum=_INT_MAX, redis_visible=False),
    Setting("transaction.abort.timed.out.transaction.cleanup.interval.ms", "int", 10000, False,
            "How often transactions past their timeout are looked for (and aborted)",
            minimum=1, maximum=_INT_MAX, redis_visible=False),
    Setting("transaction.remove.expired.transaction.cleanup.interval.ms", "int", 3600000, False,
            "How often expired transactional ids are looked for", minimum=1, maximum=_INT_MAX,
            redis_visible=False),
    # --- Kafka consumer groups (issue: Kafka consumer groups) -------------------------
    Setting("group.initial.rebalance.delay.ms", "int", 3000, True,
            "Wait this long for more members before the first rebalance of an empty group",
            minimum=0, maximum=_INT_MAX, redis_visible=False),
    Setting("group.min.session.timeout.ms", "int", 6000, True, "Smallest session timeout a member may ask for",
            minimum=0, maximum=_INT_MAX, redis_visible=False),
    Setting("group.max.session.timeout.ms", "int", 1800000, True, "Largest session timeout a member may ask for",
            minimum=0, maximum=_INT_MAX, redis_visible=False),
    Setting("group.max.size", "int", _INT_MAX, True, "Most members a consumer group may have",
            minimum=1, maximum=_INT_MAX, redis_visible=False),
    # --- KIP-848 consumer groups (group.protocol=consumer) -------------------------------
    Setting("group.consumer.session.timeout.ms", "int", 45000, True,
            "A consumer-protocol member is fenced after this long without a heartbeat",
            minimum=1, maximum=_INT_MAX, redis_visible=False),
    Setting("group.consumer.heartbeat.interval.ms", "int", 5000, True,
            "Heartbeat interval the coordinator gives consumer-protocol members",
            minimum=1, maximum=_INT_MAX, redis_visible=False),
    Setting("group.consumer.assignors", "list", "uniform,range", True,
            "Server-side assignors (uniform, range), the first is the default", choices=("uniform", "range"),
            redis_visible=False),
    Setting("group.consumer.max.size", "int", _INT_MAX, True, "Most members a consumer-protocol group may have",
            minimum=1, maximum=_INT_MAX, redis_visible=False),
    Setting("group.consumer.migration.policy", "enum", "bidirectional", True,
            "Online conversion of non-empty groups between the classic and consumer protocols (Kafka 4.0's)",
            choices=("disabled", "upgrade", "downgrade", "bidirectional"), redis_visible=False),
    Setting("offsets.retention.minutes", "int", 10080, True,
            "Committed offsets of an empty group expire after this long", minimum=1, maximum=_INT_MAX,
            redis_visible=False),
    Setting("offsets.retention.check.interval.ms", "int", 600000, True, "How often offsets expiry runs",
            minimum=1, maximum=_LONG_MAX, redis_visible=False),
    Setting("offsets.topic.num.partitions", "int", 50, False,
            "Partitions of __consumer_offsets (when it is created)", minimum=1, maximum=_INT_MAX,
            redis_visible=False),
    Setting("offsets.topic.segment.bytes", "int", 104857600, False,
            "segment.bytes of __consumer_offsets (when it is created)", minimum=14, maximum=_INT_MAX,
            redis_visible=False),
    Setting("offset.metadata.max.bytes", "int", 4096, True, "Largest metadata string of a committed offset",
            minimum=0, maximum=_INT_MAX, redis_visible=False),
    # --- Kafka topic config defaults (keystream.log.topic_config checks their values) --
    Setting("log.index.interval.bytes", "int", 4096, True, "Default index.interval.bytes",
            minimum=0, maximum=_INT_MAX, redis_visible=False),
    Setting("log.index.size.max.bytes", "int", 10485760, True, "Default segment.index.bytes",
            minimum=4, maximum=_INT_MAX, redis_visible=False),
    Setting("log.cleanup.policy", "str", "delete", True, "Default cleanup.policy (delete, compact)",
            redis_visible=False),
    Setting("log.message.timestamp.type", "str", "CreateTime", True,
            "Default message.timestamp.type (CreateTime, LogAppendTime)", redis_visible=False),
    Setting("log.message.timestamp.difference.max.ms", "int", _LONG_MAX, True,
            "Default message.timestamp.difference.max.ms", minimum=0, maximum=_LONG_MAX,
            redis_visible=False),
    Setting("min.insync.replicas", "int", 1, True, "Default min.insync.replicas", minimum=1,
            maximum=_INT_MAX, redis_visible=False),
    Setting("compression.type", "str", "producer", True, "Default compression.type",
            redis_visible=False),
    Setting("log.cleaner.delete.retention.ms", "int", 86400000, True, "Default delete.retention.ms",
            minimum=0, maximum=_LONG_MAX, redis_visible=False),
    Setting("log.cleaner.min.compaction.lag.ms", "int", 0, True, "Default min.compaction.lag.ms",
            minimum=0, maximum=_LONG_MAX, redis_visible=False),
    Setting("log.cleaner.max.compaction.lag.ms", "int", _LONG_MAX, True,
            "Default max.compaction.lag.ms", minimum=1, maximum=_LONG_MAX, redis_visible=False),
    Setting("log.cleaner.min.cleanable.ratio", "float", 0.5, True, "Default min.cleanable.dirty.ratio",
            minimum=0, maximum=1, redis_visible=False),
    Setting("log.cleaner.enable", "bool", True, True, "Compact logs whose cleanup.policy has compact",
            redis_visible=False),
    Setting("log.cleaner.backoff.ms", "int", 15000, True, "Sleep of the log cleaner when nothing is dirty",
            minimum=0, maximum=_LONG_MAX, redis_visible=False),
    Setting("log.cleaner.dedupe.buffer.size", "int", 134217728, True,
            "Memory bound of the log cleaner's key -> offset map", minimum=0, maximum=_LONG_MAX,
            redis_visible=False),
    Setting("log.segment.delete.delay.ms", "int", 60000, True, "Default file.delete.delay.ms",
            minimum=0, maximum=_LONG_MAX, redis_visible=False),
    Setting("log.roll.jitter.ms", "int", 0, True, "Default segment.jitter.ms", minimum=0,
            maximum=_LONG_MAX, redis_visible=False),
    Setting("log.preallocate", "bool", False, True, "Default preallocate", redis_visible=False),
    Setting("unclean.leader.election.enable", "bool", False, True,
            "Default unclean.leader.election.enable", redis_visible=False),
]


# Redis settings we accept and report so that CONFIG GET/SET and tools written for Redis
# work, but which change nothing here (TLS, cluster, replication tuning, defrag, ...).
_COMPAT = "Redis setting accepted for compatibility; no effect here"
SETTINGS += [
    Setting("acl-pubsub-default", "enum", 'resetchannels', True, _COMPAT, choices=('allchannels', 'resetchannels')),
    Setting("aclfile", "str", '', False, _COMPAT),
    Setting("acllog-max-len", "int", 128, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("active-defrag-cycle-max", "int", 25, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("active-defrag-cycle-min", "int", 1, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("active-defrag-ignore-bytes", "memory", 104857600, True, _COMPAT, minimum=0, maximum=_LONG_MAX),
    Setting("active-defrag-max-scan-fields", "int", 1000, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("active-defrag-threshold-lower", "int", 10, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("active-defrag-threshold-upper", "int", 100, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("activedefrag", "bool", False, True, _COMPAT),
    Setting("always-show-logo", "bool", False, False, _COMPAT),
    Setting("aof-disable-auto-gc", "bool", False, True, "Keep AOF files a rewrite made obsolete"),
    Setting("aof-load-truncated", "bool", True, True, "Load an AOF whose last file ends mid-command"),
    Setting("aof-rewrite-incremental-fsync", "bool", True, True, _COMPAT),
    Setting("aof-timestamp-enabled", "bool", False, True, "Write #TS: annotations into the AOF"),
    Setting("aof-use-rdb-preamble", "bool", True, True, "AOF base files in RDB format"),
    Setting("aof_rewrite_cpulist", "str", '', False, _COMPAT),
    Setting("appenddirname", "str", 'appendonlydir', False, "Directory of the multi-part AOF"),
    Setting("auto-aof-rewrite-min-size", "memory", 67108864, True, "AOF size below which no automatic rewrite",
            minimum=0, maximum=_LONG_MAX),
    Setting("auto-aof-rewrite-percentage", "int", 100, True, "AOF growth (%) that starts a rewrite (0: never)",
            minimum=0, maximum=_INT_MAX),
    Setting("bgsave_cpulist", "str", '', False, _COMPAT),
    Setting("bind-source-addr", "str", '', True, _COMPAT),
    Setting("bio_cpulist", "str", '', False, _COMPAT),
    Setting("cluster-allow-pubsubshard-when-down", "bool", True, True, _COMPAT),
    Setting("cluster-allow-reads-when-down", "bool", False, True, _COMPAT),
    Setting("cluster-allow-replica-migration", "bool", True, True, _COMPAT),
    Setting("cluster-announce-bus-port", "int", 0, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("cluster-announce-hostname", "str", '', True, _COMPAT),
    Setting("cluster-announce-ip", "str", '', True, _COMPAT),
    Setting("cluster-announce-port", "int", 0, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("cluster-announce-tls-port", "int", 0, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("cluster-config-file", "str", 'nodes.conf', False, _COMPAT),
    Setting("cluster-enabled", "bool", False, False, _COMPAT),
    Setting("cluster-link-sendbuf-limit", "memory", 0, True, _COMPAT, minimum=0, maximum=_LONG_MAX),
    Setting("cluster-migration-barrier", "int", 1, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("cluster-node-timeout", "int", 15000, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("cluster-port", "int", 0, False, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("cluster-preferred-endpoint-type", "enum", 'ip', True, _COMPAT, choices=('ip', 'hostname', 'unknown-endpoint')),
    Setting("cluster-replica-no-failover", "bool", False, True, _COMPAT, aliases=('cluster-slave-no-failover',)),
    Setting("cluster-replica-validity-factor", "int", 10, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX, aliases=('cluster-slave-validity-factor',)),
    Setting("cluster-require-full-coverage", "bool", True, True, _COMPAT),
    Setting("crash-log-enabled", "bool", True, True, _COMPAT),
    Setting("crash-memcheck-enabled", "bool", True, True, _COMPAT),
    Setting("daemonize", "bool", False, False, _COMPAT),
    Setting("disable-thp", "bool", True, False, _COMPAT),
    Setting("dynamic-hz", "bool", True, True, _COMPAT),
    Setting("enable-module-command", "bool", False, False, _COMPAT),
    Setting("enable-protected-configs", "bool", False, False, _COMPAT),
    Setting("ignore-warnings", "str", '', True, _COMPAT),
    Setting("io-threads", "int", 1, False, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("io-threads-do-reads", "bool", False, False, _COMPAT),
    Setting("jemalloc-bg-thread", "bool", True, True, _COMPAT),
    Setting("masterauth", "str", '', True, _COMPAT),
    Setting("masteruser", "str", '', True, _COMPAT),
    Setting("maxmemory-clients", "str", '0', True, _COMPAT),
    Setting("maxmemory-eviction-tenacity", "int", 10, True,
            "Time an eviction pass may take (0-100: 50 us per step to 10, +15% per step above)",
            minimum=0, maximum=100),
    Setting("min-replicas-max-lag", "int", 10, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX, aliases=('min-slaves-max-lag',)),
    Setting("min-replicas-to-write", "int", 0, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX, aliases=('min-slaves-to-write',)),
    Setting("no-appendfsync-on-rewrite", "bool", False, True, "No AOF fsync while a child process runs"),
    Setting("oom-score-adj", "enum", 'no', True, _COMPAT, choices=('no', 'yes', 'relative', 'absolute')),
    Setting("oom-score-adj-values", "str", '0 200 800', True, _COMPAT),
    Setting("pidfile", "str", '', False, _COMPAT),
    Setting("proc-title-template", "str", '{title} {listen-addr} {server-mode}', True, _COMPAT),
    Setting("propagation-error-behavior", "enum", 'ignore', True, _COMPAT, choices=('ignore', 'panic', 'panic-on-replicas')),
    Setting("rdb-del-sync-files", "bool", False, True, _COMPAT),
    Setting("rdb-save-incremental-fsync", "bool", True, True, _COMPAT),
    Setting("repl-backlog-size", "memory", 1048576, True, _COMPAT, minimum=0, maximum=_LONG_MAX),
    Setting("repl-backlog-ttl", "int", 3600, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("repl-disable-tcp-nodelay", "bool", False, True, _COMPAT),
    Setting("repl-diskless-load", "enum", 'disabled', True, _COMPAT, choices=('disabled', 'on-empty-db', 'swapdb')),
    Setting("repl-diskless-sync", "bool", True, True, _COMPAT),
    Setting("repl-diskless-sync-delay", "int", 5, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("repl-diskless-sync-max-replicas", "int", 0, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("repl-ping-replica-period", "int", 10, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX, aliases=('repl-ping-slave-period',)),
    Setting("repl-timeout", "int", 60, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("replica-announce-ip", "str", '', True, _COMPAT, aliases=('slave-announce-ip',)),
    Setting("replica-announce-port", "int", 0, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX, aliases=('slave-announce-port',)),
    Setting("replica-announced", "bool", True, True, _COMPAT),
    Setting("replica-ignore-disk-write-errors", "bool", False, True, _COMPAT),
    Setting("replica-ignore-maxmemory", "bool", True, True, _COMPAT, aliases=('slave-ignore-maxmemory',)),
    Setting("replica-lazy-flush", "bool", False, True, _COMPAT, aliases=('slave-lazy-flush',)),
    Setting("replica-priority", "int", 100, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX, aliases=('slave-priority',)),
    Setting("replica-serve-stale-data", "bool", True, True, _COMPAT, aliases=('slave-serve-stale-data',)),
    Setting("replicaof", "str", '', True, _COMPAT, aliases=('slaveof',)),
    Setting("server_cpulist", "str", '', False, _COMPAT),
    Setting("set-proc-title", "bool", True, False, _COMPAT),
    Setting("shutdown-on-sigint", "str", 'default', True, _COMPAT),
    Setting("shutdown-on-sigterm", "str", 'default', True, _COMPAT),
    Setting("shutdown-timeout", "int", 10, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("socket-mark-id", "int", 0, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("supervised", "enum", 'no', False, _COMPAT, choices=('upstart', 'systemd', 'auto', 'no')),
    Setting("syslog-enabled", "bool", False, False, _COMPAT),
    Setting("syslog-facility", "enum", 'local0', False, _COMPAT, choices=('user', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7')),
    Setting("syslog-ident", "str", 'redis', False, _COMPAT),
    Setting("tcp-backlog", "int", 511, False, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("tls-auth-clients", "bool", True, True, _COMPAT),
    Setting("tls-ca-cert-dir", "str", '', True, _COMPAT),
    Setting("tls-ca-cert-file", "str", '', True, _COMPAT),
    Setting("tls-cert-file", "str", '', True, _COMPAT),
    Setting("tls-ciphers", "str", '', True, _COMPAT),
    Setting("tls-ciphersuites", "str", '', True, _COMPAT),
    Setting("tls-client-cert-file", "str", '', True, _COMPAT),
    Setting("tls-client-key-file", "str", '', True, _COMPAT),
    Setting("tls-client-key-file-pass", "str", '', True, _COMPAT),
    Setting("tls-cluster", "bool", False, True, _COMPAT),
    Setting("tls-dh-params-file", "str", '', True, _COMPAT),
    Setting("tls-key-file", "str", '', True, _COMPAT),
    Setting("tls-key-file-pass", "str", '', True, _COMPAT),
    Setting("tls-port", "int", 0, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("tls-prefer-server-ciphers", "bool", False, True, _COMPAT),
    Setting("tls-protocols", "str", '', True, _COMPAT),
    Setting("tls-replication", "bool", False, True, _COMPAT),
    Setting("tls-session-cache-size", "int", 20480, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("tls-session-cache-timeout", "int", 300, True, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    Setting("tls-session-caching", "bool", True, True, _COMPAT),
    Setting("unixsocket", "str", '', False, _COMPAT),
    Setting("use-exit-on-panic", "bool", False, False, _COMPAT),
    Setting("unixsocketperm", "int", 0, False, _COMPAT, minimum=-_INT_MAX, maximum=_LONG_MAX),
    # --- the bridge (bridge/views.py, bridge/capture.py) ---------------------------------
    Setting("bridge-views", "str", "", False,
            "Table views in db 0: '<key-or-prefix> FROM <topic> AS HASH|STRINGS|HASHES [WRITETHROUGH]; ...'"),
    Setting("bridge-captures", "str", "", False,
            "Change captures: '<topic> [MATCH <pattern>] [DB <n>] [FORMAT VALUE|EFFECT]; ...'"),
]


@dataclass
class Config:
    """Current values of every setting, parsed."""

    values: dict[str, Any] = field(default_factory=dict)
    config_file: str | None = None
    # "toml", or "redis" for a redis.conf (CONFIG REWRITE writes the file back in its format)
    config_format: str = "toml"
    listeners: list[Callable[[str, Any], None]] = field(default_factory=list)
    # Names of the settings given a value by some source (file, environment, flag, CONFIG
    # SET) rather than left at their default (the dump's location depends on it).
    explicit: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for s in SETTINGS:
            self.values.setdefault(s.name, s.default)

    # -- lookup --------------------------------------------------------------------
    @staticmethod
    def setting(name: str) -> Setting:
        s = _BY_NAME.get(name.lower())
        if s is None:
            raise ConfigError(f"Unknown setting '{name}'")
        return s

    def __getitem__(self, name: str) -> Any:
        return self.values[_BY_NAME[name].name]

    def set_text(self, name: str, text: str) -> None:
        """Parse and set one setting (no mutability check: that is the caller's)."""
        s = self.setting(name)
        self.values[s.name] = s.parse(text)
        self.explicit.add(s.name)
        for cb in self.listeners:
            cb(s.name, self.values[s.name])

    def get_matching(self, pattern: str) -> list[tuple[str, str]]:
        """(name, text) pairs of the Redis-visible settings whose name or alias matches."""
        out: list[tuple[str, str]] = []
        pat = pattern.lower()
        has_glob = any(c in pat for c in "*?[")
        for s in SETTINGS:
            if not s.redis_visible:
                continue
            for n in (s.name, *s.aliases):
                if (fnmatch.fnmatchcase(n, pat) if has_glob else n == pat):
                    out.append((n, s.render(self.values[s.name])))
        return out

    # -- sources -------------------------------------------------------------------
    def load_file(self, path: str) -> None:
        """Read a settings file: a redis.conf (Redis's syntax) or a keystream.toml."""
        from keystream.redisconf import is_redis_conf, load_redis_conf

        if is_redis_conf(path):
            load_redis_conf(self, path)
            return
        with open(path, "rb") as f:
            data = tomllib.load(f)
        self.config_file = os.path.abspath(path)
        for key, value in _flatten(data):
            text = _toml_text(value)
            self.set_text(key, text)

    def load_env(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        for key, text in env.items():
            if not key.startswith("KEYSTREAM_") or key == PURE_ENV:  # PURE_ENV: not a setting (hotpath.py)
                continue
            raw = key[len("KEYSTREAM_"):].lower()
            # KEYSTREAM_MAXMEMORY_POLICY -> maxmemory-policy; KEYSTREAM_LOG_RETENTION_MS -> log.retention.ms
            name = _ENV_NAMES.get(raw)
            if name is None:
                raise ConfigError(f"Unknown setting in environment variable {key}")
            self.set_text(name, text)

    def rewrite(self) -> None:
        """Write the settings that differ from their defaults to the config file."""
        if not self.config_file:
            raise ConfigError("The server is running without a config file")
        if self.config_format == "redis":
            from keystream.redisconf import rewrite_redis_conf

            rewrite_redis_conf(self, self.config_file)
            return
        lines = ["# Written by CONFIG REWRITE: settings that differ from the defaults."]
        for s in SETTINGS:
            v = self.values[s.name]
            if v != s.default:
                lines.append(f"{_toml_key(s.name)} = {_toml_value(s, v)}")
        tmp = self.config_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.config_file)


_BY_NAME: dict[str, Setting] = {}
for _s in SETTINGS:
    _BY_NAME[_s.name] = _s
    for _a in _s.aliases:
        _BY_NAME[_a] = _s
_ENV_NAMES = {n.replace("-", "_").replace(".", "_"): s.name for n, s in _BY_NAME.items()}


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in data.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.extend(_flatten(v, name + "."))
        else:
            out.append((name, v))
    return out


def _toml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _toml_key(name: str) -> str:
    return f'"{name}"' if "." in name else name


def _toml_value(s: Setting, v: Any) -> str:
    if s.kind == "bool":
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
