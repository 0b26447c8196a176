"""Stream commands (t_stream.c), Redis 7.0: XADD XRANGE XREVRANGE XLEN XDEL XTRIM XSETID XREAD
XREADGROUP XACK XPENDING XCLAIM XAUTOCLAIM XGROUP (CREATE CREATECONSUMER DELCONSUMER DESTROY
SETID HELP) XINFO (STREAM [FULL [COUNT n]] GROUPS CONSUMERS HELP).

The value is `keyspace.datatypes.stream.Stream`. Arguments are checked in Redis's order, so
the same bad command gets the same error (e.g. XADD checks its options before the key's type,
XDEL the key before its IDs). Stream IDs are parsed as Redis's streamGenericParseIDOrReply
does, including what its strtoull fallback accepts (`+5`, ` 5`, `-0`).

Propagation follows Redis 7.0 (through `client.propagate`): XADD with the ID it generated
(and `~` trimming rewritten as the exact `=` threshold it reached); XTRIM `~` likewise;
XREADGROUP as one `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID l`
per delivered entry, `XGROUP SETID ... ENTRIESREAD n` when NOACK moved the group, and
`XGROUP CREATECONSUMER` for a consumer a NOACK read created; XCLAIM and XAUTOCLAIM as
those XCLAIMs too (also for pending entries they drop because the entry is gone).

Blocking XREAD/XREADGROUP use `keyspace.blocking` (FIFO per key, served after the command
or EXEC that made the key ready, CLIENT UNBLOCK, timeout as a null array). As in Redis, a
blocked client is reconsidered only when the stream is signalled: an XADD, an XGROUP DESTROY,
or the key being created, replaced or deleted (`Stream.signals` and the value's identity tell
these from other writes). A blocked XREADGROUP gets -NOGROUP when its group is destroyed and
-UNBLOCKED when the key is deleted or stops being a stream.

Group operations that Redis does not signal as key modifications (XREADGROUP, XACK, XCLAIM,
XGROUP ...) count as changes (dirty) without invalidating WATCH, as in Redis 7.0.

Deliberate difference: keyspace notifications are not sent yet.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from keystream.bridge.topic_stream import refusal
from keystream.commands import blocking
from keystream.commands.registry import KeySpec, command, container, key_spec
from keystream.commands.syntax import parse_args
from keystream.commands.util import parse_int
from keystream.keyspace.datatypes.stream import (
    ID_MAX,
    LISTPACK_MAX_SIZE,
    MAX64,
    Consumer,
    Group,
    Nack,
    Stream,
    format_id,
    rax_node_count,
)
from keystream.resp import errors as E
from keystream.resp.errors import CommandError, c_string, subcommand_syntax
from keystream.resp.writer import NULL_ARRAY, OK, MapReply, Raw, Status

if TYPE_CHECKING:
    from keystream.bridge.topic_stream import TopicStreams
    from keystream.client import Client
    from keystream.keyspace.db import Database
    from keystream.log.partition import PartitionLog

_LLONG_MAX = 2**63 - 1
_XREAD_BLOCKED_DEFAULT_COUNT = 1000
# Physical memory: an allocation above it is one Redis's allocator refuses (XAUTOCLAIM COUNT).
_MEMORY_BYTES = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")

def _symbols(args: str) -> tuple[dict, ...]:
    """COMMAND DOCS arguments from our notation, with the leaves named equal, approximately,
    auto_id and new_id turned into Redis's symbol tokens (=, ~, *, $) the notation cannot spell."""
    tokens = {"equal": "=", "approximately": "~", "auto_id": "*", "new_id": "$"}

    def fix(node: dict) -> dict:
        if "arguments" in node:
            return {**node, "arguments": tuple(fix(a) for a in node["arguments"])}
        if node["name"] in tokens and node["type"] == "string":
            return {"name": node["name"], "type": "pure-token", "token": tokens[node["name"]]}
        return node

    return tuple(fix(a) for a in parse_args(args))


container("xgroup", "stream", "A container for consumer groups commands", "5.0.0", acl="slow")
container("xinfo", "stream", "A container for stream introspection commands", "5.0.0", acl="slow")


# -- ID parsing ------------------------------------------------------------------------------
def _string2ll(s: bytes) -> int | None:
    n = len(s)
    if n == 0 or n > 20:
        return None
    body = s[1:] if s[0] == 45 else s
    if not body or not body.isdigit() or (body[0] == 48 and (len(body) > 1 or s[0] == 45)):
        return None
    v = int(s)
    return v if -(2**63) <= v < 2**63 else None


def _string2ull(s: bytes) -> int | None:
    """Redis's string2ull: string2ll, else strtoull (spaces, a sign, wrap-around of '-')."""
    v = _string2ll(s)
    if v is not None:
        return v if v >= 0 else None
    i, n = 0, len(s)
    while i < n and s[i] in b" \t\n\v\f\r":
        i += 1
    neg = False
    if i < n and s[i] in b"+-":
        neg = s[i] == 45
        i += 1
    j = i
    while j < n and 48 <= s[j] <= 57:
        j += 1
    if j == i or j != n:
        return None
    v = int(s[i:j])
    if v > MAX64:
        return None
    return (-v) & MAX64 if neg else v


def parse_id(arg: bytes, missing_seq: int = 0, strict: bool = False, auto_seq: bool = False
             ) -> tuple[int, bool]:
    """streamGenericParseIDOrReply: (ID, seq given). `auto_seq` accepts `ms-*` (seq not given)."""
    if len(arg) > 127:
        raise CommandError(E.STREAM_INVALID_ID)
    s = arg.split(b"\0", 1)[0]
    if s == b"-" or s == b"+":
        if strict:
            raise CommandError(E.STREAM_INVALID_ID)
        return (0 if s == b"-" else ID_MAX), True
    ms_part, dash, seq_part = s.partition(b"-")
    ms = _string2ull(ms_part)
    if ms is None:
        raise CommandError(E.STREAM_INVALID_ID)
    if not dash:
        return (ms << 64) | missing_seq, True
    if auto_seq and seq_part == b"*":
        return ms << 64, False
    seq = _string2ull(seq_part)
    if seq is None:
        raise CommandError(E.STREAM_INVALID_ID)
    return (ms << 64) | seq, True


def _strict_id(arg: bytes, missing_seq: int = 0) -> int:
    return parse_id(arg, missing_seq, strict=True)[0]


def _interval_id(arg: bytes, missing_seq: int) -> tuple[int, bool]:
    """streamParseIntervalIDOrReply: (ID, exclusive) for `(id` or an ID, `-`, `+`."""
    if len(arg) > 1 and arg[0] == 40:
        return parse_id(arg[1:], missing_seq, strict=True)[0], True
    return parse_id(arg, missing_seq)[0], False


def _range_bounds(start_arg: bytes, end_arg: bytes) -> tuple[int, int]:
    start, ex = _interval_id(start_arg, 0)
    if ex:
        if start == ID_MAX:
            raise CommandError(E.STREAM_START_INTERVAL)
        start += 1
    end, ex = _interval_id(end_arg, MAX64)
    if ex:
        if end == 0:
            raise CommandError(E.STREAM_END_INTERVAL)
        end -= 1
    return start, end


# -- helpers ---------------------------------------------------------------------------------
def _get_stream(db: Database, key: bytes) -> Stream | None:
    value = db.get(key)
    if value is not None and type(value) is not Stream:
        raise CommandError(E.WRONGTYPE)
    return value


def _topic_of(topics: TopicStreams, key: bytes) -> PartitionLog | None:
    """The Kafka topic partition key names (`TopicStreams.lookup`), answered here for the keys
    outside the bridge's prefix: the XADD/XRANGE/XREAD hot path."""
    prefix = topics.prefix
    if not prefix or not key.startswith(prefix):
        return None
    return topics.lookup(key)


def _now(client: Client) -> int:
    return client.engine.cmd_time_ms


def _dirty(client: Client, n: int = 1) -> None:
    """A change Redis counts (server.dirty) without signalling the key as modified."""
    client.engine.dirty += n


def _entry(sid: int, pairs: list[bytes]) -> list:
    return [format_id(sid), pairs]


def _entries(found: list[tuple[int, list[bytes]]]) -> list:
    return [[format_id(sid), pairs] for sid, pairs in found]


def _raw_entries(replies: list[bytes]) -> Raw:
    """An array of entries already in reply form (`Stream.range_encoded`'s list, which this
    takes: the array header goes in front of them, so the reply is joined in one copy)."""
    replies.insert(0, b"*%d\r\n" % len(replies))
    return Raw(b"".join(replies))


def _config_limits(client: Client) -> tuple[int, int]:
    values = client.engine.config.values
    return values["stream-node-max-bytes"], values["stream-node-max-entries"]


def _xclaim_effect(key: bytes, groupname: bytes, group: Group, sid_arg: bytes, nack: Nack) -> list[bytes]:
    """The XCLAIM Redis propagates for a pending entry created or moved (streamPropagateXCLAIM)."""
    consumer = nack.consumer
    return [b"XCLAIM", key, groupname, consumer.name if consumer is not None else b"", b"0", sid_arg,
            b"TIME", b"%d" % nack.delivery_time, b"RETRYCOUNT", b"%d" % nack.delivery_count,
            b"FORCE", b"JUSTID", b"LASTID", format_id(group.last_id)]


def _setid_effect(key: bytes, groupname: bytes, group: Group) -> list[bytes]:
    read = group.entries_read
    return [b"XGROUP", b"SETID", key, groupname, format_id(group.last_id), b"ENTRIESREAD",
            b"%d" % (-1 if read is None else read)]


def _no_propagation(client: Client) -> None:
    """preventCommandPropagation: the command propagates only what it added explicitly."""
    if client.propagate_override is None:
        client.propagate_override = []


# -- XADD / XTRIM ----------------------------------------------------------------------------
class _TrimArgs:
    __slots__ = ("approx", "arg_idx", "id", "id_given", "limit", "maxlen", "minid", "no_mkstream",
                 "seq_given", "strategy")

    def __init__(self) -> None:
        self.strategy = ""  # "", "maxlen", "minid"
        self.maxlen = 0
        self.minid = 0
        self.approx = False
        self.limit = 0
        self.arg_idx = 0
        self.id = 0
        self.id_given = False
        self.seq_given = True
        self.no_mkstream = False


_NO_OPTIONS = _TrimArgs()


def _parse_add_trim(client: Client, argv: list[bytes], xadd: bool) -> tuple[_TrimArgs, int]:
    """streamParseAddOrTrimArgsOrReply: the options, and the index of the ID (XADD)."""
    a = _TrimArgs()
    limit_given = False
    n = len(argv)
    i = 2
    while i < n:
        moreargs = n - 1 - i
        opt = argv[i]
        low = opt.lower()
        if xadd and opt == b"*":
            break
        if low == b"maxlen" and moreargs:
            if a.strategy:
                raise CommandError(E.STREAM_MAXLEN_MINID)
            a.approx = False
            nxt = argv[i + 1]
            if moreargs >= 2 and nxt in (b"~", b"="):
                a.approx = nxt == b"~"
                i += 1
            a.maxlen = parse_int(argv[i + 1])
            if a.maxlen < 0:
                raise CommandError(E.STREAM_MAXLEN_NEGATIVE)
            i += 1
            a.strategy = "maxlen"
            a.arg_idx = i
        elif low == b"minid" and moreargs:
            if a.strategy:
                raise CommandError(E.STREAM_MAXLEN_MINID)
            a.approx = False
            nxt = argv[i + 1]
            if moreargs >= 2 and nxt in (b"~", b"="):
                a.approx = nxt == b"~"
                i += 1
            a.minid = _strict_id(argv[i + 1])
            i += 1
            a.strategy = "minid"
            a.arg_idx = i
        elif low == b"limit" and moreargs:
            a.limit = parse_int(argv[i + 1])
            if a.limit < 0:
                raise CommandError(E.STREAM_LIMIT_NEGATIVE)
            limit_given = True
            i += 1
        elif xadd and low == b"nomkstream":
            a.no_mkstream = True
        elif xadd:
            a.id, a.seq_given = parse_id(opt, 0, strict=True, auto_seq=True)
            a.id_given = True
            break
        else:
            raise CommandError(E.SYNTAX)
        i += 1
    if a.limit and not a.strategy:
        raise CommandError(E.STREAM_LIMIT_NO_STRATEGY)
    if not xadd and not a.strategy:
        raise CommandError(E.STREAM_TRIM_NO_STRATEGY)
    if client.engine.snapshots.loading:
        # Replayed from the AOF: the threshold was rewritten to the exact one reached (see
        # _rewrite_trim), so the LIMIT that came with it is not enforced (Redis's mustObeyClient).
        a.limit = 0
    elif limit_given:
        if not a.approx:
            raise CommandError(E.STREAM_LIMIT_NO_APPROX)
    elif a.approx:
        a.limit = 100 * _config_limits(client)[1]
        if a.limit <= 0 or a.limit > 10000:
            a.limit = 10000
    else:
        a.limit = 0
    return a, i


def _trim(s: Stream, a: _TrimArgs) -> int:
    if a.strategy == "maxlen":
        return s.trim(a.maxlen, None, a.approx, a.limit)
    return s.trim(None, a.minid, a.approx, a.limit)


def _rewrite_trim(s: Stream, a: _TrimArgs, argv: list[bytes]) -> None:
    """After `~` trimming: propagate the exact threshold reached (`=` and the length or the
    first ID), so replicas trim the same entries whatever their node layout."""
    argv[a.arg_idx - 1] = b"="
    if a.strategy == "maxlen":
        argv[a.arg_idx] = b"%d" % s.length
    else:
        argv[a.arg_idx] = format_id(s.edge_id(True, False))


@command("xadd", -5, "write denyoom fast", 1, 1, 1, acl="stream", group="stream", since="5.0.0",
         summary="Appends a new entry to a stream",
         complexity="O(1) when adding a new entry, O(N) when trimming where N being the number of "
         "entries evicted.",
         tips=("nondeterministic_output",),
         key_specs=(key_spec(1, "RW", "update",
                             notes="UPDATE instead of INSERT because of the optional trimming feature"),),
         history=(("6.2.0", "Added the `NOMKSTREAM` option, `MINID` trimming strategy and the `LIMIT` option."),
                  ("7.0.0", "Added support for the `<ms>-*` explicit ID form.")),
         arguments=_symbols("key [NOMKSTREAM@6.2.0] [trim=(strategy=(MAXLEN | MINID@6.2.0) operator=[equal | "
                            "approximately] threshold [LIMIT count:int@6.2.0])] id_or_auto=(auto_id | id) "
                            "field_value=(field value)..."))
def xadd_command(client: Client, argv: list[bytes]) -> Any:
    """XADD key [NOMKSTREAM] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] <* | id> field value
    [field value ...]"""
    if argv[2] == b"*":  # the common form: no options
        a, id_pos = _NO_OPTIONS, 2
    else:
        a, id_pos = _parse_add_trim(client, argv, True)
    field_pos = id_pos + 1
    nfv = len(argv) - field_pos
    if nfv < 2 or nfv % 2:
        raise CommandError(E.wrong_arity("xadd"))
    if a.id_given and a.seq_given and a.id == 0:
        raise CommandError(E.STREAM_ID_ZERO)
    db = client.db
    key = argv[1]
    topics = client.engine.topic_streams
    plog = _topic_of(topics, key)
    if plog is not None:  # produce a record to the Kafka topic partition (bridge/)
        if a.strategy:
            raise CommandError(E.bridge_xadd_option(f"Kafka topic '{plog.topic}' partition {plog.index}",
                                                    a.strategy.upper()))
        return topics.xadd(client, plog, key, argv[id_pos], argv[field_pos:])
    s = _get_stream(db, key)
    created = s is None
    if s is None:
        if a.no_mkstream:
            return None
        s = Stream()
    if s.last_id == ID_MAX:
        raise CommandError(E.STREAM_EXHAUSTED)
    if not a.id_given:
        sid = s.next_auto_id(_now(client))
    elif not a.seq_given:
        sid = s.id_for_ms(a.id >> 64)
    else:
        sid = a.id
    if sid is None or sid <= s.last_id:
        raise CommandError(E.STREAM_ID_SMALL)
    pairs = argv[field_pos:]
    total = 0
    for v in pairs:
        total += len(v)
    if total > LISTPACK_MAX_SIZE:
        raise CommandError(E.STREAM_TOO_LARGE)
    max_bytes, max_entries = _config_limits(client)
    s.append(sid, pairs, max_bytes, max_entries, total)
    s.signals += 1
    if created:
        db.set(key, s, kind="xadd")
    else:
        db.touch(key, "xadd")
    reply = format_id(sid)
    effect = list(argv)
    if a.strategy:
        if _trim(s, a):
            db.touch(key, "xtrim", 0)
        if a.approx:
            _rewrite_trim(s, a, effect)
    if not a.id_given or not a.seq_given:
        effect[id_pos] = reply
    client.propagate(effect)
    return reply


@command("xtrim", -4, "write", 1, 1, 1, acl="stream", group="stream", since="5.0.0",
         summary="Trims the stream to (approximately if '~' is passed) a certain size",
         complexity="O(N), with N being the number of evicted entries. Constant times are very small "
         "however, since entries are organized in macro nodes containing multiple entries that can be "
         "released with a single deallocation.",
         tips=("nondeterministic_output",),
         key_specs=(key_spec(1, "RW", "delete"),),
         history=(("6.2.0", "Added the `MINID` trimming strategy and the `LIMIT` option."),),
         arguments=_symbols("key trim=(strategy=(MAXLEN | MINID@6.2.0) operator=[equal | approximately] "
                            "threshold [LIMIT count:int@6.2.0])"))
def xtrim_command(client: Client, argv: list[bytes]) -> Any:
    """XTRIM key <MAXLEN | MINID> [= | ~] threshold [LIMIT count]"""
    a, _ = _parse_add_trim(client, argv, False)
    db = client.db
    key = argv[1]
    s = _get_stream(db, key)
    if s is None:
        return 0
    deleted = _trim(s, a)
    if deleted:
        effect = list(argv)
        if a.approx:
            _rewrite_trim(s, a, effect)
        client.propagate(effect)
        db.touch(key, "xtrim", deleted)
    return deleted


# -- reads -----------------------------------------------------------------------------------
def _xrange(client: Client, argv: list[bytes], rev: bool) -> Any:
    start_arg, end_arg = (argv[3], argv[2]) if rev else (argv[2], argv[3])
    start, end = _range_bounds(start_arg, end_arg)
    count = -1
    j = 4
    n = len(argv)
    while j < n:
        if argv[j].lower() == b"count" and n - j - 1 >= 1:
            count = parse_int(argv[j + 1])
            count = max(count, 0)
            j += 2
        else:
            raise CommandError(E.SYNTAX)
    topics = client.engine.topic_streams
    plog = _topic_of(topics, argv[1])
    if plog is not None:  # a Kafka topic partition, read from its log (bridge/)
        return NULL_ARRAY if count == 0 else topics.xrange(plog, start, end, count, rev)
    s = _get_stream(client.db, argv[1])
    if s is None:
        return []
    if count == 0:
        return NULL_ARRAY
    count = max(count, 0)
    return _raw_entries(s.range_encoded(start, end, count, rev)[1])


@command("xrange", -4, "readonly", 1, 1, 1, acl="stream", group="stream", since="5.0.0",
         summary="Return a range of elements in a stream, with IDs matching the specified IDs interval",
         complexity="O(N) with N being the number of elements being returned. If N is constant (e.g. "
         "always asking for the first 10 elements with COUNT), you can consider it O(1).",
         key_specs=(key_spec(1, "RO", "access"),),
         history=(("6.2.0", "Added exclusive ranges."),),
         args="key start end [COUNT count:int]")
def xrange_command(client: Client, argv: list[bytes]) -> Any:
    """XRANGE key start end [COUNT count]"""
    return _xrange(client, argv, False)


@command("xrevrange", -4, "readonly", 1, 1, 1, acl="stream", group="stream", since="5.0.0",
         summary="Return a range of elements in a stream, with IDs matching the specified IDs interval, "
         "in reverse order (from greater to smaller IDs) compared to XRANGE",
         complexity="O(N) with N being the number of elements returned. If N is constant (e.g. always "
         "asking for the first 10 elements with COUNT), you can consider it O(1).",
         key_specs=(key_spec(1, "RO", "access"),),
         history=(("6.2.0", "Added exclusive ranges."),),
         args="key end start [COUNT count:int]")
def xrevrange_command(client: Client, argv: list[bytes]) -> Any:
    """XREVRANGE key end start [COUNT count]"""
    return _xrange(client, argv, True)


@command("xlen", 2, "readonly fast", 1, 1, 1, acl="stream", group="stream", since="5.0.0",
         summary="Return the number of entries in a stream", key_specs=(key_spec(1, "RO"),),
         args="key")
def xlen_command(client: Client, argv: list[bytes]) -> Any:
    """XLEN key"""
    topics = client.engine.topic_streams
    plog = topics.lookup(argv[1])
    if plog is not None:
        return topics.length(plog)
    s = _get_stream(client.db, argv[1])
    return 0 if s is None else s.length


# -- XDEL / XSETID ---------------------------------------------------------------------------
@command("xdel", -3, "write fast", 1, 1, 1, acl="stream", group="stream", since="5.0.0",
         summary="Removes the specified entries from the stream. Returns the number of items actually "
         "deleted, that may be different from the number of IDs passed in case certain IDs do not exist.",
         complexity="O(1) for each single item to delete in the stream, regardless of the stream size.",
         key_specs=(key_spec(1, "RW", "delete"),), args="key id...")
def xdel_command(client: Client, argv: list[bytes]) -> Any:
    """XDEL key id [id ...]"""
    db = client.db
    s = _get_stream(db, argv[1])
    if s is None:
        return 0
    ids = [_strict_id(a) for a in argv[2:]]
    deleted = s.xdel(ids)
    if deleted:
        db.touch(argv[1], "xdel", deleted)
    return deleted


@command("xsetid", -3, "write denyoom fast", 1, 1, 1, acl="stream", group="stream", since="5.0.0",
         summary="An internal command for replicating stream values",
         key_specs=(key_spec(1, "RW", "update"),),
         history=(("7.0.0", "Added the `entries_added` and `max_deleted_entry_id` arguments."),),
         args="key last-id [ENTRIESADDED entries_added:int@7.0.0] "
              "[MAXDELETEDID max_deleted_entry_id@7.0.0]")
def xsetid_command(client: Client, argv: list[bytes]) -> Any:
    """XSETID key last-id [ENTRIESADDED entries_added] [MAXDELETEDID max_deleted_entry_id]"""
    sid = _strict_id(argv[2])
    entries_added = -1
    max_deleted = 0
    i = 3
    n = len(argv)
    while i < n:
        moreargs = n - 1 - i
        opt = argv[i].lower()
        if opt == b"entriesadded" and moreargs:
            entries_added = parse_int(argv[i + 1])
            if entries_added < 0:
                raise CommandError(E.STREAM_ENTRIES_ADDED_NEGATIVE)
        elif opt == b"maxdeletedid" and moreargs:
            max_deleted = _strict_id(argv[i + 1])
            if sid < max_deleted:
                raise CommandError(E.STREAM_SETID_MAXDELETED)
        else:
            raise CommandError(E.SYNTAX)
        i += 2
    db = client.db
    s = _get_stream(db, argv[1])
    if s is None:
        raise CommandError(E.NO_SUCH_KEY)
    if s.length > 0:
        if sid < s.last_valid_id():
            raise CommandError(E.STREAM_SETID_SMALL)
        if entries_added != -1 and s.length > entries_added:
            raise CommandError(E.STREAM_SETID_ENTRIES_ADDED)
    s.last_id = sid
    if entries_added != -1:
        s.entries_added = entries_added
    if max_deleted:
        s.max_deleted = max_deleted
    db.touch(argv[1], "xsetid")
    return OK


# -- XREAD / XREADGROUP ----------------------------------------------------------------------
def _xread_keys(argv: list[bytes]) -> list[int]:
    """The key positions of XREAD/XREADGROUP: half of what follows STREAMS (COMMAND GETKEYS)."""
    for i in range(1, len(argv)):
        if argv[i].lower() == b"streams":
            rest = len(argv) - i - 1
            return list(range(i + 1, i + 1 + rest // 2))
    return []


def _xreadgroup_keys(argv: list[bytes]) -> list[int]:
    return _xread_keys(argv)


class _ReadGroup:
    __slots__ = ("consumer", "name", "noack")

    def __init__(self, name: bytes, consumer: bytes, noack: bool) -> None:
        self.name = name
        self.consumer = consumer
        self.noack = noack


def _serve_group(client: Client, key: bytes, s: Stream, group: Group, rg: _ReadGroup, start: int, count: int,
                 history: bool, effects: list[list[bytes]]) -> Any:
    """streamReplyWithRange for a group: deliver entries >= start (or the consumer's history),
    recording pending entries and the effects Redis propagates for them."""
    now = _now(client)
    consumer = group.consumer(rg.consumer)
    if consumer is None:
        consumer = group.create_consumer(rg.consumer, now)
        assert consumer is not None
        client.db.notify(key, "xgroup-createconsumer")
        if rg.noack:
            effects.append([b"XGROUP", b"CREATECONSUMER", key, rg.name, rg.consumer])
    else:
        consumer.seen_time = now
    if history:
        out: list[Any] = []
        for sid in consumer.pel.irange(start):
            if count and len(out) >= count:
                break
            entry = s.entry_reply(sid)
            if entry is None:
                out.append([format_id(sid), NULL_ARRAY])
            else:
                nack = consumer.pel[sid]
                nack.delivery_time = now
                nack.delivery_count += 1
                out.append(Raw(entry))
        return out
    moved = False
    ids, replies = s.range_encoded(start, ID_MAX, count)
    for sid in ids:
        if s.advance_group(group, sid):
            moved = True
        if not rg.noack:
            nack = group.deliver(sid, consumer, now)
            effects.append(_xclaim_effect(key, rg.name, group, format_id(sid), nack))
    if moved and rg.noack:
        effects.append(_setid_effect(key, rg.name, group))
    return _raw_entries(replies)


def _xread(client: Client, argv: list[bytes], xreadgroup: bool) -> Any:
    timeout = -1
    count = 0
    streams_arg = 0
    streams_count = 0
    noack = False
    groupname: bytes | None = None
    consumername = b""
    n = len(argv)
    i = 1
    while i < n:
        moreargs = n - i - 1
        o = argv[i].lower()
        if o == b"block" and moreargs:
            if "script" in client.flags:  # refused before the timeout is even read, as Redis
                raise CommandError(E.STREAM_BLOCK_SCRIPT.format(argv[0].decode("utf-8", "replace")))
            i += 1
            timeout = parse_int(argv[i], E.STREAM_TIMEOUT_NOT_INTEGER)
            if timeout < 0:
                raise CommandError(E.TIMEOUT_NEGATIVE)
        elif o == b"count" and moreargs:
            i += 1
            count = parse_int(argv[i])
            count = max(count, 0)
        elif o == b"streams" and moreargs:
            streams_arg = i + 1
            streams_count = n - streams_arg
            if streams_count % 2:
                raise CommandError(E.STREAM_UNBALANCED)
            streams_count //= 2
            break
        elif o == b"group" and moreargs >= 2:
            if not xreadgroup:
                raise CommandError(E.STREAM_GROUP_XREAD)
            groupname = argv[i + 1]
            consumername = argv[i + 2]
            i += 2
        elif o == b"noack":
            if not xreadgroup:
                raise CommandError(E.STREAM_NOACK_XREAD)
            noack = True
        else:
            raise CommandError(E.SYNTAX)
        i += 1
    if streams_arg == 0:
        raise CommandError(E.SYNTAX)
    if xreadgroup and groupname is None:
        raise CommandError(E.STREAM_MISSING_GROUP)
    db = client.db
    keys = argv[streams_arg:streams_arg + streams_count]
    ids: list[int] = []
    groups: list[Group | None] = []
    topics = client.engine.topic_streams
    plogs = [_topic_of(topics, key) for key in keys]  # Kafka topic partitions among the keys (bridge/)
    for k in range(streams_count):
        key = keys[k]
        plog = plogs[k]
        if plog is not None and groupname is not None:
            raise refusal("xreadgroup", key, plog)
        s = _get_stream(db, key) if plog is None else None
        group = None
        if groupname is not None:
            group = s.groups.get(groupname) if s is not None else None
            if group is None:
                raise CommandError(E.STREAM_NOGROUP_READ.format(c_string(key), c_string(groupname)))
        groups.append(group)
        arg = argv[streams_arg + streams_count + k]
        if arg == b"$":
            if xreadgroup:
                raise CommandError(E.STREAM_DOLLAR_GROUP)
            ids.append(topics.last_entry_id(plog) if plog is not None else s.last_id if s is not None else 0)
        elif arg == b">":
            if not xreadgroup:
                raise CommandError(E.STREAM_GT_XREAD)
            ids.append(ID_MAX)
        else:
            ids.append(_strict_id(arg))
    rg = _ReadGroup(groupname, consumername, noack) if groupname is not None else None
    if xreadgroup:
        _no_propagation(client)
    effects: list[list[bytes]] = []
    served: list[tuple[bytes, Any]] = []
    for k in range(streams_count):
        key = keys[k]
        plog = plogs[k]
        if plog is not None:
            found = topics.read_after(plog, ids[k], count)
            if found is not None:
                served.append((key, found))
            continue
        s = db.get(key)
        if s is None:
            continue
        gt = ids[k]
        group = groups[k]
        history = False
        serve = False
        if group is not None:
            if gt != ID_MAX:
                serve = history = True
            elif s.length and s.last_valid_id() > group.last_id:
                serve = True
                gt = group.last_id
        elif s.length and s.last_valid_id() > gt:
            serve = True
        if not serve:
            continue
        start = gt + 1 if gt != ID_MAX else gt
        if group is not None:
            assert rg is not None
            entries = _serve_group(client, key, s, group, rg, start, count, history, effects)
            _dirty(client)
        else:
            entries = _raw_entries(s.range_encoded(start, ID_MAX, count)[1])
        served.append((key, entries))
    if effects:
        client.propagate(*effects)
    if served:
        return _read_reply(client, served)
    if timeout == -1:
        return NULL_ARRAY
    if not blocking.may_block(client):
        return NULL_ARRAY
    return _block(client, argv, keys, ids, rg, count or _XREAD_BLOCKED_DEFAULT_COUNT, timeout)


def _read_reply(client: Client, served: list[tuple[bytes, Any]]) -> Any:
    if client.proto == 2:
        return [[key, entries] for key, entries in served]
    return MapReply(served)


def _block(client: Client, argv: list[bytes], keys: list[bytes], ids: list[int], rg: _ReadGroup | None, count: int, timeout: int) -> Any:
    """Park the client until one of keys has entries for it (blockForKeys for streams)."""
    db = client.db
    topics = client.engine.topic_streams
    state: dict[bytes, list[Any]] = {}
    topic_keys: set[bytes] = set()
    for key, gt in zip(keys, ids):
        if key not in state:
            if topics.lookup(key) is not None:
                topic_keys.add(key)
            value = db.peek(key)
            state[key] = [gt, value, value.signals if type(value) is Stream else 0]

    def on_ready(c: Client, key: bytes) -> Any:
        st = state[key]
        if key in topic_keys:  # woken by an append to the partition (bridge/)
            plog = topics.lookup(key)
            found = None if plog is None else topics.read_after(plog, st[0], count)
            return None if found is None else _read_reply(c, [(key, found)])
        value = c.db.peek(key)
        changed = value is not st[1]
        if type(value) is not Stream:
            was_stream = type(st[1]) is Stream
            st[1] = value
            if rg is not None and was_stream and changed:
                raise CommandError(E.STREAM_KEY_GONE)
            return None
        if not changed and value.signals == st[2]:
            return None
        st[1] = value
        st[2] = value.signals
        group = None
        if rg is not None:
            group = value.groups.get(rg.name)
            if group is None:
                raise CommandError(E.STREAM_GROUP_GONE)
            st[0] = group.last_id
        gt = st[0]
        if value.last_id <= gt:
            return None
        if group is not None:
            effects: list[list[bytes]] = []
            c.propagate_override = []
            entries = _serve_group(c, key, value, group, rg, gt + 1, count, False, effects)  # type: ignore[arg-type]
            if effects:
                c.propagate(*effects)
        else:
            entries = _raw_entries(value.range_encoded(gt + 1, ID_MAX, count)[1])
        return _read_reply(c, [(key, entries)])

    return blocking.block_client(client, argv, list(state), timeout, on_ready)


_XREAD_SPEC = (KeySpec(("keyword", "STREAMS", 1), ("range", -1, 1, 2), ("RO", "access")),)
_XREADGROUP_SPEC = (KeySpec(("keyword", "STREAMS", 4), ("range", -1, 1, 2), ("RO", "access")),)


@command("xread", -4, "readonly blocking movablekeys", acl="stream", group="stream", since="5.0.0",
         summary="Return never seen elements in multiple streams, with IDs greater than the ones reported "
         "by the caller for each stream. Can block.",
         complexity="For each stream mentioned: O(N) with N being the number of elements being returned, "
         "it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD "
         "will pay O(M) time in order to serve the M clients blocked on the stream getting new data.",
         key_specs=_XREAD_SPEC, get_keys=_xread_keys,
         args="[COUNT count:int] [BLOCK milliseconds:int] STREAMS (key... id...)")
def xread_command(client: Client, argv: list[bytes]) -> Any:
    """XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]"""
    return _xread(client, argv, False)


@command("xreadgroup", -7, "write blocking movablekeys", acl="stream", group="stream", since="5.0.0",
         summary="Return new entries from a stream using a consumer group, or access the history of the "
         "pending entries for a given consumer. Can block.",
         complexity="For each stream mentioned: O(M) with M being the number of elements returned. If M is "
         "constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On "
         "the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N "
         "clients blocked on the stream getting new data.",
         key_specs=_XREADGROUP_SPEC, get_keys=_xreadgroup_keys,
         args="group_consumer=GROUP (group consumer) [COUNT count:int] [BLOCK milliseconds:int] [NOACK] "
              "STREAMS (key... id...)")
def xreadgroup_command(client: Client, argv: list[bytes]) -> Any:
    """XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...]
    id [id ...]"""
    return _xread(client, argv, True)


# -- XACK / XPENDING -------------------------------------------------------------------------
@command("xack", -4, "write fast", 1, 1, 1, acl="stream", group="stream", since="5.0.0",
         summary="Marks a pending message as correctly processed, effectively removing it from the pending "
         "entries list of the consumer group. Return value of the command is the number of messages "
         "successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.",
         complexity="O(1) for each message ID processed.",
         key_specs=(key_spec(1, "RW", "update"),), args="key group id...")
def xack_command(client: Client, argv: list[bytes]) -> Any:
    """XACK key group id [id ...]"""
    s = _get_stream(client.db, argv[1])
    group = s.groups.get(argv[2]) if s is not None else None
    if group is None:
        return 0
    ids = [_strict_id(a) for a in argv[3:]]
    acked = 0
    for sid in ids:
        if group.ack(sid):
            acked += 1
    _dirty(client, acked)
    return acked


@command("xpending", -3, "readonly", 1, 1, 1, acl="stream", group="stream", since="5.0.0",
         summary="Return information and entries from a stream consumer group pending entries list, that "
         "are messages fetched but never acknowledged.",
         complexity="O(N) with N being the number of elements returned, so asking for a small fixed number "
         "of entries per call is O(1). O(M), where M is the total number of entries scanned when used with "
         "the IDLE filter. When the command returns just the summary and the list of consumers is small, "
         "it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.",
         tips=("nondeterministic_output",),
         key_specs=(key_spec(1, "RO", "access"),),
         history=(("6.2.0", "Added the `IDLE` option and exclusive range intervals."),),
         args="key group [filters=([IDLE min-idle-time:int@6.2.0] start end count:int [consumer])]")
def xpending_command(client: Client, argv: list[bytes]) -> Any:
    """XPENDING key group [[IDLE min-idle-time] start end count [consumer]]"""
    n = len(argv)
    if n != 3 and (n < 6 or n > 9):
        raise CommandError(E.SYNTAX)
    minidle = count = 0
    start = end = 0
    consumername = None
    if n >= 6:
        startidx = 3
        if argv[3].lower() == b"idle":
            minidle = parse_int(argv[4])
            if n < 8:
                raise CommandError(E.SYNTAX)
            startidx += 2
        count = parse_int(argv[startidx + 2])
        count = max(count, 0)
        start, end = _range_bounds(argv[startidx], argv[startidx + 1])
        if startidx + 3 < n:
            consumername = argv[startidx + 3]
    plog = client.engine.topic_streams.lookup(argv[1])
    if plog is not None:  # a topic has no stream consumer groups (bridge/)
        raise refusal("xpending", argv[1], plog)
    s = _get_stream(client.db, argv[1])
    group = s.groups.get(argv[2]) if s is not None else None
    if group is None:
        raise CommandError(E.STREAM_NOGROUP.format(c_string(argv[1]), c_string(argv[2])))
    if n == 3:
        pel = group.pel
        if not pel:
            return [0, None, None, NULL_ARRAY]
        owners = [[name, b"%d" % len(group.consumers[name].pel)] for name in sorted(group.consumers)
                  if group.consumers[name].pel]
        return [len(pel), format_id(pel.keys()[0]), format_id(pel.keys()[-1]), owners]
    pel = group.pel
    if consumername is not None:
        consumer = group.consumer(consumername)
        if consumer is None:
            return []
        pel = consumer.pel
    now = _now(client)
    out = []
    if count and start <= end:
        for sid in pel.irange(start, end):
            nack = pel[sid]
            idle = now - nack.delivery_time
            if minidle and idle < minidle:
                continue
            out.append([format_id(sid), nack.consumer.name if nack.consumer is not None else b"",
                        max(idle, 0), nack.delivery_count])
            if len(out) == count:
                break
    return out


# -- XCLAIM / XAUTOCLAIM ---------------------------------------------------------------------
def _group_or_nogroup(client: Client, argv: list[bytes]) -> tuple[Stream, Group]:
    return _group_of(_get_stream(client.db, argv[1]), argv)


def _group_of(s: Stream | None, argv: list[bytes]) -> tuple[Stream, Group]:
    """The stream s (at argv[1], already looked up) and its group argv[2], or NOGROUP."""
    group = s.groups.get(argv[2]) if s is not None else None
    if group is None:
        raise CommandError(E.STREAM_NOGROUP.format(c_string(argv[1]), c_string(argv[2])))
    return s, group  # type: ignore[return-value]


def _claimer(client: Client, group: Group, name: bytes, key: bytes, now: int) -> Consumer:
    consumer = group.consumer(name)
    if consumer is None:
        consumer = group.create_consumer(name, now)
        assert consumer is not None
        client.db.notify(key, "xgroup-createconsumer")
    else:
        consumer.seen_time = now
    return consumer


@command("xclaim", -6, "write fast", 1, 1, 1, acl="stream", group="stream", since="5.0.0",
         summary="Changes (or acquires) ownership of a message in a consumer group, as if the message was "
         "delivered to the specified consumer.",
         complexity="O(log N) with N being the number of messages in the PEL of the consumer group.",
         tips=("nondeterministic_output",),
         key_specs=(key_spec(1, "RW", "update"),),
         args="key group consumer min-idle-time id... [IDLE ms:int] [TIME unix-time-milliseconds:time] "
              "[RETRYCOUNT count:int] [FORCE] [JUSTID] [LASTID id]")
def xclaim_command(client: Client, argv: list[bytes]) -> Any:
    """XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds]
    [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID id]"""
    s, group = _group_or_nogroup(client, argv)
    key, groupname = argv[1], argv[2]
    minidle = parse_int(argv[4], E.STREAM_XCLAIM_MIN_IDLE)
    minidle = max(minidle, 0)
    n = len(argv)
    ids: list[int] = []
    j = 5
    while j < n:
        try:
            ids.append(_strict_id(argv[j]))
        except CommandError:
            break
        j += 1
    last_id_arg = j - 1
    now = _now(client)
    retrycount = -1
    deliverytime = -1
    force = justid = False
    last_id = 0
    while j < n:
        moreargs = n - 1 - j
        opt = argv[j].lower()
        if opt == b"force":
            force = True
        elif opt == b"justid":
            justid = True
        elif opt == b"idle" and moreargs:
            j += 1
            deliverytime = now - parse_int(argv[j], E.STREAM_XCLAIM_OPTION.format("IDLE"))
        elif opt == b"time" and moreargs:
            j += 1
            deliverytime = parse_int(argv[j], E.STREAM_XCLAIM_OPTION.format("TIME"))
        elif opt == b"retrycount" and moreargs:
            j += 1
            retrycount = parse_int(argv[j], E.STREAM_XCLAIM_OPTION.format("RETRYCOUNT"))
        elif opt == b"lastid" and moreargs:
            j += 1
            last_id = _strict_id(argv[j])
        else:
            raise CommandError(E.STREAM_XCLAIM_UNRECOGNIZED.format(c_string(argv[j])))
        j += 1
    _no_propagation(client)
    propagate_last_id = False
    if last_id > group.last_id:
        group.last_id = last_id
        propagate_last_id = True
    if deliverytime != -1:
        if deliverytime < 0 or deliverytime > now:
            deliverytime = now
    else:
        deliverytime = now
    consumer: Consumer | None = None
    name = argv[3]
    out: list = []
    effects: list[list[bytes]] = []
    for k in range(5, last_id_arg + 1):
        sid = ids[k - 5]
        nack = group.pel.get(sid)
        entry = s.entry_reply(sid)
        if entry is None:
            if nack is not None:
                effects.append(_xclaim_effect(key, groupname, group, argv[k], nack))
                propagate_last_id = False
                _dirty(client)
                group.ack(sid)
            continue
        if force and nack is None:
            nack = group.pel[sid] = Nack(None, now)
        if nack is None:
            continue
        if nack.consumer is not None and minidle and now - nack.delivery_time < minidle:
            continue
        if consumer is None:
            consumer = _claimer(client, group, name, key, now)
        if nack.consumer is not consumer and nack.consumer is not None:
            nack.consumer.pel.pop(sid, None)
        nack.delivery_time = deliverytime
        if retrycount >= 0:
            nack.delivery_count = retrycount
        elif not justid:
            nack.delivery_count += 1
        if nack.consumer is not consumer:
            consumer.pel[sid] = nack
            nack.consumer = consumer
        if justid:
            out.append(format_id(sid))
        else:
            out.append(Raw(entry))
        effects.append(_xclaim_effect(key, groupname, group, argv[k], nack))
        propagate_last_id = False
        _dirty(client)
    if propagate_last_id:
        effects.append(_setid_effect(key, groupname, group))
        _dirty(client)
    if effects:
        client.propagate(*effects)
    return out


@command("xautoclaim", -6, "write fast", 1, 1, 1, acl="stream", group="stream", since="6.2.0",
         summary="Changes (or acquires) ownership of messages in a consumer group, as if the messages were "
         "delivered to the specified consumer.",
         complexity="O(1) if COUNT is small.",
         tips=("nondeterministic_output",),
         key_specs=(key_spec(1, "RW", "delete"),),
         history=(("7.0.0", ("Added an element to the reply array, containing deleted entries the command "
                             "cleared from the PEL")),),
         args="key group consumer min-idle-time start [COUNT count:int] [JUSTID]")
def xautoclaim_command(client: Client, argv: list[bytes]) -> Any:
    """XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]"""
    db = client.db
    value = db.get(argv[1])
    minidle = parse_int(argv[4], E.STREAM_XAUTOCLAIM_MIN_IDLE)
    minidle = max(minidle, 0)
    start, ex = _interval_id(argv[5], 0)
    if ex:
        if start == ID_MAX:
            raise CommandError(E.STREAM_START_INTERVAL)
        start += 1
    count = 100
    justid = False
    n = len(argv)
    j = 6
    max_count = _LLONG_MAX // 16
    while j < n:
        moreargs = n - 1 - j
        opt = argv[j].lower()
        if opt == b"count" and moreargs:
            count = parse_int(argv[j + 1], E.STREAM_XAUTOCLAIM_COUNT)
            if count < 1 or count > max_count:
                raise CommandError(E.STREAM_XAUTOCLAIM_COUNT)
            j += 1
        elif opt == b"justid":
            justid = True
        else:
            raise CommandError(E.SYNTAX)
        j += 1
    if value is not None and type(value) is not Stream:
        raise CommandError(E.WRONGTYPE)
    s, group = _group_of(value, argv)
    if count * 16 > _MEMORY_BYTES:
        # Redis allocates room for COUNT deleted IDs up front and says so when it cannot.
        raise CommandError(E.STREAM_XAUTOCLAIM_MEMORY)
    _no_propagation(client)
    key, groupname = argv[1], argv[2]
    now = _now(client)
    attempts = count * 10
    consumer: Consumer | None = None
    claimed: list = []
    deleted: list[bytes] = []
    effects: list[list[bytes]] = []
    pel = group.pel
    name = argv[3]
    next_id = 0
    it = iter(list(pel.irange(start)))
    for sid in it:
        if not (attempts and count):
            next_id = sid
            break
        attempts -= 1
        nack = pel[sid]
        sid_b = format_id(sid)
        entry = s.entry_reply(sid)
        if entry is None:
            effects.append(_xclaim_effect(key, groupname, group, sid_b, nack))
            _dirty(client)
            group.ack(sid)
            deleted.append(sid_b)
            count -= 1
            continue
        if minidle and now - nack.delivery_time < minidle:
            continue
        if consumer is None:
            consumer = _claimer(client, group, name, key, now)
        group.assign(sid, nack, consumer)
        nack.delivery_time = now
        if not justid:
            nack.delivery_count += 1
        claimed.append(sid_b if justid else Raw(entry))
        count -= 1
        effects.append(_xclaim_effect(key, groupname, group, sid_b, nack))
        _dirty(client)
    if effects:
        client.propagate(*effects)
    return [format_id(next_id), claimed, deleted]


# -- XGROUP ----------------------------------------------------------------------------------
def _xgroup_target(client: Client, argv: list[bytes], mkstream: bool) -> tuple[Stream | None, Group | None]:
    """The stream and group an XGROUP subcommand names, with Redis's checks (key must exist
    unless MKSTREAM; SETID, CREATECONSUMER and DELCONSUMER need the group)."""
    s = _get_stream(client.db, argv[2])
    group = None
    if not mkstream:
        if s is None:
            raise CommandError(E.STREAM_XGROUP_NO_KEY)
        group = s.groups.get(argv[3])
        if group is None and argv[1].lower() in (b"setid", b"createconsumer", b"delconsumer"):
            raise CommandError(E.STREAM_NOGROUP_KEY.format(c_string(argv[3]), c_string(argv[2])))
    return s, group


def _xgroup_options(argv: list[bytes]) -> tuple[bool, int | None]:
    """The MKSTREAM / ENTRIESREAD options after argv[4] (XGROUP CREATE and SETID)."""
    opt = argv[1].lower()
    create = opt == b"create"
    setid = opt == b"setid"
    mkstream = False
    entries_read: int | None = None
    i = 5
    n = len(argv)
    while i < n:
        a = argv[i].lower()
        if create and a == b"mkstream":
            mkstream = True
            i += 1
        elif (create or setid) and a == b"entriesread" and i + 1 < n:
            v = parse_int(argv[i + 1])
            if v < 0 and v != -1:
                raise CommandError(E.STREAM_ENTRIES_READ)
            entries_read = None if v == -1 else v
            i += 2
        else:
            raise CommandError(subcommand_syntax(argv[1], "xgroup"))
    return mkstream, entries_read


_XGROUP_KEY = (KeySpec(("index", 2), ("range", 0, 1, 0), ("RW", "insert")),)


@command("xgroup|create", -5, "write denyoom", 2, 2, 1, acl="stream", group="stream", since="5.0.0",
         summary="Create a consumer group.", key_specs=_XGROUP_KEY,
         history=(("7.0.0", "Added the `entries_read` named argument."),),
         arguments=_symbols("key groupname id=(id | new_id) [MKSTREAM] [ENTRIESREAD entries_read:int]"))
def xgroup_create_command(client: Client, argv: list[bytes]) -> Any:
    """XGROUP CREATE key groupname <id | $> [MKSTREAM] [ENTRIESREAD entries_read]"""
    mkstream, entries_read = _xgroup_options(argv)
    s, _ = _xgroup_target(client, argv, mkstream)
    if len(argv) > 8:
        raise CommandError(subcommand_syntax(argv[1], "xgroup"))
    if argv[4] == b"$":
        sid = s.last_id if s is not None else 0
    else:
        sid = _strict_id(argv[4])
    db = client.db
    if s is None:
        s = Stream()
        s.groups[argv[3]] = Group(sid, entries_read)
        db.set(argv[2], s, kind="xgroup-create")  # Redis: a new key, then the group's event
        return OK
    if argv[3] in s.groups:
        raise CommandError(E.STREAM_BUSYGROUP)
    s.groups[argv[3]] = Group(sid, entries_read)
    db.notify(argv[2], "xgroup-create")
    return OK


@command("xgroup|setid", -5, "write", 2, 2, 1, acl="stream", group="stream", since="5.0.0",
         summary="Set a consumer group to an arbitrary last delivered ID value.",
         key_specs=(KeySpec(("index", 2), ("range", 0, 1, 0), ("RW", "update")),),
         history=(("7.0.0", "Added the optional `entries_read` argument."),),
         arguments=_symbols("key groupname id=(id | new_id) [ENTRIESREAD entries_read:int]"))
def xgroup_setid_command(client: Client, argv: list[bytes]) -> Any:
    """XGROUP SETID key groupname <id | $> [ENTRIESREAD entries_read]"""
    _, entries_read = _xgroup_options(argv)
    s, group = _xgroup_target(client, argv, False)
    if len(argv) not in (5, 7):
        raise CommandError(subcommand_syntax(argv[1], "xgroup"))
    assert s is not None and group is not None
    sid = s.last_id if argv[4] == b"$" else parse_id(argv[4])[0]
    group.last_id = sid
    group.entries_read = entries_read
    client.db.notify(argv[2], "xgroup-setid")
    return OK


@command("xgroup|destroy", 4, "write", 2, 2, 1, acl="stream", group="stream", since="5.0.0",
         summary="Destroy a consumer group.",
         complexity="O(N) where N is the number of entries in the group's pending entries list (PEL).",
         key_specs=(KeySpec(("index", 2), ("range", 0, 1, 0), ("RW", "delete")),),
         args="key groupname")
def xgroup_destroy_command(client: Client, argv: list[bytes]) -> Any:
    """XGROUP DESTROY key groupname"""
    s, group = _xgroup_target(client, argv, False)
    if group is None:
        return 0
    assert s is not None
    del s.groups[argv[3]]
    s.signals += 1  # clients blocked in XREADGROUP on this group get -NOGROUP
    client.db.notify(argv[2], "xgroup-destroy")
    return 1


@command("xgroup|createconsumer", 5, "write denyoom", 2, 2, 1, acl="stream", group="stream", since="6.2.0",
         summary="Create a consumer in a consumer group.", key_specs=_XGROUP_KEY,
         args="key groupname consumername")
def xgroup_createconsumer_command(client: Client, argv: list[bytes]) -> Any:
    """XGROUP CREATECONSUMER key groupname consumername"""
    _, group = _xgroup_target(client, argv, False)
    assert group is not None
    created = group.create_consumer(argv[4], _now(client))
    if created is None:
        return 0
    client.db.notify(argv[2], "xgroup-createconsumer")
    return 1


@command("xgroup|delconsumer", 5, "write", 2, 2, 1, acl="stream", group="stream", since="5.0.0",
         summary="Delete a consumer from a consumer group.",
         key_specs=(KeySpec(("index", 2), ("range", 0, 1, 0), ("RW", "delete")),),
         args="key groupname consumername")
def xgroup_delconsumer_command(client: Client, argv: list[bytes]) -> Any:
    """XGROUP DELCONSUMER key groupname consumername"""
    _, group = _xgroup_target(client, argv, False)
    assert group is not None
    consumer = group.consumer(argv[4])
    if consumer is None:
        return 0
    pending = group.delete_consumer(consumer)
    client.db.notify(argv[2], "xgroup-delconsumer")
    return pending


_XGROUP_HELP = [Status(line.encode()) for line in (
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
)]


@command("xgroup|help", 2, "loading stale", acl="stream", group="stream", since="5.0.0",
         summary="Show helpful text about the different subcommands")
def xgroup_help_command(client: Client, argv: list[bytes]) -> Any:
    """XGROUP HELP"""
    return _XGROUP_HELP


# -- XINFO -----------------------------------------------------------------------------------
def _xinfo_stream(client: Client, argv: list[bytes]) -> Any:
    topics = client.engine.topic_streams
    plog = topics.lookup(argv[2])
    s = _xinfo_target(client, argv) if plog is None else None
    opts = argv[3:]
    full = bool(opts)
    count = 10
    if opts:
        if len(opts) not in (1, 3) or opts[0].lower() != b"full":
            raise CommandError(subcommand_syntax(argv[1], "xinfo"))
        if len(opts) == 3:
            if opts[1].lower() != b"count":
                raise CommandError(subcommand_syntax(argv[1], "xinfo"))
            count = parse_int(opts[2])
            if count < 0:
                count = 10
    if plog is not None:  # a Kafka topic partition (bridge/)
        return topics.xinfo_stream(plog, full, count)
    assert s is not None
    head: list = [
        (b"length", s.length),
        (b"radix-tree-keys", len(s.nodes)),
        (b"radix-tree-nodes", rax_node_count(s.firsts)),
        (b"last-generated-id", format_id(s.last_id)),
        (b"max-deleted-entry-id", format_id(s.max_deleted)),
        (b"entries-added", s.entries_added),
        (b"recorded-first-entry-id", format_id(s.first_id)),
    ]
    if not full:
        first = s.range(0, ID_MAX, 1)
        last = s.rev_range(0, ID_MAX, 1)
        head += [
            (b"groups", len(s.groups)),
            (b"first-entry", _entry(*first[0]) if first else None),
            (b"last-entry", _entry(*last[0]) if last else None),
        ]
        return MapReply(head)
    groups = []
    for name in sorted(s.groups):
        g = s.groups[name]
        pending = [[format_id(sid), nack.consumer.name if nack.consumer is not None else b"",
                    nack.delivery_time, nack.delivery_count]
                   for sid, nack in _limited(g.pel.items(), count)]
        consumers = []
        for cname in sorted(g.consumers):
            c = g.consumers[cname]
            consumers.append(MapReply([
                (b"name", cname), (b"seen-time", c.seen_time), (b"pel-count", len(c.pel)),
                (b"pending", [[format_id(sid), nack.delivery_time, nack.delivery_count]
                              for sid, nack in _limited(c.pel.items(), count)]),
            ]))
        groups.append(MapReply([
            (b"name", name), (b"last-delivered-id", format_id(g.last_id)),
            (b"entries-read", g.entries_read), (b"lag", s.lag(g)), (b"pel-count", len(g.pel)),
            (b"pending", pending), (b"consumers", consumers),
        ]))
    head += [(b"entries", _entries(s.range(0, ID_MAX, count))), (b"groups", groups)]
    return MapReply(head)


def _limited(items: Any, count: int) -> Any:
    if not count:
        return list(items)
    out: list[Any] = []
    for item in items:
        if len(out) == count:
            break
        out.append(item)
    return out


def _xinfo_target(client: Client, argv: list[bytes]) -> Stream:
    plog = client.engine.topic_streams.lookup(argv[2])
    if plog is not None:  # XINFO GROUPS / CONSUMERS: a topic has no stream consumer groups
        raise refusal(f"xinfo {argv[1].decode('utf-8', 'replace')}", argv[2], plog)
    s = _get_stream(client.db, argv[2])
    if s is None:
        raise CommandError(E.NO_SUCH_KEY)
    return s


@command("xinfo|stream", -3, "readonly", 2, 2, 1, acl="stream", group="stream", since="5.0.0",
         summary="Get information about a stream",
         key_specs=(KeySpec(("index", 2), ("range", 0, 1, 0), ("RO", "access")),),
         history=(("6.0.0", "Added the `FULL` modifier."),
                  ("7.0.0", ("Added the `max-deleted-entry-id`, `entries-added`, `recorded-first-entry-id`, "
                             "`entries-read` and `lag` fields"))),
         args="key [FULL ([COUNT count:int])]")
def xinfo_stream_command(client: Client, argv: list[bytes]) -> Any:
    """XINFO STREAM key [FULL [COUNT count]]"""
    return _xinfo_stream(client, argv)


@command("xinfo|groups", 3, "readonly", 2, 2, 1, acl="stream", group="stream", since="5.0.0",
         summary="List the consumer groups of a stream",
         key_specs=(KeySpec(("index", 2), ("range", 0, 1, 0), ("RO", "access")),),
         history=(("7.0.0", "Added the `entries-read` and `lag` fields"),),
         args="key")
def xinfo_groups_command(client: Client, argv: list[bytes]) -> Any:
    """XINFO GROUPS key"""
    s = _xinfo_target(client, argv)
    out = []
    for name in sorted(s.groups):
        g = s.groups[name]
        out.append(MapReply([
            (b"name", name), (b"consumers", len(g.consumers)), (b"pending", len(g.pel)),
            (b"last-delivered-id", format_id(g.last_id)), (b"entries-read", g.entries_read),
            (b"lag", s.lag(g)),
        ]))
    return out


@command("xinfo|consumers", 4, "readonly", 2, 2, 1, acl="stream", group="stream", since="5.0.0",
         summary="List the consumers in a consumer group", tips=("nondeterministic_output",),
         key_specs=(KeySpec(("index", 2), ("range", 0, 1, 0), ("RO", "access")),),
         args="key groupname")
def xinfo_consumers_command(client: Client, argv: list[bytes]) -> Any:
    """XINFO CONSUMERS key groupname"""
    s = _xinfo_target(client, argv)
    g = s.groups.get(argv[3])
    if g is None:
        raise CommandError(E.STREAM_NOGROUP_KEY.format(c_string(argv[3]), c_string(argv[2])))
    now = _now(client)
    return [MapReply([(b"name", name), (b"pending", len(g.consumers[name].pel)),
                      (b"idle", max(now - g.consumers[name].seen_time, 0))])
            for name in sorted(g.consumers)]


_XINFO_HELP = [Status(line.encode()) for line in (
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
)]


@command("xinfo|help", 2, "loading stale", acl="stream", group="stream", since="5.0.0",
         summary="Show helpful text about the different subcommands")
def xinfo_help_command(client: Client, argv: list[bytes]) -> Any:
    """XINFO HELP"""
    return _XINFO_HELP
