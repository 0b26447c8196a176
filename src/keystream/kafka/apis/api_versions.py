"""ApiVersions (key 18), versions 0-3.

Behavior:
- The list is built from the registry: every registered API with its min/max version.
- A request of a version we do not know (newer than 3) gets UNSUPPORTED_VERSION (35) with
  our list, encoded as v0 (as Kafka does), so the client retries with a version we support.
- v3 carries the features (tagged fields, KIP-584) a Kafka 4.0 cluster finalizes for what we
  implement: `transaction.version` 2 (KIP-890 part 2: EndTxn v5, Produce v12, TxnOffsetCommit v5;
  a Java 4.0 producer uses them only when this is finalized) and `group.version` 1 (KIP-848),
  supported and finalized, at a fixed features epoch. Kafka's KRaft-only features
  (metadata.version, kraft.version) are not listed: nothing here depends on them.
Version notes: v3 is flexible (KIP-511; client software name/version are accepted and unused).
"""

from __future__ import annotations

from typing import Any

from keystream.kafka.apis.registry import APIS, RequestContext, api
from keystream.kafka.codec import messages
from keystream.kafka.errors import ErrorCode

__all__ = ["FEATURES", "handle_api_versions", "unsupported_version_body"]


def _api_keys(mod: Any) -> tuple[Any, ...]:
    return tuple(
        messages.build(mod.ApiVersion, api_key=s.key, min_version=s.min_version, max_version=s.max_version)
        for s in sorted(APIS.values(), key=lambda s: s.key)
    )


# (name, min supported, max supported, finalized level)
FEATURES = (("group.version", 0, 1, 1), ("transaction.version", 0, 2, 2))
_FEATURES_EPOCH = 1


@api(18, 0, 3)
def handle_api_versions(ctx: RequestContext, request: Any) -> Any:
    """ApiVersions: the APIs and version ranges this broker serves (v3: and its features)."""
    mod = messages.response_module(18, ctx.version)
    if ctx.version < 3:
        return ctx.response("ApiVersionsResponse", error_code=ErrorCode.none, api_keys=_api_keys(mod),
                            throttle_time=0)
    supported = tuple(messages.build(mod.SupportedFeatureKey, name=n, min_version=lo, max_version=hi)
                      for n, lo, hi, _ in FEATURES)
    finalized = tuple(messages.build(mod.FinalizedFeatureKey, name=n, max_version_level=level,
                                     min_version_level=level) for n, _, _, level in FEATURES)
    return ctx.response("ApiVersionsResponse", error_code=ErrorCode.none, api_keys=_api_keys(mod), throttle_time=0,
                        supported_features=supported, finalized_features_epoch=_FEATURES_EPOCH,
                        finalized_features=finalized)


def unsupported_version_body() -> bytes:
    """The v0 ApiVersions body carrying UNSUPPORTED_VERSION and our list."""
    mod = messages.response_module(18, 0)
    return messages.encode(messages.build(mod.ApiVersionsResponse, error_code=ErrorCode.unsupported_version,
                                          api_keys=_api_keys(mod)))
