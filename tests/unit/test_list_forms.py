"""ListValue's two forms (packed bytes while small, deque past SMALL_MAX / SMALL_BYTES):
every operation the commands use, checked against a plain Python list through both forms
and the moves between them."""

from __future__ import annotations

import random
from itertools import islice

import pytest

from keystream.keyspace.datatypes.list import SMALL_BYTES, SMALL_MAX, ListValue, encode_element


def _compact(lst: ListValue) -> bool:
    return lst.packed is not None


def _same(lst: ListValue, ref: list[bytes]) -> None:
    assert len(lst) == len(ref)
    assert bool(lst) == bool(ref)
    assert list(lst) == ref
    assert list(reversed(lst)) == ref[::-1]
    if _compact(lst):
        assert lst.packed == b"".join(ref)


def test_starts_compact_and_moves_to_deque_past_the_count():
    lst = ListValue()
    assert _compact(lst) and len(lst) == 0 and not lst
    ref = []
    for i in range(SMALL_MAX):
        e = encode_element(b"%d" % i)
        lst.append(e)
        ref.append(e)
    assert _compact(lst)
    _same(lst, ref)
    lst.appendleft(encode_element(b"x"))
    ref.insert(0, encode_element(b"x"))
    assert not _compact(lst)
    _same(lst, ref)
    lst.clear()
    assert _compact(lst) and len(lst) == 0


def test_moves_to_deque_past_the_bytes():
    big = encode_element(b"v" * (SMALL_BYTES // 2))
    lst = ListValue([big])
    assert _compact(lst)
    lst.append(big)
    assert not _compact(lst)
    assert list(lst) == [big, big]
    assert not _compact(ListValue([encode_element(b"w" * SMALL_BYTES)]))


def test_constructor_picks_the_form():
    small = [encode_element(b"a")] * SMALL_MAX
    assert _compact(ListValue(small))
    assert not _compact(ListValue(small + small[:1]))
    assert list(ListValue.from_values([b"a", b"", b"\r\n$3\r\n"]).values()) == [b"a", b"", b"\r\n$3\r\n"]


def test_empty_pops_raise():
    with pytest.raises(IndexError):
        ListValue().pop()
    with pytest.raises(IndexError):
        ListValue().popleft()


@pytest.mark.parametrize("seed", range(6))
def test_random_operations_match_a_list(seed):
    rnd = random.Random(seed)
    values = [b"", b"a", b"bc", b"\r\n", b"$1\r\n", b"x" * 40, b"y" * 300]
    lst = ListValue()
    ref: list[bytes] = []
    saw_big = saw_small_after_big = False
    for _ in range(3000):
        op = rnd.randrange(12)
        e = encode_element(rnd.choice(values) + b"%d" % rnd.randrange(5))
        if op < 3 or not ref:
            lst.append(e)
            ref.append(e)
        elif op < 5:
            lst.appendleft(e)
            ref.insert(0, e)
        elif op == 5:
            assert lst.pop() == ref.pop()
        elif op == 6:
            assert lst.popleft() == ref.pop(0)
        elif op == 7:
            i = rnd.randrange(len(ref))
            assert lst[i] == ref[i] and lst[i - len(ref)] == ref[i - len(ref)]
            lst[i] = e
            ref[i] = e
        elif op == 8:
            i = rnd.randrange(len(ref) + 1)
            lst.insert(i, e)
            ref.insert(i, e)
        elif op == 9:
            target = rnd.choice(ref)
            assert lst.index(target) == ref.index(target)
        elif op == 10:
            a = rnd.randrange(len(ref))
            assert list(islice(lst, a, a + 5)) == ref[a:a + 5]
        elif rnd.random() < 0.1:
            kept = ref[: rnd.randrange(len(ref) + 1)]
            lst.clear()
            lst.extend(kept)
            ref = list(kept)
        if _compact(lst):
            saw_small_after_big |= saw_big
        else:
            saw_big = True
        _same(lst, ref)
    assert saw_big and saw_small_after_big
    assert list(lst.copy()) == ref
