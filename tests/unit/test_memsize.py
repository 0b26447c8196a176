"""The MEMORY USAGE estimator (keyspace.memsize) on its own."""

from __future__ import annotations

import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from keystream.keyspace.datatypes.hash import Hash
from keystream.keyspace.datatypes.list import ListValue
from keystream.keyspace.datatypes.set import Set
from keystream.keyspace.datatypes.zset import ZSet
from keystream.keyspace.memsize import DEFAULT_SAMPLES, key_size, value_size


def _zset(members: list[bytes]) -> ZSet:
    z = ZSet()
    for i, m in enumerate(members):
        z.set(m, float(i))
    return z


def _build(kind: str, items: list[bytes]):
    if kind == "hash":
        return Hash({m: m + b"!" for m in items})
    if kind == "set":
        return Set(items)
    if kind == "list":
        return ListValue.from_values(items)
    return _zset(items)


def test_string_is_the_bytes_object():
    assert value_size(b"abc") == sys.getsizeof(b"abc")
    assert value_size(b"x" * 10000) > 10000


def test_key_size_counts_key_and_entry():
    assert key_size(b"k" * 100) > key_size(b"k") > sys.getsizeof(b"k")


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["hash", "set", "list", "zset"]),
       st.lists(st.binary(min_size=0, max_size=30), min_size=1, max_size=40, unique=True))
def test_sampling_all_is_exact_and_adding_grows(kind, items):
    value = _build(kind, items)
    exact = value_size(value, 0)
    assert value_size(value, len(items)) == exact
    assert value_size(value, len(items) + 100) == exact
    if len(items) <= DEFAULT_SAMPLES:
        assert value_size(value) == exact
    bigger = _build(kind, items + [b"\xff" * 31 + bytes([i]) for i in range(50)])
    assert value_size(bigger, 0) > exact


def test_sampled_estimate_extrapolates():
    lv = ListValue.from_values([b"a"] * 5 + [b"x" * 1000] * 5)
    assert value_size(lv) < value_size(lv, 0) - 4000
    uniform = Set(b"member-%05d" % i for i in range(1000))
    assert abs(value_size(uniform) - value_size(uniform, 0)) < value_size(uniform, 0) * 0.05


def test_zset_counts_cached_reply_bulks():
    z = _zset([b"m%d" % i for i in range(10)])
    big = z.to_skiplist()
    plain = value_size(z, 0)
    big.bulk = {m: b"$%d\r\n%s\r\n" % (len(m), m) for m in z}
    assert value_size(z, 0) > plain


def test_unknown_value_falls_back_to_getsizeof():
    value = object()
    assert value_size(value) == sys.getsizeof(value)
