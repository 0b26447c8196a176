"""The sorted set, in two forms: one packed bytes object for small sets, a dict + SortedList
for big ones.

Order is Redis's: by score, then by member bytes. Scores are IEEE doubles; NaN never gets
in (the commands refuse it), so the order is total. `-0.0` and `0.0` compare equal, which
is what Redis does too.

Compact form (`lp`, in the spirit of Redis's listpack): while the set is listpack-encoded
and has at most `SMALL_MAX` members, it is one immutable bytes object:

    [n: 1 byte] [n scores: little-endian doubles, in order] [0 m0 0 m1 ... 0 m(n-1) 0]

The members, in order, each follow a zero byte, with one more zero at the end; inside a
member, 0x01 is written 01 03 and 0x00 is written 01 02, so zeros only ever separate. A
member is then found by one `bytes.find` of `0 member 0` and its rank is the count of
zeros before it; the scores are one `struct` unpack, the members one `split`: the work is
C loops, O(n) as Redis's listpack scan. A change builds a new object from slices around the
new or removed entry (O(n) at n <= 128; Redis's listpack insert is a memmove too). Against
the dict + sorted list this form replaced, single-member commands on small sets (ZSCORE,
ZRANK, ZADD) measured 10-20% slower at -P 16, ranges about the same.

Measured on 200k sets of 5 members (benchmarks/memory.py's), with tracemalloc, key and
database entry included, per key: this form ~250 bytes; a tuple (members then scores) ~360
(~3.1x Redis's used_memory at 1M keys); a flat list subclass ~330 exact-sized, ~375 once
`insert` over-allocates; the dict + SortedList (even with a plain sorted list of tuples for
small sets) ~915.

Big form (`big`, a `Skiplist`): a member -> score dict answers lookups in O(1), a
`SortedList` (sortedcontainers) keeps the order so that ranks and ranges are
O(log n + m), as Redis's skiplist is. Its entries are `score_key`s, one bytes object per
member: the score as 8 bytes whose byte order is the numeric order, then the member, so
that a comparison is one memcmp. (With (score, member) tuples each comparison follows
three pointers; at 100k members those cache misses made an insert or a score update cost
twice as much: 4.4 against 2.2 us measured.) A set moves there, one way, when it
is converted to the skiplist encoding (`to_skiplist`, called by the commands with the
thresholds in force) or grows past `SMALL_MAX` while a large
`zset-max-listpack-entries` still calls it a listpack (`Skiplist.skiplist` False).

A listpack holds scores as text, where -0 reads back as 0: a listpack-encoded set stores
0.0 for -0.0. A skiplist keeps -0.0 (its key sorts it as 0.0, equal to 0 as in Redis).
The big form shares short members through the bounded pool of hash fields
(`keyspace.datatypes.hash.share`), so the same member in many sets is one object.

Lexicographic ranges (ZRANGEBYLEX and friends) assume, as Redis does, that every member
has the same score; with mixed scores the answer is whatever the binary search finds.
"""

from __future__ import annotations

from bisect import bisect_left as _bisect_left
from bisect import bisect_right as _bisect_right
from collections.abc import Iterable, Iterator, Sequence
from struct import Struct
from typing import Any

from sortedcontainers import SortedList

from keystream.keyspace.datatypes.hash import share
from keystream.keyspace.db import register_type

__all__ = ["LEX_MAX", "LEX_MIN", "SMALL_MAX", "LexBound", "Skiplist", "ZSet", "score_key"]

# A lexicographic bound: (value, exclusive). `LEX_MIN`/`LEX_MAX` stand for `-` and `+`.
LexBound = tuple[Any, bool]
LEX_MIN: Any = object()
LEX_MAX: Any = object()

# Listpack-encoded sets up to this many members keep the compact form (n fits its byte).
SMALL_MAX = 128

# -- the compact form ------------------------------------------------------------------
_EMPTY = b"\x00\x00"  # n = 0, then the closing zero
_pack_double_le = Struct("<d").pack
_unpack_double_le = Struct("<d").unpack_from
_SCORES = [Struct(f"<{i}d") for i in range(SMALL_MAX + 1)]


def _esc(member: bytes) -> bytes:
    """member with 0x01 and 0x00 escaped (callers test first whether it has either)."""
    return member.replace(b"\x01", b"\x01\x03").replace(b"\x00", b"\x01\x02")


def _unesc(e: bytes) -> bytes:
    return e.replace(b"\x01\x02", b"\x00").replace(b"\x01\x03", b"\x01")


def _escs(lp: bytes) -> list[bytes]:
    """The compact set's members, still escaped."""
    n = lp[0]
    return lp[2 + 8 * n:-1].split(b"\x00") if n else []


def _members(lp: bytes) -> list[bytes]:
    escs = _escs(lp)
    if lp.find(1, 1 + 8 * lp[0]) >= 0:
        return [_unesc(e) if 1 in e else e for e in escs]
    return escs


def _scores(lp: bytes) -> tuple[float, ...]:
    return _SCORES[lp[0]].unpack_from(lp, 1)


def _find(lp: bytes, member: bytes) -> int:
    """The rank of member in the compact set, or -1."""
    base = 1 + 8 * lp[0]
    if 0 in member or 1 in member:
        member = _esc(member)
    p = lp.find(b"".join((b"\x00", member, b"\x00")), base)
    return p if p < 0 else lp.count(0, base, p)


def _pack(escs: Sequence[bytes], scores: Any) -> bytes:
    n = len(escs)
    if not n:
        return _EMPTY
    return b"%c%s\x00%s\x00" % (n, _SCORES[n].pack(*scores), b"\x00".join(escs))


# -- the big form's keys ---------------------------------------------------------------
_SIGN = 1 << 63
_ALL = (1 << 64) - 1
_pack_double = Struct(">d").pack
_from_bytes = int.from_bytes


def _score_bits(score: float) -> int:
    """score as an unsigned 64-bit integer in the same order (-0.0 as 0.0)."""
    bits = _from_bytes(_pack_double(score or 0.0))
    return bits ^ _ALL if bits & _SIGN else bits | _SIGN


def _key_bounds(lo: float, lo_ex: bool, hi: float, hi_ex: bool) -> tuple[bytes, bytes]:
    """Keys k0, k1 such that the keys of the scores in the range are k0 <= key < k1 (the
    next double up is the next integer: an exclusive bound moves by one)."""
    return ((_score_bits(lo) + lo_ex).to_bytes(8), (_score_bits(hi) + (not hi_ex)).to_bytes(8))


def score_key(score: float, member: bytes) -> bytes:
    """The big form's entry for member at score: sorts as (score, member)."""
    bits = _from_bytes(_pack_double(score or 0.0))
    return b"".join(((bits ^ _ALL if bits & _SIGN else bits | _SIGN).to_bytes(8), member))


class Skiplist:
    """The big form: member -> score, the `score_key`s in order, and the members' encoded
    bulk strings by key that the commands cache for range replies (dropped on removal).
    `skiplist` is False while the set is still listpack-encoded (see the module docstring)."""

    __slots__ = ("bulk", "scores", "skiplist", "sl")

    def __init__(self, scores: dict[bytes, float], sl: SortedList, skiplist: bool) -> None:
        self.scores = scores
        self.sl = sl
        self.skiplist = skiplist
        self.bulk: dict[bytes, bytes] | None = None


class ZSet:
    __slots__ = ("atime", "big", "lp", "msize")
    atime: int  # access data, set by the database (see keyspace/db.py)
    msize: int  # accounted size, set by the database (see keyspace/db.py)

    def __init__(self) -> None:
        # Exactly one of the two forms is in use: `lp` (compact) or `big`.
        self.lp: bytes | None = _EMPTY
        self.big: Skiplist | None = None

    @classmethod
    def build(cls, items: Iterable[tuple[float, bytes]], skiplist: bool) -> ZSet:
        """A new set of the (score, member) items (distinct members, any order)."""
        z = cls()
        pairs = sorted(items)
        if not pairs:
            return z
        scores, members = zip(*pairs)
        if not skiplist and 0.0 in scores:
            scores = tuple([s or 0.0 for s in scores])  # a listpack keeps -0.0 as 0.0
        if skiplist or len(pairs) > SMALL_MAX:
            z.lp = None
            z.big = Skiplist(dict(zip(members, scores)), SortedList(map(score_key, scores, members)), skiplist)
        else:
            joined = b"".join(members)
            if 0 in joined or 1 in joined:
                members = tuple([_esc(m) if 0 in m or 1 in m else m for m in members])
            z.lp = _pack(members, scores)
        return z

    def __len__(self) -> int:
        lp = self.lp
        return lp[0] if lp is not None else len(self.big.scores)  # type: ignore[union-attr]  # lp is None: big is set

    def __iter__(self) -> Iterator[bytes]:
        """The members (in order in the compact form, in insertion order in the big one)."""
        lp = self.lp
        if lp is not None:
            return iter(_members(lp))
        assert self.big is not None  # lp is None: the big form is in use
        return iter(self.big.scores)

    # -- encoding ----------------------------------------------------------------------
    @property
    def skiplist(self) -> bool:
        """True once the set has the skiplist encoding (never goes back)."""
        big = self.big
        return big is not None and big.skiplist

    def encoding(self, config: Any) -> bytes:
        big = self.big
        return b"skiplist" if big is not None and big.skiplist else b"listpack"

    def to_skiplist(self) -> Skiplist:
        """Convert to the skiplist encoding (in the big form); returns the big form."""
        big = self.big
        if big is None:
            big = self._to_big()
        big.skiplist = True
        return big

    def _to_big(self) -> Skiplist:
        lp = self.lp
        assert lp is not None
        members, scores = _members(lp), _scores(lp)
        big = self.big = Skiplist(dict(zip(members, scores)), SortedList(map(score_key, scores, members)),
                                  False)
        self.lp = None
        return big

    def copy(self) -> ZSet:
        z = ZSet()
        z.lp = self.lp  # bytes: shared, never changed in place
        big = self.big
        if big is not None:
            z.big = Skiplist(dict(big.scores), SortedList(big.sl), big.skiplist)
        return z

    def entries(self) -> list[tuple[bytes, float]]:
        """Plain values for readers that are not RESP replies (persistence, scripts, the
        bridge): (member, score) in order, whatever the form or its cached reply bytes."""
        return [(m, s) for s, m in self.items(0, len(self))]

    def columns(self) -> tuple[list[bytes], tuple[float, ...]]:
        """The members and their scores in order (for persistence)."""
        lp = self.lp
        if lp is not None:
            return _members(lp), _scores(lp)
        assert self.big is not None  # lp is None: the big form is in use
        members = [k[8:] for k in self.big.sl]
        scores = self.big.scores
        return members, tuple(map(scores.__getitem__, members))

    def score_map(self) -> dict[bytes, float]:
        """member -> score (the big form's own dict: do not change it)."""
        lp = self.lp
        if lp is not None:
            return dict(zip(_members(lp), _scores(lp)))
        assert self.big is not None  # lp is None: the big form is in use
        return self.big.scores

    # -- updates -----------------------------------------------------------------------
    def insert(self, member: bytes, score: float) -> None:
        """Add member, which is not in the set, with score."""
        lp = self.lp
        if lp is None or lp[0] >= SMALL_MAX:
            big = self.big if lp is None else self._to_big()
            assert big is not None  # lp is None: the big form is in use
            if not score and not big.skiplist:
                score = 0.0
            member = share(member)
            big.scores[member] = score
            big.sl.add(score_key(score, member))
            return
        n = lp[0]
        if not score:
            score = 0.0
        scores = _SCORES[n].unpack_from(lp, 1)
        r = _bisect_left(scores, score)
        if r < n and scores[r] == score:  # equal scores: by member
            members = _members(lp)
            while r < n and scores[r] == score and members[r] < member:
                r += 1
        # The zero before entry r (the closing one for r == n), walked to from the nearer end.
        base = 1 + 8 * n
        if r <= n >> 1:
            p = base
            for _ in range(r):
                p = lp.index(0, p + 1)
        else:
            p = len(lp) - 1
            for _ in range(n - r):
                p = lp.rindex(0, base, p)
        if 0 in member or 1 in member:
            member = _esc(member)
        self.lp = b"%c%s%s%s\x00%s%s" % (n + 1, lp[1:1 + 8 * r], _pack_double_le(score),
                                         lp[1 + 8 * r:p], member, lp[p:])

    def move(self, member: bytes, cur: float, score: float) -> None:
        """Give member, now at score cur, the new score."""
        big = self.big
        if big is not None:
            if not score and not big.skiplist:
                score = 0.0
            old = score_key(cur, member)
            sl = big.sl
            sl.remove(old)
            sl.add(score_key(score, member))
            big.scores[member] = score
            if big.bulk is not None:
                big.bulk.pop(old, None)
            return
        self.remove(member)
        self.insert(member, score)

    def set(self, member: bytes, score: float) -> bool:
        """Insert member or move it to score; True if it is new."""
        cur = self.score(member)
        if cur is None:
            self.insert(member, score)
            return True
        if cur != score:
            self.move(member, cur, score)
        return False

    def remove(self, member: bytes) -> bool:
        lp = self.lp
        if lp is not None:
            n = lp[0]
            base = 1 + 8 * n
            if 0 in member or 1 in member:
                member = _esc(member)
            p = lp.find(b"".join((b"\x00", member, b"\x00")), base)
            if p < 0:
                return False
            i = lp.count(0, base, p)
            self.lp = b"%c%s%s%s" % (n - 1, lp[1:1 + 8 * i], lp[9 + 8 * i:p], lp[p + 1 + len(member):])
            return True
        big = self.big
        assert big is not None  # lp is None: the big form is in use
        score = big.scores.pop(member, None)
        if score is None:
            return False
        key = score_key(score, member)
        big.sl.remove(key)
        if big.bulk is not None:
            big.bulk.pop(key, None)
        return True

    def delete_slice(self, lo: int, hi: int) -> int:
        """Remove the elements at ranks lo..hi-1 (0 <= lo, hi <= len); returns how many."""
        if hi <= lo:
            return 0
        lp = self.lp
        if lp is not None:
            scores = _scores(lp)
            escs = _escs(lp)
            self.lp = _pack(escs[:lo] + escs[hi:], scores[:lo] + scores[hi:])
            return hi - lo
        big = self.big
        assert big is not None  # lp is None: the big form is in use
        scores_d = big.scores
        bulk = big.bulk if big.bulk is not None else {}
        sl = big.sl
        for key in sl.islice(lo, hi):
            del scores_d[key[8:]]
            bulk.pop(key, None)
        del sl[lo:hi]
        return hi - lo

    # -- queries -----------------------------------------------------------------------
    def score(self, member: bytes) -> float | None:
        lp = self.lp
        if lp is None:
            assert self.big is not None  # lp is None: the big form is in use
            return self.big.scores.get(member)
        base = 1 + 8 * lp[0]
        if 0 in member or 1 in member:
            member = _esc(member)
        p = lp.find(b"".join((b"\x00", member, b"\x00")), base)
        return None if p < 0 else _unpack_double_le(lp, 1 + 8 * lp.count(0, base, p))[0]

    def rank(self, member: bytes) -> int | None:
        lp = self.lp
        if lp is not None:
            i = _find(lp, member)
            return None if i < 0 else i
        big = self.big
        assert big is not None  # lp is None: the big form is in use
        score = big.scores.get(member)
        if score is None:
            return None
        return big.sl.bisect_left(score_key(score, member))

    def item(self, rank: int) -> tuple[float, bytes]:
        """The (score, member) at rank (0 <= rank < len)."""
        lp = self.lp
        if lp is not None:
            return _unpack_double_le(lp, 1 + 8 * rank)[0], _members(lp)[rank]
        assert self.big is not None  # lp is None: the big form is in use
        member = self.big.sl[rank][8:]
        assert self.big is not None  # lp is None: the big form is in use
        return self.big.scores[member], member

    def items(self, start: int, stop: int) -> list[tuple[float, bytes]]:
        """The (score, member) pairs at ranks start..stop-1 (0 <= start, stop <= len)."""
        lp = self.lp
        if lp is not None:
            if stop <= start:
                return []
            scores = _SCORES[stop - start].unpack_from(lp, 1 + 8 * start)
            return list(zip(scores, _members(lp)[start:stop]))
        assert self.big is not None  # lp is None: the big form is in use
        return self._decode(self.big.sl[start:stop])

    def _decode(self, keys: list[bytes]) -> list[tuple[float, bytes]]:
        """The big form's keys as (score, member) pairs."""
        assert self.big is not None  # lp is None: the big form is in use
        scores = self.big.scores
        return [(scores[m], m) for m in [k[8:] for k in keys]]

    def members(self, start: int, stop: int) -> list[bytes]:
        """The members at ranks start..stop-1 (0 <= start, stop <= len)."""
        lp = self.lp
        if lp is not None:
            return _members(lp)[start:stop]
        assert self.big is not None  # lp is None: the big form is in use
        return [k[8:] for k in self.big.sl.islice(start, stop)]

    def score_range(self, lo: float, lo_ex: bool, hi: float, hi_ex: bool) -> tuple[int, int]:
        """Ranks [start, end) of the elements with lo <(=) score <(=) hi."""
        lp = self.lp
        if lp is not None:
            scores = _scores(lp)
            start = (_bisect_right if lo_ex else _bisect_left)(scores, lo)
            stop = (_bisect_left if hi_ex else _bisect_right)(scores, hi)
            return start, max(start, stop)
        assert self.big is not None  # lp is None: the big form is in use
        sl = self.big.sl
        lo_key, hi_key = _key_bounds(lo, lo_ex, hi, hi_ex)
        start = sl.bisect_left(lo_key)
        return start, max(start, sl.bisect_left(hi_key))

    def score_items(self, lo: float, lo_ex: bool, hi: float, hi_ex: bool) -> list[tuple[float, bytes]]:
        """The entries with lo <(=) score <(=) hi, in order."""
        if self.lp is not None:
            return self.items(*self.score_range(lo, lo_ex, hi, hi_ex))
        return self._decode(self.score_keys(lo, lo_ex, hi, hi_ex))

    def score_keys(self, lo: float, lo_ex: bool, hi: float, hi_ex: bool) -> list[bytes]:
        """The big form's keys with lo <(=) score <(=) hi, in order: `score_range` plus a
        slice, but without ranks. A SortedList turns positions into ranks through an index
        that costs more than the range itself, so its sublists are cut and joined directly."""
        lo_key, hi_key = _key_bounds(lo, lo_ex, hi, hi_ex)
        assert self.big is not None  # lp is None: the big form is in use
        sl = self.big.sl
        maxes = sl._maxes
        lists = sl._lists
        pos = _bisect_left(maxes, lo_key)
        if pos == len(maxes):
            return []
        idx = _bisect_left(lists[pos], lo_key)
        end_pos = _bisect_left(maxes, hi_key)
        if end_pos == len(maxes):
            end_pos -= 1
            end_idx = len(lists[end_pos])
        else:
            end_idx = _bisect_left(lists[end_pos], hi_key)
        if pos == end_pos:
            return lists[pos][idx:end_idx]
        if pos > end_pos:
            return []
        keys = lists[pos][idx:]
        for p in range(pos + 1, end_pos):
            keys += lists[p]
        keys += lists[end_pos][:end_idx]
        return keys

    def lex_range(self, lo: LexBound, hi: LexBound) -> tuple[int, int]:
        """Ranks [start, end) of the members inside the lexicographic range."""
        n = len(self)
        lo_v, hi_v = lo[0], hi[0]
        if lo_v is LEX_MAX or hi_v is LEX_MIN:
            return 0, 0
        start = 0 if lo_v is LEX_MIN else self._lex_bisect(lo_v, lo[1], n)
        end = n if hi_v is LEX_MAX else self._lex_bisect(hi_v, not hi[1], n)
        return start, max(start, end)

    def _lex_bisect(self, value: bytes, after: bool, n: int) -> int:
        """First rank whose member is >= value (> value when `after`)."""
        lp = self.lp
        if lp is not None:
            return (_bisect_right if after else _bisect_left)(_members(lp), value)
        assert self.big is not None  # lp is None: the big form is in use
        sl = self.big.sl
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) // 2
            m = sl[mid][8:]
            if m < value or (after and m == value):
                lo = mid + 1
            else:
                hi = mid
        return lo


register_type(ZSet, b"zset")
