"""COMMAND and its subcommands, built from the registry; compared with Redis's shapes."""

from __future__ import annotations

import pytest

from tests.differential import Pair


@pytest.fixture
def pair3(keystream_server, redis_server):
    p = Pair(keystream_server.port, redis_server.port, proto=3)
    yield p
    p.close()


def _norm_info(info):
    name, arity, flags, first, last, step, acl, tips, specs, subs = info
    return (name, arity, sorted(flags), first, last, step, sorted(acl), sorted(tips), specs,
            sorted(_norm_info(s) for s in subs) if subs else [])


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


def _registered() -> list[str]:
    """Every command and subcommand of the registry that Redis 7.0 has: all of them but our
    module-style ones (VIEW.*, CAPTURE.*: a dot in the name, as Redis modules name theirs)."""
    from keystream.commands.registry import COMMANDS, load_all

    load_all()
    names = []
    for c in COMMANDS.values():
        if "." in c.name:
            continue
        names.append(c.name)
        names.extend(s.name for s in c.subcommands.values())
    return sorted(names)


@pytest.mark.parametrize("name", _registered())
def test_command_info_matches_redis(pair3: Pair, name) -> None:
    """Arity, flags, key positions, ACL categories, tips and key specs (flags, notes) exactly as
    Redis 7.0 reports them; a container's subcommands that we have are Redis's exactly."""
    ks, ref = pair3.both("COMMAND", "INFO", name)
    assert ref[0] is not None, f"{name} is not a Redis 7.0 command"
    ours, theirs = _norm_info(ks[0]), _norm_info(ref[0])
    assert ours[:9] == theirs[:9]
    theirs_subs = {s[0]: s for s in theirs[9]}
    for sub in ours[9]:
        assert sub == theirs_subs[sub[0]]
    if "|" not in name:
        pair3.run("COMMAND", "GETKEYSANDFLAGS", name, "k1", "k2", "k3", "k4")


@pytest.mark.parametrize("args", [
    ("set", "k", "v"), ("set", "k", "v", "GET"), ("set", "k", "v", "EX", "1", "get"),
    ("bitfield", "k", "GET", "u8", "0"), ("bitfield", "k", "get", "u8", "0", "SET", "u8", "0", "1"),
    ("bitfield", "k", "INCRBY", "u8", "0", "1"), ("bitfield", "k"), ("bitfield", "k", "GET", "u8"),
    ("bitfield", "k", "OVERFLOW", "SAT", "GET", "u8", "0"), ("bitfield", "k", "OVERFLOW"),
    ("sort", "k", "STORE", "d"), ("sort", "k", "BY", "p", "GET", "g", "store", "d"), ("sort_ro", "k"),
    ("georadius", "k", "1", "2", "3", "m", "STORE", "a", "STOREDIST", "b"),
    ("georadiusbymember", "k", "m", "3", "m", "storedist", "a"), ("zunionstore", "d", "2", "a", "b"),
    ("zinterstore", "d", "2", "a", "b", "WEIGHTS", "1", "2"), ("zdiffstore", "d", "1", "a"),
    ("zunion", "2", "a", "b"), ("zmpop", "2", "a", "b", "MIN"), ("bzmpop", "0", "2", "a", "b", "MIN"),
    ("sintercard", "2", "a", "b"), ("smove", "a", "b", "c"), ("pfmerge", "a", "b", "c"),
    ("pfcount", "a", "b"), ("bzpopmin", "a", "b", "0"), ("lmpop", "2", "a", "b", "LEFT"),
    ("geosearchstore", "d", "s", "FROMMEMBER", "m", "BYRADIUS", "1", "m"), ("sdiffstore", "d", "a", "b"),
])
def test_getkeysandflags_per_invocation(pair3: Pair, args) -> None:
    pair3.run("COMMAND", "GETKEYSANDFLAGS", *args)


def _docs_facts(doc: dict) -> dict:
    """A COMMAND DOCS entry without our own prose: summary and history texts are ours, the
    complexity only has to be there when Redis gives one; subcommands are compared one by one."""
    doc = dict(doc)
    doc.pop(b"summary", None)
    doc.pop(b"subcommands", None)
    if b"complexity" in doc:
        doc[b"complexity"] = True
    if b"history" in doc:
        doc[b"history"] = sorted(entry[0] for entry in doc[b"history"])
    return doc


@pytest.mark.parametrize("name", _registered())
def test_command_docs_match_redis(pair3: Pair, name) -> None:
    """since, group, doc flags, deprecation, history versions and the whole argument tree
    (names, types, tokens, key spec indexes, flags, since) exactly as Redis 7.0 gives them."""
    ks, ref = pair3.both("COMMAND", "DOCS", name)
    assert list(ks) == [name.encode()]
    assert _docs_facts(ks[name.encode()]) == _docs_facts(ref[name.encode()])


def test_command_docs_resp2_shape(keystream_server, redis_server) -> None:
    """In RESP2 the maps are flat arrays: the same keys in the same order, the same arguments."""
    pair = Pair(keystream_server.port, redis_server.port, proto=2)
    try:
        ks, ref = pair.both("COMMAND", "DOCS", "zadd", "set", "sort", "client|kill")
        assert ks[::2] == ref[::2]
        for ours, theirs in zip(ks[1::2], ref[1::2]):
            assert ours[::2] == theirs[::2]
            o, t = dict(zip(ours[::2], ours[1::2])), dict(zip(theirs[::2], theirs[1::2]))
            assert o[b"arguments"] == t[b"arguments"]
    finally:
        pair.close()
