"""Persistence commands (rdb.c, aof.c, cluster.c, debug.c): SAVE BGSAVE BGREWRITEAOF LASTSAVE DUMP RESTORE and
DEBUG RELOAD / LOADAOF / OBJECT / DIGEST / DIGEST-VALUE.

Redis 7.0 syntax, replies and error texts. DUMP payloads are Redis's (RDB value, RDB
version 10, CRC-64), so they move between Redis 7.0 and Keystream both ways. The work is
done by `keystream.persistence` (codec, snapshots, digest); these handlers parse arguments
and shape replies.

BGREWRITEAOF starts the rewrite `keystream.persistence.aof` does. `sanitize-dump-payload` needs no deep
mode: every RESTORE payload is decoded completely and checked before anything is stored.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from keystream.client import Client
from keystream.commands.keys import object_refcount_command, string_encoding
from keystream.commands.registry import command, key_spec
from keystream.commands.server import debug_subcommand
from keystream.commands.util import parse_int
from keystream.keyspace.datatypes.list import ListValue, decode_element
from keystream.persistence.digest import dataset_digest, value_digest
from keystream.persistence.rdb import (
    Limits,
    PayloadError,
    RdbError,
    dump_payload,
    encode_value,
    quicklist_nodes,
    restore_payload,
)
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.writer import OK, Status

log = logging.getLogger("keystream.persistence")


@command("save", 1, "admin noscript no_async_loading no_multi", acl="admin dangerous", group="server",
         summary="Synchronously save the dataset to disk", since="1.0.0",
         complexity="O(N) where N is the total number of keys in all databases")
def save_command(client: Client, argv: list[bytes]) -> Any:
    """SAVE"""
    snapshots = client.engine.snapshots
    if snapshots.child_active():
        raise CommandError("ERR Background save already in progress")
    if not snapshots.save():
        raise CommandError("ERR")
    return OK


@command("bgsave", -1, "admin noscript no_async_loading", acl="admin dangerous", group="server",
         summary="Asynchronously save the dataset to disk", since="1.0.0",
         complexity="O(1)", history=(("3.2.2", "Added the `SCHEDULE` option."),),
         args="[SCHEDULE@3.2.2]")
def bgsave_command(client: Client, argv: list[bytes]) -> Any:
    """BGSAVE [SCHEDULE]"""
    schedule = False
    if len(argv) > 1:
        if len(argv) > 2 or argv[1].lower() != b"schedule":
            raise CommandError(errors.SYNTAX)
        schedule = True
    snapshots = client.engine.snapshots
    if snapshots.child_active():
        raise CommandError("ERR Background save already in progress")
    if snapshots.aof.child_active() or client.in_exec:
        # Redis never forks inside a transaction, nor while an AOF rewrite runs: with
        # SCHEDULE (or in EXEC) the save starts from the cron once it may.
        if not (schedule or client.in_exec):
            raise CommandError("ERR Another child process is active (AOF?): can't BGSAVE right now. "
                               "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
        snapshots.bgsave_scheduled = True
        return Status(b"Background saving scheduled")
    if not snapshots.bgsave():
        raise CommandError("ERR")
    return Status(b"Background saving started")


@command("lastsave", 1, "loading stale fast", acl="admin dangerous", group="server",
         summary="The Unix time of the last successful save to disk", since="1.0.0",
         tips=("nondeterministic_output",))
def lastsave_command(client: Client, argv: list[bytes]) -> Any:
    """LASTSAVE"""
    return client.engine.snapshots.lastsave


@command("bgrewriteaof", 1, "admin noscript no_async_loading", acl="admin dangerous", group="server",
         summary="Asynchronously rewrite the append-only file", since="1.0.0", complexity="O(1)")
def bgrewriteaof_command(client: Client, argv: list[bytes]) -> Any:
    """BGREWRITEAOF"""
    snapshots = client.engine.snapshots
    aof = snapshots.aof
    if aof.child_active():
        raise CommandError("ERR Background append only file rewriting already in progress")
    if snapshots.child_active() or client.in_exec:
        aof.rewrite_scheduled = True
        return Status(b"Background append only file rewriting scheduled")
    if not aof.rewrite():
        raise CommandError("ERR Can't execute an AOF background rewriting. Please check the server "
                           "logs for more information.")
    return Status(b"Background append only file rewriting started")


# -- DUMP / RESTORE --------------------------------------------------------------------------
@command("dump", 2, "readonly", 1, 1, 1, acl="keyspace", group="generic", since="2.6.0",
         key_specs=(key_spec(1, "RO", "access"),),
         summary="A serialized version of the value stored at a key",
         complexity="O(1) to access the key and additional O(N*M) to serialize it, where N is the "
                    "number of Redis objects composing the value and M their average size. For "
                    "small string values the time complexity is thus O(1)+O(1*M) where M is small, "
                    "so simply O(1).",
         tips=("nondeterministic_output",), args="key")
def dump_command(client: Client, argv: list[bytes]) -> Any:
    """DUMP key"""
    value = client.db.get(argv[1])
    if value is None:
        return None
    return dump_payload(value, Limits.from_config(client.engine.config))


@command("restore", -4, "write denyoom", 1, 1, 1, acl="keyspace dangerous", group="generic",
         since="2.6.0", key_specs=(key_spec(1, "OW", "update"),),
         summary="Create a key from a serialized value obtained by DUMP",
         complexity="O(1) to create the new key and additional O(N*M) to reconstruct the serialized "
                    "value, where N is the number of Redis objects composing the value and M their "
                    "average size. For small string values the time complexity is thus O(1)+O(1*M) "
                    "where M is small, so simply O(1). However for sorted set values the complexity "
                    "is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
         history=(("3.0.0", "Added the `REPLACE` modifier."),
                  ("5.0.0", "Added the `ABSTTL` modifier."),
                  ("5.0.0", "Added the `IDLETIME` and `FREQ` options.")),
         args="key ttl:int serialized-value [REPLACE@3.0.0] [ABSTTL@5.0.0] "
              "[IDLETIME seconds:int@5.0.0] [FREQ frequency:int@5.0.0]")
def restore_command(client: Client, argv: list[bytes]) -> Any:
    """RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]"""
    replace = absttl = False
    idle = freq = -1
    j = 4
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        more = n - j - 1
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and more >= 1 and freq == -1:
            idle = parse_int(argv[j + 1])
            if idle < 0:
                raise CommandError("ERR Invalid IDLETIME value, must be >= 0")
            j += 1
        elif opt == b"freq" and more >= 1 and idle == -1:
            freq = parse_int(argv[j + 1])
            if freq < 0 or freq > 255:
                raise CommandError("ERR Invalid FREQ value, must be >= 0 and <= 255")
            j += 1
        else:
            raise CommandError(errors.SYNTAX)
        j += 1
    db = client.db
    key = argv[1]
    if not replace and db.peek(key) is not None:
        raise CommandError(errors.BUSYKEY)
    ttl = parse_int(argv[2])
    if ttl < 0:
        raise CommandError("ERR Invalid TTL value, must be >= 0")
    config = client.engine.config
    try:
        value = restore_payload(argv[3], Limits.from_config(config),
                                not client.engine.snapshots.skip_checksum_validation)
    except PayloadError:
        raise CommandError(errors.BAD_DUMP_PAYLOAD) from None
    except RdbError as e:
        log.warning("RESTORE of '%s': DUMP payload integrity check failed: %s",
                    key.decode("utf-8", "replace"), e)
        raise CommandError(errors.BAD_DATA_FORMAT) from None
    deleted = db.delete(key) if replace else False
    if ttl and not absttl:
        ttl += time.time_ns() // 1_000_000
    if ttl and ttl <= client.engine.cmd_time_ms and not client.engine.snapshots.loading:
        # Already expired: nothing is created; a replaced key is gone (propagated as DEL).
        client.propagate_override = [[b"DEL", key]] if deleted else []
        return OK
    db.set(key, value, kind="restore")
    if ttl:
        db.set_expire(key, ttl)
        if not absttl:
            client.propagate_override = [[*argv[:2], b"%d" % ttl, *argv[3:], b"ABSTTL"]]
    if freq >= 0:
        db.set_frequency(key, freq)
    if idle >= 0:
        db.set_idle(key, idle * 1000)
    return OK


# -- DEBUG -----------------------------------------------------------------------------------
@debug_subcommand("reload", 0, -1)
def _debug_reload(client: Client, argv: list[bytes]) -> Any:
    """DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save, empty, load the dump back."""
    flush = save = True
    merge = False
    for opt in argv[2:]:
        low = opt.lower()
        if low == b"merge":
            flush, merge = False, True
        elif low == b"noflush":
            flush = False
        elif low == b"nosave":
            save = False
        else:
            raise CommandError("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")
    snapshots = client.engine.snapshots
    snapshots.kill_child()
    error = snapshots.reload(save, flush, merge)
    if error is not None:
        raise CommandError(error)
    return OK


@debug_subcommand("loadaof", 0, 0)
def _debug_loadaof(client: Client, argv: list[bytes]) -> Any:
    """DEBUG LOADAOF: empty the keyspace and load it back from the AOF."""
    engine = client.engine
    error = engine.snapshots.load_aof_now(engine.replay_command())
    # Never propagated (Redis zeroes the dirty counter): logged, a replay would run it again.
    client.propagate_override = []
    if error is not None:
        raise CommandError(error)
    return OK


@debug_subcommand("aof-flush-sleep", 1, 1)
def _debug_aof_flush_sleep(client: Client, argv: list[bytes]) -> Any:
    """DEBUG AOF-FLUSH-SLEEP <microsec>: sleep this long before each AOF write (testing)."""
    client.engine.snapshots.aof.flush_sleep_us = max(0, parse_int(argv[2]))
    return OK


@debug_subcommand("set-skip-checksum-validation", 1, 1)
def _debug_set_skip_checksum_validation(client: Client, argv: list[bytes]) -> Any:
    """DEBUG SET-SKIP-CHECKSUM-VALIDATION <0|1>: RESTORE without checking payload CRCs (testing)."""
    try:
        flag = int(argv[2])
    except ValueError:
        flag = 0
    client.engine.snapshots.skip_checksum_validation = bool(flag)
    return OK


@debug_subcommand("populate", 1, 3)
def _debug_populate(client: Client, argv: list[bytes]) -> Any:
    """DEBUG POPULATE <count> [<prefix>] [<size>]: create string keys <prefix>:<n> holding
    "value:<n>" (cut or zero-padded to size), skipping names that exist. Not a change the
    dirty counter sees, as in Redis."""
    count = _positive(argv[2])
    prefix = argv[3] if len(argv) > 3 else b"key"
    size = _positive(argv[4]) if len(argv) > 4 else 0
    engine = client.engine
    dirty = engine.dirty
    for j in range(count):
        key = b"%s:%d" % (prefix, j)
        if client.db.peek(key) is not None:
            continue
        value = b"value:%d" % j
        if size:
            value = value[:size].ljust(size, b"\x00")
        client.db.set(key, value)
    engine.dirty = dirty
    return OK


def _positive(arg: bytes) -> int:
    """As Redis's getPositiveLongFromObjectOrReply: one error for non-numbers and negatives."""
    try:
        n = parse_int(arg)
    except CommandError:
        n = -1
    if n < 0:
        raise CommandError(errors.NEGATIVE_COUNT)
    return n


@debug_subcommand("object", 1, 1)
def _debug_object(client: Client, argv: list[bytes]) -> Any:
    """DEBUG OBJECT <key>: encoding, serialized length, LRU data (quicklist details for lists)."""
    db = client.db
    key = argv[2]
    value = db.data.get(key)
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    config = client.engine.config
    limits = Limits.from_config(config)
    if type(value) is bytes:
        encoding = string_encoding(db, key, value)
    else:
        encoding = value.encoding(config)
    refcount = object_refcount_command(client, [b"OBJECT", b"REFCOUNT", key])
    serialized = len(encode_value(value, limits)[1])
    now_s = int(time.time())
    if db.lfu:  # Redis prints the LFU word here, and an idle time computed from it as if LRU
        lru = ((now_s // 60) & 0xFFFF) << 8 | db.frequency(key)
        idle = ((now_s & 0xFFFFFF) - lru) % 0x1000000
    else:
        idle = db.idle_ms(key) // 1000
        lru = (now_s - idle) & 0xFFFFFF
    extra = ""
    if type(value) is ListValue:
        nodes = quicklist_nodes(list(map(decode_element, value)), limits.list_fill)
        size = sum(7 + sum(map(len, node)) for node in nodes)
        avg = len(value) / len(nodes) if nodes else 0.0
        extra = (f" ql_nodes:{len(nodes)} ql_avg_node:{avg:.2f} ql_listpack_max:{limits.list_fill}"
                 f" ql_compressed:{int(config['list-compress-depth'] != 0)} ql_uncompressed_size:{size}")
    return Status((f"Value at:0x{id(value):x} refcount:{refcount} encoding:{encoding.decode()} "
                   f"serializedlength:{serialized} lru:{lru} lru_seconds_idle:{idle}{extra}").encode())


@debug_subcommand("digest", 0, 0)
def _debug_digest(client: Client, argv: list[bytes]) -> Any:
    """DEBUG DIGEST: the digest of the whole dataset (40 zeros when it is empty)."""
    return Status(dataset_digest(client.engine.dbs).hex().encode())


@debug_subcommand("digest-value", 0, -1)
def _debug_digest_value(client: Client, argv: list[bytes]) -> Any:
    """DEBUG DIGEST-VALUE [key ...]: one digest per key (zeros for a missing key)."""
    db = client.db
    out = []
    for key in argv[2:]:
        value = db.data.get(key)
        digest = bytes(20) if value is None else value_digest(value, key in db.expires)
        out.append(Status(digest.hex().encode()))
    return out
