"""Configs: DescribeConfigs (32) v0-4, AlterConfigs (33) v0-2, IncrementalAlterConfigs (44) v0-1.

Behavior:
- TOPIC resources (type 2): every topic config with its effective value and source
  (DYNAMIC_TOPIC_CONFIG for an override, STATIC_BROKER_CONFIG when the broker setting differs
  from its default, DEFAULT_CONFIG otherwise), synonyms in Kafka's order (topic override,
  broker setting, built-in default) when asked, config types (v3+) and documentation when asked.
- BROKER resources (type 4) named after our node id: the Kafka-side settings of the one
  settings table (`num.partitions`, `log.retention.ms`, ...). Settings that are mutable at run
  time can be altered; the others are read-only (INVALID_REQUEST "Cannot update these configs
  dynamically", as Kafka). The empty name (cluster-wide dynamic defaults) is the same node here.
  Altered broker settings are dynamic configs: reported with source DYNAMIC_BROKER_CONFIG and
  kept across restarts in <dir>/meta (Kafka keeps them in its metadata log).
- AlterConfigs replaces the whole set of a topic's overrides (and of the broker's dynamically
  set values); IncrementalAlterConfigs applies SET/DELETE/APPEND/SUBTRACT per key, APPEND and
  SUBTRACT only on LIST configs.
- BROKER_LOGGER and other resource types: INVALID_REQUEST. validate_only checks and changes nothing.
Version notes: DescribeConfigs v0 (IsDefault instead of ConfigSource, no synonyms) comes from
codec/legacy.py; v3 adds config type and documentation (KIP-569); v4 is flexible.
"""

from __future__ import annotations

from typing import Any

from keystream.config import SETTINGS, Config, ConfigError, Setting
from keystream.kafka.apis.registry import RequestContext, api
from keystream.kafka.apis.topics import config_source
from keystream.kafka.errors import ErrorCode, error_for
from keystream.log import topic_config
from keystream.log.errors import LogError

__all__ = ["handle_alter_configs", "handle_describe_configs", "handle_incremental_alter_configs"]

TOPIC = 2
BROKER = 4
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
_DYNAMIC_BROKER, _STATIC_BROKER, _DEFAULT = 2, 4, 5   # Kafka ConfigSource ids
_TYPE_CODES = {"BOOLEAN": 1, "STRING": 2, "INT": 3, "LONG": 5, "DOUBLE": 6, "LIST": 7}
_INT_MAX = 2**31 - 1


class _RequestError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def broker_settings() -> list[Setting]:
    """The settings shown on a BROKER resource: the Kafka-side ones (not visible to Redis)."""
    return [s for s in SETTINGS if not s.redis_visible]


def _setting_type(s: Setting) -> int:
    if s.kind == "bool":
        return _TYPE_CODES["BOOLEAN"]
    if s.kind in ("int", "memory"):
        return _TYPE_CODES["INT"] if s.maximum is not None and s.maximum <= _INT_MAX else _TYPE_CODES["LONG"]
    if s.kind == "float":
        return _TYPE_CODES["DOUBLE"]
    if s.kind == "list":
        return _TYPE_CODES["LIST"]
    return _TYPE_CODES["STRING"]


def _kafka_text(s: Setting, value: Any) -> str:
    if s.kind == "bool":
        return "true" if value else "false"
    return s.render(value)


def _check_broker_name(ctx: RequestContext, name: str) -> None:
    if name not in ("", str(ctx.broker.node_id)):
        raise _RequestError(ErrorCode.invalid_request,
                            f"Unexpected broker id, expected {ctx.broker.node_id} or empty string, but "
                            f"received {name}")


# -- DescribeConfigs ------------------------------------------------------------------------
def _entry(ctx: RequestContext, request: Any, name: str, value: str, source: int, read_only: bool,
           synonyms: list[tuple[str, str, int]], type_code: int, doc: str) -> Any:
    include_synonyms = getattr(request, "include_synonyms", False)
    return ctx.response(
        "DescribeConfigsResourceResult", name=name, value=value, read_only=read_only,
        is_default=source == _DEFAULT, config_source=source, is_sensitive=False,
        synonyms=tuple(ctx.response("DescribeConfigsSynonym", name=n, value=v, source=src)
                       for n, v, src in synonyms) if include_synonyms else (),
        config_type=type_code,
        documentation=doc if getattr(request, "include_documentation", False) else None)


def _describe_topic(ctx: RequestContext, request: Any, name: str, keys: set[str] | None) -> list[Any]:
    broker = ctx.broker
    meta = broker.logs.topics.get(name)
    if meta is None:
        raise _RequestError(ErrorCode.unknown_topic_or_partition, f"Topic '{name}' does not exist.")
    out = []
    for key, (value, source) in sorted(broker.logs.topic_config(name).items()):
        if keys is not None and key not in keys:
            continue
        d = topic_config.TOPIC_CONFIGS[key]
        setting = Config.setting(d.broker_setting)
        synonyms: list[tuple[str, str, int]] = []
        if key in meta.configs:
            synonyms.append((key, meta.configs[key], config_source("topic")))
        broker_text, broker_source = topic_config.broker_default(broker.config, key)
        if broker_source == "broker":
            dynamic = d.broker_setting in broker.dynamic_settings
            synonyms.append((d.broker_setting, broker_text, _DYNAMIC_BROKER if dynamic else _STATIC_BROKER))
        default_text = topic_config.render(key, topic_config.validate_value(
            key, topic_config.render(key, setting.default)))
        synonyms.append((d.broker_setting, default_text, _DEFAULT))
        out.append(_entry(ctx, request, key, value, synonyms[0][2], False, synonyms,
                          _TYPE_CODES.get(d.type, 0), d.doc))
    return out


def _describe_broker(ctx: RequestContext, request: Any, name: str, keys: set[str] | None) -> list[Any]:
    _check_broker_name(ctx, name)
    broker = ctx.broker
    config = broker.config
    out = []
    for s in broker_settings():
        if keys is not None and s.name not in keys:
            continue
        value = config[s.name]
        text = _kafka_text(s, value)
        synonyms = []
        if s.name in broker.dynamic_settings:
            synonyms.append((s.name, text, _DYNAMIC_BROKER))
            value = broker.startup_settings.get(s.name, s.default)
        if value != s.default:
            synonyms.append((s.name, _kafka_text(s, value), _STATIC_BROKER))
        synonyms.append((s.name, _kafka_text(s, s.default), _DEFAULT))
        source = synonyms[0][2]
        out.append(_entry(ctx, request, s.name, text, source, not s.mutable, synonyms, _setting_type(s), s.help))
    return out


@api(32, 0, 4)
def handle_describe_configs(ctx: RequestContext, request: Any) -> Any:
    """DescribeConfigs: configs of topics and of this broker."""
    results = []
    for r in request.resources:
        keys = None if r.configuration_keys is None else set(r.configuration_keys)
        code: int = 0
        message: str | None = None
        configs: list[Any] = []
        try:
            if r.resource_type == TOPIC:
                configs = _describe_topic(ctx, request, r.resource_name, keys)
            elif r.resource_type == BROKER:
                configs = _describe_broker(ctx, request, r.resource_name, keys)
            else:
                raise _RequestError(ErrorCode.invalid_request, f"Unsupported resource type {r.resource_type}")
        except _RequestError as e:
            code, message = e.code, str(e)
        results.append(ctx.response("DescribeConfigsResult", error_code=ErrorCode(code), error_message=message,
                                    resource_type=r.resource_type, resource_name=r.resource_name,
                                    configs=tuple(configs)))
    return ctx.response("DescribeConfigsResponse", throttle_time=0, results=tuple(results))


# -- Alter ----------------------------------------------------------------------------------
def _broker_changes(ctx: RequestContext, changes: dict[str, str | None], validate_only: bool,
                    replace: bool) -> None:
    """Apply broker setting changes (None: back to the value at start-up)."""
    broker = ctx.broker
    config = broker.config
    by_name = {s.name: s for s in broker_settings()}
    if replace:
        for name in broker.dynamic_settings:
            changes.setdefault(name, None)
    parsed: dict[str, Any] = {}
    fixed = sorted(n for n in changes if n in by_name and not by_name[n].mutable)
    if fixed:
        raise _RequestError(ErrorCode.invalid_request,
                            f"Cannot update these configs dynamically: Set({', '.join(fixed)})")
    for name, text in changes.items():
        s = by_name.get(name)
        if s is None:
            raise _RequestError(ErrorCode.invalid_config, f"Unknown broker config name: {name}")
        if text is None:
            parsed[name] = broker.startup_settings.get(name, config[name])
            continue
        try:
            parsed[name] = s.parse(text)
        except ConfigError:
            raise _RequestError(ErrorCode.invalid_config,
                                f"Invalid value {text} for configuration {name}") from None
    if validate_only:
        return
    for name, value in parsed.items():
        broker.startup_settings.setdefault(name, config[name])
        s = by_name[name]
        config.set_text(name, s.render(value))
        if changes[name] is None:
            broker.dynamic_settings.discard(name)
        else:
            broker.dynamic_settings.add(name)
    if parsed:
        broker.save_dynamic_settings()


def _alter_result(ctx: RequestContext, r: Any, fn: Any) -> Any:
    code: int = 0
    message: str | None = None
    try:
        fn()
    except _RequestError as e:
        code, message = e.code, str(e)
    except LogError as e:
        code, message = error_for(e), str(e) or None
    return ctx.response("AlterConfigsResourceResponse", error_code=ErrorCode(code), error_message=message,
                        resource_type=r.resource_type, resource_name=r.resource_name)


@api(33, 0, 2)
def handle_alter_configs(ctx: RequestContext, request: Any) -> Any:
    """AlterConfigs: replace a topic's (or the broker's) dynamic configs with the given set."""
    logs = ctx.broker.logs
    validate_only = request.validate_only

    def apply(r: Any) -> None:
        values: dict[str, str | None] = {}
        for c in r.configs:
            if c.name in values:
                raise _RequestError(ErrorCode.invalid_request, f"Duplicate config {c.name}")
            values[c.name] = c.value
        if r.resource_type == TOPIC:
            nulls = [k for k, v in values.items() if v is None]
            if nulls:
                raise _RequestError(ErrorCode.invalid_request, f"Null value not supported for : {nulls[0]}")
            logs.alter_topic_config(r.resource_name, {k: v for k, v in values.items() if v is not None}, [],
                                    validate_only=validate_only, incremental=False)
        elif r.resource_type == BROKER:
            _check_broker_name(ctx, r.resource_name)
            _broker_changes(ctx, values, validate_only, replace=True)
        else:
            raise _RequestError(ErrorCode.invalid_request, f"Unsupported resource type {r.resource_type}")

    responses = tuple(_alter_result(ctx, r, lambda r=r: apply(r)) for r in request.resources)
    return ctx.response("AlterConfigsResponse", throttle_time=0, responses=responses)


def _list_value(current: str) -> list[str]:
    return [p.strip() for p in current.split(",") if p.strip()]


@api(44, 0, 1)
def handle_incremental_alter_configs(ctx: RequestContext, request: Any) -> Any:
    """IncrementalAlterConfigs: SET/DELETE/APPEND/SUBTRACT single configs."""
    logs = ctx.broker.logs
    validate_only = request.validate_only

    def apply(r: Any) -> None:
        names = [c.name for c in r.configs]
        if len(set(names)) != len(names):
            raise _RequestError(ErrorCode.invalid_request, "Error due to duplicate config keys")
        if r.resource_type == TOPIC:
            current = logs.topic_config(r.resource_name)
            set_: dict[str, str] = {}
            delete: list[str] = []
            for c in r.configs:
                op = c.config_operation
                d = topic_config.TOPIC_CONFIGS.get(c.name)
                if op == DELETE:
                    delete.append(c.name)
                    continue
                if op not in (SET, APPEND, SUBTRACT):
                    raise _RequestError(ErrorCode.invalid_request, f"Unknown operation {op}")
                if c.value is None:
                    raise _RequestError(ErrorCode.invalid_request, f"Null value not supported for : {c.name}")
                if op == SET:
                    set_[c.name] = c.value
                    continue
                if d is None or d.type != "LIST":
                    what = "append" if op == APPEND else "subtract"
                    raise _RequestError(ErrorCode.invalid_config,
                                        f"Config value {what} is not allowed for config key: {c.name}")
                items = _list_value(current[c.name][0])
                if op == APPEND:
                    items += [v for v in _list_value(c.value) if v not in items]
                else:
                    drop = set(_list_value(c.value))
                    items = [v for v in items if v not in drop]
                set_[c.name] = ",".join(items)
            logs.alter_topic_config(r.resource_name, set_, delete, validate_only=validate_only, incremental=True)
        elif r.resource_type == BROKER:
            _check_broker_name(ctx, r.resource_name)
            changes: dict[str, str | None] = {}
            for c in r.configs:
                if c.config_operation == SET:
                    changes[c.name] = c.value if c.value is not None else ""
                elif c.config_operation == DELETE:
                    changes[c.name] = None
                elif c.config_operation in (APPEND, SUBTRACT) and c.value is not None and \
                        any(st.name == c.name and st.kind == "list" for st in broker_settings()):
                    items = _list_value(str(ctx.broker.config[c.name]))
                    if c.config_operation == APPEND:
                        items += [v for v in _list_value(c.value) if v not in items]
                    else:
                        drop = set(_list_value(c.value))
                        items = [v for v in items if v not in drop]
                    changes[c.name] = ",".join(items)
                else:
                    raise _RequestError(ErrorCode.invalid_config,
                                        f"Config value append/subtract is not allowed for config key: {c.name}")
            _broker_changes(ctx, changes, validate_only, replace=False)
        else:
            raise _RequestError(ErrorCode.invalid_request, f"Unsupported resource type {r.resource_type}")

    responses = tuple(_alter_result(ctx, r, lambda r=r: apply(r)) for r in request.resources)
    return ctx.response("IncrementalAlterConfigsResponse", throttle_time=0, responses=responses)
