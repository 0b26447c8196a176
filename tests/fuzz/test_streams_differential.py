"""Random sequences of stream commands run on Keystream and on real Redis 7.0, every raw reply
compared: IDs (explicit, `ms-*`, too small), trimming (MAXLEN/MINID, = and ~, LIMIT) over nodes
of 1, 2, 3 and 100 entries, deletes, XSETID, consumer groups, reads through groups, acks,
claims and auto-claims, and wrong-type mixes (the key turned into a string or a list and back). Replies that carry
clock readings are left out (XPENDING extended, XINFO CONSUMERS, XINFO STREAM FULL).

The default run is bounded; SLOW_TESTS=1 runs many more sequences."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Pair

EXAMPLES = 1500 if os.environ.get("SLOW_TESTS") else 80
_KEYS = ["s", "t"]
_GROUPS = ["g", "h"]
_CONSUMERS = ["c1", "c2", "c3"]

ids = st.builds(lambda ms, seq: f"{ms}-{seq}", st.integers(0, 30), st.integers(0, 3))
bounds = st.one_of(st.just("-"), st.just("+"), ids, ids.map(lambda i: "(" + i), st.integers(0, 30).map(str))


def _trim_args(draw) -> list[str]:
    strategy = draw(st.sampled_from(["MAXLEN", "MINID"]))
    op = draw(st.sampled_from([[], ["="], ["~"]]))
    threshold = str(draw(st.integers(0, 12))) if strategy == "MAXLEN" else draw(ids)
    limit = ["LIMIT", str(draw(st.integers(0, 6)))] if op == ["~"] and draw(st.booleans()) else []
    return [strategy, *op, threshold, *limit]


@st.composite
def commands(draw) -> list[str]:
    key = draw(st.sampled_from(_KEYS))
    group = draw(st.sampled_from(_GROUPS))
    consumer = draw(st.sampled_from(_CONSUMERS))
    kind = draw(st.sampled_from([
        "xadd", "xadd", "xadd", "xadd_trim", "xadd_seq", "xdel", "xtrim", "xrange", "xrevrange", "xlen",
        "xsetid", "create", "setid", "destroy", "createconsumer", "delconsumer", "readgroup",
        "readgroup_hist", "xread", "xack", "xclaim", "xautoclaim", "xpending", "info_groups", "info_stream",
        "wrongtype", "del",
    ]))
    if kind == "xadd":
        return ["XADD", key, draw(ids), "f", str(draw(st.integers(0, 9)))]
    if kind == "xadd_trim":
        nomk = ["NOMKSTREAM"] if draw(st.booleans()) else []
        return ["XADD", key, *nomk, *_trim_args(draw), draw(ids), "a", "1", "b", "2"]
    if kind == "xadd_seq":
        return ["XADD", key, f"{draw(st.integers(0, 30))}-*", "f", "v"]
    if kind == "xdel":
        return ["XDEL", key, *draw(st.lists(ids, min_size=1, max_size=3))]
    if kind == "xtrim":
        return ["XTRIM", key, *_trim_args(draw)]
    if kind in ("xrange", "xrevrange"):
        count = ["COUNT", str(draw(st.integers(-1, 4)))] if draw(st.booleans()) else []
        return [kind.upper(), key, draw(bounds), draw(bounds), *count]
    if kind == "xlen":
        return ["XLEN", key]
    if kind == "xsetid":
        extra = ["ENTRIESADDED", str(draw(st.integers(0, 40)))] if draw(st.booleans()) else []
        if draw(st.booleans()):
            extra += ["MAXDELETEDID", draw(ids)]
        return ["XSETID", key, draw(ids), *extra]
    if kind == "create":
        start = draw(st.one_of(st.just("$"), ids))
        mk = ["MKSTREAM"] if draw(st.booleans()) else []
        er = ["ENTRIESREAD", str(draw(st.integers(-1, 10)))] if draw(st.booleans()) else []
        return ["XGROUP", "CREATE", key, group, start, *mk, *er]
    if kind == "setid":
        er = ["ENTRIESREAD", str(draw(st.integers(-1, 10)))] if draw(st.booleans()) else []
        return ["XGROUP", "SETID", key, group, draw(st.one_of(st.just("$"), ids)), *er]
    if kind == "destroy":
        return ["XGROUP", "DESTROY", key, group]
    if kind == "createconsumer":
        return ["XGROUP", "CREATECONSUMER", key, group, consumer]
    if kind == "delconsumer":
        return ["XGROUP", "DELCONSUMER", key, group, consumer]
    if kind == "readgroup":
        count = ["COUNT", str(draw(st.integers(0, 3)))] if draw(st.booleans()) else []
        noack = ["NOACK"] if draw(st.booleans()) else []
        return ["XREADGROUP", "GROUP", group, consumer, *count, *noack, "STREAMS", key, ">"]
    if kind == "readgroup_hist":
        return ["XREADGROUP", "GROUP", group, consumer, "STREAMS", key, draw(ids)]
    if kind == "xread":
        count = ["COUNT", str(draw(st.integers(0, 3)))] if draw(st.booleans()) else []
        return ["XREAD", *count, "STREAMS", *_KEYS, draw(ids), draw(st.one_of(st.just("$"), ids))]
    if kind == "xack":
        return ["XACK", key, group, *draw(st.lists(ids, min_size=1, max_size=3))]
    if kind == "xclaim":
        opts = draw(st.lists(st.sampled_from([["JUSTID"], ["FORCE"], ["RETRYCOUNT", "3"], ["LASTID", "20-0"]]),
                             max_size=2))
        if ["RETRYCOUNT", "3"] not in opts:
            opts.append(["JUSTID"])  # without JUSTID or RETRYCOUNT the count moves: still deterministic
        return ["XCLAIM", key, group, consumer, "0", *draw(st.lists(ids, min_size=1, max_size=3)),
                *(a for o in opts for a in o)]
    if kind == "xautoclaim":
        justid = ["JUSTID"] if draw(st.booleans()) else []
        return ["XAUTOCLAIM", key, group, consumer, "0", draw(bounds.filter(lambda b: b not in ("+",))),
                "COUNT", str(draw(st.integers(1, 4))), *justid]
    if kind == "xpending":
        return ["XPENDING", key, group]
    if kind == "info_groups":
        return ["XINFO", "GROUPS", key]
    if kind == "info_stream":
        return ["XINFO", "STREAM", key]
    if kind == "wrongtype":
        return draw(st.sampled_from([["SET", key, "x"], ["LPUSH", key, "x"], ["TYPE", key]]))
    return ["DEL", key]


def _check(pair: Pair, seq: list[list[str]], node_entries: int) -> None:
    pair.both("FLUSHALL")
    pair.both("CONFIG", "SET", "stream-node-max-entries", str(node_entries))
    for args in seq:
        pair.run(*args)


@pytest.fixture(scope="module")
def pairs(keystream_server, redis_server):
    made = [Pair(keystream_server.port, redis_server.port, proto) for proto in (2, 3)]
    yield made
    for p in made:
        p.both("CONFIG", "SET", "stream-node-max-entries", "100")
        p.close()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(commands(), min_size=1, max_size=60), st.integers(0, 1), st.sampled_from([1, 2, 3, 100]))
def test_stream_sequences(pairs, seq, proto, node_entries) -> None:
    _check(pairs[proto], seq, node_entries)
