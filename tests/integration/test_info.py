"""INFO: sections, selection rules (default/all/everything/several), field names."""

from __future__ import annotations

import redis

from tests.differential import RawClient


def _sections(text: str) -> list[str]:
    return [ln[2:] for ln in text.split("\r\n") if ln.startswith("# ")]


def test_default_all_everything(keystream_server, redis_server) -> None:
    ks = RawClient(keystream_server.port)
    ref = RawClient(redis_server.port)
    for args in ([], ["default"], ["all"], ["everything"], ["cpu", "all"], ["cpu", "sentinel"],
                 ["commandSTATS"], ["server", "clients"], ["keyspace"]):
        a = _sections(ks.call("INFO", *args).decode())
        b = _sections(ref.call("INFO", *args).decode())
        assert a == b, (args, a, b)
    ks.close()
    ref.close()


def test_field_names_are_redis_names(keystream_server, redis_server) -> None:
    ks = RawClient(keystream_server.port)
    ref = RawClient(redis_server.port)
    for section in ("server", "clients", "memory", "persistence", "stats", "replication", "cpu"):
        ours = {ln.split(":")[0] for ln in ks.call("INFO", section).decode().split("\r\n") if ":" in ln}
        theirs = {ln.split(":")[0] for ln in ref.call("INFO", section).decode().split("\r\n") if ":" in ln}
        assert theirs <= ours, (section, theirs - ours)
    ks.close()
    ref.close()


def test_values(r: redis.Redis) -> None:
    r.set("a", "1")
    r.set("b", "2", ex=100)
    info = r.info("everything")
    assert info["redis_version"] == "7.0.15"
    assert "keystream_version" in info
    assert info["db0"]["keys"] == 2 and info["db0"]["expires"] == 1
    assert info["used_memory"] > 0 and info["connected_clients"] >= 1
    assert info["cmdstat_set"]["calls"] >= 2


def test_errorstats(r: redis.Redis) -> None:
    r.config_resetstat()
    try:
        r.execute_command("NOSUCH")
    except redis.ResponseError:
        pass
    info = r.info("errorstats")
    assert info["errorstat_ERR"]["count"] == 1
    assert r.info("stats")["total_error_replies"] == 1
