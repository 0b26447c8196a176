"""CONFIG GET/SET/RESETSTAT/REWRITE/HELP against Redis's texts and shapes."""

from __future__ import annotations

import os
import tempfile

import pytest
import redis

from tests.conftest import start_keystream
from tests.differential import Pair


@pytest.fixture
def pair(keystream_server, redis_server):
    p = Pair(keystream_server.port, redis_server.port)
    yield p
    p.close()


@pytest.mark.parametrize("args", [
    ("config",), ("config", "foo"), ("config", "get"), ("config", "set", "maxmemory"),
    ("config", "set", "maxmemory", "1", "foo"), ("config", "set", "foo", "1"),
    ("config", "set", "daemonize", "yes"), ("config", "set", "maxmemory", "1", "maxmemory", "2"),
    ("config", "set", "maxmemory", "x"), ("config", "set", "hz", "x"), ("config", "set", "hz", "99999999999"),
    ("config", "set", "appendonly", "x"), ("config", "set", "maxmemory-policy", "x"),
    ("config", "set", "hz", "10", "nosuch", "1"), ("config", "rewrite"),
    ("config", "get", "maxmemory"), ("config", "get", "nosuch"), ("config", "get", "slowlog-*"),
    ("config", "get", "maxmemory-policy"), ("config", "get", "list-max-ziplist-size"),
])
def test_matches_redis(pair: Pair, args) -> None:
    pair.run(*args, unordered=args[:2] == ("config", "get"))


def test_set_several_is_all_or_nothing(r: redis.Redis) -> None:
    assert r.execute_command("CONFIG", "SET", "hz", "20", "slowlog-max-len", "50") == b"OK"
    assert r.config_get("hz") == {"hz": "20"}
    with pytest.raises(redis.ResponseError, match="argument couldn't be parsed"):
        r.execute_command("CONFIG", "SET", "hz", "30", "slowlog-max-len", "x")
    assert r.config_get("hz") == {"hz": "20"}
    r.execute_command("CONFIG", "SET", "hz", "10", "slowlog-max-len", "128")


def test_get_several_patterns_dedups_and_aliases(r: redis.Redis) -> None:
    res = r.execute_command("CONFIG", "GET", "maxmemory", "maxmemory*", "bind", "*of")
    keys = res[::2]
    assert len(keys) == len(set(keys))
    assert {b"slaveof", b"replicaof", b"maxmemory", b"maxmemory-samples", b"bind"} <= set(keys)


def test_resp3_get_is_a_map(r3: redis.Redis) -> None:
    assert r3.execute_command("CONFIG", "GET", "maxmemory") in ({b"maxmemory": b"0"}, {"maxmemory": "0"})


def test_sanity_every_value_round_trips(r: redis.Redis) -> None:
    before = r.config_get("*")
    for k, v in before.items():
        try:
            r.config_set(k, v)
        except redis.ResponseError as e:
            assert "immutable" in str(e), (k, v, e)
    assert r.config_get("*") == before


def test_resetstat(r: redis.Redis) -> None:
    r.set("a", "b")
    r.config_resetstat()
    info = r.info("commandstats")
    assert set(info) <= {"cmdstat_config|resetstat"}


def test_rewrite_writes_the_toml_file() -> None:
    d = tempfile.mkdtemp(prefix="h3-cfg-")
    path = os.path.join(d, "keystream.toml")
    with open(path, "w") as f:
        f.write("hz = 12\n")
    h = start_keystream("--config", path)
    try:
        c = redis.Redis(port=h.port)
        assert c.config_get("hz") == {"hz": "12"}
        c.config_set("maxmemory-policy", "allkeys-lru")
        assert c.execute_command("CONFIG", "REWRITE") == b"OK"
        text = open(path).read()
        assert 'maxmemory-policy = "allkeys-lru"' in text and "hz = 12" in text
    finally:
        h.stop()


def test_maxmemory_limit_accepted(keystream_server) -> None:
    """maxmemory is enforced (keyspace/evict.py): a limit is accepted and read back; 0 again."""
    r = redis.Redis(port=keystream_server.port)
    assert r.config_set("maxmemory", "100mb")
    assert r.config_get("maxmemory") == {"maxmemory": str(100 * 1024 * 1024)}
    assert r.config_set("maxmemory", "0")
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
