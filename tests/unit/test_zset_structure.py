"""The sorted-set structure alone: order, ranks, score and lexicographic ranges, copies."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from sortedcontainers import SortedList

from keystream.keyspace.datatypes.zset import LEX_MAX, LEX_MIN, SMALL_MAX, SmallSortedList, ZSet


def build(pairs: dict[bytes, float]) -> ZSet:
    z = ZSet()
    for m, s in pairs.items():
        z.set(m, s)
    return z


def test_order_is_score_then_member() -> None:
    z = build({b"b": 1.0, b"a": 1.0, b"c": 0.5, b"d": -math.inf, b"e": math.inf})
    assert [m for _, m in z.sl] == [b"d", b"c", b"a", b"b", b"e"]
    assert z.rank(b"a") == 2 and z.rank(b"zz") is None


def test_update_moves_member_and_negative_zero_equals_zero() -> None:
    z = build({b"a": 1.0, b"b": 2.0})
    assert z.set(b"a", 3.0) is False
    assert [m for _, m in z.sl] == [b"b", b"a"]
    z.set(b"z", 0.0)
    assert z.set(b"z", -0.0) is False
    assert math.copysign(1.0, z.scores[b"z"]) == 1.0


def test_score_range_bounds() -> None:
    z = build({b"a": 1.0, b"b": 2.0, b"c": 2.0, b"d": 3.0, b"i": math.inf})
    assert z.score_range(2.0, False, 2.0, False) == (1, 3)
    assert z.score_range(2.0, True, 3.0, False) == (3, 4)
    assert z.score_range(1.0, False, 3.0, True) == (0, 3)
    assert z.score_range(-math.inf, False, math.inf, False) == (0, 5)
    assert z.score_range(math.inf, True, math.inf, False) == (0, 0)
    assert z.score_range(3.0, False, 1.0, False)[1] - z.score_range(3.0, False, 1.0, False)[0] == 0


def test_lex_range_bounds() -> None:
    z = build({m: 0.0 for m in (b"", b"a", b"b", b"c", b"d")})
    assert z.lex_range((LEX_MIN, True), (LEX_MAX, True)) == (0, 5)
    assert z.lex_range((b"b", False), (b"c", False)) == (2, 4)
    assert z.lex_range((b"b", True), (b"d", True)) == (3, 4)
    assert z.lex_range((LEX_MAX, True), (LEX_MIN, True)) == (0, 0)
    assert z.lex_range((b"", False), (b"a", True)) == (0, 1)


def test_delete_slice_pop_and_copy() -> None:
    z = build({b"a": 1.0, b"b": 2.0, b"c": 3.0, b"d": 4.0})
    c = z.copy()
    assert z.delete_slice(1, 3) == 2
    assert list(z.scores) == [b"a", b"d"]
    assert z.pop(-1) == (4.0, b"d") and len(z) == 1
    assert len(c) == 4 and c.rank(b"c") == 2


def test_encoding_flag_survives_copy_and_removals() -> None:
    z = build({b"a": 1.0, b"b": 2.0})
    assert z.encoding(None) == b"listpack"
    z.skiplist = True
    z.remove(b"a")
    assert z.encoding(None) == b"skiplist" and z.copy().encoding(None) == b"skiplist"


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.binary(max_size=3), st.floats(allow_nan=False), max_size=30),
       st.floats(allow_nan=False), st.booleans(), st.floats(allow_nan=False), st.booleans())
def test_score_range_matches_a_filter(pairs, lo, lo_ex, hi, hi_ex) -> None:
    z = build(pairs)
    start, end = z.score_range(lo, lo_ex, hi, hi_ex)
    got = [m for _, m in z.sl[start:end]]
    want = [m for s, m in sorted((s, m) for m, s in pairs.items())
            if (s > lo if lo_ex else s >= lo) and (s < hi if hi_ex else s <= hi)]
    assert got == want


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=3), max_size=30), st.binary(max_size=3), st.booleans(),
       st.binary(max_size=3), st.booleans())
def test_lex_range_matches_a_filter(members, lo, lo_ex, hi, hi_ex) -> None:
    z = build(dict.fromkeys(members, 0.0))
    start, end = z.lex_range((lo, lo_ex), (hi, hi_ex))
    got = [m for _, m in z.sl[start:end]]
    want = [m for m in sorted(set(members))
            if (m > lo if lo_ex else m >= lo) and (m < hi if hi_ex else m <= hi)]
    assert got == want


def _filtered(pairs: dict[bytes, float], lo: float, lo_ex: bool, hi: float, hi_ex: bool) -> list[bytes]:
    return [m for s, m in sorted((s, m) for m, s in pairs.items())
            if (s > lo if lo_ex else s >= lo) and (s < hi if hi_ex else s <= hi)]


_BOUND = st.one_of(st.floats(allow_nan=False), st.sampled_from([0.0, -0.0, 1.0, 2.5, 7.0]))


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.binary(max_size=3), st.floats(allow_nan=False), max_size=30),
       _BOUND, st.booleans(), _BOUND, st.booleans())
def test_score_items_of_a_small_set_match_a_filter(pairs, lo, lo_ex, hi, hi_ex) -> None:
    z = build(pairs)
    assert [m for _, m in z.score_items(lo, lo_ex, hi, hi_ex)] == _filtered(pairs, lo, lo_ex, hi, hi_ex)


_BIG = {b"m%d" % i: float(i % 11) - 3 for i in range(300)}
_BIG.update({b"inf": math.inf, b"-inf": -math.inf, b"neg0": -0.0, b"huge": 1e300})


@settings(max_examples=100, deadline=None)
@given(_BOUND, st.booleans(), _BOUND, st.booleans())
def test_score_items_across_sortedlist_sublists_match_a_filter(lo, lo_ex, hi, hi_ex) -> None:
    z = build(_BIG)
    assert type(z.sl) is SortedList
    z.sl._reset(8)  # many short sublists, so ranges start and end in different ones
    assert [m for _, m in z.score_items(lo, lo_ex, hi, hi_ex)] == _filtered(_BIG, lo, lo_ex, hi, hi_ex)


def test_small_set_moves_to_a_sortedlist_when_it_grows() -> None:
    z = build({b"m%d" % i: float(-i) for i in range(SMALL_MAX)})
    assert type(z.sl) is SmallSortedList
    z.set(b"last", 0.5)
    assert type(z.sl) is SortedList
    assert [m for _, m in z.sl] == [b"m%d" % i for i in range(SMALL_MAX - 1, 0, -1)] + [b"m0", b"last"]
    assert type(z.copy().sl) is SortedList and type(build({b"a": 1.0}).copy().sl) is SmallSortedList
