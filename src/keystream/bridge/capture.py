"""Change capture: the effects of Redis writes on matching keys, as records of a topic.

`CAPTURE.CREATE <topic> [MATCH <pattern>] [DB <n>] [FORMAT VALUE|EFFECT]` (or the
`bridge-captures` setting) subscribes to the engine's effect stream; every effect (what a
write did, as the AOF and replicas get it: INCRBYFLOAT as SET, expiry as DEL, ...) becomes one
record per key it names that matches the glob pattern (default `*`) in the database (default:
every database), in the order the writes happened. The record:

- key: the Redis key;
- value, FORMAT VALUE (the default): the key's value at the end of the execution unit when it
  is a string (its bytes) or a hash (a JSON object of its fields; bytes that are not UTF-8 are
  escaped as Python's surrogateescape does, `\\udcXX`), a null value (a tombstone, so a
  compacted topic keeps the latest state) when the key no longer exists, and otherwise the
  effect itself as a RESP array of bulk strings (`*3\\r\\n$4\\r\\nLPUSH...`, as in the AOF);
  FORMAT EFFECT: always the effect as a RESP array;
- headers: `db` (decimal), `operation` (the effect's command, lower case: `set`, `del`,
  `hset`, `pexpireat`, ...), `type` (the key's type after the unit: `string`, `hash`,
  `list`, `set`, `zset`, `stream` or `none`) and `seq` (the capture's sequence number of the
  record, decimal: see below).

Whole-database effects (FLUSHALL, FLUSHDB, SWAPDB) name no key: each becomes one record in
every partition of the topic (so a consumer of any partition sees it in order with the keys it
affects), whatever MATCH says, when it changes the captured database (FLUSHALL always, FLUSHDB
of that database, SWAPDB naming it; every one without DB): key empty (zero bytes, not null, so
a compacted topic takes it), value the effect as a RESP array in both formats
(`*1\r\n$8\r\nFLUSHALL\r\n`, never a tombstone), headers `db` (the database the effect was
run in), `operation` (`flushall`, `flushdb`, `swapdb`), `type` `none` and `seq`. A consumer
tells it from a write to the Redis key "" by its operation.

Records are queued as their units end and appended about every millisecond, one batch per
partition (partition: Kafka's default partitioner on the key; a topic CAPTURE.CREATE creates
has one partition, so one total order), each only once the AOF has written its unit (the AOF
write generation of the unit is noted with the record). With `appendfsync always` a record may
reach the topic before or after the client's reply, which waits for the AOF fsync; either way
a restart finds it on both sides (below).

Exactly once with the Redis data (`appendonly yes`, `appendfsync always`), the argument:

1. Every execution unit that yields records for a capture also carries, inside the unit,
   an effect `CAPTURE.MARK <topic> <first seq> <count>` (the unit becomes MULTI ... EXEC):
   the AOF holds each unit together with the sequence numbers of its records, atomically
   (a torn MULTI at the end of the AOF is cut off at load, unit and mark together).
2. Records are appended only after the AOF has written their unit (`written` has reached
   the unit's write generation). So after kill -9 (the page cache survives) the topic never
   holds a record whose unit is not in the AOF: the topic is a prefix of the AOF's captured
   units, and a consumer can never have read a record the restored keyspace lacks.
3. At start-up the capture subscribes before the AOF is replayed and reads, per partition,
   the highest `seq` the topic holds. Replay runs every command through the engine, so the
   effects are emitted again: after a replayed CAPTURE.MARK the next `count` matching
   effects are that unit's records, rebuilt from the replayed keyspace (the same state the
   original had at the end of its unit), and those whose `seq` is above the partition's
   highest are appended. Records are therefore missing from neither side and duplicated in
   neither; the sequence numbers carry on from the highest one seen.
4. A rewritten AOF starts from a snapshot with no marks, so the units it folds in cannot be
   rebuilt: they must all have been captured before the new base replaces the old files.
   They are, in practice: a record waits about a millisecond after its unit's AOF write,
   while a rewrite forks, writes the whole dataset and is only switched in by the cron (a
   record still held back then, e.g. by AOF write errors, is the one case left uncovered).

Without the AOF (or with `everysec`/`no`) records are still written in order, about every ms,
but a crash can lose keyspace writes that the topic kept (or, for RDB only, the dump is older
than the topic): the topic is then ahead of the restored data. If retention has removed every
record a capture wrote, sequence numbers start again from 0 and the last units of the AOF may
be captured twice after a crash.

Definitions persist in `<dir>/meta/bridge-captures.json` (and the `bridge-captures` setting).

Not here: evictions (nothing evicts yet; when something does, its DEL effects are captured
like expirations); DEBUG LOADAOF / DEBUG RELOAD re-apply data that was captured already and give none either.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keystream.bridge.recordio import batch_of, committed_records, partition_for
from keystream.bridge.views import atomic_write
from keystream.keyspace.datatypes.hash import Hash
from keystream.keyspace.db import type_name
from keystream.keyspace.glob import compile_matcher
from keystream.log.batch import encode_varint
from keystream.log.errors import LogError
from keystream.log.manager import INTERNAL_TOPICS
from keystream.persistence.aof import encode_command
from keystream.resp import errors
from keystream.resp.errors import CommandError

if TYPE_CHECKING:
    from keystream.engine import Effect, Engine

log = logging.getLogger("keystream.bridge")

__all__ = ["Capture", "Captures", "parse_capture_declarations"]

_FILE = "bridge-captures.json"
_FLUSH_DELAY = 0.001        # records of about a millisecond of writes share one batch
_EFFECT: Any = object()     # a queued record's value when it is its effect (encoded at flush)
_MAX_BATCH_BYTES = 512 * 1024
_MARK = b"CAPTURE.MARK"
_SKIP = frozenset((b"MULTI", b"EXEC", _MARK))
# (seq, db, key, effect argv, type name, value: bytes, None (tombstone) or _EFFECT, AOF generation)
PendingRecord = tuple[int, int, bytes, list[bytes], bytes, Any, int]
# (db, key, effect argv, partition of a whole-database effect's record or -1: the key's)
Hit = tuple[int, bytes, list[bytes], int]
_WHOLE_DB = {b"flushall": 1, b"flushdb": 1, b"swapdb": 3}     # -> the argument count of the effect


def _whole_db(argv: list[bytes], db: int, want_db: int | None) -> bool:
    """True for FLUSHALL, FLUSHDB and SWAPDB effects that change database want_db (None: any)."""
    name = argv[0].lower()
    if len(argv) < _WHOLE_DB.get(name, len(argv) + 1):
        return False
    if want_db is None or name == b"flushall":
        return True
    if name == b"flushdb":
        return db == want_db
    return argv[1] == b"%d" % want_db or argv[2] == b"%d" % want_db


@dataclass
class Capture:
    topic: str
    pattern: bytes = b"*"
    db: int | None = None
    fmt: str = "value"
    declared: bool = False
    written: int = 0
    last_offset: int = -1
    seq: int = 0                                               # the next record's sequence number
    last_seq: dict[int, int] = field(default_factory=dict)     # per partition: highest seq in the topic
    partitions: int = 1
    matches: Callable[[bytes], bool] = field(default=lambda key: True, repr=False)

    def __post_init__(self) -> None:
        if self.pattern != b"*":
            self.matches = compile_matcher(self.pattern)

    def definition(self) -> dict[str, Any]:
        return {"topic": self.topic, "match": self.pattern.decode("utf-8", "surrogateescape"), "db": self.db,
                "format": self.fmt}


def parse_capture_declarations(text: str) -> list[Capture]:
    """The `bridge-captures` setting: `<topic> [MATCH <pattern>] [DB <n>] [FORMAT VALUE|EFFECT]`
    declarations separated by `;`. ValueError naming a bad one."""
    out = []
    for part in text.split(";"):
        words = part.split()
        if not words:
            continue
        try:
            pattern, db, fmt = parse_options([w.encode() for w in words[1:]])
        except CommandError:
            raise ValueError(f"bad capture declaration '{part.strip()}': expected '<topic> [MATCH <pattern>] "
                             f"[DB <n>] [FORMAT VALUE|EFFECT]'") from None
        out.append(Capture(words[0], pattern, db, fmt, declared=True))
    return out


def parse_options(args: list[bytes]) -> tuple[bytes, int | None, str]:
    pattern, db, fmt = b"*", None, "value"
    i = 0
    while i < len(args):
        opt = args[i].upper()
        if i + 1 >= len(args):
            raise CommandError(errors.CAPTURE_USAGE)
        arg = args[i + 1]
        if opt == b"MATCH":
            pattern = arg
        elif opt == b"DB":
            if not arg.isdigit():
                raise CommandError(errors.CAPTURE_USAGE)
            db = int(arg)
        elif opt == b"FORMAT" and arg.upper() in (b"VALUE", b"EFFECT"):
            fmt = arg.decode().lower()
        else:
            raise CommandError(errors.CAPTURE_USAGE)
        i += 2
    return pattern, db, fmt


def _hash_json(value: Hash) -> bytes:
    obj = {f.decode("utf-8", "surrogateescape"): v.decode("utf-8", "surrogateescape") for f, v in value.items()}
    return json.dumps(obj, separators=(",", ":")).encode()


class Captures:
    """Every change capture of the engine: the effect subscriber, the appends, reconciliation."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.captures: dict[str, Capture] = {}
        self.pending: dict[tuple[str, int], list[PendingRecord]] = {}
        self.flush_scheduled = False
        # during an AOF replay: topic -> ([first seq of the unit, its record count], its hits so far)
        self.replaying: dict[str, tuple[list[int], list[Hit]]] = {}
        self._keys_of: dict[bytes, tuple[int, int, int]] = {}
        self._header_cache: dict[tuple[int, bytes, bytes], bytes] = {}
        engine.shutdown_hooks.append(lambda: self.flush(force=True))

    # -- life cycle -------------------------------------------------------------------------
    def _path(self) -> str:
        return os.path.join(self.engine.config["dir"], "meta", _FILE)

    def load(self) -> None:
        """Before the dataset is loaded (the AOF replay is watched for marks): the captures of
        the file and the setting, and the highest sequence number each topic holds."""
        caps: list[Capture] = []
        try:
            with open(self._path(), "rb") as f:
                for d in json.loads(f.read()):
                    caps.append(Capture(d["topic"], d["match"].encode("utf-8", "surrogateescape"), d["db"],
                                        d["format"]))
        except FileNotFoundError:
            pass
        known = {c.topic for c in caps}
        caps.extend(c for c in parse_capture_declarations(self.engine.config["bridge-captures"])
                    if c.topic not in known)
        for cap in caps:
            try:
                self._ensure_topic(cap.topic)
            except CommandError as e:
                log.error("capture into '%s' not started: %s", cap.topic, e.text)
                continue
            self._scan_seq(cap)
            self.captures[cap.topic] = cap
        self._subscribe()

    def loaded(self) -> None:
        """The dataset is in: append what the replay found missing."""
        self.replaying.clear()
        self.flush(force=True)

    def _subscribe(self) -> None:
        subs = self.engine.effect_subscribers
        if self.captures and self.on_effects not in subs:
            subs.insert(0, self.on_effects)   # first: its marks must be in the unit the AOF writes
        elif not self.captures and self.on_effects in subs:
            subs.remove(self.on_effects)

    def _ensure_topic(self, topic: str) -> None:
        logs = self.engine.logs
        if topic in INTERNAL_TOPICS:
            raise CommandError(errors.capture_bad_topic(topic, "it is an internal topic"))
        if topic in self.engine.views.by_topic:
            raise CommandError(errors.capture_on_view_topic(topic))
        if topic not in logs.topics:
            try:
                logs.create_topic(topic, 1, {})
            except (LogError, ValueError) as e:
                raise CommandError(errors.capture_bad_topic(topic, str(e))) from None

    def _scan_seq(self, cap: Capture) -> None:
        """The highest `seq` header per partition, from the tail of each (widening the window
        back until one is found)."""
        logs = self.engine.logs
        meta = logs.topics[cap.topic]
        cap.partitions = meta.num_partitions
        for p in range(meta.num_partitions):
            plog = logs.partition(cap.topic, p)
            if plog is None:
                continue
            window = 256
            found = -1
            end = plog.log_end_offset
            while True:
                start = max(plog.log_start_offset, end - window)
                for rec in committed_records(plog, start, end):
                    for hk, hv in rec[4]:
                        if hk == b"seq" and hv is not None and hv.isdigit():
                            found = max(found, int(hv))
                if found >= 0 or start <= plog.log_start_offset:
                    break
                window *= 16
            cap.last_seq[p] = found
            cap.seq = max(cap.seq, found + 1)
            if end > plog.log_start_offset:
                cap.last_offset = end - 1

    def _save(self) -> None:
        data = [c.definition() for c in self.captures.values() if not c.declared]
        atomic_write(self._path(), json.dumps(data, indent=1).encode())

    # -- CAPTURE.CREATE / CAPTURE.DROP --------------------------------------------------------
    def create(self, topic: str, pattern: bytes, db: int | None, fmt: str) -> None:
        if topic in self.captures:
            raise CommandError(errors.capture_exists(topic))
        self._ensure_topic(topic)
        cap = Capture(topic, pattern, db, fmt)
        self._scan_seq(cap)
        self.captures[topic] = cap
        try:
            self._save()
        except OSError as e:
            del self.captures[topic]
            raise CommandError(errors.bridge_save_failed(str(e))) from None
        self._subscribe()

    def drop(self, topic: str) -> None:
        if topic not in self.captures:
            raise CommandError(errors.capture_no_such(topic))
        self.flush(force=True)      # its records so far (queued in the last millisecond)
        cap = self.captures.pop(topic)
        try:
            self._save()
        except OSError as e:
            self.captures[topic] = cap
            raise CommandError(errors.bridge_save_failed(str(e))) from None
        self._subscribe()

    # -- effects in ---------------------------------------------------------------------------
    def _key_positions(self, argv: list[bytes]) -> Any:
        """The command's key indexes in argv: a (first, last, step) for fixed positions (cached
        by command name), else the list; None for an unknown command."""
        name = argv[0]
        spec = self._keys_of.get(name)
        if spec is not None:
            return spec
        from keystream.commands.executor import resolve

        try:
            cmd = resolve(argv)
        except CommandError:
            return None
        if cmd.get_keys is None and cmd.container is None and not cmd.subcommands:
            spec = self._keys_of[name] = (cmd.first_key, cmd.last_key, cmd.step or 1)
            return spec
        return cmd.key_indexes(argv)

    def _matching(self, cap: Capture, effects: list[Effect]) -> list[Hit]:
        out: list[Hit] = []
        want_db = cap.db
        matches = cap.matches
        for db, argv in effects:
            if argv[0] in _SKIP:
                continue
            spec = self._key_positions(argv)
            if spec is None:
                continue
            if type(spec) is tuple:
                first, last, step = spec
                if first <= 0:
                    if _whole_db(argv, db, want_db):
                        out.extend((db, b"", argv, p) for p in range(cap.partitions))
                    continue
                if want_db is not None and db != want_db:
                    continue
                if first == last:
                    if len(argv) > first and matches(argv[first]):
                        out.append((db, argv[first], argv, -1))
                    continue
                end = last if last >= 0 else len(argv) + last
                spec = range(first, min(end, len(argv) - 1) + 1, step)
            elif want_db is not None and db != want_db:
                continue
            for i in spec:
                key = argv[i]
                if matches(key):
                    out.append((db, key, argv, -1))
        return out

    def on_effects(self, effects: list[Effect]) -> None:
        """One execution unit's effects (the engine's effect stream)."""
        snapshots = self.engine.snapshots
        if snapshots.loading:
            self._replay(effects)
            return
        if snapshots.aof.loading:     # DEBUG LOADAOF re-applies what was captured already
            return
        marks: list[Effect] = []
        queued = False
        aof = snapshots.aof
        gen = aof.generation + 1 if aof.fd is not None else 0   # the AOF write this unit will be in
        for cap in self.captures.values():
            hits = self._matching(cap, effects)
            if not hits:
                continue
            first = cap.seq
            cap.seq += len(hits)
            marks.append((hits[0][0], [_MARK, cap.topic.encode(), b"%d" % first, b"%d" % len(hits)]))
            self._queue(cap, first, hits, gen)
            queued = True
        if not queued:
            return
        # The marks join the unit (the AOF subscriber comes after this one and sees them);
        # without an AOF nothing replays them.
        if aof.fd is not None:
            if effects[0][1] == [b"MULTI"]:
                effects[1:1] = marks
            else:
                db = effects[0][0]
                effects[:] = [(db, [b"MULTI"]), *marks, *effects, (effects[-1][0], [b"EXEC"])]
        if not self.flush_scheduled:
            self.flush_scheduled = True
            loop = self.engine.loop
            if loop is not None:
                loop.call_later(_FLUSH_DELAY, self.flush)
            else:
                self.flush()

    def _queue(self, cap: Capture, first: int, hits: list[Hit], gen: int,
               only_above: dict[int, int] | None = None) -> None:
        """Note each hit's record as of now (the end of its unit); flush() encodes and appends
        them once the AOF has written generation gen (0: at once)."""
        nparts = cap.partitions
        dbs = self.engine.dbs
        topic = cap.topic
        value_format = cap.fmt == "value"
        for n, (db, key, argv, whole_db_part) in enumerate(hits):
            seq = first + n
            if whole_db_part >= 0:
                part = whole_db_part
            else:
                part = partition_for(key, nparts) if nparts > 1 else 0
            if only_above is not None and seq <= only_above.get(part, -1):
                continue
            value: Any = _EFFECT
            current = None if whole_db_part >= 0 else dbs[db].peek(key)
            if current is None:
                kind = b"none"
                if value_format and whole_db_part < 0:
                    value = None
            else:
                kind = type_name(current)
                if value_format and kind == b"string":
                    value = current
                elif value_format and kind == b"hash":
                    value = _hash_json(current)
            queue = self.pending.get((topic, part))
            if queue is None:
                queue = self.pending[(topic, part)] = []
            queue.append((seq, db, key, argv, kind, value, gen))

    def _replay(self, effects: list[Effect]) -> None:
        for topic, (state, collected) in list(self.replaying.items()):
            cap = self.captures.get(topic)
            if cap is None:
                continue
            for hit in self._matching(cap, effects):
                collected.append(hit)
                if len(collected) == state[1]:
                    break
            if len(collected) >= state[1]:
                del self.replaying[topic]
                self._queue(cap, state[0], collected, 0, only_above=cap.last_seq)
                cap.seq = max(cap.seq, state[0] + state[1])

    def replay_mark(self, topic: str, first: int, count: int) -> None:
        """CAPTURE.MARK read back from the AOF: the next `count` matching effects are one unit."""
        if topic in self.captures and count > 0:
            self.replaying[topic] = ([first, count], [])

    # -- appending ---------------------------------------------------------------------------
    def _headers(self, db: int, op: bytes, kind: bytes) -> bytes:
        """The encoded header count and db, operation and type headers (seq follows)."""
        got = self._header_cache.get((db, op, kind))
        if got is None:
            dbb = b"%d" % db
            low = op.lower()
            v = encode_varint
            got = b"".join((v(4), v(2), b"db", v(len(dbb)), dbb, v(9), b"operation",
                            v(len(low)), low, v(4), b"type", v(len(kind)), kind, v(3), b"seq"))
            if len(self._header_cache) < 4096:
                self._header_cache[(db, op, kind)] = got
        return got

    def flush(self, force: bool = False) -> None:
        """Append the queued records whose units the AOF has written (all of them with force,
        or without an AOF); the others wait for the next flush."""
        self.flush_scheduled = False
        if not self.pending:
            return
        engine = self.engine
        aof = engine.snapshots.aof
        written = aof.written if aof.fd is not None and not force else None
        pending = self.pending
        self.pending = {}
        if written is not None:
            for where, items in list(pending.items()):
                cut = len(items)
                while cut and items[cut - 1][6] > written:
                    cut -= 1
                if cut < len(items):
                    self.pending[where] = items[cut:]
                    if cut:
                        pending[where] = items[:cut]
                    else:
                        del pending[where]
            if self.pending:
                self.flush_scheduled = True
                loop = engine.loop
                if loop is not None:
                    loop.call_later(_FLUSH_DELAY, self.flush)
        now = engine.now_ms()
        headers = self._headers
        for (topic, part), items in pending.items():
            plog = engine.logs.partition(topic, part)
            cap = self.captures.get(topic)
            meta = engine.logs.topics.get(topic)
            if plog is None or cap is None or meta is None:
                log.error("capture into '%s': partition %d is gone, %d records dropped", topic, part, len(items))
                continue
            cap.partitions = meta.num_partitions
            start = 0
            while start < len(items):
                body: list[bytes] = []
                size = 0
                end = start
                while end < len(items) and size < _MAX_BATCH_BYTES:
                    seq, db, key, argv, kind, queued, _gen = items[end]
                    value = encode_command(argv) if queued is _EFFECT else queued
                    seqb = b"%d" % seq
                    rec = b"".join((b"\x00\x00", encode_varint(end - start), encode_varint(len(key)), key,
                                    b"\x01" if value is None else encode_varint(len(value)), value or b"",
                                    headers(db, argv[0], kind), encode_varint(len(seqb)), seqb))
                    body.append(encode_varint(len(rec)))
                    body.append(rec)
                    size += len(rec)
                    end += 1
                try:
                    result = plog.append(batch_of(body, end - start, now), now)
                except (LogError, ValueError) as e:
                    log.error("capture into '%s' failed: %s (%d records dropped)", topic, e, len(items) - start)
                    break
                cap.written += result.record_count
                cap.last_offset = result.last_offset
                cap.last_seq[part] = items[end - 1][0]
                start = end
            engine.notify_append(topic, part)

    # -- reporting -----------------------------------------------------------------------------
    def describe(self, cap: Capture) -> dict[bytes, Any]:
        return {
            b"topic": cap.topic.encode(), b"match": cap.pattern, b"db": -1 if cap.db is None else cap.db,
            b"format": cap.fmt.encode(), b"declared": int(cap.declared), b"records_written": cap.written,
            b"last_offset": cap.last_offset, b"next_seq": cap.seq,
        }

    def info_lines(self) -> list[str]:
        lines = [f"captures:{len(self.captures)}"]
        for i, cap in enumerate(self.captures.values()):
            lines.append(f"capture{i}:topic={cap.topic},match={cap.pattern.decode('utf-8', 'replace')},"
                         f"db={'all' if cap.db is None else cap.db},format={cap.fmt},"
                         f"records_written={cap.written},last_offset={cap.last_offset}")
        return lines
