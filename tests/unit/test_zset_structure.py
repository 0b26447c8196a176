"""The sorted-set structure alone, in its compact and big forms: order, ranks, score and
lexicographic ranges, copies, the one-way move from one form to the other."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from sortedcontainers import SortedList

from keystream.keyspace.datatypes.zset import LEX_MAX, LEX_MIN, SMALL_MAX, ZSet, score_key

# Either form: False builds a compact (listpack) set, True a big (skiplist) one.
FORMS = st.booleans()


def build(pairs: dict[bytes, float], big: bool = False) -> ZSet:
    z = ZSet()
    if big:
        z.to_skiplist()
    for m, s in pairs.items():
        z.set(m, s)
    return z


def members(z: ZSet) -> list[bytes]:
    return [m for _, m in z.items(0, len(z))]


@given(FORMS)
def test_order_is_score_then_member(big) -> None:
    z = build({b"b": 1.0, b"a": 1.0, b"c": 0.5, b"d": -math.inf, b"e": math.inf}, big)
    assert members(z) == [b"d", b"c", b"a", b"b", b"e"] == z.members(0, 5)
    assert z.rank(b"a") == 2 and z.rank(b"zz") is None
    assert z.item(1) == (0.5, b"c") and z.score(b"e") == math.inf and z.score(b"zz") is None


@given(FORMS)
def test_update_moves_member_and_negative_zero_equals_zero(big) -> None:
    z = build({b"a": 1.0, b"b": 2.0}, big)
    assert z.set(b"a", 3.0) is False
    assert members(z) == [b"b", b"a"]
    z.set(b"z", 0.0)
    assert z.set(b"z", -0.0) is False
    assert math.copysign(1.0, z.score(b"z")) == 1.0


@given(FORMS)
def test_members_with_zero_and_escape_bytes(big) -> None:
    names = [b"", b"\x00", b"\x01", b"\x01\x02", b"\x01\x03", b"a\x00b", b"\x00\x01\x00", b"\x02"]
    z = build({m: 1.0 for m in names}, big)
    assert members(z) == sorted(names) and list(z) == (sorted(names) if not big else names)
    assert all(z.rank(m) == sorted(names).index(m) for m in names)
    assert z.score(b"\x01\x00") is None and z.score(b"a") is None
    assert z.remove(b"\x00") and z.score(b"\x00") is None and z.score(b"\x00\x01\x00") == 1.0


def test_listpack_reads_negative_zero_back_as_zero() -> None:
    assert math.copysign(1.0, build({b"a": -0.0}).score(b"a")) == 1.0
    assert math.copysign(1.0, build({b"a": -0.0}, True).score(b"a")) == -1.0


@given(FORMS)
def test_score_range_bounds(big) -> None:
    z = build({b"a": 1.0, b"b": 2.0, b"c": 2.0, b"d": 3.0, b"i": math.inf}, big)
    assert z.score_range(2.0, False, 2.0, False) == (1, 3)
    assert z.score_range(2.0, True, 3.0, False) == (3, 4)
    assert z.score_range(1.0, False, 3.0, True) == (0, 3)
    assert z.score_range(-math.inf, False, math.inf, False) == (0, 5)
    for empty in ((math.inf, True, math.inf, False), (3.0, False, 1.0, False)):
        start, end = z.score_range(*empty)
        assert start == end


@given(FORMS)
def test_lex_range_bounds(big) -> None:
    z = build({m: 0.0 for m in (b"", b"a", b"b", b"c", b"d")}, big)
    assert z.lex_range((LEX_MIN, True), (LEX_MAX, True)) == (0, 5)
    assert z.lex_range((b"b", False), (b"c", False)) == (2, 4)
    assert z.lex_range((b"b", True), (b"d", True)) == (3, 4)
    assert z.lex_range((LEX_MAX, True), (LEX_MIN, True)) == (0, 0)
    assert z.lex_range((b"", False), (b"a", True)) == (0, 1)


@given(FORMS)
def test_delete_slice_remove_and_copy(big) -> None:
    z = build({b"a": 1.0, b"b": 2.0, b"c": 3.0, b"d": 4.0}, big)
    c = z.copy()
    assert z.delete_slice(1, 3) == 2
    assert list(z) == [b"a", b"d"] and z.score_map() == {b"a": 1.0, b"d": 4.0}
    assert z.remove(b"d") and not z.remove(b"d") and len(z) == 1
    assert len(c) == 4 and c.rank(b"c") == 2
    c.set(b"e", 5.0)
    assert len(z) == 1


def test_encoding_flag_survives_copy_and_removals() -> None:
    z = build({b"a": 1.0, b"b": 2.0})
    assert z.encoding(None) == b"listpack" and z.big is None
    z.to_skiplist()
    z.remove(b"a")
    assert z.encoding(None) == b"skiplist" and z.copy().encoding(None) == b"skiplist"
    assert members(z) == [b"b"]


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.binary(max_size=3), st.floats(allow_nan=False), max_size=30),
       st.floats(allow_nan=False), st.booleans(), st.floats(allow_nan=False), st.booleans(), FORMS)
def test_score_range_matches_a_filter(pairs, lo, lo_ex, hi, hi_ex, big) -> None:
    z = build(pairs, big)
    start, end = z.score_range(lo, lo_ex, hi, hi_ex)
    assert z.members(start, end) == _filtered(pairs, lo, lo_ex, hi, hi_ex)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=3), max_size=30), st.binary(max_size=3), st.booleans(),
       st.binary(max_size=3), st.booleans(), FORMS)
def test_lex_range_matches_a_filter(names, lo, lo_ex, hi, hi_ex, big) -> None:
    z = build(dict.fromkeys(names, 0.0), big)
    start, end = z.lex_range((lo, lo_ex), (hi, hi_ex))
    want = [m for m in sorted(set(names))
            if (m > lo if lo_ex else m >= lo) and (m < hi if hi_ex else m <= hi)]
    assert members(z)[start:end] == want


def _filtered(pairs: dict[bytes, float], lo: float, lo_ex: bool, hi: float, hi_ex: bool) -> list[bytes]:
    return [m for s, m in sorted((s, m) for m, s in pairs.items())
            if (s > lo if lo_ex else s >= lo) and (s < hi if hi_ex else s <= hi)]


_BOUND = st.one_of(st.floats(allow_nan=False), st.sampled_from([0.0, -0.0, 1.0, 2.5, 7.0]))


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.binary(max_size=3), st.floats(allow_nan=False), max_size=30),
       _BOUND, st.booleans(), _BOUND, st.booleans(), FORMS)
def test_score_items_of_a_small_set_match_a_filter(pairs, lo, lo_ex, hi, hi_ex, big) -> None:
    z = build(pairs, big)
    assert [m for _, m in z.score_items(lo, lo_ex, hi, hi_ex)] == _filtered(pairs, lo, lo_ex, hi, hi_ex)


_BIG = {b"m%d" % i: float(i % 11) - 3 for i in range(300)}
_BIG.update({b"inf": math.inf, b"-inf": -math.inf, b"neg0": -0.0, b"huge": 1e300})


@settings(max_examples=100, deadline=None)
@given(_BOUND, st.booleans(), _BOUND, st.booleans())
def test_score_items_across_sortedlist_sublists_match_a_filter(lo, lo_ex, hi, hi_ex) -> None:
    z = build(_BIG)
    assert type(z.big.sl) is SortedList
    z.big.sl._reset(8)  # many short sublists, so ranges start and end in different ones
    assert [m for _, m in z.score_items(lo, lo_ex, hi, hi_ex)] == _filtered(_BIG, lo, lo_ex, hi, hi_ex)


def test_small_set_moves_to_the_big_form_when_it_grows() -> None:
    z = build({b"m%d" % i: float(-i) for i in range(SMALL_MAX)})
    assert z.big is None and z.copy().big is None
    z.set(b"last", 0.5)
    assert z.lp is None and type(z.big.sl) is SortedList and z.encoding(None) == b"listpack"
    assert members(z) == [b"m%d" % i for i in range(SMALL_MAX - 1, 0, -1)] + [b"m0", b"last"]
    assert z.copy().big is not None and z.copy().big.sl is not z.big.sl


_OPS = st.lists(st.tuples(st.sampled_from(["set", "remove", "slice"]), st.binary(max_size=2),
                          st.sampled_from([0.0, 1.0, 1.5, -2.0, math.inf, -math.inf]),
                          st.integers(0, 40), st.integers(0, 40)), max_size=60)


@settings(max_examples=100, deadline=None)
@given(_OPS, FORMS)
def test_operations_match_a_model(ops, big) -> None:
    z = build({}, big)
    model: dict[bytes, float] = {}
    for op, m, s, a, b in ops:
        if op == "set":
            assert z.set(m, s) is (m not in model)
            model[m] = s
        elif op == "remove":
            assert z.remove(m) is (model.pop(m, None) is not None)
        else:
            lo, hi = min(a, len(model)), min(b, len(model))
            ordered = sorted((v, k) for k, v in model.items())
            assert z.delete_slice(lo, hi) == max(0, hi - lo)
            for _, k in ordered[lo:hi]:
                del model[k]
        assert len(z) == len(model)
        assert z.items(0, len(z)) == sorted((v, k) for k, v in model.items())
        assert all(z.score(k) == v and z.rank(k) is not None for k, v in model.items())


def test_build_sorts_and_picks_the_form() -> None:
    items = [(2.0, b"b"), (-0.0, b"z"), (1.0, b"a")]
    small = ZSet.build(items, False)
    assert small.big is None and members(small) == [b"z", b"a", b"b"]
    assert math.copysign(1.0, small.score(b"z")) == 1.0
    big = ZSet.build(items, True)
    assert big.encoding(None) == b"skiplist" and members(big) == [b"z", b"a", b"b"]
    many = ZSet.build([(float(i), b"%d" % i) for i in range(SMALL_MAX + 1)], False)
    assert many.big is not None and many.encoding(None) == b"listpack"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(allow_nan=False), st.binary(max_size=3)), max_size=30))
def test_score_keys_sort_as_score_then_member(pairs) -> None:
    by_key = sorted(pairs, key=lambda p: score_key(*p))
    assert [(s or 0.0, m) for s, m in by_key] == sorted((s or 0.0, m) for s, m in pairs)
    assert score_key(-0.0, b"a") == score_key(0.0, b"a")


def test_skiplist_keeps_negative_zero_and_moves_it_as_zero() -> None:
    z = build({b"a": -0.0, b"b": 0.0, b"c": -1.0}, True)
    assert members(z) == [b"c", b"a", b"b"] and math.copysign(1.0, z.item(1)[0]) == -1.0
    assert z.score_range(0.0, False, 0.0, False) == (1, 3) and z.score_range(-0.0, True, 1.0, False)[0] == 3
    assert z.remove(b"a") and members(z) == [b"c", b"b"]
