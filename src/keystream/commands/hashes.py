"""Hash commands (t_hash.c): HSET HSETNX HGET HMGET HMSET HDEL HLEN HSTRLEN HEXISTS HKEYS
HVALS HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN, as Redis 7.0.

Values are `Hash` objects (field -> value: one packed bytes object while small, a dict when
big; see `keyspace.datatypes.hash`, whose dict-like methods the commands use). The listpack/hashtable encoding Redis
would use is tracked on the object (see `keyspace.datatypes.hash`) for OBJECT ENCODING and
for HSCAN, which returns a listpack-sized hash whole in one call.

HINCRBYFLOAT computes in emulated x87 long double, as Redis does, and propagates as HSET of
the result. Deliberate difference: HRANDFIELD with a negative count refuses counts whose
reply could not fit in memory (|count| > 2**32) with "value is out of range", where Redis
would try to build the reply.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from keystream.commands.registry import command, key_spec
from keystream.commands.util import (
    parse_cursor,
    parse_int,
    parse_scan_options,
    random_element,
    touch_or_delete,
)
from keystream.keyspace.datatypes.hash import Hash
from keystream.keyspace.datatypes.longdouble import (
    add_long_double,
    format_long_double_human,
    parse_long_double,
)
from keystream.keyspace.glob import compile_matcher
from keystream.keyspace.scan import CURSORS
from keystream.resp import errors
from keystream.resp.errors import WRONGTYPE, CommandError
from keystream.resp.writer import OK

if TYPE_CHECKING:
    from keystream.client import Client

_LLONG_MAX = 2**63 - 1
_LLONG_MIN = -(2**63)
_LONG_MAX = _LLONG_MAX
# Beyond this many elements a reply cannot be built in memory (see the module header).
_MAX_REPLY_COUNT = 2**32


def _read(client, key: bytes) -> Hash | None:
    """The hash at key, None if missing; WRONGTYPE for another type."""
    h = client.db.get(key)
    if h is not None and type(h) is not Hash:
        raise CommandError(WRONGTYPE)
    return h


def _store(client, key: bytes, new: Hash | None, kind: str) -> None:
    """Record a change (write event kind): store a hash created by this command, or touch
    the existing one."""
    if new is not None:
        client.db.set(key, new, kind=kind)
    else:
        client.db.touch(key, kind)


_RO_ACCESS = (key_spec(1, "RO", "access"),)
_RW_ACCESS_UPDATE = (key_spec(1, "RW", "access", "update"),)
_RW_UPDATE = (key_spec(1, "RW", "update"),)


@command("hset", -4, "write denyoom fast", 1, 1, 1, acl="hash", group="hash",
         summary="Set the string value of a hash field", since="2.0.0",
         complexity="O(1) for each field/value pair added, so O(N) to add N field/value pairs "
                    "when the command is called with multiple field/value pairs.",
         history=(("4.0.0", "Accepts multiple `field` and `value` arguments."),),
         key_specs=_RW_UPDATE,
         args="key field_value=(field value)...")
def hset_command(client: Client, argv: list[bytes]) -> Any:
    """HSET key field value [field value ...]"""
    if len(argv) != 4:
        if len(argv) & 1:
            raise CommandError(errors.wrong_arity("hset"))
        return _hset_many(client, argv)
    # The one-pair form is the hot path: kept inline.
    db = client.db
    key = argv[1]
    h = db.get(key)
    if h is None:
        return _hset_many(client, argv)
    if type(h) is not Hash:
        raise CommandError(WRONGTYPE)
    field = argv[2]
    value = argv[3]
    created = field not in h
    h[field] = value
    if not h.big:
        values = client.engine.config.values
        limit = values["hash-max-listpack-value"]
        if len(field) > limit or len(value) > limit or len(h) > values["hash-max-listpack-entries"]:
            h.big = True
    db.touch(key, "hset")
    return 1 if created else 0


@command("hmset", -4, "write denyoom fast", 1, 1, 1, acl="hash", group="hash",
         summary="Set multiple hash fields to multiple values", since="2.0.0",
         complexity="O(N) where N is the number of fields being set.",
         deprecated_since="4.0.0", replaced_by="`HSET` with multiple field-value pairs",
         doc_flags=("deprecated",),
         key_specs=_RW_UPDATE,
         args="key field_value=(field value)...")
def hmset_command(client: Client, argv: list[bytes]) -> Any:
    """HMSET key field value [field value ...]"""
    n = len(argv)
    if n & 1:
        raise CommandError(errors.wrong_arity("hmset"))
    _hset_many(client, argv)
    return OK


def _hset_many(client, argv: list[bytes]) -> int:
    """Set every field/value pair of argv[2:]; returns how many fields were new."""
    db = client.db
    key = argv[1]
    h = db.get(key)
    new = None
    if h is None:
        h = new = Hash()
    elif type(h) is not Hash:
        raise CommandError(WRONGTYPE)
    before = len(h)
    for i in range(2, len(argv), 2):
        h[argv[i]] = argv[i + 1]
    created = len(h) - before
    if not h.big:
        values = client.engine.config.values
        h.note_lengths(argv[2:], values["hash-max-listpack-value"])
        h.note_size(values["hash-max-listpack-entries"])
    if new is not None:
        db.set(key, new, kind="hset")
    else:
        db.touch(key, "hset")
    return created


@command("hsetnx", 4, "write denyoom fast", 1, 1, 1, acl="hash", group="hash",
         summary="Set the value of a hash field, only if the field does not exist", since="2.0.0",
         key_specs=(key_spec(1, "RW", "insert"),),
         args="key field value")
def hsetnx_command(client: Client, argv: list[bytes]) -> Any:
    """HSETNX key field value"""
    key, field, value = argv[1], argv[2], argv[3]
    h = _read(client, key)
    if h is not None and field in h:
        return 0
    new = Hash() if h is None else None
    target = h if h is not None else new
    assert target is not None
    target[field] = value
    values = client.engine.config.values
    target.note_lengths((field, value), values["hash-max-listpack-value"])
    target.note_size(values["hash-max-listpack-entries"])
    _store(client, key, new, "hset")
    return 1


@command("hget", 3, "readonly fast", 1, 1, 1, acl="hash", group="hash",
         summary="Get the value of a hash field", since="2.0.0",
         key_specs=_RO_ACCESS,
         args="key field")
def hget_command(client: Client, argv: list[bytes]) -> Any:
    """HGET key field"""
    h = client.db.get(argv[1])
    if h is None:
        return None
    if type(h) is not Hash:
        raise CommandError(WRONGTYPE)
    return h.get(argv[2])


@command("hmget", -3, "readonly fast", 1, 1, 1, acl="hash", group="hash",
         summary="Get the values of all the given hash fields", since="2.0.0",
         complexity="O(N) where N is the number of fields being requested.",
         key_specs=_RO_ACCESS,
         args="key field...")
def hmget_command(client: Client, argv: list[bytes]) -> Any:
    """HMGET key field [field ...]"""
    h = _read(client, argv[1])
    if h is None:
        return [None] * (len(argv) - 2)
    get = h.get
    return [get(f) for f in argv[2:]]


@command("hdel", -3, "write fast", 1, 1, 1, acl="hash", group="hash",
         summary="Delete one or more hash fields", since="2.0.0",
         complexity="O(N) where N is the number of fields to be removed.",
         history=(("2.4.0", "Accepts multiple `field` arguments."),),
         key_specs=(key_spec(1, "RW", "delete"),),
         args="key field...")
def hdel_command(client: Client, argv: list[bytes]) -> Any:
    """HDEL key field [field ...]"""
    key = argv[1]
    h = _read(client, key)
    if h is None:
        return 0
    deleted = 0
    for f in argv[2:]:
        if h.pop(f, None) is not None:
            deleted += 1
            if not h:
                break
    if deleted:
        touch_or_delete(client.db, key, h, "hdel")
    return deleted


@command("hlen", 2, "readonly fast", 1, 1, 1, acl="hash", group="hash",
         summary="Get the number of fields in a hash", since="2.0.0",
         args="key")
def hlen_command(client: Client, argv: list[bytes]) -> Any:
    """HLEN key"""
    h = _read(client, argv[1])
    return 0 if h is None else len(h)


@command("hstrlen", 3, "readonly fast", 1, 1, 1, acl="hash", group="hash",
         summary="Get the length of the value of a hash field", since="3.2.0",
         args="key field")
def hstrlen_command(client: Client, argv: list[bytes]) -> Any:
    """HSTRLEN key field"""
    h = _read(client, argv[1])
    if h is None:
        return 0
    v = h.get(argv[2])
    return 0 if v is None else len(v)


@command("hexists", 3, "readonly fast", 1, 1, 1, acl="hash", group="hash",
         summary="Determine if a hash field exists", since="2.0.0",
         args="key field")
def hexists_command(client: Client, argv: list[bytes]) -> Any:
    """HEXISTS key field"""
    h = _read(client, argv[1])
    return 1 if h is not None and argv[2] in h else 0


_ALL_TIPS = ("nondeterministic_output_order",)


@command("hkeys", 2, "readonly", 1, 1, 1, acl="hash", group="hash",
         summary="Get all the fields in a hash", since="2.0.0",
         complexity="O(N) where N is the size of the hash.", tips=_ALL_TIPS,
         key_specs=_RO_ACCESS,
         args="key")
def hkeys_command(client: Client, argv: list[bytes]) -> Any:
    """HKEYS key"""
    h = _read(client, argv[1])
    return [] if h is None else list(h)


@command("hvals", 2, "readonly", 1, 1, 1, acl="hash", group="hash",
         summary="Get all the values in a hash", since="2.0.0",
         complexity="O(N) where N is the size of the hash.", tips=_ALL_TIPS,
         key_specs=_RO_ACCESS,
         args="key")
def hvals_command(client: Client, argv: list[bytes]) -> Any:
    """HVALS key"""
    h = _read(client, argv[1])
    return [] if h is None else list(h.values())


@command("hgetall", 2, "readonly", 1, 1, 1, acl="hash", group="hash",
         summary="Get all the fields and values in a hash", since="2.0.0",
         complexity="O(N) where N is the size of the hash.", tips=_ALL_TIPS,
         key_specs=_RO_ACCESS,
         args="key")
def hgetall_command(client: Client, argv: list[bytes]) -> Any:
    """HGETALL key"""
    h = _read(client, argv[1])
    return {} if h is None else dict(h.items())


def _lookup_for_incr(client, key: bytes) -> tuple[Hash, Hash | None]:
    """(hash to change, the new hash if this command creates it)."""
    h = _read(client, key)
    if h is None:
        new = Hash()
        return new, new
    return h, None


def _set_result(client, key: bytes, h: Hash, new: Hash | None, field: bytes, value: bytes,
                kind: str) -> None:
    h[field] = value
    values = client.engine.config.values
    h.note_lengths((field, value), values["hash-max-listpack-value"])
    h.note_size(values["hash-max-listpack-entries"])
    _store(client, key, new, kind)


@command("hincrby", 4, "write denyoom fast", 1, 1, 1, acl="hash", group="hash",
         summary="Increment the integer value of a hash field by the given number", since="2.0.0",
         key_specs=_RW_ACCESS_UPDATE,
         args="key field increment:int")
def hincrby_command(client: Client, argv: list[bytes]) -> Any:
    """HINCRBY key field increment"""
    key, field = argv[1], argv[2]
    incr = parse_int(argv[3])
    h, new = _lookup_for_incr(client, key)
    current = h.get(field)
    if current is None:
        value = 0
    else:
        value = parse_int(current, errors.HASH_NOT_INTEGER)
    result = value + incr
    if result > _LLONG_MAX or result < _LLONG_MIN:
        raise CommandError(errors.OVERFLOW)
    _set_result(client, key, h, new, field, b"%d" % result, "hincrby")
    return result


@command("hincrbyfloat", 4, "write denyoom fast", 1, 1, 1, acl="hash", group="hash",
         summary="Increment the float value of a hash field by the given amount", since="2.6.0",
         key_specs=_RW_ACCESS_UPDATE,
         args="key field increment:double")
def hincrbyfloat_command(client: Client, argv: list[bytes]) -> Any:
    """HINCRBYFLOAT key field increment"""
    key, field = argv[1], argv[2]
    incr = parse_long_double(argv[3])
    if incr is None:
        raise CommandError(errors.NOT_FLOAT)
    if type(incr) is float:  # only +-inf is kept as a float
        raise CommandError(errors.VALUE_NAN_OR_INF)
    h, new = _lookup_for_incr(client, key)
    current = h.get(field)
    value: Any = 0
    if current is not None:
        value = parse_long_double(current)
        if value is None:
            raise CommandError(errors.HASH_NOT_FLOAT)
    result = add_long_double(value, incr)
    if result is None:
        raise CommandError(errors.NAN_OR_INF)
    text = format_long_double_human(result)
    _set_result(client, key, h, new, field, text, "hincrbyfloat")
    # Replicate as HSET of the result so float formatting cannot make replicas differ.
    client.propagate([b"HSET", key, field, text])
    return text


@command("hrandfield", -2, "readonly", 1, 1, 1, acl="hash", group="hash",
         summary="Get one or multiple random fields from a hash", since="6.2.0",
         complexity="O(N) where N is the number of fields returned",
         tips=("nondeterministic_output",),
         key_specs=_RO_ACCESS,
         args="key options=[count:int [WITHVALUES]]")
def hrandfield_command(client: Client, argv: list[bytes]) -> Any:
    """HRANDFIELD key [count [WITHVALUES]]"""
    n = len(argv)
    if n == 2:
        h = _read(client, argv[1])
        if h is None:
            return None
        return random_element(h)
    count = parse_int(argv[2])
    if count < -_LONG_MAX:
        raise CommandError(errors.LONG_RANGE)
    withvalues = False
    if n > 4 or (n == 4 and argv[3].lower() != b"withvalues"):
        raise CommandError(errors.SYNTAX)
    if n == 4:
        withvalues = True
        if count < -_LONG_MAX // 2 or count > _LONG_MAX // 2:
            raise CommandError(errors.VALUE_OUT_OF_RANGE)
    h = _read(client, argv[1])
    if h is None or count == 0:
        return []
    if count < 0:
        if -count > _MAX_REPLY_COUNT:
            raise CommandError(errors.VALUE_OUT_OF_RANGE)
        fields = random.choices(list(h), k=-count)
    elif count >= len(h):
        fields = list(h)
    else:
        fields = random.sample(list(h), count)
    if not withvalues:
        return fields
    if client.proto == 3:
        return [[f, h[f]] for f in fields]
    out: list[bytes] = []
    for f in fields:
        out.append(f)
        out.append(h[f])
    return out


@command("hscan", -3, "readonly", 1, 1, 1, acl="hash", group="hash",
         summary="Incrementally iterate hash fields and associated values", since="2.8.0",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough "
                    "command calls for the cursor to return back to 0. N is the number of "
                    "elements inside the collection..",
         tips=("nondeterministic_output",),
         key_specs=_RO_ACCESS,
         args="key cursor:int [MATCH pattern:pattern] [COUNT count:int]")
def hscan_command(client: Client, argv: list[bytes]) -> Any:
    """HSCAN key cursor [MATCH pattern] [COUNT count]"""
    cursor = parse_cursor(argv[2])
    h = _read(client, argv[1])
    if h is None:
        return [b"0", []]
    count, pattern, _ = parse_scan_options(argv, 3)
    if h.big:
        cursor, fields = CURSORS.scan(h, cursor, count)
    else:
        # A listpack-sized hash comes back whole in one call, as in Redis.
        cursor, fields = 0, list(h)
    match = compile_matcher(pattern) if pattern is not None else None
    out: list[bytes] = []
    for f in fields:
        v = h.get(f)
        if v is None or (match is not None and not match(f)):
            continue
        out.append(f)
        out.append(v)
    return [b"%d" % cursor, out]
