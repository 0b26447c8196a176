"""Sorted-set commands (t_zset.c), Redis 7.0 syntax, options and replies.

ZADD (NX XX GT LT CH INCR) ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK ZCOUNT
ZLEXCOUNT ZRANGE (BYSCORE BYLEX REV LIMIT WITHSCORES) ZRANGESTORE ZRANGEBYSCORE
ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZREVRANGE ZREMRANGEBYRANK ZREMRANGEBYSCORE
ZREMRANGEBYLEX ZPOPMIN ZPOPMAX ZMPOP BZPOPMIN BZPOPMAX BZMPOP ZRANDMEMBER ZUNION ZINTER
ZDIFF ZUNIONSTORE ZINTERSTORE ZDIFFSTORE ZINTERCARD ZSCAN.

Scores are parsed as Redis parses them: ZADD-style scores with `getDoubleFromObject`'s rules
(C `strtod`, hex floats included, no surrounding spaces, no overflow, no NaN) and range
bounds with `zslParseRange`'s (leading spaces and overflow to inf allowed). Replies with
scores use doubles (RESP3 `,`; RESP2 bulk `%.17g`); WITHSCORES replies are flat arrays in
RESP2 and arrays of [member, score] pairs in RESP3, where Redis 7 nests them.

Deliberate differences: ZRANDMEMBER and ZSCAN of a large set pick/return elements in an
order of our own (Redis's order comes from its hash table); the guarantees are the same.
"""

from __future__ import annotations

import random
from math import isfinite, isinf, isnan
from typing import TYPE_CHECKING, Any

from keystream.commands import blocking
from keystream.commands.registry import command, key_spec, keynum_spec
from keystream.commands.util import parse_int, touch_or_delete
from keystream.keyspace.datatypes.hash import share
from keystream.keyspace.datatypes.zset import LEX_MAX, LEX_MIN, LexBound, Skiplist, ZSet, score_key
from keystream.keyspace.db import TYPE_NAMES
from keystream.keyspace.glob import compile_matcher
from keystream.keyspace.scan import CURSORS
from keystream.resp.errors import (
    INVALID_CURSOR,
    NOT_FLOAT,
    NOT_INTEGER,
    SYNTAX,
    WRONGTYPE,
    ZSET_COUNT,
    ZSET_GT_LT_NX,
    ZSET_INCR_PAIR,
    ZSET_LEX_RANGE,
    ZSET_LIMIT_NEGATIVE,
    ZSET_LIMIT_RANK,
    ZSET_LONG_RANGE,
    ZSET_NAN,
    ZSET_NEEDS_KEY,
    ZSET_NOT_FLOAT_RANGE,
    ZSET_NOT_POSITIVE,
    ZSET_NUMKEYS,
    ZSET_OUT_OF_RANGE,
    ZSET_WEIGHT,
    ZSET_WITHSCORES_LEX,
    ZSET_XX_NX,
    CommandError,
)
from keystream.resp.writer import NULL_ARRAY, Raw, format_double

if TYPE_CHECKING:
    from keystream.client import Client

LONG_MAX = 2**63 - 1
_WS = b" \t\n\v\f\r"
_WS_SET = frozenset(_WS)
_NONZERO = frozenset(b"123456789abcdefABCDEF")
_DEC_EDGE = frozenset(b"+-.0123456789")
_NUM_START = frozenset(b"+-.0123456789")
_ENTRIES = "zset-max-listpack-entries"
_VALUE = "zset-max-listpack-value"


# -- argument parsing ------------------------------------------------------------------
def _strtod(b: bytes) -> tuple[float, bool] | None:
    """C strtod over the whole of b: (value, range_error), or None if b is not a number.

    Leading whitespace is accepted (as strtod does); callers that refuse it check first.
    """
    if not b:
        return None
    if b[-1] in _WS_SET or b"_" in b:
        return None
    s = b.lstrip(_WS)
    if not s or not (s[0] in b"+-.0123456789iInN"):
        return None
    try:
        v = float(s)
    except ValueError:
        body = s[1:] if s[0] in b"+-" else s
        if body[:2] not in (b"0x", b"0X"):
            return None
        try:
            v = float.fromhex(s.decode("ascii"))
        except OverflowError:
            return (float("-inf") if s[0] == 45 else float("inf")), True
        except (ValueError, UnicodeDecodeError):
            return None
        if v == 0.0:
            mant = body[2:].split(b"p")[0].split(b"P")[0]
            return v, any(c in _NONZERO for c in mant)
        return v, False
    if v == 0.0:
        mant = s.split(b"e")[0].split(b"E")[0]
        return v, any(c in _NONZERO for c in mant)
    if isinf(v):
        return v, b"n" not in s and b"N" not in s
    return v, False


def parse_score(b: bytes, error: str = NOT_FLOAT) -> float:
    """A double as Redis's getDoubleFromObject reads it (ZADD scores, weights, coordinates)."""
    try:
        v = float(b)
    except ValueError:
        pass
    else:
        # Fast path: a plain decimal number (it starts and ends with a digit or a dot, so
        # no spaces; no underscores) that neither overflowed nor underflowed to zero.
        if b[0] in _DEC_EDGE and b[-1] in _DEC_EDGE and b"_" not in b:
            if v != 0.0:
                if isfinite(v):
                    return v
            elif not b.lstrip(b"+-").strip(b"0.")[:1].isdigit():
                return v
    if not b or b[0] in _WS_SET:
        raise CommandError(error)
    r = _strtod(b)
    if r is None or r[1] or isnan(r[0]):
        raise CommandError(error)
    return r[0]


def _parse_bound(b: bytes) -> tuple[float, bool]:
    """One end of a score range (zslParseRange): `(` makes it exclusive."""
    ex = b[:1] == b"("
    s = b[1:] if ex else b
    if not s:
        return 0.0, ex
    if s[0] in _DEC_EDGE and s[-1] in _DEC_EDGE and b"_" not in s:
        try:
            return float(s), ex  # a plain decimal (overflow to inf is fine in a range)
        except ValueError:
            pass
    r = _strtod(s)
    if r is None or isnan(r[0]):
        raise CommandError(ZSET_NOT_FLOAT_RANGE)
    return r[0], ex


def parse_score_range(lo: bytes, hi: bytes) -> tuple[float, bool, float, bool]:
    a, aex = _parse_bound(lo)
    b, bex = _parse_bound(hi)
    return a, aex, b, bex


def _parse_lex_item(b: bytes) -> LexBound:
    c = b[:1]
    if c == b"+":
        if len(b) != 1:
            raise CommandError(ZSET_LEX_RANGE)
        return LEX_MAX, True
    if c == b"-":
        if len(b) != 1:
            raise CommandError(ZSET_LEX_RANGE)
        return LEX_MIN, True
    if c == b"(":
        return b[1:], True
    if c == b"[":
        return b[1:], False
    raise CommandError(ZSET_LEX_RANGE)


def parse_lex_range(lo: bytes, hi: bytes) -> tuple[LexBound, LexBound]:
    return _parse_lex_item(lo), _parse_lex_item(hi)


def _range_long(b: bytes, lo: int, hi: int, msg: str | None = None) -> int:
    """getRangeLongFromObjectOrReply."""
    v = parse_int(b, msg or NOT_INTEGER)
    if v < lo or v > hi:
        raise CommandError(msg or ZSET_LONG_RANGE.format(lo, hi))
    return v


def _positive_long(b: bytes, msg: str = ZSET_NOT_POSITIVE) -> int:
    return _range_long(b, 0, LONG_MAX, msg)


def _with_scores(items: Any, proto: int) -> list:
    """[(score, member)...] -> a WITHSCORES reply (flat in RESP2, pairs in RESP3)."""
    if proto == 3:
        return [[m, s] for s, m in items]
    out: list = []
    append = out.append
    for s, m in items:
        append(m)
        append(s)
    return out


def _keys_reply(big: Skiplist, keys: list[bytes]) -> Raw:
    """The RESP array of the members of a big set's keys (the same bytes in RESP2 and RESP3).

    Big sets keep each member's encoded bulk string once it has been read, so a range
    reply is a join of cached pieces.
    """
    bulk = big.bulk
    if bulk is None:
        bulk = big.bulk = {}
    try:
        body = b"".join(map(bulk.__getitem__, keys))
    except KeyError:
        for k in keys:
            if k not in bulk:
                bulk[k] = b"$%d\r\n%s\r\n" % (len(k) - 8, k[8:])
        body = b"".join(map(bulk.__getitem__, keys))
    return Raw(b"*%d\r\n%s" % (len(keys), body))


def store_zset(client: Any, dst: bytes, items: Any, kind: str) -> int:
    """Store [(score, member)...] at dst as a new sorted set, write event kind
    ("zunionstore", "zrangestore", "geosearchstore", ...); deleting dst if empty."""
    db = client.db
    if not items:
        db.delete(dst)
        return 0
    cfg = client.engine.config.values
    skiplist = len(items) > cfg[_ENTRIES] or any(len(m) > cfg[_VALUE] for _, m in items)
    zs = ZSet.build(items, skiplist)
    db.set(dst, zs, kind=kind)
    return len(zs)


# -- ZADD / ZINCRBY ------------------------------------------------------------------------
_ZADD_OPTS = {b"nx": 1, b"xx": 2, b"ch": 4, b"incr": 8, b"gt": 16, b"lt": 32}


def zadd_generic(client: Any, argv: list[bytes], flags: int) -> Any:
    key = argv[1]
    n = len(argv)
    i = 2
    opts = _ZADD_OPTS
    while i < n:
        f = opts.get(argv[i].lower())
        if f is None:
            break
        flags |= f
        i += 1
    elements = n - i
    if elements % 2 or not elements:
        raise CommandError(SYNTAX)
    nx = flags & 1
    xx = flags & 2
    incr = flags & 8
    gt = flags & 16
    lt = flags & 32
    if nx and xx:
        raise CommandError(ZSET_XX_NX)
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError(ZSET_GT_LT_NX)
    if incr and elements > 2:
        raise CommandError(ZSET_INCR_PAIR)
    scores = [parse_score(argv[j]) for j in range(i, n, 2)]
    db = client.db
    zs = db.get_typed(key, ZSet)
    added = updated = processed = 0
    score = 0.0
    if zs is None:
        if xx:
            return None if incr else 0
        zs = ZSet()
        cfg = client.engine.config.values
        max_entries = cfg[_ENTRIES]
        max_value = cfg[_VALUE]
        if max_entries == 0 or len(argv[i + 1]) > max_value:
            zs.to_skiplist()
        created = True
    else:
        created = False
        cfg = client.engine.config.values
        max_entries = cfg[_ENTRIES]
        max_value = cfg[_VALUE]
    big = zs.big
    try:
        for j, score in enumerate(scores):
            member = argv[i + 1 + 2 * j]
            cur = zs.score(member) if big is None else big.scores.get(member)
            if cur is not None:
                if nx:
                    continue
                if incr:
                    score += cur
                    if isnan(score):
                        raise CommandError(ZSET_NAN)
                if (lt and score >= cur) or (gt and score <= cur):
                    continue
                processed += 1
                if score != cur:
                    zs.move(member, cur, score)
                    updated += 1
            elif not xx:
                if (big is None or not big.skiplist) and (len(zs) >= max_entries
                                                          or len(member) > max_value):
                    zs.to_skiplist()
                zs.insert(member, score)
                big = zs.big
                added += 1
                processed += 1
    finally:
        # As Redis: one event for the whole command, the new key stored with it.
        kind = "zincr" if incr else "zadd"
        if created:
            if zs:
                db.set(key, zs, kind=kind)
        elif added or updated:
            db.touch(key, kind)
    if incr:
        return score if processed else None
    return added + updated if flags & 4 else added


_RO_ACCESS = (key_spec(1, "RO", "access"),)
_RW_ACCESS_DELETE = (key_spec(1, "RW", "access", "delete"),)
_RW_DELETE = (key_spec(1, "RW", "delete"),)


@command("zadd", -4, "write denyoom fast", 1, 1, 1, acl="sortedset", group="sorted_set",
         since="1.2.0", complexity="O(log(N)) for each item added",
         summary="Add one or more members to a sorted set, or update its score if it already exists",
         key_specs=(key_spec(1, "RW", "update"),),
         args="key condition=[NX | XX]@3.0.2 comparison=[GT | LT]@6.2.0 [change=CH@3.0.2] "
              "[increment=INCR@3.0.2] score_member=(score:double member)...",
         history=(
             ("2.4.0", "Several score-member pairs in one call."),
             ("3.0.2", "XX, NX, CH and INCR."),
             ("6.2.0", "GT and LT."),
         ))
def zadd_command(client: Client, argv: list[bytes]) -> Any:
    """ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]"""
    # Fast path (benchmarked): one numeric score-member pair into an existing sorted set.
    if len(argv) == 4 and argv[2][:1] and argv[2][0] in _NUM_START:
        key = argv[1]
        db = client.db
        zs = db.get(key)
        if type(zs) is ZSet:
            score = parse_score(argv[2])
            member = argv[3]
            big = zs.big
            if big is not None and big.skiplist:
                scores = big.scores
                cur = scores.get(member)
                if cur is None:
                    member = share(member)
                    scores[member] = score
                    big.sl.add(score_key(score, member))
                    db.touch(key, "zadd")
                    return 1
                if cur != score:
                    old = score_key(cur, member)
                    sl = big.sl
                    sl.remove(old)
                    sl.add(score_key(score, member))
                    scores[member] = score
                    if big.bulk is not None:
                        big.bulk.pop(old, None)
                    db.touch(key, "zadd")
                return 0
            cur = zs.score(member)
            if cur is None:
                cfg = client.engine.config.values
                if len(zs) >= cfg[_ENTRIES] or len(member) > cfg[_VALUE]:
                    zs.to_skiplist()
                zs.insert(member, score)
                db.touch(key, "zadd")
                return 1
            if cur != score:
                zs.move(member, cur, score)
                db.touch(key, "zadd")
            return 0
    return zadd_generic(client, argv, 0)


@command("zincrby", 4, "write denyoom fast", 1, 1, 1, acl="sortedset", group="sorted_set",
         since="1.2.0", complexity="O(log(N))", summary="Increment the score of a member in a sorted set",
         key_specs=(key_spec(1, "RW", "access", "update"),),
         args="key increment:int member")
def zincrby_command(client: Client, argv: list[bytes]) -> Any:
    """ZINCRBY key increment member"""
    return zadd_generic(client, argv, 8)


@command("zrem", -3, "write fast", 1, 1, 1, acl="sortedset", group="sorted_set", since="1.2.0",
         complexity="O(M*log(N))", summary="Remove one or more members from a sorted set",
         key_specs=_RW_DELETE,
         args="key member...",
         history=(("2.4.0", "Several members in one call."),))
def zrem_command(client: Client, argv: list[bytes]) -> Any:
    """ZREM key member [member ...]"""
    db = client.db
    key = argv[1]
    zs = db.get_typed(key, ZSet)
    if zs is None:
        return 0
    deleted = 0
    for member in argv[2:]:
        if zs.remove(member):
            deleted += 1
            if not zs:
                break
    if deleted:
        touch_or_delete(db, key, zs, "zrem")
    return deleted


# -- reads ---------------------------------------------------------------------------------
@command("zcard", 2, "readonly fast", 1, 1, 1, acl="sortedset", group="sorted_set", since="1.2.0",
         summary="Get the number of members in a sorted set",
         args="key")
def zcard_command(client: Client, argv: list[bytes]) -> Any:
    """ZCARD key"""
    zs = client.db.get_typed(argv[1], ZSet)
    return len(zs) if zs is not None else 0


@command("zscore", 3, "readonly fast", 1, 1, 1, acl="sortedset", group="sorted_set", since="1.2.0",
         summary="Get the score associated with the given member in a sorted set",
         key_specs=_RO_ACCESS,
         args="key member")
def zscore_command(client: Client, argv: list[bytes]) -> Any:
    """ZSCORE key member"""
    zs = client.db.get_typed(argv[1], ZSet)
    if zs is None:
        return None
    return zs.score(argv[2])


@command("zmscore", -3, "readonly fast", 1, 1, 1, acl="sortedset", group="sorted_set", since="6.2.0",
         complexity="O(N) where N is the number of members being requested.",
         summary="Get the score associated with the given members in a sorted set",
         key_specs=_RO_ACCESS,
         args="key member...")
def zmscore_command(client: Client, argv: list[bytes]) -> Any:
    """ZMSCORE key member [member ...]"""
    zs = client.db.get_typed(argv[1], ZSet)
    if zs is None:
        return [None] * (len(argv) - 2)
    get = zs.score if zs.big is None else zs.big.scores.get
    return [get(m) for m in argv[2:]]


def _zrank(client: Any, argv: list[bytes], reverse: bool) -> Any:
    zs = client.db.get_typed(argv[1], ZSet)
    if zs is None:
        return None
    r = zs.rank(argv[2])
    if r is None:
        return None
    return len(zs) - 1 - r if reverse else r


@command("zrank", 3, "readonly fast", 1, 1, 1, acl="sortedset", group="sorted_set", since="2.0.0",
         complexity="O(log(N))", summary="Determine the index of a member in a sorted set",
         key_specs=_RO_ACCESS,
         args="key member")
def zrank_command(client: Client, argv: list[bytes]) -> Any:
    """ZRANK key member"""
    return _zrank(client, argv, False)


@command("zrevrank", 3, "readonly fast", 1, 1, 1, acl="sortedset", group="sorted_set", since="2.0.0",
         complexity="O(log(N))",
         summary="Determine the index of a member in a sorted set, with scores ordered from high to low",
         key_specs=_RO_ACCESS,
         args="key member")
def zrevrank_command(client: Client, argv: list[bytes]) -> Any:
    """ZREVRANK key member"""
    return _zrank(client, argv, True)


@command("zcount", 4, "readonly fast", 1, 1, 1, acl="sortedset", group="sorted_set", since="2.0.0",
         complexity="O(log(N))",
         summary="Count the members in a sorted set with scores within the given values",
         key_specs=_RO_ACCESS,
         args="key min:double max:double")
def zcount_command(client: Client, argv: list[bytes]) -> Any:
    """ZCOUNT key min max"""
    rng = parse_score_range(argv[2], argv[3])
    zs = client.db.get_typed(argv[1], ZSet)
    if zs is None:
        return 0
    start, end = zs.score_range(*rng)
    return end - start


@command("zlexcount", 4, "readonly fast", 1, 1, 1, acl="sortedset", group="sorted_set",
         since="2.8.9", complexity="O(log(N))",
         summary="Count the number of members in a sorted set between a given lexicographical range",
         key_specs=_RO_ACCESS,
         args="key min max")
def zlexcount_command(client: Client, argv: list[bytes]) -> Any:
    """ZLEXCOUNT key min max"""
    lo, hi = parse_lex_range(argv[2], argv[3])
    zs = client.db.get_typed(argv[1], ZSet)
    if zs is None:
        return 0
    start, end = zs.lex_range(lo, hi)
    return end - start


# -- ZRANGE and its family -------------------------------------------------------------------
_RANK, _SCORE, _LEX = 1, 2, 3


def _zrange_generic(client: Any, argv: list[bytes], src_idx: int, store: bytes | None,
                    rangetype: int, reverse: bool | None) -> Any:
    """ZRANGE / ZRANGESTORE / the deprecated Z[REV]RANGE[BYSCORE|BYLEX] (zrangeGenericCommand)."""
    n = len(argv)
    withscores = False
    offset, limit = 0, -1
    j = src_idx + 3
    while j < n:
        opt = argv[j].lower()
        left = n - j - 1
        if store is None and opt == b"withscores":
            withscores = True
        elif opt == b"limit" and left >= 2:
            offset = parse_int(argv[j + 1])
            limit = parse_int(argv[j + 2])
            j += 2
        elif reverse is None and opt == b"rev":
            reverse = True
        elif rangetype == 0 and opt == b"bylex":
            rangetype = _LEX
        elif rangetype == 0 and opt == b"byscore":
            rangetype = _SCORE
        else:
            raise CommandError(SYNTAX)
        j += 1
    reverse = bool(reverse)
    rangetype = rangetype or _RANK
    if limit != -1 and rangetype == _RANK:
        raise CommandError(ZSET_LIMIT_RANK)
    if withscores and rangetype == _LEX:
        raise CommandError(ZSET_WITHSCORES_LEX)
    a, b = argv[src_idx + 1], argv[src_idx + 2]
    if reverse and rangetype != _RANK:
        a, b = b, a
    if rangetype == _RANK:
        start, end = parse_int(a), parse_int(b)
    elif rangetype == _SCORE:
        srange = parse_score_range(a, b)
    else:
        lrange = parse_lex_range(a, b)
    zs = client.db.get_typed(argv[src_idx], ZSet)
    if zs is None:
        if store is not None:
            return store_zset(client, store, (), "zrangestore")
        return []
    # Members alone come without (score, member) pairs: a big set's from its keys.
    members_only = store is None and not withscores
    big = zs.big
    llen = len(zs)
    if rangetype == _RANK:
        if start < 0:
            start += llen
        if end < 0:
            end += llen
        start = max(start, 0)
        if start > end or start >= llen:
            first = last = 0
        else:
            if end >= llen:
                end = llen - 1
            first, last = (llen - 1 - end, llen - start) if reverse else (start, end + 1)
    elif rangetype == _SCORE and offset == 0 and limit < 0 and big is not None:  # no ranks needed
        items = zs.score_keys(*srange) if members_only else zs.score_items(*srange)
        if reverse:
            items.reverse()
        first = last = -1
    else:
        lo, hi = zs.score_range(*srange) if rangetype == _SCORE else zs.lex_range(*lrange)
        if offset < 0 or lo >= hi:
            first = last = 0
        elif reverse:
            last = hi - offset
            first = lo if limit < 0 else max(lo, last - limit)
        else:
            first = lo + offset
            last = hi if limit < 0 else min(hi, first + limit)
    if first >= 0:
        if last <= first:
            items = []
        elif not members_only:
            items = zs.items(first, last)
        else:
            items = zs.members(first, last) if big is None else big.sl[first:last]
        if reverse:
            items.reverse()
    if members_only:
        return items if big is None else _keys_reply(big, items)
    if store is not None:
        return store_zset(client, store, items, "zrangestore")
    return _with_scores(items, client.proto)


_RANGE_ARGS: dict[str, Any] = {"acl": "sortedset", "group": "sorted_set", "complexity": "O(log(N)+M)"}


@command("zrange", -4, "readonly", 1, 1, 1, since="1.2.0",
         summary="Return a range of members in a sorted set", **_RANGE_ARGS,
         key_specs=_RO_ACCESS,
         args="key start stop sortby=[BYSCORE | BYLEX]@6.2.0 [REV@6.2.0] [offset_count=LIMIT "
              "(offset:int count:int)@6.2.0] [WITHSCORES]",
         history=(("6.2.0", "REV, BYSCORE, BYLEX and LIMIT."),))
def zrange_command(client: Client, argv: list[bytes]) -> Any:
    """ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"""
    return _zrange_generic(client, argv, 1, None, 0, None)


@command("zrangestore", -5, "write denyoom", 1, 2, 1, since="6.2.0",
         summary="Store a range of members from sorted set into another key", **_RANGE_ARGS,
         key_specs=(key_spec(1, "OW", "update"), key_spec(2, "RO", "access")),
         args="dst:key src:key1 min max sortby=[BYSCORE | BYLEX] [REV] [offset_count=LIMIT "
              "(offset:int count:int)]")
def zrangestore_command(client: Client, argv: list[bytes]) -> Any:
    """ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]"""
    return _zrange_generic(client, argv, 2, argv[1], 0, None)


@command("zrevrange", -4, "readonly", 1, 1, 1, since="1.2.0", deprecated_since="6.2.0",
         replaced_by="`ZRANGE` with the `REV` argument",
         summary="Return a range of members in a sorted set, by index, with scores ordered from high to low",
         **_RANGE_ARGS,
         key_specs=_RO_ACCESS,
         args="key start:int stop:int [WITHSCORES]")
def zrevrange_command(client: Client, argv: list[bytes]) -> Any:
    """ZREVRANGE key start stop [WITHSCORES]"""
    return _zrange_generic(client, argv, 1, None, _RANK, True)


@command("zrangebyscore", -4, "readonly", 1, 1, 1, since="1.0.5", deprecated_since="6.2.0",
         replaced_by="`ZRANGE` with the `BYSCORE` argument",
         summary="Return a range of members in a sorted set, by score", **_RANGE_ARGS,
         key_specs=_RO_ACCESS,
         args="key min:double max:double [WITHSCORES@2.0.0] [offset_count=LIMIT (offset:int "
              "count:int)]",
         history=(("2.0.0", "WITHSCORES."),))
def zrangebyscore_command(client: Client, argv: list[bytes]) -> Any:
    """ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]"""
    return _zrange_generic(client, argv, 1, None, _SCORE, False)


@command("zrevrangebyscore", -4, "readonly", 1, 1, 1, since="2.2.0", deprecated_since="6.2.0",
         replaced_by="`ZRANGE` with the `REV` and `BYSCORE` arguments",
         summary="Return a range of members in a sorted set, by score, with scores ordered from high to low",
         **_RANGE_ARGS,
         key_specs=_RO_ACCESS,
         args="key max:double min:double [WITHSCORES] [offset_count=LIMIT (offset:int count:int)]",
         history=(("2.1.6", "Exclusive min and max."),))
def zrevrangebyscore_command(client: Client, argv: list[bytes]) -> Any:
    """ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]"""
    return _zrange_generic(client, argv, 1, None, _SCORE, True)


@command("zrangebylex", -4, "readonly", 1, 1, 1, since="2.8.9", deprecated_since="6.2.0",
         replaced_by="`ZRANGE` with the `BYLEX` argument",
         summary="Return a range of members in a sorted set, by lexicographical range", **_RANGE_ARGS,
         key_specs=_RO_ACCESS,
         args="key min max [offset_count=LIMIT (offset:int count:int)]")
def zrangebylex_command(client: Client, argv: list[bytes]) -> Any:
    """ZRANGEBYLEX key min max [LIMIT offset count]"""
    return _zrange_generic(client, argv, 1, None, _LEX, False)


@command("zrevrangebylex", -4, "readonly", 1, 1, 1, since="2.8.9", deprecated_since="6.2.0",
         replaced_by="`ZRANGE` with the `REV` and `BYLEX` arguments",
         summary="Return a range of members in a sorted set, by lexicographical range, ordered from "
                 "higher to lower strings.", **_RANGE_ARGS,
         key_specs=_RO_ACCESS,
         args="key max min [offset_count=LIMIT (offset:int count:int)]")
def zrevrangebylex_command(client: Client, argv: list[bytes]) -> Any:
    """ZREVRANGEBYLEX key max min [LIMIT offset count]"""
    return _zrange_generic(client, argv, 1, None, _LEX, True)


# -- ZREMRANGEBY* ------------------------------------------------------------------------------
_ZREMRANGE_EVENT = {_RANK: "zremrangebyrank", _SCORE: "zremrangebyscore", _LEX: "zremrangebylex"}


def _zremrange(client: Any, argv: list[bytes], rangetype: int) -> int:
    if rangetype == _RANK:
        start, end = parse_int(argv[2]), parse_int(argv[3])
    elif rangetype == _SCORE:
        srange = parse_score_range(argv[2], argv[3])
    else:
        lrange = parse_lex_range(argv[2], argv[3])
    db = client.db
    key = argv[1]
    zs = db.get_typed(key, ZSet)
    if zs is None:
        return 0
    if rangetype == _RANK:
        llen = len(zs)
        if start < 0:
            start += llen
        if end < 0:
            end += llen
        start = max(start, 0)
        if start > end or start >= llen:
            return 0
        lo, hi = start, min(end, llen - 1) + 1
    elif rangetype == _SCORE:
        lo, hi = zs.score_range(*srange)
    else:
        lo, hi = zs.lex_range(*lrange)
    deleted = zs.delete_slice(lo, hi)
    if deleted:
        touch_or_delete(db, key, zs, _ZREMRANGE_EVENT[rangetype])
    return deleted


@command("zremrangebyrank", 4, "write", 1, 1, 1, since="2.0.0",
         summary="Remove all members in a sorted set within the given indexes", **_RANGE_ARGS,
         key_specs=_RW_DELETE,
         args="key start:int stop:int")
def zremrangebyrank_command(client: Client, argv: list[bytes]) -> Any:
    """ZREMRANGEBYRANK key start stop"""
    return _zremrange(client, argv, _RANK)


@command("zremrangebyscore", 4, "write", 1, 1, 1, since="1.2.0",
         summary="Remove all members in a sorted set within the given scores", **_RANGE_ARGS,
         key_specs=_RW_DELETE,
         args="key min:double max:double")
def zremrangebyscore_command(client: Client, argv: list[bytes]) -> Any:
    """ZREMRANGEBYSCORE key min max"""
    return _zremrange(client, argv, _SCORE)


@command("zremrangebylex", 4, "write", 1, 1, 1, since="2.8.9",
         summary="Remove all members in a sorted set between the given lexicographical range",
         **_RANGE_ARGS,
         key_specs=_RW_DELETE,
         args="key min max")
def zremrangebylex_command(client: Client, argv: list[bytes]) -> Any:
    """ZREMRANGEBYLEX key min max"""
    return _zremrange(client, argv, _LEX)


# -- pops ----------------------------------------------------------------------------------------
def _pop_from(client: Any, key: bytes, zs: ZSet, maximum: bool, count: int) -> list[tuple[float, bytes]]:
    """Pop up to count elements from the zset at key (deleting it when emptied)."""
    db = client.db
    size = len(zs)
    n = min(count, size)
    if maximum:
        items = zs.items(size - n, size)
        items.reverse()
        zs.delete_slice(size - n, size)
    else:
        items = zs.items(0, n)
        zs.delete_slice(0, n)
    touch_or_delete(db, key, zs, "zpopmax" if maximum else "zpopmin")
    return items


def _first_zset(db: Any, keys: list[bytes]) -> tuple[bytes, ZSet] | None:
    """The first of keys that exists (WRONGTYPE if it is not a sorted set)."""
    for key in keys:
        zs = db.get_typed(key, ZSet)
        if zs is not None:
            return key, zs
    return None


def _zpop(client: Any, argv: list[bytes], maximum: bool) -> Any:
    if len(argv) > 3:
        raise CommandError(SYNTAX)
    count = _positive_long(argv[2]) if len(argv) == 3 else -1
    found = _first_zset(client.db, [argv[1]])
    if found is None or count == 0:
        return []
    items = _pop_from(client, found[0], found[1], maximum, 1 if count == -1 else count)
    if client.proto == 3 and count != -1:
        return [[m, s] for s, m in items]
    return _with_scores(items, 2)


@command("zpopmin", -2, "write fast", 1, 1, 1, acl="sortedset", group="sorted_set", since="5.0.0",
         complexity="O(log(N)*M)",
         summary="Remove and return members with the lowest scores in a sorted set",
         key_specs=_RW_ACCESS_DELETE,
         args="key [count:int]")
def zpopmin_command(client: Client, argv: list[bytes]) -> Any:
    """ZPOPMIN key [count]"""
    return _zpop(client, argv, False)


@command("zpopmax", -2, "write fast", 1, 1, 1, acl="sortedset", group="sorted_set", since="5.0.0",
         complexity="O(log(N)*M)",
         summary="Remove and return members with the highest scores in a sorted set",
         key_specs=_RW_ACCESS_DELETE,
         args="key [count:int]")
def zpopmax_command(client: Client, argv: list[bytes]) -> Any:
    """ZPOPMAX key [count]"""
    return _zpop(client, argv, True)


def _parse_mpop(argv: list[bytes], numkeys_idx: int) -> tuple[list[bytes], bool, int]:
    """numkeys key [key ...] MIN|MAX [COUNT count] -> (keys, maximum, count)."""
    numkeys = _range_long(argv[numkeys_idx], 1, LONG_MAX, ZSET_NUMKEYS)
    where_idx = numkeys_idx + numkeys + 1
    if where_idx >= len(argv):
        raise CommandError(SYNTAX)
    where = argv[where_idx].lower()
    if where == b"min":
        maximum = False
    elif where == b"max":
        maximum = True
    else:
        raise CommandError(SYNTAX)
    count = -1
    j = where_idx + 1
    while j < len(argv):
        if count == -1 and argv[j].lower() == b"count" and j + 1 < len(argv):
            count = _range_long(argv[j + 1], 1, LONG_MAX, ZSET_COUNT)
            j += 2
        else:
            raise CommandError(SYNTAX)
    return argv[numkeys_idx + 1:where_idx], maximum, (1 if count == -1 else count)


def _mpop_reply(client: Any, key: bytes, items: list[tuple[float, bytes]]) -> list:
    return [key, [[m, s] for s, m in items]]


def _mpop_keys(numkeys_idx: int) -> Any:
    def get_keys(argv: list[bytes]) -> list[int]:
        try:
            numkeys = int(argv[numkeys_idx])
        except (ValueError, IndexError):
            return []
        return list(range(numkeys_idx + 1, min(len(argv), numkeys_idx + 1 + max(numkeys, 0))))
    return get_keys


@command("zmpop", -4, "write", acl="sortedset", group="sorted_set", since="7.0.0",
         complexity="O(K) + O(M*log(N))", get_keys=_mpop_keys(1),
         summary="Remove and return members with scores in a sorted set",
         key_specs=(keynum_spec(1, "RW", "access", "delete"),),
         args="numkeys:int key... where=(MIN | MAX) [COUNT count:int]")
def zmpop_command(client: Client, argv: list[bytes]) -> Any:
    """ZMPOP numkeys key [key ...] <MIN | MAX> [COUNT count]"""
    keys, maximum, count = _parse_mpop(argv, 1)
    found = _first_zset(client.db, keys)
    if found is None:
        return NULL_ARRAY
    key, zs = found
    n = min(count, len(zs))
    items = _pop_from(client, key, zs, maximum, count)
    # Replicated as ZPOPMIN/ZPOPMAX with a COUNT, as Redis does.
    client.propagate([b"ZPOPMAX" if maximum else b"ZPOPMIN", key, b"%d" % n])
    return _mpop_reply(client, key, items)


# -- blocking pops -----------------------------------------------------------------------------
def _block_pop(client: Any, argv: list[bytes], keys: list[bytes], timeout_ms: int, maximum: bool,
               count: int, mpop: bool) -> Any:
    """Serve BZPOPMIN/BZPOPMAX/BZMPOP at once if a key has elements, else block."""

    def serve(key: bytes, zs: ZSet) -> Any:
        n = min(len(zs), 1 if count == -1 else count)
        items = _pop_from(client, key, zs, maximum, n)
        name = b"ZPOPMAX" if maximum else b"ZPOPMIN"
        client.propagate([name, key] if count == -1 else [name, key, b"%d" % n])
        if mpop:
            return _mpop_reply(client, key, items)
        s, m = items[0]
        return [key, m, s]

    found = _first_zset(client.db, keys)
    if found is not None:
        return serve(*found)
    if not blocking.may_block(client):
        return NULL_ARRAY

    def on_ready(c: Any, key: bytes) -> Any:
        zs = c.db.get(key)
        if type(zs) is not ZSet:
            # Missing, or replaced by another type: Redis keeps the client waiting.
            return None
        return serve(key, zs)

    return blocking.block_client(client, argv, keys, timeout_ms, on_ready)


@command("bzpopmin", -3, "write noscript fast blocking", 1, -2, 1, acl="sortedset",
         group="sorted_set", since="5.0.0", complexity="O(log(N))",
         summary="Remove and return the member with the lowest score from one or more sorted sets, "
                 "or block until one is available",
         key_specs=(key_spec(1, "RW", "access", "delete", lastkey=-2),),
         args="key... timeout:double",
         history=(("6.0.0", "The timeout is a double (it was an integer)."),))
def bzpopmin_command(client: Client, argv: list[bytes]) -> Any:
    """BZPOPMIN key [key ...] timeout"""
    timeout = blocking.parse_timeout(argv[-1])
    return _block_pop(client, argv, argv[1:-1], timeout, False, -1, False)


@command("bzpopmax", -3, "write noscript fast blocking", 1, -2, 1, acl="sortedset",
         group="sorted_set", since="5.0.0", complexity="O(log(N))",
         summary="Remove and return the member with the highest score from one or more sorted sets, "
                 "or block until one is available",
         key_specs=(key_spec(1, "RW", "access", "delete", lastkey=-2),),
         args="key... timeout:double",
         history=(("6.0.0", "The timeout is a double (it was an integer)."),))
def bzpopmax_command(client: Client, argv: list[bytes]) -> Any:
    """BZPOPMAX key [key ...] timeout"""
    timeout = blocking.parse_timeout(argv[-1])
    return _block_pop(client, argv, argv[1:-1], timeout, True, -1, False)


@command("bzmpop", -5, "write blocking", acl="sortedset", group="sorted_set", since="7.0.0",
         complexity="O(K) + O(M*log(N))", get_keys=_mpop_keys(2),
         summary="Remove and return members with scores in a sorted set or block until one is available",
         key_specs=(keynum_spec(2, "RW", "access", "delete"),),
         args="timeout:double numkeys:int key... where=(MIN | MAX) [COUNT count:int]")
def bzmpop_command(client: Client, argv: list[bytes]) -> Any:
    """BZMPOP timeout numkeys key [key ...] <MIN | MAX> [COUNT count]"""
    keys, maximum, count = _parse_mpop(argv, 2)
    timeout = blocking.parse_timeout(argv[1])
    return _block_pop(client, argv, keys, timeout, maximum, count, True)


# -- ZRANDMEMBER -----------------------------------------------------------------------------
@command("zrandmember", -2, "readonly", 1, 1, 1, acl="sortedset", group="sorted_set", since="6.2.0",
         complexity="O(N) where N is the number of elements returned",
         summary="Get one or multiple random elements from a sorted set",
         key_specs=_RO_ACCESS, tips=("nondeterministic_output",),
         args="key options=[count:int [WITHSCORES]]")
def zrandmember_command(client: Client, argv: list[bytes]) -> Any:
    """ZRANDMEMBER key [count [WITHSCORES]]"""
    db = client.db
    if len(argv) == 2:
        zs = db.get_typed(argv[1], ZSet)
        if zs is None:
            return None
        return zs.item(random.randrange(len(zs)))[1]
    count = _range_long(argv[2], -LONG_MAX, LONG_MAX)
    withscores = False
    if len(argv) > 4 or (len(argv) == 4 and argv[3].lower() != b"withscores"):
        raise CommandError(SYNTAX)
    if len(argv) == 4:
        withscores = True
        if count < -LONG_MAX // 2 or count > LONG_MAX // 2:
            raise CommandError(ZSET_OUT_OF_RANGE)
    zs = db.get_typed(argv[1], ZSet)
    if zs is None or count == 0:
        return []
    size = len(zs)
    item = zs.item
    if count < 0:
        items = [item(random.randrange(size)) for _ in range(-count)]
    elif count >= size:
        # The whole set, in the order Redis's zset iterator walks it (highest first).
        items = zs.items(0, size)
        items.reverse()
    else:
        items = [item(i) for i in random.sample(range(size), count)]
    if withscores:
        return _with_scores(items, client.proto)
    return [m for _, m in items]


# -- ZUNION / ZINTER / ZDIFF ---------------------------------------------------------------------
_UNION, _INTER, _DIFF = 1, 2, 3


def _as_scores(value: Any) -> dict[bytes, float]:
    if type(value) is ZSet:
        return value.score_map()
    return dict.fromkeys(value, 1.0)


def _setop_keys(numkeys_idx: int) -> Any:
    def get_keys(argv: list[bytes]) -> list[int]:
        # As Redis: no keys at all (not even the destination) unless numkeys is in range.
        try:
            numkeys = int(argv[numkeys_idx])
        except (ValueError, IndexError):
            return []
        if not 0 < numkeys <= len(argv) - numkeys_idx - 1:
            return []
        keys = [1] if numkeys_idx == 2 else []
        return keys + list(range(numkeys_idx + 1, numkeys_idx + 1 + numkeys))
    return get_keys


def _setop_generic(client: Any, argv: list[bytes], numkeys_idx: int, dst: bytes | None, op: int,
                   card_only: bool = False) -> Any:
    """zunionInterDiffGenericCommand."""
    setnum = parse_int(argv[numkeys_idx])
    if setnum < 1:
        raise CommandError(ZSET_NEEDS_KEY.format(argv[0].decode(errors="replace").lower()))
    if setnum > len(argv) - (numkeys_idx + 1):
        raise CommandError(SYNTAX)
    db = client.db
    srcs: list[dict[bytes, float]] = []
    set_name = b"set"
    for k in argv[numkeys_idx + 1:numkeys_idx + 1 + setnum]:
        v = db.get(k)
        if v is None:
            srcs.append({})
        elif type(v) is ZSet or TYPE_NAMES.get(type(v)) == set_name:
            srcs.append(_as_scores(v))
        else:
            raise CommandError(WRONGTYPE)
    weights = [1.0] * setnum
    aggregate = b"sum"
    withscores = False
    limit = 0
    j = numkeys_idx + 1 + setnum
    n = len(argv)
    while j < n:
        remaining = n - j
        opt = argv[j].lower()
        if op != _DIFF and not card_only and remaining >= setnum + 1 and opt == b"weights":
            for i in range(setnum):
                weights[i] = parse_score(argv[j + 1 + i], ZSET_WEIGHT)
            j += setnum + 1
        elif op != _DIFF and not card_only and remaining >= 2 and opt == b"aggregate":
            aggregate = argv[j + 1].lower()
            if aggregate not in (b"sum", b"min", b"max"):
                raise CommandError(SYNTAX)
            j += 2
        elif dst is None and not card_only and opt == b"withscores":
            withscores = True
            j += 1
        elif card_only and remaining >= 2 and opt == b"limit":
            limit = _positive_long(argv[j + 1], ZSET_LIMIT_NEGATIVE)
            j += 2
        else:
            raise CommandError(SYNTAX)

    result: dict[bytes, float] = {}
    if op == _INTER:
        order = sorted(range(setnum), key=lambda i: len(srcs[i]))
        first = order[0]
        if srcs[first]:
            others = [(srcs[i], weights[i]) for i in order[1:]]
            w0 = weights[first]
            count = 0
            for member, s in srcs[first].items():
                score = w0 * s
                if isnan(score):
                    score = 0.0
                for src, w in others:
                    v = src.get(member)
                    if v is None:
                        break
                    score = _aggregate(score, v * w, aggregate)
                else:
                    if card_only:
                        count += 1
                        if limit and count >= limit:
                            break
                    else:
                        result[member] = score
            if card_only:
                return count
        elif card_only:
            return 0
    elif op == _UNION:
        order = sorted(range(setnum), key=lambda i: len(srcs[i]))
        for i in order:
            w = weights[i]
            for member, s in srcs[i].items():
                score = w * s
                if isnan(score):
                    score = 0.0
                cur = result.get(member)
                result[member] = score if cur is None else _aggregate(cur, score, aggregate)
    else:
        others_d = [s for s in srcs[1:] if s]
        for member, s in srcs[0].items():
            for other in others_d:
                if member in other:
                    break
            else:
                result[member] = s
    items = sorted((s, m) for m, s in result.items())
    if dst is not None:
        return store_zset(client, dst, items, argv[0].decode().lower())  # zunionstore, ...
    if withscores:
        return _with_scores(items, client.proto)
    return [m for _, m in items]


def _aggregate(target: float, val: float, aggregate: bytes) -> float:
    if aggregate == b"sum":
        r = target + val
        return 0.0 if isnan(r) else r
    if aggregate == b"min":
        return min(target, val)
    return max(target, val)


_SETOP_ARGS: dict[str, Any] = {"acl": "sortedset", "group": "sorted_set"}


@command("zunion", -3, "readonly", get_keys=_setop_keys(1), since="6.2.0",
         complexity="O(N)+O(M*log(M))", summary="Add multiple sorted sets", **_SETOP_ARGS,
         key_specs=(keynum_spec(1, "RO", "access"),),
         args="numkeys:int key... [WEIGHTS weight:int...] [AGGREGATE (SUM | MIN | MAX)] "
              "[WITHSCORES]")
def zunion_command(client: Client, argv: list[bytes]) -> Any:
    """ZUNION numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]
    [WITHSCORES]"""
    return _setop_generic(client, argv, 1, None, _UNION)


@command("zinter", -3, "readonly", get_keys=_setop_keys(1), since="6.2.0",
         complexity="O(N*K)+O(M*log(M))", summary="Intersect multiple sorted sets", **_SETOP_ARGS,
         key_specs=(keynum_spec(1, "RO", "access"),),
         args="numkeys:int key... [WEIGHTS weight:int...] [AGGREGATE (SUM | MIN | MAX)] "
              "[WITHSCORES]")
def zinter_command(client: Client, argv: list[bytes]) -> Any:
    """ZINTER numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]
    [WITHSCORES]"""
    return _setop_generic(client, argv, 1, None, _INTER)


@command("zdiff", -3, "readonly", get_keys=_setop_keys(1), since="6.2.0",
         complexity="O(L + (N-K)log(N))", summary="Subtract multiple sorted sets", **_SETOP_ARGS,
         key_specs=(keynum_spec(1, "RO", "access"),),
         args="numkeys:int key... [WITHSCORES]")
def zdiff_command(client: Client, argv: list[bytes]) -> Any:
    """ZDIFF numkeys key [key ...] [WITHSCORES]"""
    return _setop_generic(client, argv, 1, None, _DIFF)


@command("zunionstore", -4, "write denyoom", get_keys=_setop_keys(2), since="2.0.0",
         complexity="O(N)+O(M log(M))",
         summary="Add multiple sorted sets and store the resulting sorted set in a new key", **_SETOP_ARGS,
         first_key=1, last_key=1, step=1,
         key_specs=(key_spec(1, "OW", "update"), keynum_spec(2, "RO", "access")),
         args="destination:key numkeys:int key:key1... [WEIGHTS weight:int...] [AGGREGATE (SUM | "
              "MIN | MAX)]")
def zunionstore_command(client: Client, argv: list[bytes]) -> Any:
    """ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM |
    MIN | MAX>]"""
    return _setop_generic(client, argv, 2, argv[1], _UNION)


@command("zinterstore", -4, "write denyoom", get_keys=_setop_keys(2), since="2.0.0",
         complexity="O(N*K)+O(M*log(M))",
         summary="Intersect multiple sorted sets and store the resulting sorted set in a new key",
         **_SETOP_ARGS,
         first_key=1, last_key=1, step=1,
         key_specs=(key_spec(1, "OW", "update"), keynum_spec(2, "RO", "access")),
         args="destination:key numkeys:int key:key1... [WEIGHTS weight:int...] [AGGREGATE (SUM | "
              "MIN | MAX)]")
def zinterstore_command(client: Client, argv: list[bytes]) -> Any:
    """ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM |
    MIN | MAX>]"""
    return _setop_generic(client, argv, 2, argv[1], _INTER)


@command("zdiffstore", -4, "write denyoom", get_keys=_setop_keys(2), since="6.2.0",
         complexity="O(L + (N-K)log(N))",
         summary="Subtract multiple sorted sets and store the resulting sorted set in a new key",
         **_SETOP_ARGS,
         first_key=1, last_key=1, step=1,
         key_specs=(key_spec(1, "OW", "update"), keynum_spec(2, "RO", "access")),
         args="destination:key numkeys:int key:key1...")
def zdiffstore_command(client: Client, argv: list[bytes]) -> Any:
    """ZDIFFSTORE destination numkeys key [key ...]"""
    return _setop_generic(client, argv, 2, argv[1], _DIFF)


@command("zintercard", -3, "readonly", get_keys=_setop_keys(1), since="7.0.0",
         complexity="O(N*K)",
         summary="Intersect multiple sorted sets and return the cardinality of the result", **_SETOP_ARGS,
         key_specs=(keynum_spec(1, "RO", "access"),),
         args="numkeys:int key... [LIMIT limit:int]")
def zintercard_command(client: Client, argv: list[bytes]) -> Any:
    """ZINTERCARD numkeys key [key ...] [LIMIT limit]"""
    return _setop_generic(client, argv, 1, None, _INTER, card_only=True)


# -- ZSCAN ---------------------------------------------------------------------------------------
def parse_cursor(b: bytes) -> int:
    """A SCAN cursor as strtoul reads it (parseScanCursorOrReply)."""
    s = b[1:] if b[:1] in (b"+", b"-") else b
    if not s.isdigit():
        raise CommandError(INVALID_CURSOR)
    v = int(s)
    if v > 2**64 - 1:
        raise CommandError(INVALID_CURSOR)
    return (-v) % 2**64 if b[:1] == b"-" else v


@command("zscan", -3, "readonly", 1, 1, 1, acl="sortedset", group="sorted_set", since="2.8.0",
         complexity="O(1) for every call. O(N) for a complete iteration",
         summary="Incrementally iterate sorted sets elements and associated scores",
         key_specs=_RO_ACCESS, tips=("nondeterministic_output",),
         args="key cursor:int [MATCH pattern:pattern] [COUNT count:int]")
def zscan_command(client: Client, argv: list[bytes]) -> Any:
    """ZSCAN key cursor [MATCH pattern] [COUNT count]"""
    cursor = parse_cursor(argv[2])
    zs = client.db.get_typed(argv[1], ZSet)
    if zs is None:
        return [b"0", []]
    count = 10
    match = None
    j = 3
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        if opt == b"count" and n - j >= 2:
            count = parse_int(argv[j + 1])
            if count < 1:
                raise CommandError(SYNTAX)
            j += 2
        elif opt == b"match" and n - j >= 2:
            match = argv[j + 1]
            j += 2
        else:
            raise CommandError(SYNTAX)
    scores = zs.score_map()
    if not zs.skiplist:
        # A listpack-encoded set is returned whole in one call, as Redis does.
        next_cursor, members = 0, zs.members(0, len(zs))
    else:
        next_cursor, members = CURSORS.scan(scores, cursor, count)
    matcher = compile_matcher(match) if match is not None and match != b"*" else None
    out: list[bytes] = []
    for m in members:
        s = scores.get(m)
        if s is None or (matcher is not None and not matcher(m)):
            continue
        out.append(m)
        out.append(format_double(s))
    return [b"%d" % next_cursor, out]


__all__ = ["parse_lex_range", "parse_score", "parse_score_range"]
