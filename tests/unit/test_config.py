"""The settings table: parsing, precedence of sources, file rewrite."""

from __future__ import annotations

import pytest

from keystream.config import SETTINGS, Config, ConfigError, parse_memory


def test_memory_units() -> None:
    assert parse_memory("100") == 100
    assert parse_memory("1k") == 1000
    assert parse_memory("1kb") == 1024
    assert parse_memory("2MB") == 2 * 1024 * 1024
    assert parse_memory("1gb") == 1024**3
    with pytest.raises(ValueError):
        parse_memory("12xb")


def test_names_are_unique_including_aliases() -> None:
    names = [n for s in SETTINGS for n in (s.name, *s.aliases)]
    assert len(names) == len(set(names))


def test_file_then_env_then_explicit(tmp_path) -> None:
    f = tmp_path / "keystream.toml"
    f.write_text('client-query-buffer-limit = "10mb"\nhz = 20\n[log.retention]\nms = 5000\n')
    c = Config()
    c.load_file(str(f))
    assert c["client-query-buffer-limit"] == 10 * 1024 * 1024
    assert c["hz"] == 20
    assert c["log.retention.ms"] == 5000
    c.load_env({"KEYSTREAM_HZ": "30", "KEYSTREAM_MAXMEMORY_POLICY": "allkeys-lru",
                "KEYSTREAM_LOG_RETENTION_MS": "7000", "OTHER": "x"})
    assert c["hz"] == 30
    assert c["maxmemory-policy"] == "allkeys-lru"
    assert c["log.retention.ms"] == 7000


def test_unknown_and_invalid_settings_name_the_setting() -> None:
    c = Config()
    with pytest.raises(ConfigError, match="nope"):
        c.set_text("nope", "1")
    with pytest.raises(ConfigError, match="maxmemory-policy"):
        c.set_text("maxmemory-policy", "sometimes")
    with pytest.raises(ConfigError, match="hz"):
        c.set_text("hz", "abc")
    with pytest.raises(ConfigError, match="KEYSTREAM_NOPE"):
        c.load_env({"KEYSTREAM_NOPE": "1"})


def test_aliases_and_glob_matching() -> None:
    c = Config()
    c.set_text("hash-max-ziplist-entries", "7")
    assert c["hash-max-listpack-entries"] == 7
    got = dict(c.get_matching("hash-max-*"))
    assert got["hash-max-listpack-entries"] == "7"
    assert got["hash-max-ziplist-entries"] == "7"
    assert "log.retention.ms" not in dict(c.get_matching("*"))  # Kafka settings are not Redis configs


def test_rewrite_round_trips(tmp_path) -> None:
    f = tmp_path / "k.toml"
    f.write_text("hz = 15\n")
    c = Config()
    c.load_file(str(f))
    c.set_text("maxmemory-policy", "allkeys-lfu")
    c.set_text("log.retention.ms", "1234")
    c.rewrite()
    d = Config()
    d.load_file(str(f))
    assert d["hz"] == 15
    assert d["maxmemory-policy"] == "allkeys-lfu"
    assert d["log.retention.ms"] == 1234

