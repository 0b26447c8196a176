"""The sorted set: a member -> score dict beside a sorted list of (score, member) pairs.

The dict answers ZSCORE/ZADD lookups in O(1); the `SortedList` (sortedcontainers) keeps
the Redis order (score, then member bytes) so that ranks and range queries are
O(log n + m), as Redis's skiplist is. Scores are IEEE doubles; NaN never gets in (the
commands refuse it), so tuple comparison is a total order. `-0.0` and `0.0` compare equal,
which is what Redis does too.

Encoding: Redis keeps small sets as a listpack and converts them to a skiplist once they
grow past `zset-max-listpack-entries` or get a member longer than
`zset-max-listpack-value`, and never converts back. `skiplist` is that sticky flag; the
commands set it with the thresholds in force when the set grew.

Memory: a SortedList carries an instance dict and four lists (~400 bytes) before its first
element, more than a small set's data. A set of up to `SMALL_MAX` elements therefore keeps
them in a `SmallSortedList` (a plain sorted list with the part of SortedList's interface
the commands use; insertion is a memmove, cheap at that size) and moves to a SortedList
when it grows past it (`insert`). Scores are shared through a bounded pool like hash fields
(see `keyspace.datatypes.hash.share`), so the same score in many sets is one float.

Lexicographic ranges (ZRANGEBYLEX and friends) assume, as Redis does, that every member
has the same score; with mixed scores the answer is whatever the binary search finds.
"""

from __future__ import annotations

from bisect import bisect_left as _bisect_left
from bisect import insort as _insort
from collections.abc import Iterator
from itertools import islice as _islice
from math import inf, nextafter
from typing import Any

from sortedcontainers import SortedList

from keystream.keyspace.db import register_type

__all__ = ["LEX_MAX", "LEX_MIN", "SMALL_MAX", "LexBound", "SmallSortedList", "ZSet", "share_score"]

# A lexicographic bound: (value, exclusive). `LEX_MIN`/`LEX_MAX` stand for `-` and `+`.
LexBound = tuple[Any, bool]
LEX_MIN: Any = object()
LEX_MAX: Any = object()

# Sets up to this many elements keep them in a SmallSortedList.
SMALL_MAX = 128
# Scores shared through `share_score`: at most this many distinct values.
_SCORE_POOL_MAX = 65536
_SCORE_POOL: dict[float, float] = {}


def share_score(score: float) -> float:
    """The pooled float equal to score (score itself for zeros, whose sign the pool would
    lose since -0.0 == 0.0, or when the pool is full)."""
    s = _SCORE_POOL.get(score)
    if s is not None and score:
        return s
    if score and len(_SCORE_POOL) < _SCORE_POOL_MAX:
        _SCORE_POOL[score] = score
    return score


class SmallSortedList(list):
    """A sorted list of (score, member) with the SortedList methods the commands use."""

    __slots__ = ()

    def add(self, value: Any) -> None:
        _insort(self, value)

    def remove(self, value: Any) -> None:
        i = _bisect_left(self, value)
        if i == len(self) or self[i] != value:
            raise ValueError(f"{value!r} not in list")
        del self[i]

    def bisect_left(self, value: Any) -> int:
        return _bisect_left(self, value)

    def islice(self, start: int | None = None, stop: int | None = None) -> Iterator[Any]:
        return _islice(self, start, stop)


class ZSet:
    __slots__ = ("atime", "bulk", "scores", "skiplist", "sl")

    def __init__(self) -> None:
        self.scores: dict[bytes, float] = {}
        self.sl: SortedList | SmallSortedList = SmallSortedList()
        self.skiplist = False
        # member -> its wire form, cached by the commands for big sets (dropped on removal)
        self.bulk: dict[bytes, bytes] | None = None

    def __len__(self) -> int:
        return len(self.scores)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.scores)

    # -- encoding ----------------------------------------------------------------------
    def encoding(self, config: Any) -> bytes:
        return b"skiplist" if self.skiplist else b"listpack"

    def copy(self) -> ZSet:
        z = ZSet()
        z.scores = dict(self.scores)
        z.sl = type(self.sl)(self.sl)
        z.skiplist = self.skiplist
        return z

    # -- updates -----------------------------------------------------------------------
    def insert(self, entry: tuple[float, bytes]) -> None:
        """Add a (score, member) entry to the sorted list (the caller keeps `scores`)."""
        sl = self.sl
        sl.add(entry)
        if len(sl) > SMALL_MAX and type(sl) is SmallSortedList:
            self.sl = SortedList(sl)

    def set(self, member: bytes, score: float) -> bool:
        """Insert member or move it to score; True if it is new."""
        cur = self.scores.get(member)
        if cur is None:
            self.scores[member] = score
            self.insert((score, member))
            return True
        if cur != score:
            self.sl.remove((cur, member))
            self.sl.add((score, member))
            self.scores[member] = score
        return False

    def remove(self, member: bytes) -> bool:
        score = self.scores.pop(member, None)
        if score is None:
            return False
        self.sl.remove((score, member))
        if self.bulk is not None:
            self.bulk.pop(member, None)
        return True

    def delete_slice(self, lo: int, hi: int) -> int:
        """Remove the elements at ranks lo..hi-1; returns how many."""
        if hi <= lo:
            return 0
        scores = self.scores
        bulk = self.bulk if self.bulk is not None else {}
        for _, member in self.sl.islice(lo, hi):
            del scores[member]
            bulk.pop(member, None)
        del self.sl[lo:hi]
        return hi - lo

    def pop(self, index: int) -> tuple[float, bytes]:
        score, member = self.sl.pop(index)
        del self.scores[member]
        if self.bulk is not None:
            self.bulk.pop(member, None)
        return score, member

    # -- queries -----------------------------------------------------------------------
    def rank(self, member: bytes) -> int | None:
        score = self.scores.get(member)
        if score is None:
            return None
        return self.sl.bisect_left((score, member))

    def score_range(self, lo: float, lo_ex: bool, hi: float, hi_ex: bool) -> tuple[int, int]:
        """Ranks [start, end) of the elements with lo <(=) score <(=) hi."""
        sl = self.sl
        if lo_ex:
            if lo == inf:
                return 0, 0
            start = sl.bisect_left((nextafter(lo, inf),))
        else:
            start = sl.bisect_left((lo,))
        if hi_ex:
            end = sl.bisect_left((hi,))
        elif hi == inf:
            end = len(sl)
        else:
            end = sl.bisect_left((nextafter(hi, inf),))
        return start, max(start, end)

    def score_items(self, lo: float, lo_ex: bool, hi: float, hi_ex: bool) -> list[tuple[float, bytes]]:
        """The entries with lo <(=) score <(=) hi, in order: `score_range` plus a slice, but
        without ranks. A big SortedList turns positions into ranks through an index that
        costs more than the range itself, so its sublists are cut and joined directly."""
        if lo_ex and lo == inf:
            return []
        lo_key = (nextafter(lo, inf),) if lo_ex else (lo,)
        hi_key = (hi,) if hi_ex else None if hi == inf else (nextafter(hi, inf),)
        sl = self.sl
        if type(sl) is SmallSortedList:
            start = _bisect_left(sl, lo_key)
            return sl[start:len(sl) if hi_key is None else _bisect_left(sl, hi_key)]
        maxes = sl._maxes
        lists = sl._lists
        pos = _bisect_left(maxes, lo_key)
        if pos == len(maxes):
            return []
        idx = _bisect_left(lists[pos], lo_key)
        end_pos = len(maxes) if hi_key is None else _bisect_left(maxes, hi_key)
        if end_pos == len(maxes):
            end_pos -= 1
            end_idx = len(lists[end_pos])
        else:
            end_idx = _bisect_left(lists[end_pos], hi_key)
        if pos == end_pos:
            return lists[pos][idx:end_idx]
        if pos > end_pos:
            return []
        items = lists[pos][idx:]
        for p in range(pos + 1, end_pos):
            items += lists[p]
        items += lists[end_pos][:end_idx]
        return items

    def lex_range(self, lo: LexBound, hi: LexBound) -> tuple[int, int]:
        """Ranks [start, end) of the members inside the lexicographic range."""
        n = len(self.sl)
        lo_v, hi_v = lo[0], hi[0]
        if lo_v is LEX_MAX or hi_v is LEX_MIN:
            return 0, 0
        start = 0 if lo_v is LEX_MIN else self._lex_bisect(lo_v, lo[1])
        end = n if hi_v is LEX_MAX else self._lex_bisect(hi_v, not hi[1])
        return start, max(start, end)

    def _lex_bisect(self, value: bytes, after: bool) -> int:
        """First rank whose member is >= value (> value when `after`)."""
        sl = self.sl
        lo, hi = 0, len(sl)
        while lo < hi:
            mid = (lo + hi) // 2
            m = sl[mid][1]
            if m < value or (after and m == value):
                lo = mid + 1
            else:
                hi = mid
        return lo


register_type(ZSet, b"zset")
