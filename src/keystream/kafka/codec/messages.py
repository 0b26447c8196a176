"""Message classes for every (API key, version), taken from kio, and the generic codec.

kio generates one frozen dataclass per message and version from Kafka's JSON message
definitions; its decoder is native code, its encoder pure Python (fine for admin APIs; the
hot responses are encoded in fast.py). `build()` makes handlers version-agnostic: a handler
passes every field it knows, and fields that the version at hand lacks are dropped
(e.g. `topic_id` below Metadata v10), ints become `timedelta` where kio wants one.
Versions Kafka 4.0 removed, which kio lacks, come from legacy.py.
"""

from __future__ import annotations

import datetime
import io
import typing
from dataclasses import MISSING, fields, is_dataclass
from functools import cache
from types import ModuleType, SimpleNamespace
from typing import Any

from kio.index import load_payload_module, load_request_schema, load_response_schema
from kio.serial import entity_reader, entity_writer
from kio.static.constants import EntityType

from keystream.kafka.codec import legacy

__all__ = [
    "build",
    "decode",
    "encode",
    "is_flexible",
    "request_class",
    "response_class",
    "response_module",
]


@cache
def request_class(api_key: int, version: int) -> Any:
    if (api_key, version) in legacy.LEGACY:
        return legacy.legacy_request_class(api_key, version)
    return load_request_schema(api_key, version)


@cache
def response_class(api_key: int, version: int) -> Any:
    if (api_key, version) in legacy.LEGACY:
        return legacy.legacy_response_class(api_key, version)
    return load_response_schema(api_key, version)


@cache
def response_module(api_key: int, version: int) -> ModuleType | SimpleNamespace:
    if (api_key, version) in legacy.LEGACY:
        return legacy.legacy_response_module(api_key, version)
    return load_payload_module(api_key, version, EntityType.response)


@cache
def is_flexible(api_key: int, version: int) -> bool:
    return bool(request_class(api_key, version).__flexible__)


@cache
def _reader(cls: type) -> Any:
    return entity_reader(cls)


@cache
def _writer(cls: Any) -> Any:
    return entity_writer(cls)


def decode(cls: type, frame: bytes, offset: int) -> Any:
    """Decode one message of class `cls` at `offset`; raises on malformed input (a null where the
    schema allows none included: kio reads a -1 length as None for any array or string)."""
    value, _size = _reader(cls)(frame, offset)
    _check_nulls(value)
    return value


@cache
def _null_rules(cls: Any) -> tuple[tuple[str, bool, bool], ...]:
    """(field, may be null, holds entities to check too) for each field of an entity class."""
    hints = typing.get_type_hints(cls)
    rules = []
    for f in fields(cls):
        hint = hints[f.name]
        args = typing.get_args(hint)
        nullable = type(None) in args
        if nullable:
            hint = next(a for a in args if a is not type(None))
        if typing.get_origin(hint) is tuple:
            hint = typing.get_args(hint)[0]
        rules.append((f.name, nullable, is_dataclass(hint)))
    return tuple(rules)


def _check_nulls(value: Any) -> None:
    for name, nullable, nested in _null_rules(value.__class__):
        v = getattr(value, name)
        if v is None:
            if not nullable:
                raise ValueError(f"non-nullable field {name} was serialized as null")
        elif nested:
            if type(v) is tuple:
                for item in v:
                    _check_nulls(item)
            else:
                _check_nulls(v)


def encode(entity: Any) -> bytes:
    buf = io.BytesIO()
    _writer(entity.__class__)(buf, entity)
    return buf.getvalue()


@cache
def _field_info(cls: type) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    names = set()
    timedeltas = set()
    required = set()
    for f in fields(cls):
        names.add(f.name)
        if f.metadata.get("kafka_type", "").startswith("timedelta"):
            timedeltas.add(f.name)
        if f.default is MISSING and f.default_factory is MISSING:
            required.add(f.name)
    return frozenset(names), frozenset(timedeltas), frozenset(required)


def build(cls: type, **values: Any) -> Any:
    """Instantiate `cls` from the subset of `values` it has; ints -> timedelta where needed."""
    names, timedeltas, _required = _field_info(cls)
    kwargs = {}
    for k, v in values.items():
        if k in names:
            if k in timedeltas and isinstance(v, int):
                v = datetime.timedelta(milliseconds=v)
            kwargs[k] = v
    return cls(**kwargs)
