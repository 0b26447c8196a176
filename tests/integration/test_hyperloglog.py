"""HyperLogLog commands against real Redis: replies, errors and the stored bytes (GET)."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Pair


def test_basic_and_cache_bytes(pair: Pair) -> None:
    pair.run("PFADD", "h")
    pair.run("GET", "h")
    pair.run("PFCOUNT", "h")
    pair.run("GET", "h")
    pair.run("PFADD", "h", "a", "b", "c")
    pair.run("PFADD", "h", "a", "b", "c")
    pair.run("GET", "h")
    pair.run("PFCOUNT", "h")
    pair.run("GET", "h")
    pair.run("PFADD", "h", "")
    pair.run("PFCOUNT", "h", "nokey")
    pair.run("PFCOUNT", "nokey")
    pair.run("PFMERGE", "m", "nokey")
    pair.run("GET", "m")
    pair.run("PFMERGE", "m2")
    pair.run("GET", "m2")


def test_hll_values_are_raw_strings(pair: Pair) -> None:
    """Redis creates and unshares HLLs as raw strings: OBJECT ENCODING says raw, not embstr."""
    pair.run("PFADD", "h", "a")
    pair.run("OBJECT", "ENCODING", "h")
    pair.run("PFMERGE", "m", "h")
    pair.run("OBJECT", "ENCODING", "m")
    sparse = pair.run("GET", "h")
    for cmd in (("PFADD", "c", "a"), ("PFCOUNT", "c"), ("PFADD", "c")):
        pair.run("SET", "c", sparse)
        pair.run("OBJECT", "ENCODING", "c")
        pair.run(*cmd)
        pair.run("OBJECT", "ENCODING", "c")


def test_sparse_dense_promotion_and_merge_bytes(pair: Pair) -> None:
    rnd = random.Random(7)
    for i in range(12):
        key = f"h{i % 3}"
        pair.run("PFADD", key, *[str(rnd.random()) for _ in range(rnd.choice([3, 40, 400]))])
        pair.run("GET", key)
        pair.run("PFCOUNT", key)
        pair.run("PFCOUNT", "h0", "h1", "h2")
    pair.run("PFMERGE", "h0", "h1")
    pair.run("GET", "h0")
    pair.run("PFMERGE", "d", "h1", "h2")
    pair.run("GET", "d")
    pair.run("PFMERGE", "s", "h2")
    pair.run("GET", "s")
    pair.run("PFCOUNT", "d")


def test_small_sparse_limit(pair: Pair) -> None:
    pair.run("CONFIG", "SET", "hll-sparse-max-bytes", "60")
    try:
        for i in range(30):
            pair.run("PFADD", "h", f"e{i}")
            pair.run("GET", "h")
        pair.run("PFADD", "s1", "a", "b")
        pair.run("PFADD", "s2", *[f"x{i}" for i in range(40)])
        pair.run("PFMERGE", "s1", "s2")
        pair.run("GET", "s1")
    finally:
        pair.run("CONFIG", "SET", "hll-sparse-max-bytes", "3000")


def test_invalid_values(pair: Pair) -> None:
    pair.run("SET", "s", "foo")
    for cmd in (("PFADD", "s", "a"), ("PFCOUNT", "s"), ("PFCOUNT", "s", "x"),
                ("PFMERGE", "s", "x"), ("PFMERGE", "x", "s")):
        pair.run(*cmd)
    pair.run("SET", "s", "HYLL\x02" + "a" * 11)
    pair.run("PFADD", "s", "a")
    pair.run("SET", "s", "HYLL\x00" + "a" * 11)
    pair.run("PFCOUNT", "s")
    pair.run("SET", "s", "HYLL\x01" + "\x00" * 11)
    pair.run("PFADD", "s", "a")
    pair.run("PFCOUNT", "s")
    pair.run("PFCOUNT", "s", "s")
    pair.run("PFMERGE", "x", "s")
    # A valid sparse HLL with an extra opcode at the tail.
    pair.run("PFADD", "t", "a", "b", "c")
    pair.run("APPEND", "t", "hello")
    pair.run("PFCOUNT", "t")
    pair.run("PFADD", "t", "zz")
    pair.run("PFMERGE", "t2", "t")


def test_wrong_type(pair: Pair) -> None:
    pair.run("LPUSH", "lst", "x")
    for cmd in (("PFADD", "lst", "a"), ("PFCOUNT", "lst"), ("PFCOUNT", "lst", "x"),
                ("PFMERGE", "lst", "x"), ("PFMERGE", "x", "lst")):
        pair.run(*cmd)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(
    st.sampled_from(["PFADD", "PFCOUNT", "PFMERGE", "GET", "SETRANGE", "RPUSH", "SADD"]),
    st.sampled_from(["h1", "h2", "h3"]),
    st.lists(st.binary(max_size=6), max_size=60),
    st.integers(0, 40),
), min_size=1, max_size=15))
def test_generated_sequences(keystream_server, redis_server, ops) -> None:
    pair = Pair(keystream_server.port, redis_server.port, 2)
    try:
        pair.both("FLUSHALL")
        for name, key, elements, n in ops:
            if name == "PFADD":
                pair.run(name, key, *elements)
            elif name == "PFCOUNT":
                pair.run(name, key, *(["h1", "h2"] if n % 2 else []))
            elif name == "PFMERGE":
                pair.run(name, key, "h1", "h3")
            elif name == "SETRANGE":
                pair.run(name, key, n, bytes(elements[0]) if elements else b"\x7f")
            elif name in ("RPUSH", "SADD"):  # wrong-type values for the HLL commands
                pair.run(name, key, b"x")
            else:
                pair.run(name, key)
    finally:
        pair.close()
