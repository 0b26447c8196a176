"""String commands (t_string.c), Redis 7.0: GET SET SETNX SETEX PSETEX MGET MSET MSETNX
GETSET GETDEL GETEX APPEND STRLEN INCR DECR INCRBY DECRBY INCRBYFLOAT GETRANGE SETRANGE
SUBSTR LCS.

Values are `bytes`. Integers are kept as their decimal text and parsed on each INCR (Redis's
"int" encoding is an internal detail). INCRBYFLOAT computes in exact x87 long-double
arithmetic (`keyspace.datatypes.longdouble`) so its output matches Redis digit for digit.

Propagation follows Redis 7.0: SET/SETEX/PSETEX with an expiry -> `SET key value PXAT ms`;
SET ... GET without expiry -> the same SET without GET; GETSET -> SET; GETDEL -> DEL (or
UNLINK); GETEX -> PEXPIREAT / PERSIST / DEL; INCRBYFLOAT -> `SET key result KEEPTTL`.

Deliberate difference: none known. Keyspace notifications are not sent yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keystream.commands.registry import command, key_spec
from keystream.commands.util import LLONG_MAX, LLONG_MIN, parse_int
from keystream.keyspace.datatypes.longdouble import (
    add_long_double,
    format_long_double_human,
    parse_long_double,
)
from keystream.resp.errors import (
    INVALID_EXPIRE,
    NAN_OR_INF,
    NOT_FLOAT,
    OVERFLOW,
    STRING_TOO_LONG,
    SYNTAX,
    WRONGTYPE,
    CommandError,
    wrong_arity,
)
from keystream.resp.writer import OK, MapReply

if TYPE_CHECKING:
    from keystream.client import Client

_NX = 1
_XX = 2
_GET = 4
_KEEPTTL = 8
_PERSIST = 16
_EX = 32
_PX = 64
_EXAT = 128
_PXAT = 256
_ANY_EXPIRE = _EX | _PX | _EXAT | _PXAT

# option name -> (flag, flags it may not be combined with, takes a value)
_SET_OPTIONS: dict[bytes, tuple[int, int, bool]] = {
    b"nx": (_NX, _XX, False),
    b"xx": (_XX, _NX, False),
    b"get": (_GET, 0, False),
    b"keepttl": (_KEEPTTL, _PERSIST | _ANY_EXPIRE, False),
    b"ex": (_EX, _KEEPTTL | _PERSIST | _EXAT | _PX | _PXAT, True),
    b"px": (_PX, _KEEPTTL | _PERSIST | _EX | _EXAT | _PXAT, True),
    b"exat": (_EXAT, _KEEPTTL | _PERSIST | _EX | _PX | _PXAT, True),
    b"pxat": (_PXAT, _KEEPTTL | _PERSIST | _EX | _EXAT | _PX, True),
}
_GETEX_OPTIONS: dict[bytes, tuple[int, int, bool]] = {
    b"persist": (_PERSIST, _ANY_EXPIRE | _KEEPTTL, False),
    b"ex": _SET_OPTIONS[b"ex"],
    b"px": _SET_OPTIONS[b"px"],
    b"exat": _SET_OPTIONS[b"exat"],
    b"pxat": _SET_OPTIONS[b"pxat"],
}


def _parse_options(argv: list[bytes], start: int, table: dict) -> tuple[int, bytes | None]:
    """Redis's parseExtendedStringArgumentsOrReply: (flags, expire argument or None)."""
    flags = 0
    expire = None
    j = start
    n = len(argv)
    while j < n:
        spec = table.get(argv[j].lower())
        if spec is None or flags & spec[1] or (spec[2] and j == n - 1):
            raise CommandError(SYNTAX)
        flags |= spec[0]
        if spec[2]:
            j += 1
            expire = argv[j]
        j += 1
    return flags, expire


def _expire_at_ms(client, arg: bytes, flags: int, name: str) -> int:
    """Absolute expiry in ms for an EX/PX/EXAT/PXAT argument, validated as Redis does."""
    value = parse_int(arg)
    seconds = flags & (_EX | _EXAT)
    if value <= 0 or (seconds and value > LLONG_MAX // 1000):
        raise CommandError(INVALID_EXPIRE.format(name))
    if seconds:
        value *= 1000
    if flags & (_EX | _PX):
        value += client.engine.cmd_time_ms
    if value > LLONG_MAX:
        raise CommandError(INVALID_EXPIRE.format(name))
    return value


def _get_string(db, key: bytes) -> bytes | None:
    value = db.get(key)
    if value is not None and type(value) is not bytes:
        raise CommandError(WRONGTYPE)
    return value


def _check_length(client, size: int, append: int) -> None:
    if size + append > client.engine.config["proto-max-bulk-len"]:
        raise CommandError(STRING_TOO_LONG)


# Redis 7 key specs (COMMAND INFO) shared by several commands.
_RO = (key_spec(1, "RO", "access"),)
_RW_UPDATE = (key_spec(1, "RW", "access", "update"),)
_OW_UPDATE = (key_spec(1, "OW", "update"),)


def _set_key_flags(argv: list[bytes]) -> tuple[str, ...]:
    """SET's key is read too only with GET (COMMAND GETKEYSANDFLAGS)."""
    if any(a.lower() == b"get" for a in argv[3:]):
        return ("RW", "access", "update")
    return ("OW", "update")


@command("get", 2, "readonly fast", 1, 1, 1, acl="string", group="string",
         key_specs=_RO,
         summary="Get the value of a key",
         args="key")
def get_command(client: Client, argv: list[bytes]) -> Any:
    """GET key"""
    value = client.db.get(argv[1])
    if value is not None and type(value) is not bytes:
        raise CommandError(WRONGTYPE)
    return value


@command("set", -3, "write denyoom", 1, 1, 1, acl="string", group="string",
         key_specs=(key_spec(1, "RW", "access", "update", "variable_flags",
                             notes="RW and ACCESS due to the optional `GET` argument"),),
         key_flags=_set_key_flags,
         summary="Set the string value of a key",
         args="key value condition=[NX | XX]@2.6.12 [GET@6.2.0] expiration=[EX seconds:int@2.6.12 "
              "| PX milliseconds:int@2.6.12 | EXAT unix-time-seconds:time@6.2.0 | PXAT "
              "unix-time-milliseconds:time@6.2.0 | KEEPTTL@6.0.0]",
         history=(
             ("2.6.12", "EX, PX, NX and XX."),
             ("6.0.0", "KEEPTTL."),
             ("6.2.0", "GET, EXAT and PXAT."),
             ("7.0.0", "NX and GET together."),
         ))
def set_command(client: Client, argv: list[bytes]) -> Any:
    """SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT
    unix-time-milliseconds | KEEPTTL]"""
    if len(argv) == 3:
        client.db.set(argv[1], argv[2])
        return OK
    flags, expire = _parse_options(argv, 3, _SET_OPTIONS)
    return _set_generic(client, argv, "set", flags, argv[2], expire)


def _set_generic(client, argv: list[bytes], name: str, flags: int, value: bytes,
                 expire: bytes | None) -> bytes | None:
    """setGenericCommand: the shared body of SET (with options), SETEX and PSETEX."""
    db = client.db
    key = argv[1]
    when = _expire_at_ms(client, expire, flags, name) if expire is not None else 0
    if flags & _GET:
        old = _get_string(db, key)
        found = old is not None
    else:
        old = None
        found = db.get(key) is not None
    if (flags & _NX and found) or (flags & _XX and not found):
        return old
    db.set(key, value, keep_ttl=bool(flags & _KEEPTTL))
    if expire is not None:
        db.set_expire(key, when)
        client.propagate([b"SET", key, value, b"PXAT", b"%d" % when])
    elif flags & _GET:
        client.propagate([a for i, a in enumerate(argv) if i < 3 or a.lower() != b"get"])
    return old if flags & _GET else OK


@command("setnx", 3, "write denyoom fast", 1, 1, 1, acl="string", group="string",
         key_specs=(key_spec(1, "OW", "insert"),),
         summary="Set the value of a key, only if the key does not exist",
         args="key value")
def setnx_command(client: Client, argv: list[bytes]) -> Any:
    """SETNX key value"""
    db = client.db
    if db.get(argv[1]) is not None:
        return 0
    db.set(argv[1], argv[2])
    return 1


@command("setex", 4, "write denyoom", 1, 1, 1, acl="string", group="string", since="2.0.0",
         key_specs=_OW_UPDATE,
         summary="Set the value and expiration of a key",
         args="key seconds:int value")
def setex_command(client: Client, argv: list[bytes]) -> Any:
    """SETEX key seconds value"""
    return _set_generic(client, argv, "setex", _EX, argv[3], argv[2])


@command("psetex", 4, "write denyoom", 1, 1, 1, acl="string", group="string", since="2.6.0",
         key_specs=_OW_UPDATE,
         summary="Set the value and expiration in milliseconds of a key",
         args="key milliseconds:int value")
def psetex_command(client: Client, argv: list[bytes]) -> Any:
    """PSETEX key milliseconds value"""
    return _set_generic(client, argv, "psetex", _PX, argv[3], argv[2])


@command("getex", -2, "write fast", 1, 1, 1, acl="string", group="string", since="6.2.0",
         key_specs=(key_spec(1, "RW", "access", "update", notes="RW and UPDATE because it changes the TTL"),),
         summary="Get the value of a key and optionally set its expiration",
         args="key expiration=[EX seconds:int | PX milliseconds:int | EXAT unix-time-seconds:time "
              "| PXAT unix-time-milliseconds:time | PERSIST]")
def getex_command(client: Client, argv: list[bytes]) -> Any:
    """GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT
    unix-time-milliseconds | PERSIST]"""
    flags, expire = _parse_options(argv, 2, _GETEX_OPTIONS)
    db = client.db
    key = argv[1]
    value = _get_string(db, key)
    if value is None:
        return None
    if expire is not None:
        when = _expire_at_ms(client, expire, flags, "getex")
        if flags & (_EXAT | _PXAT) and when <= client.engine.cmd_time_ms and not client.engine.snapshots.loading:
            # An absolute time already in the past deletes the key.
            db.delete(key)
            lazy = client.engine.config["lazyfree-lazy-expire"]
            client.propagate([b"UNLINK" if lazy else b"DEL", key])
        else:
            db.set_expire(key, when)
            client.propagate([b"PEXPIREAT", key, b"%d" % when])
    elif flags & _PERSIST and db.persist(key):
        client.propagate([b"PERSIST", key])
    return value


@command("getdel", 2, "write fast", 1, 1, 1, acl="string", group="string", since="6.2.0",
         key_specs=(key_spec(1, "RW", "access", "delete"),),
         summary="Get the value of a key and delete the key",
         args="key")
def getdel_command(client: Client, argv: list[bytes]) -> Any:
    """GETDEL key"""
    db = client.db
    value = _get_string(db, argv[1])
    if value is not None:
        db.delete(argv[1])
        lazy = client.engine.config["lazyfree-lazy-user-del"]
        client.propagate([b"UNLINK" if lazy else b"DEL", argv[1]])
    return value


@command("getset", 3, "write denyoom fast", 1, 1, 1, acl="string", group="string",
         key_specs=_RW_UPDATE,
         summary="Set the string value of a key and return its old value",
         deprecated_since="6.2.0", replaced_by="`SET` with the `!GET` argument",
         doc_flags=("deprecated",),
         args="key value")
def getset_command(client: Client, argv: list[bytes]) -> Any:
    """GETSET key value"""
    db = client.db
    old = _get_string(db, argv[1])
    db.set(argv[1], argv[2])
    client.propagate([b"SET", argv[1], argv[2]])
    return old


@command("mget", -2, "readonly fast", 1, -1, 1, acl="string", group="string",
         key_specs=(key_spec(1, "RO", "access", lastkey=-1),), tips=("request_policy:multi_shard",),
         summary="Get the values of all the given keys", complexity="O(N)",
         args="key...")
def mget_command(client: Client, argv: list[bytes]) -> Any:
    """MGET key [key ...]"""
    db = client.db  # (method calls on it, not bound methods: native calls when compiled)
    out: list[Any] = []
    for key in argv[1:]:
        value = db.get(key)
        out.append(value if type(value) is bytes else None)
    return out


@command("mset", -3, "write denyoom", 1, -1, 2, acl="string", group="string", since="1.0.1",
         key_specs=(key_spec(1, "OW", "update", lastkey=-1, step=2),),
         tips=("request_policy:multi_shard", "response_policy:all_succeeded"),
         summary="Set multiple keys to multiple values", complexity="O(N)",
         args="key_value=(key value)...")
def mset_command(client: Client, argv: list[bytes]) -> Any:
    """MSET key value [key value ...]"""
    n = len(argv)
    if not n & 1:
        raise CommandError(wrong_arity("mset"))
    db = client.db
    for j in range(1, n, 2):
        db.set(argv[j], argv[j + 1])
    return OK


@command("msetnx", -3, "write denyoom", 1, -1, 2, acl="string", group="string", since="1.0.1",
         key_specs=(key_spec(1, "OW", "insert", lastkey=-1, step=2),),
         tips=("request_policy:multi_shard", "response_policy:agg_min"),
         summary="Set multiple keys to multiple values, only if none of the keys exist",
         complexity="O(N)",
         args="key_value=(key value)...")
def msetnx_command(client: Client, argv: list[bytes]) -> Any:
    """MSETNX key value [key value ...]"""
    n = len(argv)
    if not n & 1:
        raise CommandError(wrong_arity("msetnx"))
    db = client.db
    for j in range(1, n, 2):
        if db.get(argv[j]) is not None:
            return 0
    for j in range(1, n, 2):
        db.set(argv[j], argv[j + 1])
    return 1


def _incr_by(client, key: bytes, incr: int) -> int:
    db = client.db
    old = db.get(key)
    if old is None:
        if incr > LLONG_MAX or incr < LLONG_MIN:
            raise CommandError(OVERFLOW)
        db.set(key, b"%d" % incr, kind="incrby")
        return incr
    if type(old) is not bytes:
        raise CommandError(WRONGTYPE)
    if len(old) < 19 and old.isdigit() and (old[0] != 48 or len(old) == 1):
        value = int(old)  # common case: small non-negative counter, no range check needed
    else:
        value = parse_int(old)
    value += incr
    if value > LLONG_MAX or value < LLONG_MIN:
        raise CommandError(OVERFLOW)
    db.replace(key, b"%d" % value, "incrby")
    return value


@command("incr", 2, "write denyoom fast", 1, 1, 1, acl="string", group="string",
         key_specs=_RW_UPDATE,
         summary="Increment the integer value of a key by one",
         args="key")
def incr_command(client: Client, argv: list[bytes]) -> Any:
    """INCR key"""
    return _incr_by(client, argv[1], 1)


@command("decr", 2, "write denyoom fast", 1, 1, 1, acl="string", group="string",
         key_specs=_RW_UPDATE,
         summary="Decrement the integer value of a key by one",
         args="key")
def decr_command(client: Client, argv: list[bytes]) -> Any:
    """DECR key"""
    return _incr_by(client, argv[1], -1)


@command("incrby", 3, "write denyoom fast", 1, 1, 1, acl="string", group="string",
         key_specs=_RW_UPDATE,
         summary="Increment the integer value of a key by the given amount",
         args="key increment:int")
def incrby_command(client: Client, argv: list[bytes]) -> Any:
    """INCRBY key increment"""
    return _incr_by(client, argv[1], parse_int(argv[2]))


@command("decrby", 3, "write denyoom fast", 1, 1, 1, acl="string", group="string",
         key_specs=_RW_UPDATE,
         summary="Decrement the integer value of a key by the given number",
         args="key decrement:int")
def decrby_command(client: Client, argv: list[bytes]) -> Any:
    """DECRBY key decrement"""
    incr = parse_int(argv[2])
    if incr == LLONG_MIN:
        raise CommandError("ERR decrement would overflow")
    return _incr_by(client, argv[1], -incr)


@command("incrbyfloat", 3, "write denyoom fast", 1, 1, 1, acl="string", group="string",
         key_specs=_RW_UPDATE,
         since="2.6.0", summary="Increment the float value of a key by the given amount",
         args="key increment:double")
def incrbyfloat_command(client: Client, argv: list[bytes]) -> Any:
    """INCRBYFLOAT key increment"""
    db = client.db
    key = argv[1]
    old = _get_string(db, key)
    value = parse_long_double(old) if old is not None else 0
    if value is None:
        raise CommandError(NOT_FLOAT)
    incr = parse_long_double(argv[2])
    if incr is None:
        raise CommandError(NOT_FLOAT)
    total = add_long_double(value, incr)
    if total is None:
        raise CommandError(NAN_OR_INF)
    result = format_long_double_human(total)
    db.set(key, result, keep_ttl=True, kind="incrbyfloat")
    # Replicate the final value, so float formatting cannot make replicas differ.
    client.propagate([b"SET", key, result, b"KEEPTTL"])
    return result


@command("append", 3, "write denyoom fast", 1, 1, 1, acl="string", group="string",
         key_specs=(key_spec(1, "RW", "insert"),),
         since="2.0.0", summary="Append a value to a key",
         args="key value")
def append_command(client: Client, argv: list[bytes]) -> Any:
    """APPEND key value"""
    db = client.db
    key = argv[1]
    old = _get_string(db, key)
    if old is None:
        db.set(key, argv[2], kind="append")
        return len(argv[2])
    _check_length(client, len(old), len(argv[2]))
    value = b"".join((old, argv[2]))
    db.set(key, value, keep_ttl=True, kind="append")
    db.mark_raw(key)  # Redis appends in place to an unshared (raw) string
    return len(value)


@command("strlen", 2, "readonly fast", 1, 1, 1, acl="string", group="string", since="2.2.0",
         key_specs=(key_spec(1, "RO"),),
         summary="Get the length of the value stored in a key",
         args="key")
def strlen_command(client: Client, argv: list[bytes]) -> Any:
    """STRLEN key"""
    value = _get_string(client.db, argv[1])
    return 0 if value is None else len(value)


def _getrange(client, argv):
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    value = _get_string(client.db, argv[1])
    if value is None:
        return b""
    n = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start = max(n + start, 0)
    if end < 0:
        end = max(n + end, 0)
    if end >= n:
        end = n - 1
    if start > end or n == 0:
        return b""
    return value[start:end + 1]


@command("getrange", 4, "readonly", 1, 1, 1, acl="string", group="string", since="2.4.0",
         key_specs=_RO,
         summary="Get a substring of the string stored at a key", complexity="O(N)",
         args="key start:int end:int")
def getrange_command(client: Client, argv: list[bytes]) -> Any:
    """GETRANGE key start end"""
    return _getrange(client, argv)


@command("substr", 4, "readonly", 1, 1, 1, acl="string", group="string",
         key_specs=_RO,
         summary="Get a substring of the string stored at a key", complexity="O(N)",
         deprecated_since="2.0.0", replaced_by="`GETRANGE`", doc_flags=("deprecated",),
         args="key start:int end:int")
def substr_command(client: Client, argv: list[bytes]) -> Any:
    """SUBSTR key start end"""
    return _getrange(client, argv)


@command("setrange", 4, "write denyoom", 1, 1, 1, acl="string", group="string", since="2.2.0",
         key_specs=(key_spec(1, "RW", "update"),),
         summary="Overwrite part of a string at key starting at the specified offset",
         args="key offset:int value")
def setrange_command(client: Client, argv: list[bytes]) -> Any:
    """SETRANGE key offset value"""
    offset = parse_int(argv[2])
    if offset < 0:
        raise CommandError("ERR offset is out of range")
    db = client.db
    key = argv[1]
    chunk = argv[3]
    old = _get_string(db, key)
    if not chunk:
        return 0 if old is None else len(old)
    _check_length(client, offset, len(chunk))
    if old is None:
        old = b""
    if len(old) < offset:
        old = b"".join((old, bytes(offset - len(old))))
    value = b"".join((old[:offset], chunk, old[offset + len(chunk):]))
    db.set(key, value, keep_ttl=True, kind="setrange")
    db.mark_raw(key)  # Redis edits a raw string in place (and creates a raw one)
    return len(value)


@command("lcs", -3, "readonly", 1, 2, 1, acl="string", group="string", since="7.0.0",
         key_specs=(key_spec(1, "RO", "access", lastkey=1),),
         summary="Find longest common substring", complexity="O(N*M)",
         args="key1:key key2:key [LEN] [IDX] [MINMATCHLEN len:int] [WITHMATCHLEN]")
def lcs_command(client: Client, argv: list[bytes]) -> Any:
    """LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]"""
    db = client.db
    a = db.get(argv[1])
    b = db.get(argv[2])
    if (a is not None and type(a) is not bytes) or (b is not None and type(b) is not bytes):
        raise CommandError("ERR The specified keys must contain string values")
    a = a or b""
    b = b or b""
    getlen = getidx = withmatchlen = False
    minmatchlen = 0
    j = 3
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        if opt == b"idx":
            getidx = True
        elif opt == b"len":
            getlen = True
        elif opt == b"withmatchlen":
            withmatchlen = True
        elif opt == b"minmatchlen" and j < n - 1:
            minmatchlen = max(parse_int(argv[j + 1]), 0)
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    if getlen and getidx:
        raise CommandError("ERR If you want both the length and indexes, please just use IDX.")
    alen, blen = len(a), len(b)
    if (alen + 1) * (blen + 1) * 4 > client.engine.config["proto-max-bulk-len"]:
        raise CommandError(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
    table = _lcs_table(a, b)
    total = table[alen][blen]
    if getlen:
        return total
    result = bytearray(total)
    idx = total
    matches = []
    i, j = alen, blen
    arange_start = alen  # alen means "no current range"
    arange_end = brange_start = brange_end = 0
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            result[idx - 1] = a[i - 1]
            if arange_start == alen:
                arange_start = arange_end = i - 1
                brange_start = brange_end = j - 1
            elif arange_start == i and brange_start == j:
                arange_start -= 1
                brange_start -= 1
            else:
                emit = True
            if arange_start == 0 or brange_start == 0:
                emit = True
            idx -= 1
            i -= 1
            j -= 1
        else:
            if table[i - 1][j] > table[i][j - 1]:
                i -= 1
            else:
                j -= 1
            if arange_start != alen:
                emit = True
        if emit:
            match_len = arange_end - arange_start + 1
            if getidx and (minmatchlen == 0 or match_len >= minmatchlen):
                item: list[Any] = [[arange_start, arange_end], [brange_start, brange_end]]
                if withmatchlen:
                    item.append(match_len)
                matches.append(item)
            arange_start = alen
    if getidx:
        return MapReply([(b"matches", matches), (b"len", total)])
    return bytes(result)


def _lcs_table(a: bytes, b: bytes) -> list[list[int]]:
    """table[i][j] = length of the LCS of a[:i] and b[:j]."""
    blen = len(b)
    prev = [0] * (blen + 1)
    table = [prev]
    for ca in a:
        row = [0] * (blen + 1)
        left = 0
        for jj in range(blen):
            if b[jj] == ca:
                left = prev[jj] + 1
            else:
                up = prev[jj + 1]
                left = max(left, up)
            row[jj + 1] = left
        table.append(row)
        prev = row
    return table
