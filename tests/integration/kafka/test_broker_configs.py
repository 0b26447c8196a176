"""Dynamic broker configs with confluent-kafka's AdminClient: altered, described, kept across restarts.

Kafka keeps broker configs changed through AlterConfigs/IncrementalAlterConfigs in its
metadata and applies them again over server.properties at start; we keep them in
<dir>/meta/broker-configs.json. Each test starts its own server (it restarts it).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid

import pytest

from tests.conftest import ServerHandle, require_module, start_keystream

require_module("confluent_kafka.admin")
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewTopic,
    ResourceType,
)

_WEEK_MS = str(7 * 24 * 3600 * 1000)


def _admin(h: ServerHandle) -> AdminClient:
    return AdminClient({"bootstrap.servers": f"127.0.0.1:{h.kafka_port}"})


def _describe_broker(h: ServerHandle) -> dict[str, ConfigEntry]:
    res = ConfigResource(ResourceType.BROKER, "0")
    admin = _admin(h)     # kept alive until the result is in
    return admin.describe_configs([res])[res].result(timeout=15)


def _describe_topic(h: ServerHandle, topic: str) -> dict[str, ConfigEntry]:
    res = ConfigResource(ResourceType.TOPIC, topic)
    admin = _admin(h)
    return admin.describe_configs([res])[res].result(timeout=15)


def _incremental(h: ServerHandle, *entries: ConfigEntry) -> None:
    res = ConfigResource(ResourceType.BROKER, "0", incremental_configs=list(entries))
    admin = _admin(h)
    admin.incremental_alter_configs([res])[res].result(timeout=15)


def _restart(h: ServerHandle) -> ServerHandle:
    assert h.stop() == 0
    return start_keystream(data_dir=h.data_dir, kafka=True)


@pytest.fixture
def server() -> ServerHandle:
    h = start_keystream(kafka=True)
    handles = [h]
    yield handles
    for x in handles:
        x.stop()
    shutil.rmtree(h.data_dir, ignore_errors=True)


def test_dynamic_broker_configs_survive_restart(server: list[ServerHandle]) -> None:
    h = server[0]
    topic = "bc-" + uuid.uuid4().hex[:8]
    admin = _admin(h)
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=15)
    _incremental(h, ConfigEntry("log.retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET),
                 ConfigEntry("num.partitions", "3", incremental_operation=AlterConfigOpType.SET))
    entry = _describe_broker(h)["log.retention.ms"]
    assert entry.value == "3600000" and entry.source == ConfigSource.DYNAMIC_BROKER_CONFIG.value
    with open(os.path.join(h.data_dir, "meta", "broker-configs.json")) as f:
        assert json.load(f) == {"log.retention.ms": "3600000", "num.partitions": "3"}

    h = _restart(h)
    server.append(h)
    configs = _describe_broker(h)
    assert configs["log.retention.ms"].value == "3600000"
    assert configs["log.retention.ms"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value
    assert configs["num.partitions"].value == "3"
    # a topic without its own retention.ms follows the dynamic broker value
    entry = _describe_topic(h, topic)["retention.ms"]
    assert entry.value == "3600000"

    # DELETE goes back to the static value, and that too is kept
    _incremental(h, ConfigEntry("log.retention.ms", None, incremental_operation=AlterConfigOpType.DELETE))
    h = _restart(h)
    server.append(h)
    configs = _describe_broker(h)
    assert configs["log.retention.ms"].value == _WEEK_MS
    assert configs["log.retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value
    assert configs["num.partitions"].value == "3"


def test_dynamic_value_overrides_the_command_line_after_restart(server: list[ServerHandle]) -> None:
    h = server[0]
    _incremental(h, ConfigEntry("log.retention.ms", "120000", incremental_operation=AlterConfigOpType.SET))
    assert h.stop() == 0
    h = start_keystream("--log.retention.ms", "60000", data_dir=h.data_dir, kafka=True)
    server.append(h)
    entry = _describe_broker(h)["log.retention.ms"]
    # as Kafka: a dynamic broker config wins over server.properties; the static value is its synonym
    assert entry.value == "120000" and entry.source == ConfigSource.DYNAMIC_BROKER_CONFIG.value
    _incremental(h, ConfigEntry("log.retention.ms", None, incremental_operation=AlterConfigOpType.DELETE))
    entry = _describe_broker(h)["log.retention.ms"]
    assert entry.value == "60000" and entry.source == ConfigSource.STATIC_BROKER_CONFIG.value


def test_read_only_broker_config_refused_and_not_saved(server: list[ServerHandle]) -> None:
    h = server[0]
    with pytest.raises(Exception, match="Cannot update these configs dynamically"):
        _incremental(h, ConfigEntry("socket.request.max.bytes", "1000",
                                    incremental_operation=AlterConfigOpType.SET))
    assert not os.path.exists(os.path.join(h.data_dir, "meta", "broker-configs.json"))
