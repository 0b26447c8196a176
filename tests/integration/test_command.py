"""COMMAND and its subcommands, built from the registry; compared with Redis's shapes."""

from __future__ import annotations

import pytest

from tests.differential import Pair

SAME = ["ping", "echo", "select", "hello", "auth", "quit", "reset", "multi", "exec", "discard", "watch",
        "unwatch", "dbsize", "flushall", "flushdb", "time", "monitor", "shutdown", "debug", "info",
        "config", "client", "slowlog", "command"]


@pytest.fixture
def pair3(keystream_server, redis_server):
    p = Pair(keystream_server.port, redis_server.port, proto=3)
    yield p
    p.close()


def _norm_info(info):
    name, arity, flags, first, last, step, acl, tips, specs, subs = info
    return (name, arity, sorted(flags), first, last, step, sorted(acl), sorted(tips), specs,
            sorted(_norm_info(s) for s in subs) if subs else [])


@pytest.mark.parametrize("name", SAME)
def test_command_info_matches_redis(pair3: Pair, name) -> None:
    ks, ref = pair3.both("COMMAND", "INFO", name)
    ours, theirs = _norm_info(ks[0]), _norm_info(ref[0])
    # subcommands we have must be exactly Redis's; some of Redis's are not ours yet
    ours_subs = {s[0]: s for s in ours[9]}
    theirs_subs = {s[0]: s for s in theirs[9]}
    assert ours[:9] == theirs[:9]
    for sub, info in ours_subs.items():
        assert info == theirs_subs[sub]


def test_command_info_unknown_and_bad_subcommand(pair3: Pair) -> None:
    pair3.run("COMMAND", "INFO", "nosuch", "get|key", "config|get|key")


@pytest.mark.parametrize("args", [
    ("COMMAND", "GETKEYS", "get", "k"), ("COMMAND", "GETKEYS", "set", "a"),
    ("COMMAND", "GETKEYS", "nosuch", "a"), ("COMMAND", "GETKEYS", "ping", "a"),
    ("COMMAND", "GETKEYS", "get"), ("COMMAND", "LIST", "FILTERBY"), ("COMMAND", "LIST", "bad"),
    ("COMMAND", "LIST", "FILTERBY", "bad", "x"), ("COMMAND", "LIST", "FILTERBY", "MODULE", "x"),
    ("COMMAND", "LIST", "FILTERBY", "PATTERN", "nosuch*"), ("COMMAND", "LIST", "FILTERBY", "PATTERN", "get"),
    ("COMMAND", "COUNT", "x"), ("COMMAND", "DOCS", "nosuch"), ("COMMAND", "nosuch"),
    ("COMMAND", "GETKEYSANDFLAGS", "watch", "a", "b"),
])
def test_errors_and_simple_replies(pair3: Pair, args) -> None:
    pair3.run(*args)


def test_docs_shape(pair3: Pair) -> None:
    ks, ref = pair3.both("COMMAND", "DOCS", "config")
    ours, theirs = ks[b"config"], ref[b"config"]
    assert set(ours[b"subcommands"]) <= set(theirs[b"subcommands"])
    assert ours[b"group"] == theirs[b"group"] and ours[b"since"] == theirs[b"since"]
    sub = ours[b"subcommands"][b"config|get"]
    assert {b"summary", b"since", b"group", b"complexity"} <= set(sub)


def test_count_and_list_are_ours(pair3: Pair) -> None:
    names = pair3.ks.call("COMMAND", "LIST")
    assert b"client|list" in names and b"config|get" in names
    assert pair3.ks.call("COMMAND", "COUNT") == len(pair3.ks.call("COMMAND"))
    assert b"multi" in pair3.ks.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "transaction")


def _commands_of(*modules: str) -> list[str]:
    from keystream.commands.registry import COMMANDS, load_all

    load_all()
    return sorted(c.name for c in COMMANDS.values()
                  if c.handler is not None and c.handler.__module__.rsplit(".", 1)[-1] in modules)


@pytest.mark.parametrize("name", _commands_of("strings", "bitmaps", "keys"))
def test_command_info_of_strings_bitmaps_keys_matches_redis(pair3: Pair, name) -> None:
    """Key specs (flags, notes), tips and key positions exactly as Redis 7.0 reports them."""
    ks, ref = pair3.both("COMMAND", "INFO", name)
    ours, theirs = _norm_info(ks[0]), _norm_info(ref[0])
    assert ours[:9] == theirs[:9]
    pair3.run("COMMAND", "GETKEYSANDFLAGS", name, "k1", "k2", "k3", "k4")


@pytest.mark.parametrize("args", [
    ("set", "k", "v"), ("set", "k", "v", "GET"), ("set", "k", "v", "EX", "1", "get"),
    ("bitfield", "k", "GET", "u8", "0"), ("bitfield", "k", "get", "u8", "0", "SET", "u8", "0", "1"),
    ("bitfield", "k", "INCRBY", "u8", "0", "1"), ("bitfield", "k"), ("bitfield", "k", "GET", "u8"),
    ("bitfield", "k", "OVERFLOW", "SAT", "GET", "u8", "0"), ("bitfield", "k", "OVERFLOW"),
])
def test_getkeysandflags_of_variable_flags_commands(pair3: Pair, args) -> None:
    pair3.run("COMMAND", "GETKEYSANDFLAGS", *args)
