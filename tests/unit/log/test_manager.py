"""LogManager: topics, configs, validation, persistence across restarts."""

from __future__ import annotations

import os

import pytest

from keystream.config import Config
from keystream.log.errors import (
    InvalidConfigError,
    InvalidPartitionsError,
    InvalidTopicError,
    LogError,
    TopicExistsError,
    UnknownTopicError,
)
from keystream.log.manager import LogManager
from tests.unit.log.conftest import reopen
from tests.unit.log.records import make_batch


def test_create_append_read_reload(manager):
    meta = manager.create_topic("orders", 3, {"retention.ms": "1000"})
    assert meta.num_partitions == 3 and manager.topics["orders"] is meta
    p = manager.partition("orders", 1)
    r1 = p.append(make_batch([b"a", b"b"]), 1000)
    r2 = p.append(make_batch([b"c"]), 1000)
    assert (r1.base_offset, r1.last_offset, r2.base_offset, r2.record_count) == (0, 1, 2, 1)
    m2 = reopen(manager)
    try:
        meta2 = m2.topics["orders"]
        assert (meta2.topic_id, meta2.num_partitions, meta2.configs) == (meta.topic_id, 3, {"retention.ms": "1000"})
        p2 = m2.partition("orders", 1)
        assert (p2.log_start_offset, p2.log_end_offset) == (0, 3)
        assert m2.partition("orders", 0).log_end_offset == 0
        assert m2.partition("orders", 3) is None and m2.partition("nope", 0) is None
        assert p2.append(make_batch([b"d"]), 1000).base_offset == 3
    finally:
        m2.close()


def test_layout_is_kafkas(manager, data_dir):
    manager.create_topic("t", 1, {})
    manager.partition("t", 0).append(make_batch([b"x"]), 1)
    names = sorted(os.listdir(os.path.join(data_dir, "kafka", "t-0")))
    assert names == ["00000000000000000000.index", "00000000000000000000.log",
                     "00000000000000000000.timeindex", "partition.metadata"]
    meta_file = manager.topics["t"].topic_id.hex + ".json"
    assert os.listdir(os.path.join(data_dir, "meta", "topics")) == [meta_file]


@pytest.mark.parametrize("name, text", [
    ("", "can't be empty"), (".", '"." or ".."'), ("..", '"." or ".."'), ("a" * 250, "longer than 249"),
    ("a b", "ASCII alphanumerics"), ("ü", "ASCII alphanumerics"), ("a/b", "ASCII alphanumerics"),
])
def test_invalid_topic_names(manager, name, text):
    with pytest.raises(InvalidTopicError, match=text):
        manager.create_topic(name, 1, {})


def test_topic_name_limits_ok(manager, data_dir):
    manager.create_topic("a" * 249, 1, {})
    manager.create_topic("A-z_0.9", 1, {})
    for name in ("a" * 249, "A-z_0.9"):
        assert os.path.isdir(os.path.join(data_dir, "kafka", f"{name}-0"))
    m = reopen(manager)
    try:
        assert {"a" * 249, "A-z_0.9"} <= set(m.topics)
        assert m.partition("A-z_0.9", 0).log_end_offset == 0
    finally:
        m.close()


def test_exists_and_collision(manager):
    manager.create_topic("a.b", 1, {})
    with pytest.raises(TopicExistsError):
        manager.create_topic("a.b", 1, {})
    with pytest.raises(InvalidTopicError, match="collides"):
        manager.create_topic("a_b", 1, {})


def test_partitions_validation(manager):
    with pytest.raises(InvalidPartitionsError):
        manager.create_topic("t", 0, {})
    assert manager.create_topic("t", -1, {}).num_partitions == 1    # num.partitions
    manager.create_partitions("t", 3)
    assert manager.partition("t", 2).log_end_offset == 0
    with pytest.raises(InvalidPartitionsError, match="already has 3"):
        manager.create_partitions("t", 3)
    with pytest.raises(InvalidPartitionsError, match="higher than the requested 2"):
        manager.create_partitions("t", 2)
    manager.create_partitions("t", 5, validate_only=True)
    assert manager.topics["t"].num_partitions == 3
    with pytest.raises(UnknownTopicError):
        manager.create_partitions("nope", 3)


def test_validate_only_creates_nothing(manager, data_dir):
    manager.create_topic("t", 2, {}, validate_only=True)
    assert "t" not in manager.topics
    assert not os.path.exists(os.path.join(data_dir, "kafka", "t-0"))


@pytest.mark.parametrize("key, value, text", [
    ("retention.ms", "-2", "at least -1"), ("segment.bytes", "13", "at least 14"),
    ("retention.ms", "abc", "Not a number"), ("cleanup.policy", "purge", "one of"),
    ("message.timestamp.type", "Now", "one of"), ("max.message.bytes", "-1", "at least 0"),
    ("preallocate", "yes", "true or false"), ("min.insync.replicas", "0", "at least 1"),
    ("min.cleanable.dirty.ratio", "1.5", "no more than 1"), ("no.such.config", "1", "Unknown"),
])
def test_invalid_configs(manager, key, value, text):
    with pytest.raises(InvalidConfigError, match=text):
        manager.create_topic("t", 1, {key: value})
    assert "t" not in manager.topics


def test_valid_config_values(manager):
    configs = {"cleanup.policy": "compact,delete", "retention.ms": "-1",
               "message.timestamp.type": "LogAppendTime", "preallocate": "true"}
    manager.create_topic("t", 1, configs)
    m = reopen(manager)
    try:
        assert {k: m.topic_config("t")[k] for k in configs} == {k: (v, "topic") for k, v in configs.items()}
        c = m.partition("t", 0).config
        assert c.compact_enabled and c.delete_enabled and c.log_append_time and c.retention_ms == -1
    finally:
        m.close()


def test_topic_config_sources_and_alter(data_dir):
    config = Config()
    config.set_text("log.retention.bytes", "5000")
    m = LogManager(data_dir, config)
    m.load()
    try:
        m.create_topic("t", 1, {"segment.bytes": "2048"})
        cfg = m.topic_config("t")
        assert cfg["segment.bytes"] == ("2048", "topic")
        assert cfg["retention.bytes"] == ("5000", "broker")
        assert cfg["retention.ms"] == ("604800000", "default")
        assert cfg["cleanup.policy"] == ("delete", "default")
        assert cfg["message.timestamp.type"] == ("CreateTime", "default")
        assert cfg["preallocate"] == ("false", "default")
        m.alter_topic_config("t", {"retention.ms": "100"}, ["segment.bytes"])
        cfg = m.topic_config("t")
        assert cfg["retention.ms"] == ("100", "topic") and cfg["segment.bytes"][1] == "default"
        assert m.partition("t", 0).config.retention_ms == 100
        m.alter_topic_config("t", {"flush.ms": "5"}, [], incremental=False)
        assert m.topics["t"].configs == {"flush.ms": "5"}
        m.alter_topic_config("t", {"flush.ms": "7"}, [], validate_only=True)
        assert m.topics["t"].configs == {"flush.ms": "5"}
        with pytest.raises(InvalidConfigError):
            m.alter_topic_config("t", {"flush.ms": "-5"}, [])
        config.set_text("log.retention.bytes", "7000")       # broker change reaches the logs
        assert m.partition("t", 0).config.retention_bytes == 7000
        m = reopen(m)
        assert m.topics["t"].configs == {"flush.ms": "5"}
    finally:
        m.close()


def test_topic_creation_failing_on_disk_leaves_no_half_made_topic(manager, data_dir):
    # a file where the second partition's directory must go: makedirs fails as on a bad disk
    open(os.path.join(data_dir, "kafka", "t-1"), "w").close()
    with pytest.raises(LogError, match="Cannot create topic t"):
        manager.create_topic("t", 2, {})
    assert "t" not in manager.topics
    assert not os.path.exists(os.path.join(data_dir, "kafka", "t-0"))
    m = reopen(manager)
    try:
        assert "t" not in m.topics
        os.unlink(os.path.join(data_dir, "kafka", "t-1"))
        m.create_topic("t", 1, {})
        open(os.path.join(data_dir, "kafka", "t-2"), "w").close()
        with pytest.raises(LogError, match="Cannot add partitions to t"):
            m.create_partitions("t", 3)
        assert m.topics["t"].num_partitions == 1
        m = reopen(m)
        assert m.topics["t"].num_partitions == 1
    finally:
        m.close()


def test_delete_topic_then_recreate(manager, data_dir):
    manager.create_topic("t", 2, {})
    manager.partition("t", 0).append(make_batch([b"x"]), 1)
    manager.delete_topic("t")
    assert "t" not in manager.topics and manager.partition("t", 0) is None
    with pytest.raises(UnknownTopicError):
        manager.delete_topic("t")
    manager.create_topic("t", 1, {})
    assert manager.partition("t", 0).log_end_offset == 0
    m2 = reopen(manager)
    try:
        assert list(m2.topics) == ["t"] and m2.partition("t", 0).log_end_offset == 0
        leftovers = [n for n in os.listdir(os.path.join(data_dir, "kafka")) if n.startswith("t-")]
        assert leftovers == ["t-0"]
    finally:
        m2.close()


def test_stray_partition_dirs_removed_on_load(data_dir):
    m = LogManager(data_dir, Config())
    m.load()
    meta = m.create_topic("t", 1, {})
    m.close()
    os.makedirs(os.path.join(data_dir, "kafka", "ghost-0"))
    os.unlink(os.path.join(data_dir, "meta", "topics", meta.topic_id.hex + ".json"))  # crash mid-delete
    m = LogManager(data_dir, Config())
    m.load()
    try:
        assert m.topics == {}
        assert [n for n in os.listdir(os.path.join(data_dir, "kafka")) if not n[0] in ".lr"] == []
    finally:
        m.close()
