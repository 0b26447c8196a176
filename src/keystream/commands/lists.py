"""List commands (t_list.c), Redis 7.0: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE
LINDEX LSET LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP and the blocking BLPOP BRPOP
BLMOVE BRPOPLPUSH BLMPOP.

Elements are stored already encoded as RESP bulks (`keyspace.datatypes.list`), so replies
made of elements are `Raw` bytes joined from storage. Empty lists are deleted.

Blocking commands use `commands.blocking`: inside MULTI/EXEC or a script they reply at
once as a timeout would (BLMOVE/BRPOPLPUSH: a null bulk, as Redis). Propagation follows
Redis 7.0: a blocking pop served at once or later propagates as LPOP/RPOP (with the count
popped for BLMPOP and LMPOP), BLMOVE as LMOVE, BRPOPLPUSH as RPOPLPUSH.

Deliberate difference: none known. Keyspace notifications are not sent yet.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Any

from keystream.commands import blocking
from keystream.commands.registry import KeySpec, command
from keystream.commands.util import LLONG_MIN, parse_int, touch_or_delete
from keystream.keyspace.datatypes.list import ListValue, encode_element
from keystream.resp.errors import (
    INDEX_OUT_OF_RANGE,
    LPOS_COUNT_NEGATIVE,
    LPOS_MAXLEN_NEGATIVE,
    MPOP_COUNT,
    MPOP_NUMKEYS,
    NEGATIVE_COUNT,
    NO_SUCH_KEY,
    RANK_ZERO,
    SYNTAX,
    WRONGTYPE,
    CommandError,
    wrong_arity,
)
from keystream.resp.writer import NULL_ARRAY, OK, Raw

if TYPE_CHECKING:
    from keystream.client import Client

_HDR = [b"$%d\r\n" % i for i in range(1025)]


def _spec(pos: int, *flags: str, lastkey: int = 0) -> KeySpec:
    """A key spec at argv[pos] (Redis 7 key-spec flags: RW/RO, access, insert, update, delete)."""
    return KeySpec(("index", pos), ("range", lastkey, 1, 0), flags)


_PUSH_SPEC = (_spec(1, "RW", "insert"),)
_POP_SPEC = (_spec(1, "RW", "access", "delete"),)
_READ_SPEC = (_spec(1, "RO", "access"),)
_MOVE_SPEC = (_spec(1, "RW", "access", "delete"), _spec(2, "RW", "insert"))
_EMPTY = Raw(b"*0\r\n")
_ARR2 = b"*2\r\n"
_LEFT = 0
_RIGHT = 1
_LIST = ListValue


def _wrap64(x: int) -> int:
    """x as a C signed 64-bit result (two's complement wrap-around)."""
    return ((x + 2**63) & (2**64 - 1)) - 2**63


def _array_header(n: int) -> bytes:
    return b"*%d\r\n" % n


def _get_list(db, key: bytes) -> ListValue | None:
    value = db.get(key)
    if value is not None and type(value) is not _LIST:
        raise CommandError(WRONGTYPE)
    return value


def _where(arg: bytes) -> int:
    low = arg.lower()
    if low == b"left":
        return _LEFT
    if low == b"right":
        return _RIGHT
    raise CommandError(SYNTAX)


_SIDE = (b"LEFT", b"RIGHT")
_POP_EVENT = ("lpop", "rpop")  # the write event of a pop, by _LEFT / _RIGHT


# -- push ---------------------------------------------------------------------------------
def _push(client, argv: list[bytes], left: bool, only_existing: bool) -> int:
    db = client.db
    key = argv[1]
    lst = db.get(key)
    created = lst is None
    if created:
        if only_existing:
            return 0
        lst = _LIST()
    elif type(lst) is not _LIST:
        raise CommandError(WRONGTYPE)
    add = lst.appendleft if left else lst.append
    hdr = _HDR
    for i in range(2, len(argv)):
        v = argv[i]
        n = len(v)
        add(b"".join((hdr[n] if n <= 1024 else b"$%d\r\n" % n, v, b"\r\n")))
    kind = "lpush" if left else "rpush"
    if created:
        db.set(key, lst, kind=kind)
    else:
        db.touch(key, kind)
    return len(lst)


@command("lpush", -3, "write denyoom fast", 1, 1, 1, key_specs=_PUSH_SPEC,
         acl="list", group="list",
         summary="Prepend one or multiple elements to a list",
         complexity="O(1) for each element added, so O(N) to add N elements when the command "
         "is called with multiple arguments.",
         history=(("2.4.0", "Accepts multiple `element` arguments."),),
         args="key element...")
def lpush_command(client: Client, argv: list[bytes]) -> Any:
    """LPUSH key element [element ...]"""
    db = client.db
    key = argv[1]
    lst = db.get(key)
    if type(lst) is _LIST and len(argv) == 3:  # hot path: _push's one-element case, inlined on purpose
        v = argv[2]
        n = len(v)
        lst.appendleft(b"".join((_HDR[n] if n <= 1024 else b"$%d\r\n" % n, v, b"\r\n")))
        db.touch(key, "lpush")
        return len(lst)
    return _push(client, argv, True, False)


@command("rpush", -3, "write denyoom fast", 1, 1, 1, key_specs=_PUSH_SPEC,
         acl="list", group="list",
         summary="Append one or multiple elements to a list",
         complexity="O(1) for each element added, so O(N) to add N elements when the command "
         "is called with multiple arguments.",
         history=(("2.4.0", "Accepts multiple `element` arguments."),),
         args="key element...")
def rpush_command(client: Client, argv: list[bytes]) -> Any:
    """RPUSH key element [element ...]"""
    db = client.db
    key = argv[1]
    lst = db.get(key)
    if type(lst) is _LIST and len(argv) == 3:  # hot path: _push's one-element case, inlined on purpose
        v = argv[2]
        n = len(v)
        lst.append(b"".join((_HDR[n] if n <= 1024 else b"$%d\r\n" % n, v, b"\r\n")))
        db.touch(key, "rpush")
        return len(lst)
    return _push(client, argv, False, False)


@command("lpushx", -3, "write denyoom fast", 1, 1, 1, key_specs=_PUSH_SPEC,
         acl="list", group="list", since="2.2.0",
         summary="Prepend an element to a list, only if the list exists",
         complexity="O(1) for each element added, so O(N) to add N elements when the command "
         "is called with multiple arguments.",
         history=(("4.0.0", "Accepts multiple `element` arguments."),),
         args="key element...")
def lpushx_command(client: Client, argv: list[bytes]) -> Any:
    """LPUSHX key element [element ...]"""
    return _push(client, argv, True, True)


@command("rpushx", -3, "write denyoom fast", 1, 1, 1, key_specs=_PUSH_SPEC,
         acl="list", group="list", since="2.2.0",
         summary="Append an element to a list, only if the list exists",
         complexity="O(1) for each element added, so O(N) to add N elements when the command "
         "is called with multiple arguments.",
         history=(("4.0.0", "Accepts multiple `element` arguments."),),
         args="key element...")
def rpushx_command(client: Client, argv: list[bytes]) -> Any:
    """RPUSHX key element [element ...]"""
    return _push(client, argv, False, True)


# -- pop ----------------------------------------------------------------------------------
def _pop_range(lst: ListValue, where: int, count: int) -> list[bytes]:
    """Pop up to count stored elements from one end, in pop order."""
    n = min(count, len(lst))
    if n == len(lst):
        parts = list(lst) if where == _LEFT else list(reversed(lst))
        lst.clear()
        return parts
    pop = lst.popleft if where == _LEFT else lst.pop
    return [pop() for _ in range(n)]


def _pop(client, argv: list[bytes], where: int) -> Any:
    if len(argv) > 3:
        raise CommandError(wrong_arity(argv[0].decode("utf-8", "replace").lower()))
    has_count = len(argv) == 3
    count = 0
    if has_count:
        count = parse_int(argv[2], NEGATIVE_COUNT)
        if count < 0:
            raise CommandError(NEGATIVE_COUNT)
    db = client.db
    key = argv[1]
    lst = _get_list(db, key)
    if lst is None:
        return NULL_ARRAY if has_count else None
    if not has_count:
        e = lst.popleft() if where == _LEFT else lst.pop()
        touch_or_delete(db, key, lst, _POP_EVENT[where])
        return Raw(e)
    if count == 0:
        return _EMPTY
    parts = _pop_range(lst, where, count)
    touch_or_delete(db, key, lst, _POP_EVENT[where])
    return Raw(b"".join([_array_header(len(parts)), *parts]))


@command("lpop", -2, "write fast", 1, 1, 1, key_specs=_POP_SPEC,
         acl="list", group="list",
         summary="Remove and get the first elements in a list",
         complexity="O(N) where N is the number of elements returned",
         history=(("6.2.0", "Added the `count` argument."),),
         args="key [count:int@6.2.0]")
def lpop_command(client: Client, argv: list[bytes]) -> Any:
    """LPOP key [count]"""
    if len(argv) == 2:  # hot path: the no-count pop of _pop, inlined on purpose
        db = client.db
        key = argv[1]
        lst = db.get(key)
        if lst is None:
            return None
        if type(lst) is not _LIST:
            raise CommandError(WRONGTYPE)
        e = lst.popleft()
        db.touch(key, "lpop")
        if not lst:
            db.delete(key)
        return Raw(e)
    return _pop(client, argv, _LEFT)


@command("rpop", -2, "write fast", 1, 1, 1, key_specs=_POP_SPEC,
         acl="list", group="list",
         summary="Remove and get the last elements in a list",
         complexity="O(N) where N is the number of elements returned",
         history=(("6.2.0", "Added the `count` argument."),),
         args="key [count:int@6.2.0]")
def rpop_command(client: Client, argv: list[bytes]) -> Any:
    """RPOP key [count]"""
    if len(argv) == 2:  # hot path: the no-count pop of _pop, inlined on purpose
        db = client.db
        key = argv[1]
        lst = db.get(key)
        if lst is None:
            return None
        if type(lst) is not _LIST:
            raise CommandError(WRONGTYPE)
        e = lst.pop()
        db.touch(key, "rpop")
        if not lst:
            db.delete(key)
        return Raw(e)
    return _pop(client, argv, _RIGHT)


# -- reads --------------------------------------------------------------------------------
@command("llen", 2, "readonly fast", 1, 1, 1, key_specs=(_spec(1, "RO"),),
         acl="list", group="list",
         summary="Get the length of a list",
         args="key")
def llen_command(client: Client, argv: list[bytes]) -> Any:
    """LLEN key"""
    lst = _get_list(client.db, argv[1])
    return 0 if lst is None else len(lst)


def _range_parts(lst: ListValue, start: int, end: int) -> list[bytes] | None:
    """Stored elements start..end (inclusive, negative from the tail), None if empty. The
    array header comes first."""
    n = len(lst)
    if start < 0:
        start += n
    if end < 0:
        end += n
    start = max(start, 0)
    if start > end or start >= n:
        return None
    if end >= n:
        end = n - 1
    header = _array_header(end - start + 1)
    if start == 0 and end == n - 1:
        packed = lst.packed
        if packed is not None:  # a compact list is its LRANGE reply's body
            return [header, packed]
        parts = list(lst)
    elif start > n - 1 - end:  # nearer to the tail: walk from there
        parts = list(islice(reversed(lst), n - 1 - end, n - start))
        parts.reverse()
    else:
        parts = list(islice(lst, start, end + 1))
    parts.insert(0, header)
    return parts


@command("lrange", 4, "readonly", 1, 1, 1, key_specs=_READ_SPEC,
         acl="list", group="list",
         summary="Get a range of elements from a list",
         complexity="O(S+N) where S is the distance of start offset from HEAD for small lists, "
         "from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in "
         "the specified range.",
         args="key start:int stop:int")
def lrange_command(client: Client, argv: list[bytes]) -> Any:
    """LRANGE key start stop"""
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    lst = _get_list(client.db, argv[1])
    if lst is None:
        return _EMPTY
    parts = _range_parts(lst, start, end)
    if parts is None:
        return _EMPTY
    return Raw(b"".join(parts))


@command("lindex", 3, "readonly", 1, 1, 1, key_specs=_READ_SPEC,
         acl="list", group="list",
         summary="Get an element from a list by its index",
         complexity="O(N) where N is the number of elements to traverse to get to the element "
         "at index. This makes asking for the first or the last element of the list O(1).",
         args="key index:int")
def lindex_command(client: Client, argv: list[bytes]) -> Any:
    """LINDEX key index"""
    lst = _get_list(client.db, argv[1])
    if lst is None:
        return None
    index = parse_int(argv[2])
    n = len(lst)
    if index < 0:
        index += n
    if not 0 <= index < n:
        return None
    return Raw(lst[index])


@command("lpos", -3, "readonly", 1, 1, 1, key_specs=_READ_SPEC,
         acl="list", group="list", since="6.0.6",
         summary="Return the index of matching elements on a list",
         complexity="O(N) where N is the number of elements in the list, for the average case. "
         "When searching for elements near the head or the tail of the list, or when the MAXLEN "
         "option is provided, the command may run in constant time.",
         args="key element [RANK rank:int] [COUNT num-matches:int] [MAXLEN len:int]")
def lpos_command(client: Client, argv: list[bytes]) -> Any:
    """LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]"""
    rank = 1
    count = -1
    maxlen = 0
    j = 3
    argc = len(argv)
    while j < argc:
        opt = argv[j].lower()
        more = argc - 1 - j
        if opt == b"rank" and more:
            j += 1
            rank = parse_int(argv[j])
            if rank == 0:
                raise CommandError(RANK_ZERO)
        elif opt == b"count" and more:
            j += 1
            count = parse_int(argv[j], LPOS_COUNT_NEGATIVE)
            if count < 0:
                raise CommandError(LPOS_COUNT_NEGATIVE)
        elif opt == b"maxlen" and more:
            j += 1
            maxlen = parse_int(argv[j], LPOS_MAXLEN_NEGATIVE)
            if maxlen < 0:
                raise CommandError(LPOS_MAXLEN_NEGATIVE)
        else:
            raise CommandError(SYNTAX)
        j += 1
    from_tail = rank < 0
    if from_tail:
        # Negating LLONG_MIN wraps to itself in Redis: then every match qualifies.
        rank = -rank if rank != LLONG_MIN else LLONG_MIN
    lst = _get_list(client.db, argv[1])
    if lst is None:
        return [] if count != -1 else None
    target = encode_element(argv[2])
    n = len(lst)
    found: list[int] = []
    matches = 0
    scan = islice(reversed(lst) if from_tail else lst, maxlen or None)
    for i, e in enumerate(scan):
        if e == target:
            matches += 1
            if matches >= rank:
                found.append(n - 1 - i if from_tail else i)
                if count == -1 or (count and _wrap64(matches - rank + 1) >= count):
                    break
    if count != -1:
        return found
    return found[0] if found else None


# -- in-place changes ---------------------------------------------------------------------
@command("lset", 4, "write denyoom", 1, 1, 1, key_specs=(_spec(1, "RW", "update"),),
         acl="list", group="list",
         summary="Set the value of an element in a list by its index",
         complexity="O(N) where N is the length of the list. Setting either the first or the "
         "last element of the list is O(1).",
         args="key index:int element")
def lset_command(client: Client, argv: list[bytes]) -> Any:
    """LSET key index element"""
    db = client.db
    key = argv[1]
    lst = _get_list(db, key)
    if lst is None:
        raise CommandError(NO_SUCH_KEY)
    index = parse_int(argv[2])
    n = len(lst)
    if index < 0:
        index += n
    if not 0 <= index < n:
        raise CommandError(INDEX_OUT_OF_RANGE)
    lst[index] = encode_element(argv[3])
    db.touch(key, "lset")
    return OK


@command("linsert", 5, "write denyoom", 1, 1, 1, key_specs=_PUSH_SPEC,
         acl="list", group="list", since="2.2.0",
         summary="Insert an element before or after another element in a list",
         complexity="O(N) where N is the number of elements to traverse before seeing the value "
         "pivot. This means that inserting somewhere on the left end on the list (head) can be "
         "considered O(1) and inserting somewhere on the right end (tail) is O(N).",
         args="key where=(BEFORE | AFTER) pivot element")
def linsert_command(client: Client, argv: list[bytes]) -> Any:
    """LINSERT key <BEFORE | AFTER> pivot element"""
    where = argv[2].lower()
    if where == b"after":
        after = True
    elif where == b"before":
        after = False
    else:
        raise CommandError(SYNTAX)
    db = client.db
    key = argv[1]
    lst = _get_list(db, key)
    if lst is None:
        return 0
    try:
        i = lst.index(encode_element(argv[3]))
    except ValueError:
        return -1
    lst.insert(i + 1 if after else i, encode_element(argv[4]))
    db.touch(key, "linsert")
    return len(lst)


@command("lrem", 4, "write", 1, 1, 1, key_specs=(_spec(1, "RW", "delete"),),
         acl="list", group="list",
         summary="Remove elements from a list",
         complexity="O(N+M) where N is the length of the list and M is the number of elements "
         "removed.",
         args="key count:int element")
def lrem_command(client: Client, argv: list[bytes]) -> Any:
    """LREM key count element"""
    toremove = parse_int(argv[2])
    db = client.db
    key = argv[1]
    lst = _get_list(db, key)
    if lst is None:
        return 0
    target = encode_element(argv[3])
    n = len(lst)
    if toremove == 0:
        kept = [e for e in lst if e != target]
    else:
        limit = abs(toremove)
        src = reversed(lst) if toremove < 0 else iter(lst)
        kept = []
        removed = 0
        for e in src:
            if removed < limit and e == target:
                removed += 1
            else:
                kept.append(e)
        if toremove < 0:
            kept.reverse()
    removed = n - len(kept)
    if removed:
        lst.clear()
        lst.extend(kept)
        touch_or_delete(db, key, lst, "lrem")
    return removed


@command("ltrim", 4, "write", 1, 1, 1, key_specs=(_spec(1, "RW", "delete"),),
         acl="list", group="list",
         summary="Trim a list to the specified range",
         complexity="O(N) where N is the number of elements to be removed by the operation.",
         args="key start:int stop:int")
def ltrim_command(client: Client, argv: list[bytes]) -> Any:
    """LTRIM key start stop"""
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    db = client.db
    key = argv[1]
    lst = _get_list(db, key)
    if lst is None:
        return OK
    n = len(lst)
    if start < 0:
        start += n
    if end < 0:
        end += n
    start = max(start, 0)
    if start > end or start >= n:
        lst.clear()
    else:
        if end >= n:
            end = n - 1
        ltrim = start
        rtrim = n - end - 1
        if ltrim + rtrim <= end - start + 1:
            for _ in range(ltrim):
                lst.popleft()
            for _ in range(rtrim):
                lst.pop()
        else:
            kept = list(islice(lst, start, end + 1))
            lst.clear()
            lst.extend(kept)
    # Redis notifies "ltrim" even when nothing was removed, but counts (and so propagates)
    # only removals.
    touch_or_delete(db, key, lst, "ltrim", dirty=n - len(lst))
    return OK


# -- move ---------------------------------------------------------------------------------
def _move(client, src_key: bytes, dst_key: bytes, wherefrom: int, whereto: int) -> Raw | None:
    """Pop from src_key and push to dst_key; None if src is missing (WRONGTYPE checked)."""
    db = client.db
    src = _get_list(db, src_key)
    if src is None:
        return None
    dst = _get_list(db, dst_key)
    e = src.popleft() if wherefrom == _LEFT else src.pop()
    created = dst is None
    if dst is None:
        dst = _LIST()
    if whereto == _LEFT:
        dst.appendleft(e)
    else:
        dst.append(e)
    # As Redis: the push on the destination is notified first, then the source's pop.
    push = "lpush" if whereto == _LEFT else "rpush"
    if created:
        db.set(dst_key, dst, kind=push)
    else:
        db.touch(dst_key, push)
    touch_or_delete(db, src_key, src, _POP_EVENT[wherefrom])
    return Raw(e)


@command("lmove", 5, "write denyoom", 1, 2, 1, key_specs=_MOVE_SPEC,
         acl="list", group="list", since="6.2.0",
         summary="Pop an element from a list, push it to another list and return it",
         args="source:key destination:key1 wherefrom=(LEFT | RIGHT) whereto=(LEFT | RIGHT)")
def lmove_command(client: Client, argv: list[bytes]) -> Any:
    """LMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT>"""
    wherefrom = _where(argv[3])
    whereto = _where(argv[4])
    return _move(client, argv[1], argv[2], wherefrom, whereto)


@command("rpoplpush", 3, "write denyoom", 1, 2, 1, key_specs=_MOVE_SPEC,
         acl="list", group="list", since="1.2.0",
         summary="Remove the last element in a list, prepend it to another list and return it",
         deprecated_since="6.2.0", replaced_by="`LMOVE` with the `RIGHT` and `LEFT` arguments",
         doc_flags=("deprecated",),
         args="source:key destination:key1")
def rpoplpush_command(client: Client, argv: list[bytes]) -> Any:
    """RPOPLPUSH source destination"""
    return _move(client, argv[1], argv[2], _RIGHT, _LEFT)


# -- multi-key pops ---------------------------------------------------------------------
def _mpop_keys(argv: list[bytes], numkeys_idx: int) -> list[int]:
    """Key positions of LMPOP/BLMPOP (for COMMAND GETKEYS and ACLs); tolerant of bad input."""
    try:
        numkeys = int(argv[numkeys_idx])
    except (ValueError, IndexError):
        return []
    if numkeys <= 0:
        return []
    first = numkeys_idx + 1
    return list(range(first, min(first + numkeys, len(argv))))


def _parse_mpop(argv: list[bytes], numkeys_idx: int) -> tuple[list[bytes], int, int]:
    """(keys, where, count) of LMPOP/BLMPOP, with Redis's errors in Redis's order."""
    numkeys = parse_int(argv[numkeys_idx], MPOP_NUMKEYS)
    if numkeys < 1:
        raise CommandError(MPOP_NUMKEYS)
    where_idx = numkeys_idx + numkeys + 1
    argc = len(argv)
    if where_idx >= argc:
        raise CommandError(SYNTAX)
    where = _where(argv[where_idx])
    count = -1
    j = where_idx + 1
    while j < argc:
        if count == -1 and argv[j].lower() == b"count" and j < argc - 1:
            j += 1
            count = parse_int(argv[j], MPOP_COUNT)
            if count < 1:
                raise CommandError(MPOP_COUNT)
        else:
            raise CommandError(SYNTAX)
        j += 1
    return argv[numkeys_idx + 1:where_idx], where, 1 if count == -1 else count


def _mpop_from(client, key: bytes, lst: ListValue, where: int, count: int) -> Raw:
    """Pop up to count from lst at key; reply [key, [elements]] and propagate [LR]POP key n."""
    parts = _pop_range(lst, where, count)
    touch_or_delete(client.db, key, lst, _POP_EVENT[where])
    n = len(parts)
    client.propagate([b"LPOP" if where == _LEFT else b"RPOP", key, b"%d" % n])
    return Raw(b"".join((_ARR2, encode_element(key), _array_header(n), *parts)))


def _mpop_first(client, keys: list[bytes], where: int, count: int) -> Raw | None:
    db = client.db
    for key in keys:
        lst = _get_list(db, key)
        if lst:
            return _mpop_from(client, key, lst, where, count)
    return None


@command("lmpop", -4, "write", key_specs=(KeySpec(("index", 1), ("keynum", 0, 1, 1), ("RW", "access", "delete")),),
         acl="list", group="list", since="7.0.0",
         summary="Pop elements from a list",
         complexity="O(N+M) where N is the number of provided keys and M is the number of "
         "elements returned.", get_keys=lambda argv: _mpop_keys(argv, 1),
         args="numkeys:int key... where=(LEFT | RIGHT) [COUNT count:int]")
def lmpop_command(client: Client, argv: list[bytes]) -> Any:
    """LMPOP numkeys key [key ...] <LEFT | RIGHT> [COUNT count]"""
    keys, where, count = _parse_mpop(argv, 1)
    reply = _mpop_first(client, keys, where, count)
    return NULL_ARRAY if reply is None else reply


# -- blocking -------------------------------------------------------------------------------
def _bpop_reply(client, key: bytes, lst: ListValue, where: int) -> Raw:
    """Pop one element for BLPOP/BRPOP: reply [key, element], propagate [LR]POP key."""
    e = lst.popleft() if where == _LEFT else lst.pop()
    touch_or_delete(client.db, key, lst, _POP_EVENT[where])
    client.propagate([b"LPOP" if where == _LEFT else b"RPOP", key])
    return Raw(b"".join((_ARR2, encode_element(key), e)))


def _blocking_pop(client, argv: list[bytes], keys: list[bytes], where: int, timeout_arg: bytes) -> Any:
    timeout = blocking.parse_timeout(timeout_arg)
    db = client.db
    for key in keys:
        lst = _get_list(db, key)
        if lst:
            return _bpop_reply(client, key, lst, where)
    if not blocking.may_block(client):
        return NULL_ARRAY

    def on_ready(c, key: bytes) -> Raw | None:
        lst = c.db.get(key)
        if type(lst) is not _LIST or not lst:
            return None
        return _bpop_reply(c, key, lst, where)

    return blocking.block_client(client, argv, keys, timeout, on_ready)


@command("blpop", -3, "write noscript blocking", 1, -2, 1, key_specs=(_spec(1, "RW", "access", "delete", lastkey=-2),),
         acl="list", group="list",
         since="2.0.0", summary="Remove and get the first element in a list, or block until "
         "one is available", complexity="O(N) where N is the number of provided keys.",
         history=(("6.0.0", "`timeout` is interpreted as a double instead of an integer."),),
         args="key... timeout:double")
def blpop_command(client: Client, argv: list[bytes]) -> Any:
    """BLPOP key [key ...] timeout"""
    return _blocking_pop(client, argv, argv[1:-1], _LEFT, argv[-1])


@command("brpop", -3, "write noscript blocking", 1, -2, 1, key_specs=(_spec(1, "RW", "access", "delete", lastkey=-2),),
         acl="list", group="list",
         since="2.0.0", summary="Remove and get the last element in a list, or block until "
         "one is available", complexity="O(N) where N is the number of provided keys.",
         history=(("6.0.0", "`timeout` is interpreted as a double instead of an integer."),),
         args="key... timeout:double")
def brpop_command(client: Client, argv: list[bytes]) -> Any:
    """BRPOP key [key ...] timeout"""
    return _blocking_pop(client, argv, argv[1:-1], _RIGHT, argv[-1])


def _blocking_move(client, argv: list[bytes], src_key: bytes, dst_key: bytes, wherefrom: int,
                   whereto: int, timeout_arg: bytes, propagate_as: list[bytes]) -> Any:
    timeout = blocking.parse_timeout(timeout_arg)
    if _get_list(client.db, src_key) is not None:
        reply = _move(client, src_key, dst_key, wherefrom, whereto)
        client.propagate(propagate_as)
        return reply
    if not blocking.may_block(client):
        return None

    def on_ready(c, key: bytes) -> Raw | None:
        src = c.db.get(key)
        if type(src) is not _LIST or not src:
            return None
        reply = _move(c, src_key, dst_key, wherefrom, whereto)
        c.propagate(propagate_as)
        return reply

    return blocking.block_client(client, argv, [src_key], timeout, on_ready)


@command("blmove", 6, "write denyoom noscript blocking", 1, 2, 1, key_specs=_MOVE_SPEC,
         acl="list", group="list",
         since="6.2.0", summary="Pop an element from a list, push it to another list and return "
         "it; or block until one is available",
         args="source:key destination:key1 wherefrom=(LEFT | RIGHT) whereto=(LEFT | RIGHT) "
              "timeout:double")
def blmove_command(client: Client, argv: list[bytes]) -> Any:
    """BLMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout"""
    wherefrom = _where(argv[3])
    whereto = _where(argv[4])
    return _blocking_move(client, argv, argv[1], argv[2], wherefrom, whereto, argv[5],
                          [b"LMOVE", argv[1], argv[2], _SIDE[wherefrom], _SIDE[whereto]])


@command("brpoplpush", 4, "write denyoom noscript blocking", 1, 2, 1, key_specs=_MOVE_SPEC,
         acl="list", group="list",
         since="2.2.0", summary="Pop an element from a list, push it to another list and return "
         "it; or block until one is available", deprecated_since="6.2.0",
         replaced_by="`BLMOVE` with the `RIGHT` and `LEFT` arguments", doc_flags=("deprecated",),
         history=(("6.0.0", "`timeout` is interpreted as a double instead of an integer."),),
         args="source:key destination:key1 timeout:double")
def brpoplpush_command(client: Client, argv: list[bytes]) -> Any:
    """BRPOPLPUSH source destination timeout"""
    return _blocking_move(client, argv, argv[1], argv[2], _RIGHT, _LEFT, argv[3],
                          [b"RPOPLPUSH", argv[1], argv[2]])


@command("blmpop", -5, "write blocking", key_specs=(KeySpec(("index", 2), ("keynum", 0, 1, 1), ("RW", "access", "delete")),),
         acl="list", group="list", since="7.0.0",
         summary="Pop elements from a list, or block until one is available",
         complexity="O(N+M) where N is the number of provided keys and M is the number of "
         "elements returned.", get_keys=lambda argv: _mpop_keys(argv, 2),
         args="timeout:double numkeys:int key... where=(LEFT | RIGHT) [COUNT count:int]")
def blmpop_command(client: Client, argv: list[bytes]) -> Any:
    """BLMPOP timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]"""
    keys, where, count = _parse_mpop(argv, 2)
    timeout = blocking.parse_timeout(argv[1])
    reply = _mpop_first(client, keys, where, count)
    if reply is not None:
        return reply
    if not blocking.may_block(client):
        return NULL_ARRAY

    def on_ready(c, key: bytes) -> Raw | None:
        lst = c.db.get(key)
        if type(lst) is not _LIST or not lst:
            return None
        return _mpop_from(c, key, lst, where, count)

    return blocking.block_client(client, argv, keys, timeout, on_ready)
