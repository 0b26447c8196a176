"""Generic keyspace commands (db.c, expire.c, object.c), Redis 7.0: DEL UNLINK EXISTS TYPE
KEYS SCAN RANDOMKEY RENAME RENAMENX COPY MOVE SWAPDB EXPIRE PEXPIRE EXPIREAT PEXPIREAT
EXPIRETIME PEXPIRETIME TTL PTTL PERSIST TOUCH OBJECT (ENCODING FREQ IDLETIME REFCOUNT HELP).
DBSIZE lives with the server commands.

Lookups that Redis makes without touching the key's access time (TYPE, EXISTS, TTL & co,
OBJECT, SCAN TYPE) use `db.peek`; the others use `db.get`, which counts as an access.

Propagation as Redis 7.0: EXPIRE/PEXPIRE/EXPIREAT -> `PEXPIREAT key <abs ms> [flags]`; an
expire time already in the past deletes the key and propagates `DEL key` (`UNLINK` with
lazyfree-lazy-expire). RENAME, MOVE and COPY carry the key's TTL (absolute deadline).

Deliberate differences: SCAN walks a snapshot of the key names taken at cursor 0 (see
`keyspace.scan`), so cursors are not Redis's reverse-binary bucket indexes, and COUNT is
the number of names examined per call. OBJECT REFCOUNT reports 2147483647 for the values
Redis shares (integers 0..9999) and 1 otherwise. Keyspace notifications are not sent yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keystream.commands.registry import command, container, key_spec
from keystream.commands.util import LLONG_MAX, LLONG_MIN, parse_cursor, parse_int, parse_scan_options
from keystream.keyspace.db import TYPE_NAMES, Database
from keystream.keyspace.glob import compile_matcher
from keystream.keyspace.scan import CURSORS
from keystream.resp.errors import (
    DB_INDEX_OUT_OF_RANGE,
    EXPIRE_GT_LT_CONFLICT,
    EXPIRE_NX_CONFLICT,
    INT_RANGE,
    INVALID_EXPIRE,
    INVALID_FIRST_DB,
    INVALID_SECOND_DB,
    LFU_NOT_SELECTED,
    LFU_SELECTED,
    NO_SUCH_KEY,
    NOT_INTEGER,
    SAME_OBJECT,
    SYNTAX,
    UNSUPPORTED_OPTION,
    CommandError,
)
from keystream.resp.writer import OK, Status

if TYPE_CHECKING:
    from keystream.client import Client

_INT_MIN = -(2**31)
_INT_MAX = 2**31 - 1
_SHARED_REFCOUNT = 2**31 - 1  # Redis's OBJ_SHARED_REFCOUNT (INT_MAX)
_SHARED_INTEGERS = 10000
_NONE = Status(b"none")
_STREAM = Status(b"stream")  # a Kafka topic partition's key (bridge/topic_stream.py)
_TYPE_REPLIES = {cls: Status(name) for cls, name in TYPE_NAMES.items()}


def _type_reply(value: object) -> Status:
    reply = _TYPE_REPLIES.get(type(value))
    if reply is None:  # a type registered after this module was imported
        reply = _TYPE_REPLIES[type(value)] = Status(TYPE_NAMES[type(value)])
    return reply


def _parse_c_int(arg: bytes, error: str | None = None) -> int:
    """A C int as Redis's getIntFromObjectOrReply accepts it; error replaces both of its
    messages (not an integer, out of int range) when given."""
    value = parse_int(arg, error or NOT_INTEGER)
    if not _INT_MIN <= value <= _INT_MAX:
        raise CommandError(error or INT_RANGE)
    return value


def _other_db(client, arg: bytes) -> Database:
    """The database numbered arg (MOVE, COPY DB)."""
    index = _parse_c_int(arg)
    dbs = client.engine.dbs
    if not 0 <= index < len(dbs):
        raise CommandError(DB_INDEX_OUT_OF_RANGE)
    return dbs[index]


# Redis 7 key specs (COMMAND INFO) shared by several commands.
_RO = (key_spec(1, "RO", "access"),)
_RW_UPDATE = (key_spec(1, "RW", "update"),)
_DELETE = (key_spec(1, "RM", "delete", lastkey=-1),)


# -- DEL UNLINK EXISTS TYPE TOUCH ----------------------------------------------------------
@command("del", -2, "write", 1, -1, 1, acl="keyspace", group="generic",
         key_specs=_DELETE,
         summary="Delete a key", complexity="O(N) where N is the number of keys that will be removed.",
         tips=("request_policy:multi_shard", "response_policy:agg_sum"),
         args="key...")
def del_command(client: Client, argv: list[bytes]) -> Any:
    """DEL key [key ...]"""
    delete = client.db.delete
    lazy = bool(client.engine.config["lazyfree-lazy-user-del"])
    return sum(1 for key in argv[1:] if delete(key, "del", lazy))


@command("unlink", -2, "write fast", 1, -1, 1, acl="keyspace", group="generic", since="4.0.0",
         key_specs=_DELETE,
         summary="Delete a key asynchronously in another thread. Otherwise it is just as DEL, "
                 "but non blocking.",
         complexity="O(1) for each key removed regardless of its size.",
         tips=("request_policy:multi_shard", "response_policy:agg_sum"),
         args="key...")
def unlink_command(client: Client, argv: list[bytes]) -> Any:
    """UNLINK key [key ...]"""
    delete = client.db.delete
    return sum(1 for key in argv[1:] if delete(key, "del", True))


@command("exists", -2, "readonly fast", 1, -1, 1, acl="keyspace", group="generic",
         summary="Determine if a key exists", complexity="O(N) where N is the number of keys to check.",
         history=(("3.0.3", "Accepts multiple `key` arguments."),),
         tips=("request_policy:multi_shard", "response_policy:agg_sum"),
         args="key...")
def exists_command(client: Client, argv: list[bytes]) -> Any:
    """EXISTS key [key ...]"""
    peek = client.db.peek
    topic = client.engine.topic_streams.lookup  # a topic partition's stream key exists (bridge/)
    return sum(1 for key in argv[1:] if peek(key) is not None or topic(key) is not None)


@command("type", 2, "readonly fast", 1, 1, 1, acl="keyspace", group="generic",
         summary="Determine the type stored at key",
         args="key")
def type_command(client: Client, argv: list[bytes]) -> Any:
    """TYPE key"""
    value = client.db.peek(argv[1])
    if value is None:
        return _STREAM if client.engine.topic_streams.lookup(argv[1]) is not None else _NONE
    return _type_reply(value)


@command("touch", -2, "readonly fast", 1, -1, 1, acl="keyspace", group="generic", since="3.2.1",
         summary="Alters the last access time of a key(s). Returns the number of existing keys "
                 "specified.",
         complexity="O(N) where N is the number of keys that will be touched.",
         tips=("request_policy:multi_shard", "response_policy:agg_sum"),
         args="key...")
def touch_command(client: Client, argv: list[bytes]) -> Any:
    """TOUCH key [key ...]"""
    get = client.db.get
    return sum(1 for key in argv[1:] if get(key) is not None)


# -- KEYS SCAN RANDOMKEY -------------------------------------------------------------------
@command("keys", 2, "readonly", acl="keyspace dangerous", group="generic",
         summary="Find all keys matching the given pattern",
         complexity="O(N) with N being the number of keys in the database, under the assumption "
                    "that the key names in the database and the given pattern have limited length.",
         tips=("request_policy:all_shards", "nondeterministic_output_order"),
         args="pattern:pattern")
def keys_command(client: Client, argv: list[bytes]) -> Any:
    """KEYS pattern"""
    db = client.db
    pattern = argv[1]
    expires = db.expires
    now = client.engine.cmd_time_ms
    if pattern == b"*":
        keys = list(db.data)
    else:
        matches = compile_matcher(pattern)
        keys = [k for k in db.data if matches(k)]
    if expires:
        # Logically expired keys are skipped, not deleted (as Redis's keyIsExpired).
        keys = [k for k in keys if (when := expires.get(k)) is None or when > now]
    return keys


@command("scan", -2, "readonly", acl="keyspace", group="generic", since="2.8.0",
         summary="Incrementally iterate the keys space",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough command "
                    "calls for the cursor to return back to 0. N is the number of elements inside "
                    "the collection.",
         history=(("6.0.0", "Added the `TYPE` subcommand."),),
         tips=("nondeterministic_output", "request_policy:special"),
         args="cursor:int [MATCH pattern:pattern] [COUNT count:int] [TYPE type@6.0.0]")
def scan_command(client: Client, argv: list[bytes]) -> Any:
    """SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]"""
    cursor = parse_cursor(argv[1])
    count, pattern, typename = parse_scan_options(argv, 2, allow_type=True)
    if typename is not None:
        typename = typename.lower()
    db = client.db
    data = db.data
    cursor, batch = CURSORS.scan(data, cursor, count)
    if pattern is not None:
        matches = compile_matcher(pattern)
        batch = [k for k in batch if matches(k)]
    out = []
    peek = db.peek
    for key in batch:
        if typename is not None:
            value = data.get(key)
            name = b"none" if value is None else TYPE_NAMES[type(value)]
            if name != typename:
                continue
        if peek(key) is not None:
            out.append(key)
    return [b"%d" % cursor, out]


@command("randomkey", 1, "readonly", acl="keyspace", group="generic",
         summary="Return a random key from the keyspace",
         tips=("request_policy:all_shards", "nondeterministic_output"))
def randomkey_command(client: Client, argv: list[bytes]) -> Any:
    """RANDOMKEY"""
    return client.db.random_key()


# -- RENAME RENAMENX MOVE COPY SWAPDB --------------------------------------------------------
def _rename(client, argv, nx: bool):
    db = client.db
    src, dst = argv[1], argv[2]
    if db.get(src) is None:
        raise CommandError(NO_SUCH_KEY)
    if src == dst:
        return 0 if nx else OK
    if db.get(dst) is not None:
        if nx:
            return 0
        db.remove(dst)  # overwritten: Redis notifies only rename_from / rename_to
    # The value moves with its deadline and its access data (Redis moves the object). Events
    # as Redis's: the new key ("new"), then rename_from, rename_to.
    db.put_entry(dst, db.take_entry(src, None), None)
    db.touch(src, "rename_from")
    db.touch(dst, "rename_to")
    return 1 if nx else OK


@command("rename", 3, "write", 1, 2, 1, acl="keyspace", group="generic",
         key_specs=(key_spec(1, "RW", "access", "delete"), key_spec(2, "OW", "update")),
         summary="Rename a key",
         args="key newkey:key1")
def rename_command(client: Client, argv: list[bytes]) -> Any:
    """RENAME key newkey"""
    return _rename(client, argv, False)


@command("renamenx", 3, "write fast", 1, 2, 1, acl="keyspace", group="generic",
         key_specs=(key_spec(1, "RW", "access", "delete"), key_spec(2, "OW", "insert")),
         summary="Rename a key, only if the new key does not exist",
         history=(("3.2.0", ("The command no longer returns an error when source and "
                             "destination names are the same.")),),
         args="key newkey:key1")
def renamenx_command(client: Client, argv: list[bytes]) -> Any:
    """RENAMENX key newkey"""
    return _rename(client, argv, True)


@command("move", 3, "write fast", 1, 1, 1, acl="keyspace", group="generic",
         key_specs=(key_spec(1, "RW", "access", "update"),),
         summary="Move a key to another database",
         args="key db:int")
def move_command(client: Client, argv: list[bytes]) -> Any:
    """MOVE key db"""
    src = client.db
    dst = _other_db(client, argv[2])
    if dst is src:
        raise CommandError(SAME_OBJECT)
    key = argv[1]
    if src.get(key) is None or dst.get(key) is not None:
        return 0
    dst.put_entry(key, src.take_entry(key, None), None)  # "new" in dst, then:
    src.touch(key, "move_from")
    dst.touch(key, "move_to")
    return 1


@command("copy", -3, "write denyoom", 1, 2, 1, acl="keyspace", group="generic", since="6.2.0",
         key_specs=(key_spec(1, "RO", "access"), key_spec(2, "OW", "update")),
         summary="Copy a key",
         complexity="O(N) worst case for collections, where N is the number of nested items. O(1) "
                    "for string values.",
         args="source:key destination:key1 [DB destination-db:int] [REPLACE]")
def copy_command(client: Client, argv: list[bytes]) -> Any:
    """COPY source destination [DB destination-db] [REPLACE]"""
    src = dst = client.db
    replace = False
    j = 3
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and j + 1 < n:
            dst = _other_db(client, argv[j + 1])
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    key, newkey = argv[1], argv[2]
    if src is dst and key == newkey:
        raise CommandError(SAME_OBJECT)
    value = src.get(key)
    if value is None:
        return 0
    if dst.get(newkey) is not None:
        if not replace:
            return 0
        dst.remove(newkey)  # overwritten: Redis notifies only copy_to
    # Redis duplicates a raw string as a raw string.
    raw = bool(src.raw_strings) and src.raw_strings.get(key) is value
    dst.put_copy(newkey, value if type(value) is bytes else value.copy(), src.ttl_ms(key), raw)
    return 1


@command("swapdb", 3, "write fast", acl="keyspace dangerous", group="server", since="4.0.0",
         summary="Swaps two Redis databases",
         complexity="O(N) where N is the count of clients watching or blocking on keys from both "
                    "databases.",
         args="index1:int index2:int")
def swapdb_command(client: Client, argv: list[bytes]) -> Any:
    """SWAPDB index1 index2"""
    id1 = _parse_c_int(argv[1], INVALID_FIRST_DB)
    id2 = _parse_c_int(argv[2], INVALID_SECOND_DB)
    engine = client.engine
    dbs = engine.dbs
    if not (0 <= id1 < len(dbs) and 0 <= id2 < len(dbs)):
        raise CommandError(DB_INDEX_OUT_OF_RANGE)
    if id1 != id2:
        dbs[id1].swap_contents(dbs[id2])
        # Clients blocked on a key that now exists in their database may be served.
        from keystream.commands import blocking

        blocking.signal_db_ready(dbs[id1])
        blocking.signal_db_ready(dbs[id2])
    engine.dirty += 1
    return OK


# -- expiry ----------------------------------------------------------------------------------
_NX, _XX, _GT, _LT = 1, 2, 4, 8
# Seconds that still fit in a signed 64-bit count of ms (C's LLONG_MAX/1000, LLONG_MIN/1000).
_MAX_SECONDS = LLONG_MAX // 1000
_MIN_SECONDS = -(-LLONG_MIN // 1000)
_EXPIRE_FLAGS = {b"nx": _NX, b"xx": _XX, b"gt": _GT, b"lt": _LT}


def _expire(client, argv, base_ms: int, unit_ms: int):
    """EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT: base_ms is 0 for the *AT forms, unit_ms 1000 for
    the seconds forms."""
    flags = 0
    for opt in argv[3:]:
        flag = _EXPIRE_FLAGS.get(opt.lower())
        if flag is None:
            raise CommandError(UNSUPPORTED_OPTION.format(opt.decode("utf-8", "replace")))
        flags |= flag
    if flags & _NX and flags & (_XX | _GT | _LT):
        raise CommandError(EXPIRE_NX_CONFLICT)
    if flags & _GT and flags & _LT:
        raise CommandError(EXPIRE_GT_LT_CONFLICT)
    when = parse_int(argv[2])
    name = argv[0].decode("utf-8", "replace").lower()
    if unit_ms == 1000:
        if when > _MAX_SECONDS or when < _MIN_SECONDS:
            raise CommandError(INVALID_EXPIRE.format(name))
        when *= 1000
    if when > LLONG_MAX - base_ms:
        raise CommandError(INVALID_EXPIRE.format(name))
    when += base_ms
    db = client.db
    key = argv[1]
    if db.get(key) is None:
        return 0
    if flags:
        current = db.expires.get(key)
        if flags & _NX and current is not None:
            return 0
        if flags & _XX and current is None:
            return 0
        if flags & _GT and (current is None or when <= current):
            return 0
        if flags & _LT and current is not None and when >= current:
            return 0
    if when <= client.engine.cmd_time_ms and not client.engine.snapshots.loading:
        lazy = bool(client.engine.config["lazyfree-lazy-expire"])
        db.delete(key, "del", lazy)
        client.propagate([b"UNLINK" if lazy else b"DEL", key])
        return 1
    db.set_expire(key, when)
    if base_ms or unit_ms != 1:  # PEXPIREAT propagates as it came
        client.propagate([b"PEXPIREAT", key, b"%d" % when, *argv[3:]])
    return 1


_EXPIRE_HISTORY = (("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."),)


@command("expire", -3, "write fast", 1, 1, 1, acl="keyspace", group="generic",
         key_specs=_RW_UPDATE,
         summary="Set a key's time to live in seconds", history=_EXPIRE_HISTORY,
         args="key seconds:int condition=[NX | XX | GT | LT]@7.0.0")
def expire_command(client: Client, argv: list[bytes]) -> Any:
    """EXPIRE key seconds [NX | XX | GT | LT]"""
    return _expire(client, argv, client.engine.cmd_time_ms, 1000)


@command("pexpire", -3, "write fast", 1, 1, 1, acl="keyspace", group="generic", since="2.6.0",
         key_specs=_RW_UPDATE,
         summary="Set a key's time to live in milliseconds", history=_EXPIRE_HISTORY,
         args="key milliseconds:int condition=[NX | XX | GT | LT]@7.0.0")
def pexpire_command(client: Client, argv: list[bytes]) -> Any:
    """PEXPIRE key milliseconds [NX | XX | GT | LT]"""
    return _expire(client, argv, client.engine.cmd_time_ms, 1)


@command("expireat", -3, "write fast", 1, 1, 1, acl="keyspace", group="generic", since="1.2.0",
         key_specs=_RW_UPDATE,
         summary="Set the expiration for a key as a UNIX timestamp", history=_EXPIRE_HISTORY,
         args="key unix-time-seconds:time condition=[NX | XX | GT | LT]@7.0.0")
def expireat_command(client: Client, argv: list[bytes]) -> Any:
    """EXPIREAT key unix-time-seconds [NX | XX | GT | LT]"""
    return _expire(client, argv, 0, 1000)


@command("pexpireat", -3, "write fast", 1, 1, 1, acl="keyspace", group="generic", since="2.6.0",
         key_specs=_RW_UPDATE,
         summary="Set the expiration for a key as a UNIX timestamp specified in milliseconds",
         history=_EXPIRE_HISTORY,
         args="key unix-time-milliseconds:time condition=[NX | XX | GT | LT]@7.0.0")
def pexpireat_command(client: Client, argv: list[bytes]) -> Any:
    """PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]"""
    return _expire(client, argv, 0, 1)


def _ttl(client, key: bytes, in_ms: bool, absolute: bool) -> int:
    db = client.db
    if db.peek(key) is None:
        return -2
    when = db.expires.get(key)
    if when is None:
        return -1
    ttl = max(when if absolute else when - client.engine.cmd_time_ms, 0)
    return ttl if in_ms else (ttl + 500) // 1000


@command("ttl", 2, "readonly fast", 1, 1, 1, acl="keyspace", group="generic",
         key_specs=_RO,
         summary="Get the time to live for a key in seconds", tips=("nondeterministic_output",),
         history=(("2.8.0", "Added the -2 reply."),),
         args="key")
def ttl_command(client: Client, argv: list[bytes]) -> Any:
    """TTL key"""
    return _ttl(client, argv[1], False, False)


@command("pttl", 2, "readonly fast", 1, 1, 1, acl="keyspace", group="generic", since="2.6.0",
         key_specs=_RO,
         summary="Get the time to live for a key in milliseconds", tips=("nondeterministic_output",),
         history=(("2.8.0", "Added the -2 reply."),),
         args="key")
def pttl_command(client: Client, argv: list[bytes]) -> Any:
    """PTTL key"""
    return _ttl(client, argv[1], True, False)


@command("expiretime", 2, "readonly fast", 1, 1, 1, acl="keyspace", group="generic", since="7.0.0",
         key_specs=_RO,
         summary="Get the expiration Unix timestamp for a key",
         args="key")
def expiretime_command(client: Client, argv: list[bytes]) -> Any:
    """EXPIRETIME key"""
    return _ttl(client, argv[1], False, True)


@command("pexpiretime", 2, "readonly fast", 1, 1, 1, acl="keyspace", group="generic", since="7.0.0",
         key_specs=_RO,
         summary="Get the expiration Unix timestamp for a key in milliseconds",
         args="key")
def pexpiretime_command(client: Client, argv: list[bytes]) -> Any:
    """PEXPIRETIME key"""
    return _ttl(client, argv[1], True, True)


@command("persist", 2, "write fast", 1, 1, 1, acl="keyspace", group="generic", since="2.2.0",
         key_specs=_RW_UPDATE,
         summary="Remove the expiration from a key",
         args="key")
def persist_command(client: Client, argv: list[bytes]) -> Any:
    """PERSIST key"""
    db = client.db
    if db.get(argv[1]) is None:
        return 0
    return 1 if db.persist(argv[1]) else 0


# -- OBJECT --------------------------------------------------------------------------------
container("object", "generic", "A container for object introspection commands", "2.2.3", acl="slow")


def string_encoding(db: Database, key: bytes, value: bytes) -> bytes:
    """OBJECT ENCODING of a string value: int, embstr or raw, as Redis would have it."""
    if db.raw_strings and db.raw_strings.get(key) is value:
        return b"raw"
    if len(value) <= 20 and _is_long(value):
        return b"int"
    return b"embstr" if len(value) <= 44 else b"raw"


def _is_long(value: bytes) -> bool:
    try:
        parse_int(value)
    except CommandError:
        return False
    return True


def _object_value(client, key: bytes):
    return client.db.peek(key)


@command("object|encoding", 3, "readonly", 2, 2, 1, acl="keyspace", group="generic",
         since="2.2.3", summary="Inspect the internal encoding of a Redis object",
         tips=("nondeterministic_output",),
         args="key")
def object_encoding_command(client: Client, argv: list[bytes]) -> Any:
    """OBJECT ENCODING key"""
    value = _object_value(client, argv[2])
    if value is None:
        return None
    if type(value) is bytes:
        return string_encoding(client.db, argv[2], value)
    return value.encoding(client.engine.config)


@command("object|freq", 3, "readonly", 2, 2, 1, acl="keyspace", group="generic", since="4.0.0",
         summary="Get the logarithmic access frequency counter of a Redis object",
         tips=("nondeterministic_output",),
         args="key")
def object_freq_command(client: Client, argv: list[bytes]) -> Any:
    """OBJECT FREQ key"""
    if _object_value(client, argv[2]) is None:
        return None
    db = client.db
    if not db.lfu:
        raise CommandError(LFU_NOT_SELECTED)
    return db.frequency(argv[2])


@command("object|idletime", 3, "readonly", 2, 2, 1, acl="keyspace", group="generic",
         since="2.2.3", summary="Get the time since a Redis object was last accessed",
         tips=("nondeterministic_output",),
         args="key")
def object_idletime_command(client: Client, argv: list[bytes]) -> Any:
    """OBJECT IDLETIME key"""
    if _object_value(client, argv[2]) is None:
        return None
    db = client.db
    if db.lfu:
        raise CommandError(LFU_SELECTED)
    return db.idle_ms(argv[2]) // 1000


@command("object|refcount", 3, "readonly", 2, 2, 1, acl="keyspace", group="generic",
         since="2.2.3", summary="Get the number of references to the value of the key",
         tips=("nondeterministic_output",),
         args="key")
def object_refcount_command(client: Client, argv: list[bytes]) -> Any:
    """OBJECT REFCOUNT key"""
    value = _object_value(client, argv[2])
    if value is None:
        return None
    if type(value) is bytes and len(value) <= 20 and _is_long(value):
        number = int(value)
        if 0 <= number < _SHARED_INTEGERS and not _no_shared_integers(client):
            return _SHARED_REFCOUNT
    return 1


def _no_shared_integers(client) -> bool:
    """Redis stops sharing integer objects when maxmemory evicts by LRU/LFU."""
    config = client.engine.config
    return bool(config["maxmemory"]) and ("lru" in config["maxmemory-policy"]
                                          or "lfu" in config["maxmemory-policy"])


_OBJECT_HELP = [
    Status(line) for line in (
        b"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"ENCODING <key>",
        b"    Return the kind of internal representation used in order to store the value",
        b"    associated with a <key>.",
        b"FREQ <key>",
        b"    Return the access frequency index of the <key>. The returned integer is",
        b"    proportional to the logarithm of the recent access frequency of the key.",
        b"IDLETIME <key>",
        b"    Return the idle time of the <key>, that is the approximated number of",
        b"    seconds elapsed since the last access to the key.",
        b"REFCOUNT <key>",
        b"    Return the number of references of the value associated with the specified",
        b"    <key>.",
        b"HELP",
        b"    Prints this help.",
    )
]


@command("object|help", 2, "loading stale", acl="keyspace", group="generic", since="6.2.0",
         summary="Show helpful text about the different subcommands")
def object_help_command(client: Client, argv: list[bytes]) -> Any:
    """OBJECT HELP"""
    return _OBJECT_HELP
