"""ApiVersions (key 18), versions 0-3.

Behavior:
- The list is built from the registry: every registered API with its min/max version.
- A request of a version we do not know (newer than 3) gets UNSUPPORTED_VERSION (35) with
  our list, encoded as v0 (as Kafka does), so the client retries with a version we support.
- Feature fields of v3 (tagged: supported/finalized features, zk migration) are left at
  their defaults and therefore omitted from the bytes, which old librdkafka needs.
Version notes: v3 is flexible (KIP-511; client software name/version are accepted and unused).
"""

from __future__ import annotations

from typing import Any

from keystream.kafka.apis.registry import APIS, RequestContext, api
from keystream.kafka.codec import messages
from keystream.kafka.errors import ErrorCode

__all__ = ["handle_api_versions", "unsupported_version_body"]


def _api_keys(mod: Any) -> tuple[Any, ...]:
    return tuple(
        messages.build(mod.ApiVersion, api_key=s.key, min_version=s.min_version, max_version=s.max_version)
        for s in sorted(APIS.values(), key=lambda s: s.key)
    )


@api(18, 0, 3)
def handle_api_versions(ctx: RequestContext, request: Any) -> Any:
    """ApiVersions: the APIs and version ranges this broker serves."""
    mod = messages.response_module(18, ctx.version)
    return ctx.response("ApiVersionsResponse", error_code=ErrorCode.none, api_keys=_api_keys(mod),
                        throttle_time=0)


def unsupported_version_body() -> bytes:
    """The v0 ApiVersions body carrying UNSUPPORTED_VERSION and our list."""
    mod = messages.response_module(18, 0)
    return messages.encode(messages.build(mod.ApiVersionsResponse, error_code=ErrorCode.unsupported_version,
                                          api_keys=_api_keys(mod)))
