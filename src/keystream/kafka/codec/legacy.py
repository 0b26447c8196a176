"""Message classes for the versions Kafka 4.0 removed (KIP-896), which kio does not ship.

We still serve CreateTopics v0-1, DeleteTopics v0, DescribeConfigs v0 and DescribeLogDirs v0
for old clients. Each class is derived from kio's oldest class of that message by the
differences that Kafka 3.x's JSON message definitions state for the older version (the
`"versions"` ranges of its fields), listed per message in `_DERIVATIONS`:

- CreateTopicsRequest: ValidateOnly is "1+" (v1 is otherwise v2).
- CreateTopicsResponse: ThrottleTimeMs is "2+", CreatableTopicResult.ErrorMessage is "1+".
- DeleteTopicsRequest v0 = v1; DeleteTopicsResponse: ThrottleTimeMs is "1+".
- DescribeConfigsRequest: IncludeSynonyms is "1+".
- DescribeConfigsResponse: ConfigSource and Synonyms are "1+"; IsDefault (bool) is "0" only,
  placed after ReadOnly.
- DescribeLogDirs v0 = v1 (v1 only changed throttling behaviour).
- OffsetCommitRequest: GenerationIdOrMemberEpoch and MemberId are "1+", RetentionTimeMs "2-4",
  OffsetCommitRequestPartition.CommitTimestamp "1" only (after CommittedOffset); the
  responses of v0/v1 are v2's.
- OffsetFetch v0 = v1 (v0 read ZooKeeper-stored offsets; the wire format is the same).
"""

from __future__ import annotations

import dataclasses
import types
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin

from kio.index import load_payload_module
from kio.static.constants import EntityType
from kio.static.primitive import i16

__all__ = ["LEGACY", "legacy_request_class", "legacy_response_module"]

# (api_key, version) -> (kio version to derive from, request changes, response changes)
# changes: {class name: (fields to drop, fields to add as (after, name, kafka_type, default))}
Changes = dict[str, tuple[tuple[str, ...], tuple[tuple[str, str, str, Any], ...]]]
_DERIVATIONS: dict[tuple[int, int], tuple[int, Changes, Changes]] = {
    (19, 0): (2, {"CreateTopicsRequest": (("validate_only",), ())},
              {"CreateTopicsResponse": (("throttle_time",), ()),
               "CreatableTopicResult": (("error_message",), ())}),
    (19, 1): (2, {}, {"CreateTopicsResponse": (("throttle_time",), ())}),
    (20, 0): (1, {}, {"DeleteTopicsResponse": (("throttle_time",), ())}),
    (32, 0): (1, {"DescribeConfigsRequest": (("include_synonyms",), ())},
              {"DescribeConfigsResourceResult": (("config_source", "synonyms"),
                                                 (("read_only", "is_default", "bool", False),))}),
    (35, 0): (1, {}, {}),
    # OffsetCommit v0/v1 and OffsetFetch v0 (consumer groups): see the notes above _DERIVATIONS.
    (8, 0): (2, {"OffsetCommitRequest": (("generation_id_or_member_epoch", "member_id", "retention_time"), ())},
             {}),
    (8, 1): (2, {"OffsetCommitRequest": (("retention_time",), ()),
                 "OffsetCommitRequestPartition": ((), (("committed_offset", "commit_timestamp", "int64", -1),))},
             {}),
    (9, 0): (1, {}, {}),
}
LEGACY = frozenset(_DERIVATIONS)


def _subst(tp: Any, mapping: dict[type, type]) -> Any:
    if isinstance(tp, type) and tp in mapping:
        return mapping[tp]
    origin = get_origin(tp)
    if origin is tuple:
        inner, _ellipsis = get_args(tp)
        return tuple[_subst(inner, mapping), ...]  # type: ignore[misc]
    if origin in (types.UnionType, Union):
        args = [_subst(a, mapping) for a in get_args(tp)]
        out = args[0]
        for a in args[1:]:
            out = out | a
        return out
    return tp


def _derive_module(api_key: int, base_version: int, version: int,
                   entity_type: Literal[EntityType.request, EntityType.response],
                   changes: Changes) -> types.SimpleNamespace:
    base = load_payload_module(api_key, base_version, entity_type)
    # kio modules define nested classes before the classes that use them.
    classes = [v for v in vars(base).values()
               if isinstance(v, type) and dataclasses.is_dataclass(v) and v.__module__ == base.__name__]
    mapping: dict[type, type] = {}
    out = types.SimpleNamespace()
    for cls in classes:
        drop, add = changes.get(cls.__name__, ((), ()))
        specs: list[tuple[str, Any, Any]] = []
        for f in dataclasses.fields(cls):
            if f.name in drop:
                continue
            kwargs: dict[str, Any] = {"metadata": f.metadata}
            if f.default is not dataclasses.MISSING:
                kwargs["default"] = f.default
            specs.append((f.name, _subst(f.type, mapping), dataclasses.field(**kwargs)))
            for after, name, kafka_type, default in add:
                if after == f.name:
                    specs.append((name, bool if kafka_type == "bool" else Any,
                                  dataclasses.field(metadata={"kafka_type": kafka_type}, default=default)))
        namespace = {k: getattr(cls, k) for k in ("__type__", "__api_key__", "__header_schema__")
                     if hasattr(cls, k)}
        namespace["__version__"] = i16(version)
        namespace["__flexible__"] = False
        new = dataclasses.make_dataclass(cls.__name__, specs, namespace=namespace, frozen=True,
                                         slots=True, kw_only=True)
        mapping[cls] = new
        setattr(out, cls.__name__, new)
    return out


@cache
def _modules(api_key: int, version: int) -> tuple[types.SimpleNamespace, types.SimpleNamespace]:
    base_version, req_changes, resp_changes = _DERIVATIONS[(api_key, version)]
    req = _derive_module(api_key, base_version, version, EntityType.request, req_changes)
    resp = _derive_module(api_key, base_version, version, EntityType.response, resp_changes)
    return req, resp


def _main_class(ns: types.SimpleNamespace, suffix: str) -> type:
    for name, cls in vars(ns).items():
        if name.endswith(suffix) and cls.__type__ in (EntityType.request, EntityType.response):
            return cls
    raise KeyError(suffix)


def legacy_request_class(api_key: int, version: int) -> type:
    return _main_class(_modules(api_key, version)[0], "Request")


def legacy_response_module(api_key: int, version: int) -> types.SimpleNamespace:
    return _modules(api_key, version)[1]


def legacy_response_class(api_key: int, version: int) -> type:
    return _main_class(_modules(api_key, version)[1], "Response")
