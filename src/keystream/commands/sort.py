"""SORT and SORT_RO (sort.c), Redis 7.0.

    SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC]
         [ALPHA] [STORE destination]

Sorts the elements of a list, set or sorted set: numerically (each element, or the value
its BY pattern names, read as a C `strtod` double; ties are broken by comparing the
elements' bytes) or with ALPHA by bytes. A BY pattern without `*` (e.g. `nosort`) skips
sorting: lists and sorted sets keep their own order, which DESC reverses; a set is still
sorted ALPHA when the result is stored or a script asks, so replicas agree. Patterns
substitute the element for the first `*`; `key->field` reads a hash field; `GET #` is the
element itself. STORE replaces the destination with a list of the results (a missing GET
value stored as an empty string) or deletes it when the result is empty.

Deliberate difference: ALPHA compares bytes, as Redis does under the C locale (Redis uses
strcoll with the server's locale when not storing).
"""

from __future__ import annotations

import re
from itertools import islice
from typing import TYPE_CHECKING, Any

from keystream.commands.registry import command, key_spec, unknown_spec
from keystream.commands.util import parse_int
from keystream.keyspace.datatypes.hash import Hash
from keystream.keyspace.datatypes.list import ListValue, decode_element
from keystream.keyspace.datatypes.set import Set
from keystream.keyspace.datatypes.zset import ZSet
from keystream.resp.errors import SYNTAX, WRONGTYPE, CommandError

if TYPE_CHECKING:
    from keystream.client import Client

_NOT_DOUBLE = "ERR One or more scores can't be converted into double"
_DBL_MIN = 2.2250738585072014e-308

# What C's strtod accepts after optional leading white space (glibc, "C" locale).
_STRTOD = re.compile(
    rb"[+-]?(?:(?P<dec>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    rb"|(?P<hex>0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?)"
    rb"|(?P<inf>[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
    rb"|(?P<nan>[nN][aA][nN](?:\([0-9A-Za-z_]*\))?))"
)


def strtod_score(text: bytes) -> float | None:
    """text as a sort score the way SORT reads it with strtod, or None when SORT must fail
    (trailing garbage, NaN, overflow or underflow). An empty string is 0."""
    text = text.split(b"\0", 1)[0]  # C stops at the first NUL
    if not text:
        return 0.0
    body = text.lstrip(b" \t\n\v\f\r")
    m = _STRTOD.fullmatch(body)
    if m is None or m.group("nan") is not None:
        return None
    if m.group("inf") is not None:
        return float("-inf") if body[:1] == b"-" else float("inf")
    if m.group("hex") is not None:
        sign = -1.0 if body[:1] == b"-" else 1.0
        digits = m.group("hex")
        try:
            value = sign * float.fromhex(digits.decode())
        except OverflowError:
            return None
        nonzero = any(c not in b"0xX.pP+-" for c in digits.split(b"p")[0].split(b"P")[0])
    else:
        value = float(body)
        mantissa = m.group("dec").split(b"e")[0].split(b"E")[0]
        nonzero = any(c not in b"0." for c in mantissa)
    if value in (float("inf"), float("-inf")):
        return None  # overflow: ERANGE
    if nonzero and abs(value) < _DBL_MIN:
        return None  # underflow: ERANGE
    return value


def _lookup(db, pattern: bytes, element: bytes) -> bytes | None:
    """The value a BY/GET pattern names for element (lookupKeyByPattern), or None."""
    if pattern == b"#":
        return element
    star = pattern.find(b"*")
    if star < 0:
        return None
    arrow = pattern.find(b"->", star + 1)
    if arrow >= 0 and arrow + 2 < len(pattern):
        field: bytes | None = pattern[arrow + 2:]
        key = pattern[:star] + element + pattern[star + 1:arrow]
    else:
        field = None
        key = pattern[:star] + element + pattern[star + 1:]
    value = db.get(key)
    if value is None:
        return None
    if field is not None:
        return value.get(field) if type(value) is Hash else None
    return value if type(value) is bytes else None


def sort_keys(argv: list[bytes]) -> list[int]:
    """Key positions of a SORT call: the sorted key and the last STORE destination."""
    keys = [1]
    store = None
    i = 2
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        if opt == b"limit":
            i += 2
        elif opt in (b"get", b"by"):
            i += 1
        elif opt == b"store" and i + 1 < n:
            store = i + 1
        i += 1
    if store is not None:
        keys.append(store)
    return keys


def _sort(client, argv: list[bytes], readonly: bool):
    desc = alpha = dontsort = False
    limit_start, limit_count = 0, -1
    sortby: bytes | None = None
    storekey: bytes | None = None
    gets: list[bytes] = []
    j = 2
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        left = n - j - 1
        if opt == b"asc":
            desc = False
        elif opt == b"desc":
            desc = True
        elif opt == b"alpha":
            alpha = True
        elif opt == b"limit" and left >= 2:
            limit_start = parse_int(argv[j + 1])
            limit_count = parse_int(argv[j + 2])
            j += 2
        elif not readonly and opt == b"store" and left >= 1:
            storekey = argv[j + 1]
            j += 1
        elif opt == b"by" and left >= 1:
            sortby = argv[j + 1]
            dontsort = b"*" not in sortby
            j += 1
        elif opt == b"get" and left >= 1:
            gets.append(argv[j + 1])
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1

    db = client.db
    value = db.get(argv[1])
    if value is not None and type(value) not in (ListValue, Set, ZSet):
        raise CommandError(WRONGTYPE)
    if value is None:
        value = ListValue()

    if dontsort and type(value) is Set and (storekey is not None or "script" in client.flags):
        # Sets have no order of their own: sort them so replicas and scripts agree.
        dontsort = False
        alpha = True
        sortby = None

    size = len(value)
    start = min(max(limit_start, 0), size)
    count = min(max(limit_count, -1), size)
    end = size - 1 if count < 0 else start + count - 1
    if start >= size:
        start, end = size - 1, size - 2
    end = min(end, size - 1)

    if dontsort and type(value) is not Set:
        # Native order (reversed by DESC), only the LIMIT range.
        if end < start:
            elements: list[bytes] = []
        elif type(value) is ListValue:
            source = map(decode_element, reversed(value)) if desc else value.values()
            elements = list(islice(source, start, end + 1))
        else:
            if desc:
                elements = value.members(size - 1 - end, size - start)
            else:
                elements = value.members(start, end + 1)
            if desc:
                elements.reverse()
        start, end = 0, len(elements) - 1
    else:
        if type(value) is ListValue:
            elements = list(value.values())
        elif type(value) is Set:
            elements = value.ordered()
        else:
            elements = list(value)
        if not dontsort:
            elements = _sorted(db, elements, sortby, alpha, desc)

    selected = elements[start:end + 1] if end >= start else []
    if storekey is None:
        if not gets:
            return selected
        return [_lookup(db, g, e) for e in selected for g in gets]
    if gets:
        out = [_lookup(db, g, e) or b"" for e in selected for g in gets]
    else:
        out = selected
    if out:
        db.set(storekey, ListValue.from_values(out), kind="sortstore")
    else:
        db.delete(storekey)
    return len(out)


def _sorted(db, elements: list[bytes], sortby: bytes | None, alpha: bool, desc: bool) -> list[bytes]:
    keyed: list[tuple[tuple[Any, bytes], bytes]] = []
    if alpha:
        if sortby is None:
            return sorted(elements, reverse=desc)
        for e in elements:
            cmp = _lookup(db, sortby, e)
            keyed.append(((cmp is not None, cmp or b""), e))
    else:
        bad = False
        for e in elements:
            if sortby is None:
                by: bytes | None = e
            else:
                by = _lookup(db, sortby, e)
            score = 0.0
            if by is not None:
                parsed = strtod_score(by)
                if parsed is None:
                    bad = True
                else:
                    score = parsed
            keyed.append(((score, e), e))
        if bad:
            raise CommandError(_NOT_DOUBLE)
    keyed.sort(key=lambda pair: pair[0], reverse=desc)
    return [e for _, e in keyed]


# Redis's key specs of SORT: the sorted key, the keys BY/GET patterns name (known only at run
# time) and the STORE destination (a keyword anywhere among the arguments).
_BY_GET_SPEC = unknown_spec("RO", "access", notes="For the optional BY/GET keyword. It is marked "
                            "'unknown' because the key names derive from the content of the key we sort")
_STORE_SPEC = unknown_spec("OW", "update", notes="For the optional STORE keyword. It is marked "
                           "'unknown' because the keyword can appear anywhere in the argument array")


@command("sort", -2, "write denyoom movablekeys", 1, 1, 1, acl="set sortedset list dangerous", group="generic",
         summary="Sort the elements in a list, set or sorted set",
         complexity="O(N+M*log(M)) where N is the number of elements in the list or set to sort, "
                    "and M the number of returned elements. When the elements are not sorted, "
                    "complexity is O(N).",
         get_keys=sort_keys,
         key_specs=(
             key_spec(1, "RO", "access"),
             _BY_GET_SPEC,
             _STORE_SPEC,
         ),
         args="key [BY pattern:pattern1] [offset_count=LIMIT (offset:int count:int)] [GET "
              "pattern:pattern1...T] order=[ASC | DESC] [sorting=ALPHA] [STORE destination:key2]")
def sort_command(client: Client, argv: list[bytes]) -> Any:
    """SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC]
    [ALPHA] [STORE destination]"""
    return _sort(client, argv, False)


@command("sort_ro", -2, "readonly movablekeys", 1, 1, 1, acl="set sortedset list dangerous", group="generic",
         since="7.0.0", summary="Sort the elements in a list, set or sorted set. Read-only variant "
                                "of SORT.",
         complexity="O(N+M*log(M)) where N is the number of elements in the list or set to sort, "
                    "and M the number of returned elements. When the elements are not sorted, "
                    "complexity is O(N).",
         get_keys=sort_keys,
         key_specs=(
             key_spec(1, "RO", "access"),
             _BY_GET_SPEC,
         ),
         args="key [BY pattern:pattern1] [offset_count=LIMIT (offset:int count:int)] [GET "
              "pattern:pattern1...T] order=[ASC | DESC] [sorting=ALPHA]")
def sort_ro_command(client: Client, argv: list[bytes]) -> Any:
    """SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC]
    [ALPHA]"""
    return _sort(client, argv, True)
