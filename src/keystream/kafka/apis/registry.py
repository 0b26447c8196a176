"""The one registry of Kafka APIs: `@api(key, min_version, max_version)` on a handler.

A request is decoded with kio's class of its version, or by the spec's own `decoder` (Produce:
codec/fast.py, so that the records stay views of the frame).

Dispatch and the ApiVersions response both read this table; an API is registered once, in
its own module. A handler is `handler(ctx, request) -> result`, where the request is the kio
message of `ctx.version` and the result is one of:

- a kio response message (encoded by kio's generic encoder);
- `Encoded(buffers)`: a body already encoded (the fast paths);
- `NO_RESPONSE` (Produce with acks=0);
- an awaitable resolving to one of the above (Fetch long polling). Responses still leave in
  request order per connection.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kio.index import api_key_map

from keystream.kafka.codec import messages
from keystream.log.file_slice import FileSlice

if TYPE_CHECKING:
    from keystream.kafka.broker import KafkaBroker
    from keystream.kafka.connection import KafkaConnection

__all__ = ["APIS", "NO_RESPONSE", "ApiSpec", "Encoded", "RequestContext", "api", "load_all"]


@dataclass(frozen=True, slots=True)
class ApiSpec:
    key: int
    name: str
    min_version: int
    max_version: int
    handler: Callable[..., Any]
    decoder: Callable[[Any, int, int], Any] | None = None     # (frame, body offset, version); else kio's


APIS: dict[int, ApiSpec] = {}


def api(key: int, min_version: int, max_version: int, decoder: Callable[[Any, int, int], Any] | None = None
        ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if key in APIS:
            raise ValueError(f"API key {key} registered twice")
        APIS[key] = ApiSpec(key, api_key_map[key], min_version, max_version, fn, decoder)
        return fn

    return register


@dataclass(slots=True)
class Encoded:
    """A response body already encoded by a fast path: buffers written as they are."""

    buffers: list[bytes | memoryview | FileSlice]


NO_RESPONSE = object()


@dataclass(slots=True)
class RequestContext:
    broker: KafkaBroker
    conn: KafkaConnection
    api_key: int
    version: int
    correlation_id: int
    client_id: str | None

    def response(self, class_name: str, /, **values: Any) -> Any:
        """Build the response-side class `class_name` of this API at this version (see messages.build)."""
        mod = messages.response_module(self.api_key, self.version)
        return messages.build(getattr(mod, class_name), **values)


def load_all() -> None:
    """Import every API module of this package (each registers itself)."""
    import keystream.kafka.apis as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name != "registry":
            importlib.import_module(f"keystream.kafka.apis.{info.name}")
