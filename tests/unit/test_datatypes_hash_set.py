"""Pure structures: Hash and Set encodings (one-way conversion), copies, intset rules."""

from __future__ import annotations

from keystream.keyspace.datatypes.hash import Hash
from keystream.keyspace.datatypes.set import Set, is_int_member
from keystream.keyspace.db import type_name


def test_hash_encoding_is_one_way():
    h = Hash({b"a": b"1"})
    assert h.encoding(None) == b"listpack"
    h.note_lengths([b"a", b"1"], 64)
    h.note_size(128)
    assert h.encoding(None) == b"listpack"
    h.note_lengths([b"x" * 65], 64)
    assert h.encoding(None) == b"hashtable"
    h.clear()
    h[b"a"] = b"1"
    h.note_size(128)
    assert h.encoding(None) == b"hashtable"


def test_hash_size_threshold():
    h = Hash({b"a": b"1", b"b": b"2"})
    h.note_size(2)
    assert not h.big
    h[b"c"] = b"3"
    h.note_size(2)
    assert h.big


def test_hash_copy_is_deep_and_keeps_encoding():
    h = Hash({b"a": b"1"})
    h.big = True
    c = h.copy()
    assert type(c) is Hash and c == h and c.big
    c[b"b"] = b"2"
    assert b"b" not in h
    assert type_name(h) == b"hash"


def test_is_int_member_follows_string2ll():
    for ok in (b"0", b"1", b"-1", b"9223372036854775807", b"-9223372036854775808", b"123"):
        assert is_int_member(ok), ok
    for bad in (b"", b"-", b"-0", b"01", b"+1", b" 1", b"1 ", b"1.0", b"9223372036854775808",
                b"-9223372036854775809", b"abc", b"1e3", b"\xd9\xa1"):
        assert not is_int_member(bad), bad


def test_set_intset_and_conversion():
    s = Set()
    assert s.add_members([b"3", b"1", b"2"], 3) == 3
    assert s.encoding(None) == b"intset"
    assert s.ordered() == [b"1", b"2", b"3"]
    assert s.add_members([b"2"], 3) == 0
    assert s.add_members([b"4"], 3) == 1
    assert s.encoding(None) == b"hashtable"
    s.difference_update([b"4", b"3"])
    assert s.encoding(None) == b"hashtable"  # never converts back


def test_set_non_integer_member_converts():
    s = Set()
    s.add_members([b"1", b"a"], 512)
    assert s.big
    assert Set.build([b"1", b"2"], 512).encoding(None) == b"intset"
    assert Set.build([b"1", b"2"], 1).encoding(None) == b"hashtable"
    assert Set.build([b"-0"], 512).encoding(None) == b"hashtable"


def test_set_copy_is_deep_and_keeps_encoding():
    s = Set.build([b"1", b"x"], 512)
    c = s.copy()
    assert type(c) is Set and c == s and c.big
    c.add(b"y")
    assert b"y" not in s
    assert type_name(s) == b"set"


def test_share_pools_short_strings_only():
    from keystream.keyspace.datatypes.hash import SHARE_MAX_LEN, share

    a = share(b"field-" + bytes([120]))
    assert share(b"field-" + bytes([120])) is a
    long = b"y" * (SHARE_MAX_LEN + 1)
    assert share(long) is long
    assert share(b"y" * (SHARE_MAX_LEN + 1)) is not long


def test_hash_forms_match_a_dict_through_random_changes():
    import random

    from keystream.keyspace.datatypes.hash import SMALL_BYTES, SMALL_MAX

    rnd = random.Random(7)
    words = [b"", b"a", b"b", b"ab", b"a\x00b", b"\x00", b"v" * 300, b"1", b"f1", b"v1"]
    for _ in range(40):
        h, ref = Hash(), {}
        saw = set()
        for _ in range(rnd.randrange(1, 200)):
            f = rnd.choice(words) + (b"%d" % rnd.randrange(80) if rnd.random() < 0.7 else b"")
            op = rnd.random()
            if op < 0.6:
                v = rnd.choice(words)
                h[f] = v
                ref[f] = v
            elif op < 0.8:
                assert h.pop(f) == ref.pop(f, None)
            else:
                assert (f in h) == (f in ref) and h.get(f) == ref.get(f)
            saw.add(h.packed is not None)
            assert len(h) == len(ref) and bool(h) == bool(ref)
            assert list(h.items()) == list(ref.items()) and list(h) == list(ref)
            assert list(h.keys()) == list(ref) and list(h.values()) == list(ref.values())
            if h.packed is not None:
                assert len(h.packed) <= SMALL_BYTES and len(h) <= SMALL_MAX
        assert h == ref and h.copy() == ref
    flat = [b"f", b"1", b"g", b"2"]
    assert Hash.from_flat(flat).packed is not None and Hash.from_flat(flat) == {b"f": b"1", b"g": b"2"}
    assert Hash.from_flat([b"f", b"1", b"f", b"2"]) == {b"f": b"2"}
    assert Hash.from_flat([b"f\x00", b"1"]).packed is None
