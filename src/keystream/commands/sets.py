"""Set commands (t_set.c): SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS SRANDMEMBER SPOP
SMOVE SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE SSCAN, as Redis 7.0.

Values are `Set` objects (a Python set of bytes) that track the intset/hashtable encoding
Redis 7.0 would use (see `keyspace.datatypes.set`); intset-encoded sets reply in ascending
numeric order, as Redis's do, and SSCAN returns them whole in one call. Sets built by the
*STORE commands and SPOP's rebuild get the encoding of a set built from scratch.

SPOP with a count propagates as one SREM per popped member (or DEL when it empties the
set), as Redis does. Deliberate difference: SRANDMEMBER with a negative count refuses
counts whose reply could not fit in memory (|count| > 2**32) with "value is out of range".
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from keystream.commands.registry import command, key_spec, keynum_spec
from keystream.commands.util import (
    parse_cursor,
    parse_int,
    parse_scan_options,
    random_element,
    touch_or_delete,
)
from keystream.keyspace.datatypes.set import Set, is_int_member
from keystream.keyspace.glob import compile_matcher
from keystream.keyspace.scan import CURSORS
from keystream.resp import errors
from keystream.resp.errors import WRONGTYPE, CommandError
from keystream.resp.writer import SetReply

if TYPE_CHECKING:
    from keystream.client import Client

_LONG_MAX = 2**63 - 1
# Beyond this many elements a reply cannot be built in memory (see the module header).
_MAX_REPLY_COUNT = 2**32
# As Redis: SPOP rebuilds the set from the members it keeps when it pops most of them.
_SPOP_MOVE_STRATEGY_MUL = 5

_ORDER_TIPS = ("nondeterministic_output_order",)
_RANDOM_TIPS = ("nondeterministic_output",)


def _read(client, key: bytes) -> Set | None:
    """The set at key, None if missing; WRONGTYPE for another type."""
    s = client.db.get(key)
    if s is not None and type(s) is not Set:
        raise CommandError(WRONGTYPE)
    return s


def _max_intset(client) -> int:
    return client.engine.config.values["set-max-intset-entries"]


_RO_ACCESS = (key_spec(1, "RO", "access"),)


@command("sadd", -3, "write denyoom fast", 1, 1, 1, acl="set", group="set",
         summary="Add one or more members to a set", since="1.0.0",
         complexity="O(1) for each element added, so O(N) to add N elements when the command "
                    "is called with multiple arguments.",
         history=(("2.4.0", "Accepts multiple `member` arguments."),),
         key_specs=(key_spec(1, "RW", "insert"),),
         args="key member...")
def sadd_command(client: Client, argv: list[bytes]) -> Any:
    """SADD key member [member ...]"""
    db = client.db
    key = argv[1]
    s = db.get(key)
    if s is None:
        s = Set()
        added = s.add_members(argv[2:], client.engine.config.values["set-max-intset-entries"])
        db.set(key, s, kind="sadd")
        return added
    if type(s) is not Set:
        raise CommandError(WRONGTYPE)
    if len(argv) == 3:
        member = argv[2]
        if member in s:
            return 0
        s.add(member)
        s.fit()
        if not s.big and (not is_int_member(member)
                          or len(s) > client.engine.config.values["set-max-intset-entries"]):
            s.big = True
        db.touch(key, "sadd")
        return 1
    added = s.add_members(argv[2:], client.engine.config.values["set-max-intset-entries"])
    if added:
        db.touch(key, "sadd")
    return added


@command("srem", -3, "write fast", 1, 1, 1, acl="set", group="set",
         summary="Remove one or more members from a set", since="1.0.0",
         complexity="O(N) where N is the number of members to be removed.",
         history=(("2.4.0", "Accepts multiple `member` arguments."),),
         key_specs=(key_spec(1, "RW", "delete"),),
         args="key member...")
def srem_command(client: Client, argv: list[bytes]) -> Any:
    """SREM key member [member ...]"""
    key = argv[1]
    s = _read(client, key)
    if s is None:
        return 0
    n = len(s)
    s.difference_update(argv[2:])
    deleted = n - len(s)
    if deleted:
        touch_or_delete(client.db, key, s, "srem")
    return deleted


@command("scard", 2, "readonly fast", 1, 1, 1, acl="set", group="set",
         summary="Get the number of members in a set", since="1.0.0",
         args="key")
def scard_command(client: Client, argv: list[bytes]) -> Any:
    """SCARD key"""
    s = _read(client, argv[1])
    return 0 if s is None else len(s)


@command("sismember", 3, "readonly fast", 1, 1, 1, acl="set", group="set",
         summary="Determine if a given value is a member of a set", since="1.0.0",
         args="key member")
def sismember_command(client: Client, argv: list[bytes]) -> Any:
    """SISMEMBER key member"""
    s = _read(client, argv[1])
    return 1 if s is not None and argv[2] in s else 0


@command("smismember", -3, "readonly fast", 1, 1, 1, acl="set", group="set",
         summary="Returns the membership associated with the given elements for a set",
         since="6.2.0",
         complexity="O(N) where N is the number of elements being checked for membership",
         key_specs=_RO_ACCESS,
         args="key member...")
def smismember_command(client: Client, argv: list[bytes]) -> Any:
    """SMISMEMBER key member [member ...]"""
    s = _read(client, argv[1])
    if s is None:
        return [0] * (len(argv) - 2)
    return [1 if m in s else 0 for m in argv[2:]]


@command("smembers", 2, "readonly", 1, 1, 1, acl="set", group="set",
         summary="Get all the members in a set", since="1.0.0",
         complexity="O(N) where N is the set cardinality.", tips=_ORDER_TIPS,
         key_specs=_RO_ACCESS,
         args="key")
def smembers_command(client: Client, argv: list[bytes]) -> Any:
    """SMEMBERS key"""
    s = _read(client, argv[1])
    return SetReply() if s is None else SetReply(s.ordered())


@command("srandmember", -2, "readonly", 1, 1, 1, acl="set", group="set",
         summary="Get one or multiple random members from a set", since="1.0.0",
         complexity="Without the count argument O(1), otherwise O(N) where N is the absolute "
                    "value of the passed count.",
         tips=_RANDOM_TIPS, history=(("2.6.0", "Added the optional `count` argument."),),
         key_specs=_RO_ACCESS,
         args="key [count:int@2.6.0]")
def srandmember_command(client: Client, argv: list[bytes]) -> Any:
    """SRANDMEMBER key [count]"""
    n = len(argv)
    if n > 3:
        raise CommandError(errors.SYNTAX)
    if n == 2:
        s = _read(client, argv[1])
        return None if s is None else random_element(s)
    count = parse_int(argv[2])
    if count < -_LONG_MAX:
        raise CommandError(errors.LONG_RANGE)
    s = _read(client, argv[1])
    if s is None or count == 0:
        return []
    if count < 0:
        if -count > _MAX_REPLY_COUNT:
            raise CommandError(errors.VALUE_OUT_OF_RANGE)
        return random.choices(list(s), k=-count)
    if count >= len(s):
        return s.ordered()
    return random.sample(list(s), count)


@command("spop", -2, "write fast", 1, 1, 1, acl="set", group="set",
         summary="Remove and return one or multiple random members from a set", since="1.0.0",
         complexity="Without the count argument O(1), otherwise O(N) where N is the value of "
                    "the passed count.",
         tips=_RANDOM_TIPS, history=(("3.2.0", "Added the `count` argument."),),
         key_specs=(key_spec(1, "RW", "access", "delete"),),
         args="key [count:int@3.2.0]")
def spop_command(client: Client, argv: list[bytes]) -> Any:
    """SPOP key [count]"""
    n = len(argv)
    if n > 3:
        raise CommandError(errors.SYNTAX)
    key = argv[1]
    db = client.db
    if n == 2:
        s = _read(client, key)
        if s is None:
            return None
        member = random_element(s)
        s.discard(member)
        client.propagate([b"SREM", key, member])
        touch_or_delete(db, key, s, "spop")
        return member
    count = parse_int(argv[2], errors.NEGATIVE_COUNT)
    if count < 0:
        raise CommandError(errors.NEGATIVE_COUNT)
    s = _read(client, key)
    if s is None or count == 0:
        return SetReply()
    size = len(s)
    if count >= size:
        popped = Set.build(s, _max_intset(client)).ordered()
        db.touch(key, "spop")
        db.delete(key)
        client.propagate([b"DEL", key])
        return SetReply(popped)
    remaining = size - count
    if remaining * _SPOP_MOVE_STRATEGY_MUL > count:
        popped = random.sample(list(s), count)
        s.difference_update(popped)
        db.touch(key, "spop")
    else:
        kept = random.sample(list(s), remaining)
        popped = list(s.difference(kept))
        db.set(key, Set.build(kept, _max_intset(client)), keep_ttl=True, kind="spop")
    client.propagate(*([b"SREM", key, m] for m in popped))
    return SetReply(popped)


@command("smove", 4, "write fast", 1, 2, 1, acl="set", group="set",
         summary="Move a member from one set to another", since="1.0.0",
         key_specs=(key_spec(1, "RW", "access", "delete"), key_spec(2, "RW", "insert")),
         args="source:key destination:key1 member")
def smove_command(client: Client, argv: list[bytes]) -> Any:
    """SMOVE source destination member"""
    src_key, dst_key, member = argv[1], argv[2], argv[3]
    src = client.db.get(src_key)
    if src is None:
        return 0
    dst = client.db.get(dst_key)
    if type(src) is not Set or (dst is not None and type(dst) is not Set):
        raise CommandError(WRONGTYPE)
    if src is dst:
        return 1 if member in src else 0
    if member not in src:
        return 0
    src.discard(member)
    touch_or_delete(client.db, src_key, src, "srem")
    if dst is None:
        client.db.set(dst_key, Set.build((member,), _max_intset(client)), kind="sadd")
    elif member not in dst:
        dst.add_members((member,), _max_intset(client))
        client.db.touch(dst_key, "sadd")
    return 1


def _read_all(client, keys: list[bytes]) -> list[Set | None]:
    """The sets at keys (None where missing); WRONGTYPE if any key holds another type."""
    get = client.db.get
    sets = []
    for k in keys:
        s = get(k)
        if s is not None and type(s) is not Set:
            raise CommandError(WRONGTYPE)
        sets.append(s)
    return sets


def _present(sets: list[Set | None]) -> list[Set] | None:
    """The sets, or None if one is missing (an empty intersection)."""
    present = [s for s in sets if s is not None]
    return present if len(present) == len(sets) else None


def _intersection(sets: list[Set]) -> list[bytes]:
    """Members of every set, in the iteration order of the smallest one (as Redis)."""
    ordered = sorted(sets, key=len)
    first = ordered[0]
    common = first.intersection(*ordered[1:])
    if not first.big:
        return sorted(common, key=int)
    return list(common)


def _store_result(client, dst: bytes, members, kind: str) -> int:
    """Store members at dst as a new set (write event kind: "sinterstore", ...), or delete
    dst when empty; returns the size."""
    if members:
        s = Set.build(members, _max_intset(client))
        client.db.set(dst, s, kind=kind)
        return len(s)
    client.db.delete(dst)
    return 0


@command("sinter", -2, "readonly", 1, -1, 1, acl="set", group="set",
         summary="Intersect multiple sets", since="1.0.0",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is "
                    "the number of sets.", tips=_ORDER_TIPS,
         key_specs=(key_spec(1, "RO", "access", lastkey=-1),),
         args="key...")
def sinter_command(client: Client, argv: list[bytes]) -> Any:
    """SINTER key [key ...]"""
    sets = _present(_read_all(client, argv[1:]))
    if sets is None:
        return SetReply()
    return SetReply(_intersection(sets))


def _sintercard_keys(argv: list[bytes]) -> list[int]:
    try:
        numkeys = int(argv[1])
    except ValueError:
        return []
    return list(range(2, min(2 + max(numkeys, 0), len(argv))))


@command("sintercard", -3, "readonly", 0, 0, 0, acl="set", group="set",
         summary="Intersect multiple sets and return the cardinality of the result",
         since="7.0.0",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is "
                    "the number of sets.", get_keys=_sintercard_keys,
         key_specs=(keynum_spec(1, "RO", "access"),),
         args="numkeys:int key... [LIMIT limit:int]")
def sintercard_command(client: Client, argv: list[bytes]) -> Any:
    """SINTERCARD numkeys key [key ...] [LIMIT limit]"""
    numkeys = parse_int(argv[1], errors.NUMKEYS_POSITIVE)
    if numkeys < 1:
        raise CommandError(errors.NUMKEYS_POSITIVE)
    if numkeys > len(argv) - 2:
        raise CommandError(errors.NUMKEYS_TOO_MANY)
    limit = 0
    i = 2 + numkeys
    while i < len(argv):
        if argv[i].lower() == b"limit" and i + 1 < len(argv):
            limit = parse_int(argv[i + 1], errors.LIMIT_NEGATIVE)
            if limit < 0:
                raise CommandError(errors.LIMIT_NEGATIVE)
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    sets = _present(_read_all(client, argv[2:2 + numkeys]))
    if sets is None:
        return 0
    ordered = sorted(sets, key=len)
    first, others = ordered[0], ordered[1:]
    if not limit:
        return len(first.intersection(*others))
    found = 0
    for m in first:
        for o in others:
            if m not in o:
                break
        else:
            found += 1
            if found >= limit:
                break
    return found


@command("sinterstore", -3, "write denyoom", 1, -1, 1, acl="set", group="set",
         summary="Intersect multiple sets and store the resulting set in a key", since="1.0.0",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is "
                    "the number of sets.",
         key_specs=(key_spec(1, "RW", "update"), key_spec(2, "RO", "access", lastkey=-1)),
         args="destination:key key:key1...")
def sinterstore_command(client: Client, argv: list[bytes]) -> Any:
    """SINTERSTORE destination key [key ...]"""
    sets = _present(_read_all(client, argv[2:]))
    members = [] if sets is None else _intersection(sets)
    return _store_result(client, argv[1], members, "sinterstore")


def _union(sets: list[Set | None]) -> set[bytes]:
    return set().union(*(s for s in sets if s is not None))


def _diff(sets: list[Set | None]) -> set[bytes]:
    first = sets[0]
    if first is None or any(s is first for s in sets[1:]):
        return set()
    return first.difference(*(s for s in sets[1:] if s is not None))


def _ordered_result(client, members: set[bytes]) -> SetReply:
    """A computed set in the order Redis replies with it (built as a new set)."""
    return SetReply(Set.build(members, _max_intset(client)).ordered())


@command("sunion", -2, "readonly", 1, -1, 1, acl="set", group="set",
         summary="Add multiple sets", since="1.0.0",
         complexity="O(N) where N is the total number of elements in all given sets.",
         tips=_ORDER_TIPS,
         key_specs=(key_spec(1, "RO", "access", lastkey=-1),),
         args="key...")
def sunion_command(client: Client, argv: list[bytes]) -> Any:
    """SUNION key [key ...]"""
    return _ordered_result(client, _union(_read_all(client, argv[1:])))


@command("sunionstore", -3, "write denyoom", 1, -1, 1, acl="set", group="set",
         summary="Add multiple sets and store the resulting set in a key", since="1.0.0",
         complexity="O(N) where N is the total number of elements in all given sets.",
         key_specs=(key_spec(1, "OW", "update"), key_spec(2, "RO", "access", lastkey=-1)),
         args="destination:key key:key1...")
def sunionstore_command(client: Client, argv: list[bytes]) -> Any:
    """SUNIONSTORE destination key [key ...]"""
    return _store_result(client, argv[1], _union(_read_all(client, argv[2:])), "sunionstore")


@command("sdiff", -2, "readonly", 1, -1, 1, acl="set", group="set",
         summary="Subtract multiple sets", since="1.0.0",
         complexity="O(N) where N is the total number of elements in all given sets.",
         tips=_ORDER_TIPS,
         key_specs=(key_spec(1, "RO", "access", lastkey=-1),),
         args="key...")
def sdiff_command(client: Client, argv: list[bytes]) -> Any:
    """SDIFF key [key ...]"""
    return _ordered_result(client, _diff(_read_all(client, argv[1:])))


@command("sdiffstore", -3, "write denyoom", 1, -1, 1, acl="set", group="set",
         summary="Subtract multiple sets and store the resulting set in a key", since="1.0.0",
         complexity="O(N) where N is the total number of elements in all given sets.",
         key_specs=(key_spec(1, "OW", "update"), key_spec(2, "RO", "access", lastkey=-1)),
         args="destination:key key:key1...")
def sdiffstore_command(client: Client, argv: list[bytes]) -> Any:
    """SDIFFSTORE destination key [key ...]"""
    return _store_result(client, argv[1], _diff(_read_all(client, argv[2:])), "sdiffstore")


@command("sscan", -3, "readonly", 1, 1, 1, acl="set", group="set",
         summary="Incrementally iterate Set elements", since="2.8.0",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough "
                    "command calls for the cursor to return back to 0. N is the number of "
                    "elements inside the collection..",
         tips=_RANDOM_TIPS,
         key_specs=_RO_ACCESS,
         args="key cursor:int [MATCH pattern:pattern] [COUNT count:int]")
def sscan_command(client: Client, argv: list[bytes]) -> Any:
    """SSCAN key cursor [MATCH pattern] [COUNT count]"""
    cursor = parse_cursor(argv[2])
    s = _read(client, argv[1])
    if s is None:
        return [b"0", []]
    count, pattern, _ = parse_scan_options(argv, 3)
    if s.big:
        cursor, members = CURSORS.scan(s, cursor, count)
        members = [m for m in members if m in s]
    else:
        # An intset comes back whole in one call, as in Redis.
        cursor, members = 0, s.ordered()
    if pattern is not None:
        match = compile_matcher(pattern)
        members = [m for m in members if match(m)]
    return [b"%d" % cursor, members]
