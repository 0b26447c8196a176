"""Topic configs: Kafka's names, types, validation, and their broker-wide defaults.

Each topic config takes its default from a broker setting in `keystream.config.SETTINGS`
(`retention.ms` <- `log.retention.ms`, `max.message.bytes` <- `message.max.bytes`, ...), as
in Kafka. A topic stores only its overrides; `resolve()` gives the effective `LogConfig`.
Validation messages follow Kafka's ConfigException texts ("Invalid value X for configuration
Y: ..."). Configs that only matter to features we do not have (remote storage, replica
throttling, message format down-conversion) are not offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keystream.config import Config
from keystream.log.errors import InvalidConfigError

__all__ = ["TOPIC_CONFIGS", "LogConfig", "TopicConfigDef", "render", "resolve", "validate_value"]

_LONG_MAX = 2**63 - 1
_INT_MAX = 2**31 - 1


@dataclass(frozen=True)
class TopicConfigDef:
    name: str
    broker_setting: str
    type: str                      # Kafka's ConfigType: LONG INT STRING LIST BOOLEAN DOUBLE
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


TOPIC_CONFIGS: dict[str, TopicConfigDef] = {d.name: d for d in (
    TopicConfigDef("cleanup.policy", "log.cleanup.policy", "LIST",
                   "Retention policy of old segments: delete, compact or both",
                   choices=("compact", "delete")),
    TopicConfigDef("compression.type", "compression.type", "STRING",
                   "Final compression type of the topic ('producer' keeps the producer's)",
                   choices=("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")),
    TopicConfigDef("delete.retention.ms", "log.cleaner.delete.retention.ms", "LONG",
                   "How long delete tombstones are kept on compacted topics", minimum=0),
    TopicConfigDef("file.delete.delay.ms", "log.segment.delete.delay.ms", "LONG",
                   "Delay before a deleted segment's files are removed", minimum=0),
    TopicConfigDef("flush.messages", "log.flush.interval.messages", "LONG",
                   "fsync the log after this many messages", minimum=1),
    TopicConfigDef("flush.ms", "log.flush.interval.ms", "LONG",
                   "fsync the log after this many milliseconds", minimum=0),
    TopicConfigDef("index.interval.bytes", "log.index.interval.bytes", "INT",
                   "Bytes of log between two offset index entries", minimum=0, maximum=_INT_MAX),
    TopicConfigDef("max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms", "LONG",
                   "Longest time a message stays uncompacted", minimum=1),
    TopicConfigDef("max.message.bytes", "message.max.bytes", "INT",
                   "Largest record batch size allowed", minimum=0, maximum=_INT_MAX),
    TopicConfigDef("message.timestamp.difference.max.ms", "log.message.timestamp.difference.max.ms",
                   "LONG", "Largest allowed gap between a CreateTime timestamp and the broker's clock",
                   minimum=0),
    TopicConfigDef("message.timestamp.type", "log.message.timestamp.type", "STRING",
                   "CreateTime or LogAppendTime", choices=("CreateTime", "LogAppendTime")),
    TopicConfigDef("min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio", "DOUBLE",
                   "Dirty ratio that makes a log eligible for compaction", minimum=0, maximum=1),
    TopicConfigDef("min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms", "LONG",
                   "Shortest time a message stays uncompacted", minimum=0),
    TopicConfigDef("min.insync.replicas", "min.insync.replicas", "INT",
                   "Replicas that must acknowledge a write with acks=all", minimum=1, maximum=_INT_MAX),
    TopicConfigDef("preallocate", "log.preallocate", "BOOLEAN",
                   "Preallocate segment files (accepted, no effect)"),
    TopicConfigDef("retention.bytes", "log.retention.bytes", "LONG",
                   "Largest size of a partition before old segments are deleted (-1: no limit)"),
    TopicConfigDef("retention.ms", "log.retention.ms", "LONG",
                   "Longest time a segment is kept before deletion (-1: no limit)", minimum=-1),
    TopicConfigDef("segment.bytes", "log.segment.bytes", "INT",
                   "Segment file size at which the log rolls", minimum=14, maximum=_INT_MAX),
    TopicConfigDef("segment.index.bytes", "log.index.size.max.bytes", "INT",
                   "Largest size of a segment's offset index", minimum=4, maximum=_INT_MAX),
    TopicConfigDef("segment.jitter.ms", "log.roll.jitter.ms", "LONG",
                   "Largest random jitter subtracted from segment.ms", minimum=0),
    TopicConfigDef("segment.ms", "log.roll.ms", "LONG",
                   "Time after which the log rolls even if the segment is not full", minimum=1),
    TopicConfigDef("unclean.leader.election.enable", "unclean.leader.election.enable", "BOOLEAN",
                   "Allow out-of-sync replicas to become leader (accepted, single node)"),
)}


def _fail(name: str, text: str, why: str) -> InvalidConfigError:
    return InvalidConfigError(f"Invalid value {text} for configuration {name}: {why}")


def validate_value(name: str, text: str) -> Any:
    """Parse a topic config's text as Kafka does; InvalidConfigError if unknown or invalid."""
    d = TOPIC_CONFIGS.get(name)
    if d is None:
        raise InvalidConfigError(f"Unknown topic config name: {name}")
    t = text.strip()
    value: Any
    if d.type in ("LONG", "INT"):
        try:
            value = int(t)
        except ValueError:
            raise _fail(name, text, f"Not a number of type {d.type}") from None
        lo, hi = (-2**63, _LONG_MAX) if d.type == "LONG" else (-2**31, _INT_MAX)
        if not lo <= value <= hi:
            raise _fail(name, text, f"Not a number of type {d.type}")
    elif d.type == "DOUBLE":
        try:
            value = float(t)
        except ValueError:
            raise _fail(name, text, "Not a number of type DOUBLE") from None
    elif d.type == "BOOLEAN":
        if t.lower() not in ("true", "false"):
            raise _fail(name, text, "Expected value to be either true or false")
        value = t.lower() == "true"
    elif d.type == "LIST":
        value = tuple(p.strip() for p in t.split(",")) if t else ()
        for item in value:
            if item not in d.choices:
                raise _fail(name, text, "String must be one of: " + ", ".join(d.choices))
    else:
        value = t
        if d.choices:
            choices = {c.lower(): c for c in d.choices}
            if t.lower() not in choices:
                raise _fail(name, text, "String must be one of: " + ", ".join(d.choices))
            value = choices[t.lower()]
    if d.minimum is not None and value < d.minimum:
        raise _fail(name, text, f"Value must be at least {_num(d.minimum)}")
    if d.maximum is not None and value > d.maximum:
        raise _fail(name, text, f"Value must be no more than {_num(d.maximum)}")
    return value


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def render(name: str, value: Any) -> str:
    """Kafka's text form of a parsed value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def broker_default(config: Config, name: str) -> tuple[str, str]:
    """(text, source) of a topic config's broker-level value: 'broker' if set, else 'default'."""
    d = TOPIC_CONFIGS[name]
    setting = Config.setting(d.broker_setting)
    value = config[d.broker_setting]
    text = render(name, validate_value(name, render(name, value)))
    return text, ("default" if value == setting.default else "broker")


@dataclass(slots=True)
class LogConfig:
    """The effective configs a partition log reads on its hot paths."""

    segment_bytes: int
    segment_ms: int
    segment_jitter_ms: int
    index_max_entries: int
    retention_ms: int
    retention_bytes: int
    max_message_bytes: int
    index_interval_bytes: int
    log_append_time: bool
    delete_enabled: bool
    flush_messages: int
    flush_ms: int
    compact_enabled: bool
    delete_retention_ms: int
    min_compaction_lag_ms: int
    max_compaction_lag_ms: int
    min_cleanable_ratio: float


def resolve(config: Config, overrides: dict[str, str]) -> LogConfig:
    def get(name: str) -> Any:
        text = overrides.get(name)
        if text is None:
            text = broker_default(config, name)[0]
        return validate_value(name, text)

    return LogConfig(
        segment_bytes=get("segment.bytes"),
        segment_ms=get("segment.ms"),
        segment_jitter_ms=get("segment.jitter.ms"),
        index_max_entries=get("segment.index.bytes") // 8,
        retention_ms=get("retention.ms"),
        retention_bytes=get("retention.bytes"),
        max_message_bytes=get("max.message.bytes"),
        index_interval_bytes=get("index.interval.bytes"),
        log_append_time=get("message.timestamp.type") == "LogAppendTime",
        delete_enabled="delete" in get("cleanup.policy"),
        flush_messages=get("flush.messages"),
        flush_ms=get("flush.ms"),
        compact_enabled="compact" in get("cleanup.policy"),
        delete_retention_ms=get("delete.retention.ms"),
        min_compaction_lag_ms=get("min.compaction.lag.ms"),
        max_compaction_lag_ms=get("max.compaction.lag.ms"),
        min_cleanable_ratio=get("min.cleanable.dirty.ratio"),
    )
