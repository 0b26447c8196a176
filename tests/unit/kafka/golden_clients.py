"""Golden Kafka frames captured from real clients (tests/unit/kafka/golden/, re-captured with
scripts/capture_kafka_golden.py), and an independent decoder for responses: kafka-python's
message classes (generated from Kafka's JSON definitions by another project than kio)."""

from __future__ import annotations

import importlib
import json
import pkgutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).parent / "golden"
UNSUPPORTED_VERSION = 35
API_VERSIONS = 18


@dataclass(frozen=True)
class Golden:
    client: str
    name: str            # e.g. "03-metadata-v12"
    request: bytes       # the whole frame, size prefix included
    response: bytes

    @property
    def id(self) -> str:
        return f"{self.client}/{self.name}"


def goldens() -> list[Golden]:
    index = json.loads((GOLDEN / "index.json").read_text())
    out = []
    for client, entry in sorted(index.items()):
        for name in entry["requests"]:
            base = GOLDEN / client / name
            out.append(Golden(client, name, Path(f"{base}.request.bin").read_bytes(),
                              Path(f"{base}.response.bin").read_bytes()))
    return out


@cache
def _kafka_python_responses() -> dict[int, type]:
    import kafka.protocol
    from kafka.protocol.api_message import ApiMessage

    for m in pkgutil.walk_packages(kafka.protocol.__path__, "kafka.protocol."):
        if m.name.endswith(("generate_stubs", ".old")) or ".old." in m.name:
            continue
        importlib.import_module(m.name)
    out: dict[int, type] = {}
    todo = list(ApiMessage.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if getattr(cls, "_json", None) and cls.type == "response":
            out.setdefault(cls.API_KEY, cls)
    return out


def response_version(api_key: int, version: int, body: bytes) -> int:
    """The version a response is written in: an ApiVersions UNSUPPORTED_VERSION answer is v0."""
    if api_key == API_VERSIONS and int.from_bytes(body[:2], "big", signed=True) == UNSUPPORTED_VERSION:
        return 0
    return version


def kafka_python_roundtrip(api_key: int, version: int, body: bytes) -> tuple[Any, bytes]:
    """Decode a response body with kafka-python, and encode the result again."""
    cls = _kafka_python_responses()[api_key]
    value = cls.decode(body, version=version)
    value._header = None   # decoded without its header; encode() looks at it
    return value, bytes(value.encode(version=version))
