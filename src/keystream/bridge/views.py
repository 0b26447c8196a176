"""Table views: a topic materialised live as Redis data, latest value per record key.

A view maps the committed records of every partition of one topic into one database:

- HASH at `<key>`: one hash, field = record key, value = record value;
- STRINGS at `<prefix>`: a string at `<prefix><record key>` holding the record value;
- HASHES at `<prefix>`: a hash at `<prefix><record key>` whose fields are the members of the
  record value, a JSON object (string members as they are, other members as JSON text);
  a value that is not a JSON object is skipped and counted (`records_skipped`).

A tombstone (null value) deletes the field or key; keyless records are skipped (counted).
Records are applied in offset order per partition, as a `read_committed` consumer sees them
(transaction markers and aborted transactions skipped, nothing past the last stable offset).

Live: `LogMaintenance.append_listeners` calls `on_append(topic, partition)` after every
append (Produce, transaction markers, the bridge's own write-through), and the new records
are applied at once, before the producer's reply is sent, as ordinary commands (HSET, HDEL,
MSET, DEL) run by the bridge's connectionless client through `Engine.run`, one execution unit
per catch-up: effects, write events, WATCH, keyspace notifications and client-side caching
invalidation all happen as for any client's writes.

Durability: the topic is the view's state. View definitions are kept in
`<dir>/meta/bridge-views.json` (replaced atomically) and in the `bridge-views` setting; at
start-up, after the RDB/AOF is loaded, each view's keys are deleted and the view is rebuilt by
replaying its topic from the log start. View keys also reach the RDB and AOF like any key, but
what they hold there never counts: a restart (clean or after kill -9) always ends with the
view equal to a replay of the log, so no record is applied twice or missed. The cost is a
replay of each view's topic at start-up (retention and compaction bound it).

Applying: the records of one catch-up are read straight from the stored batches (`viewrows`,
compiled) into (key, value) pairs; for HASH and STRINGS the last record of each key wins, so a
key written several times in one catch-up is set (HSET/MSET) or deleted (HDEL/DEL) once.

Topic deleted: the views of a deleted topic are emptied at once (the view of an empty log,
`LogManager.delete_listeners`) and a topic created again under its name is applied from its
offset 0 as records arrive.

Guarding: while a view exists, write commands from clients (connections, EXEC, scripts) that
touch a view key are refused with an error naming the view: every key of the command is
checked (`Command.keys`: destinations such as LMOVE's, SORT's and GEORADIUS's STORE, the
*STORE commands' first key), plus the keys MOVE and COPY ... DB write in another database;
a blocked client (BLMOVE, BRPOPLPUSH) is checked again when served, for a view created while
it waited. FLUSHALL, FLUSHDB and SWAPDB of a database holding a view are refused.
A WRITETHROUGH view instead turns HSET/HMSET, HDEL, SET (no options) and DEL/UNLINK on its
keys into records produced to the topic (Kafka's default partitioner: murmur2 of the key);
any other write to its keys is refused, and so is a write naming keys of the view and others.
The command is answered after the append, by which time the view has applied the records,
so the topic stays the single source of truth.

Deliberately not here: a view over several topics or of other types (sets, streams); a
write command that only reads a view key (COPY from it, SUNIONSTORE of it) is refused like any
other that touches it; VIEW.DROP deletes the view's keys (they are a copy of the topic).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keystream.bridge.recordio import (
    build_batch_with_headers,
    committed_batches,
    partition_for,
)
from keystream.bridge.viewrows import key_values
from keystream.commands.registry import COMMANDS, Command
from keystream.keyspace.datatypes.hash import Hash
from keystream.log.errors import LogError
from keystream.log.manager import INTERNAL_TOPICS
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.writer import OK

if TYPE_CHECKING:
    from keystream.client import Client
    from keystream.engine import Engine
    from keystream.log.partition import PartitionLog

log = logging.getLogger("keystream.bridge")

__all__ = ["KINDS", "View", "Views", "atomic_write", "parse_declarations"]

KINDS = ("hash", "strings", "hashes")
_FILE = "bridge-views.json"
_APPLY_CHUNK = 512          # records per applied command (HSET/MSET with many fields)
_FOLD = 8192                # records read before they are applied (bounds the memory of a replay)


@dataclass
class View:
    name: bytes                 # the hash key (HASH) or the key prefix (STRINGS, HASHES)
    topic: str
    kind: str
    db: int = 0
    writethrough: bool = False
    declared: bool = False      # from the `bridge-views` setting
    next_offsets: list[int] = field(default_factory=list)    # per partition: next record to apply
    applied: int = 0
    skipped: int = 0

    def owns(self, key: bytes) -> bool:
        return key == self.name if self.kind == "hash" else key.startswith(self.name)

    def overlaps(self, other: View) -> bool:
        if self.db != other.db:
            return False
        if self.kind == "hash" and other.kind == "hash":
            return self.name == other.name
        if self.kind == "hash":
            return other.owns(self.name)
        if other.kind == "hash":
            return self.owns(other.name)
        return self.name.startswith(other.name) or other.name.startswith(self.name)

    def definition(self) -> dict[str, Any]:
        return {"name": self.name.decode("utf-8", "surrogateescape"), "topic": self.topic, "type": self.kind,
                "db": self.db, "writethrough": self.writethrough}


def parse_declarations(text: str) -> list[View]:
    """The `bridge-views` setting: `<key-or-prefix> FROM <topic> AS HASH|STRINGS|HASHES
    [WRITETHROUGH]` declarations separated by `;` (database 0). ValueError naming a bad one."""
    out: list[View] = []
    for part in text.split(";"):
        words = part.split()
        if not words:
            continue
        if (len(words) not in (5, 6) or words[1].upper() != "FROM" or words[3].upper() != "AS"
                or words[4].lower() not in KINDS or (len(words) == 6 and words[5].upper() != "WRITETHROUGH")):
            raise ValueError(f"bad view declaration '{part.strip()}': expected '<key-or-prefix> FROM <topic> "
                             f"AS HASH|STRINGS|HASHES [WRITETHROUGH]'")
        out.append(View(words[0].encode(), words[2], words[4].lower(), 0, len(words) == 6, declared=True))
    return out


def atomic_write(path: str, data: bytes) -> None:
    """Replace path with data: temp file, fsync, rename, fsync the directory."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _field_text(v: Any) -> bytes:
    return v.encode() if isinstance(v, str) else json.dumps(v, separators=(",", ":")).encode()


def _other_db_targets(name: str, argv: list[bytes], db: int) -> list[tuple[int, bytes]]:
    """The keys a command writes in another database than the client's: MOVE's key and COPY's
    destination with DB (an index that is not plain digits is the command's own error)."""
    if name == "move" and len(argv) == 3 and argv[2].isdigit() and int(argv[2]) != db:
        return [(int(argv[2]), argv[1])]
    if name == "copy":
        for i in range(3, len(argv) - 1):
            if argv[i].lower() == b"db" and argv[i + 1].isdigit() and int(argv[i + 1]) != db:
                return [(int(argv[i + 1]), argv[2])]
    return []


def _refusal(view: View, key: bytes, command: str) -> str:
    if view.writethrough:
        return errors.view_writethrough_unsupported(command, view.name, view.kind)
    return errors.view_read_only(key, view.name, view.topic)


class Views:
    """Every view of the engine: definitions, live application, guarding, write-through."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.views: dict[bytes, View] = {}
        self.by_topic: dict[str, list[View]] = {}
        # Read by the command path: True while some view exists (writes are then checked).
        self.guarding = False
        self.client: Client = engine.fake_client()
        self.client.name = b"bridge-views"
        self._cmds: dict[bytes, Command] = {}
        engine.log_tasks.append_listeners.append(self.on_append)
        engine.logs.delete_listeners.append(self.on_topic_deleted)

    def _cmd(self, name: bytes) -> Command:
        cmd = self._cmds.get(name)
        if cmd is None:
            cmd = self._cmds[name] = COMMANDS[name]
        return cmd

    # -- life cycle -------------------------------------------------------------------------
    def _path(self) -> str:
        return os.path.join(self.engine.config["dir"], "meta", _FILE)

    def start(self) -> None:
        """After the dataset is loaded: the views of the file and the setting, each rebuilt
        from its topic (their keys as loaded are replaced)."""
        views: list[View] = []
        try:
            with open(self._path(), "rb") as f:
                for d in json.loads(f.read()):
                    views.append(View(d["name"].encode("utf-8", "surrogateescape"), d["topic"], d["type"],
                                      int(d["db"]), bool(d["writethrough"])))
        except FileNotFoundError:
            pass
        names = {v.name for v in views}
        views.extend(v for v in parse_declarations(self.engine.config["bridge-views"]) if v.name not in names)
        for view in views:
            if any(view.overlaps(other) for other in self.views.values()):
                log.error("view '%s' overlaps another view: not started", view.name.decode("utf-8", "replace"))
                continue
            self._add(view)
            self._wipe(view)
            self.catch_up(view)

    def _add(self, view: View) -> None:
        self.views[view.name] = view
        self.by_topic.setdefault(view.topic, []).append(view)
        self.guarding = True

    def _save(self) -> None:
        data = [v.definition() for v in self.views.values() if not v.declared]
        atomic_write(self._path(), json.dumps(data, indent=1).encode())

    # -- VIEW.CREATE / VIEW.DROP --------------------------------------------------------------
    def create(self, name: bytes, topic: str, kind: str, db: int, writethrough: bool) -> None:
        if name in self.views:
            raise CommandError(errors.view_exists(name))
        if topic in INTERNAL_TOPICS or self.engine.logs.topics.get(topic) is None:
            raise CommandError(errors.view_no_topic(topic))
        if topic in self.engine.captures.captures:
            raise CommandError(errors.view_on_capture_topic(topic))
        if not name:
            raise CommandError(errors.VIEW_EMPTY_NAME)
        view = View(name, topic, kind, db, writethrough)
        for other in self.views.values():
            if view.overlaps(other):
                raise CommandError(errors.view_overlaps(name, other.name))
        if self._existing_keys(view):
            raise CommandError(errors.view_keys_exist(name))
        self._add(view)
        try:
            self._save()
        except OSError as e:
            self._remove(view)
            raise CommandError(errors.bridge_save_failed(str(e))) from None
        self.catch_up(view)

    def drop(self, name: bytes) -> None:
        view = self.views.get(name)
        if view is None:
            raise CommandError(errors.view_no_such(name))
        self._remove(view)
        try:
            self._save()
        except OSError as e:
            self._add(view)
            raise CommandError(errors.bridge_save_failed(str(e))) from None
        self._wipe(view)

    def _remove(self, view: View) -> None:
        del self.views[view.name]
        peers = self.by_topic[view.topic]
        peers.remove(view)
        if not peers:
            del self.by_topic[view.topic]
        self.guarding = bool(self.views)

    def _existing_keys(self, view: View) -> list[bytes]:
        db = self.engine.dbs[view.db]
        if view.kind == "hash":
            return [view.name] if db.exists(view.name) else []
        return [k for k in db.data if k.startswith(view.name) and db.exists(k)]

    def _wipe(self, view: View) -> None:
        keys = self._existing_keys(view)
        view.next_offsets = []
        view.applied = view.skipped = 0
        if keys:
            self._run_unit(view.db, [[b"DEL", *keys[i:i + _APPLY_CHUNK]] for i in range(0, len(keys), _APPLY_CHUNK)])

    # -- applying records ----------------------------------------------------------------------
    def on_append(self, topic: str, partition: int) -> None:
        views = self.by_topic.get(topic)
        if views is None:
            return
        for view in views:
            self.catch_up(view, partition)

    def on_topic_deleted(self, topic: str) -> None:
        """The topic of views is gone: their keys go too (the view of an empty log); a topic
        created again under that name is replayed from its offset 0 as records arrive."""
        for view in self.by_topic.get(topic, ()):
            self._wipe(view)

    def catch_up(self, view: View, only: int | None = None) -> None:
        """Apply what view has not applied yet (of one partition, or of all)."""
        logs = self.engine.logs
        meta = logs.topics.get(view.topic)
        if meta is None:
            return
        offsets = view.next_offsets
        while len(offsets) < meta.num_partitions:
            offsets.append(0)
        parts = range(meta.num_partitions) if only is None else (only,)
        for p in parts:
            plog = logs.partition(view.topic, p)
            if plog is None:
                continue
            upper = plog.last_stable_offset
            if offsets[p] >= upper:
                continue
            start = offsets[p]
            pairs: list[tuple[bytes, bytes | None]] = []
            keyless = 0
            for stored in committed_batches(plog, start, upper):
                mark = len(pairs)
                try:
                    keyless += key_values(stored, start, upper, pairs)
                except ValueError:
                    del pairs[mark:]
                    log.warning("view '%s': a batch of %s-%d cannot be read: skipped",
                                view.name.decode("utf-8", "replace"), view.topic, p)
                    continue
                if len(pairs) >= _FOLD:
                    self._apply(view, pairs, keyless)
                    pairs = []
                    keyless = 0
            if pairs or keyless:
                self._apply(view, pairs, keyless)
            offsets[p] = upper   # markers and aborted batches below it are passed over too

    def _apply(self, view: View, records: list[tuple[bytes, bytes | None]], keyless: int) -> None:
        """Turn records (in offset order) into commands and run them as one unit. HASH and
        STRINGS: the last record of each key wins (a key written several times here is set
        once, to its last value, or deleted), as HSET/MSET and HDEL/DEL of _APPLY_CHUNK keys."""
        cmds: list[list[bytes]] = []
        kind = view.kind
        name = view.name
        skipped = keyless
        if kind == "hashes":
            for key, value in records:
                target = name + key
                if value is None:
                    cmds.append([b"DEL", target])
                    continue
                try:
                    obj = json.loads(value)
                except ValueError:
                    obj = None
                if not isinstance(obj, dict):
                    skipped += 1
                    continue
                cmds.append([b"DEL", target])
                if obj:
                    flat = [b"HSET", target]
                    for k, v in obj.items():
                        flat += (k.encode(), _field_text(v))
                    cmds.append(flat)
        else:
            sets: list[bytes] = []
            dels: list[bytes] = []
            if kind == "hash":
                for key, value in dict(records).items():
                    if value is None:
                        dels.append(key)
                    else:
                        sets += (key, value)
                set_cmd, del_cmd, head = b"HSET", b"HDEL", [name]
            else:
                for key, value in dict(records).items():
                    if value is None:
                        dels.append(name + key)
                    else:
                        sets += (name + key, value)
                set_cmd, del_cmd, head = b"MSET", b"DEL", []
            step = 2 * _APPLY_CHUNK
            cmds.extend([del_cmd, *head, *dels[i:i + _APPLY_CHUNK]] for i in range(0, len(dels), _APPLY_CHUNK))
            cmds.extend([set_cmd, *head, *sets[i:i + step]] for i in range(0, len(sets), step))
        view.skipped += skipped
        view.applied += len(records) + keyless - skipped
        self._run_unit(view.db, cmds)

    def _run_unit(self, db: int, cmds: list[list[bytes]]) -> None:
        engine = self.engine
        client = self.client
        client.select(db)
        engine.unit_depth += 1
        try:
            for argv in cmds:
                reply = engine.run(client, self._cmd(argv[0].lower()), argv)
                if type(reply) is CommandError:
                    log.warning("view apply of %r failed: %s", argv[0], reply.text)
        finally:
            engine.unit_depth -= 1
        if engine.effects and not engine.unit_depth:
            engine.emit_effects()

    # -- guarding the view keys ----------------------------------------------------------------
    def owner(self, db: int, key: bytes) -> View | None:
        for view in self.views.values():
            if view.db == db and view.owns(key):
                return view
        return None

    def run_guarded(self, client: Client, cmd: Command, argv: list[bytes]) -> Any:
        """Run a write command while views exist: refused on a view key, produced to the topic
        for a write-through view, else the handler as usual."""
        if client is self.client:
            return cmd.handler(client, argv)  # type: ignore[misc]
        db = client.db_index
        name = cmd.name
        if name in ("flushall", "flushdb", "swapdb"):
            self._check_flush(name, db, argv)
            return cmd.handler(client, argv)  # type: ignore[misc]
        keys = cmd.keys(argv)
        for other_db, key in _other_db_targets(name, argv, db):
            owner = self.owner(other_db, key)
            if owner is not None:
                raise CommandError(_refusal(owner, key, name))
        view = None
        for key in keys:
            owner = self.owner(db, key)
            if owner is None:
                if view is not None and view.writethrough:
                    raise CommandError(errors.view_writethrough_mixed(view.name))
                continue
            if not owner.writethrough:
                raise CommandError(errors.view_read_only(key, owner.name, owner.topic))
            if view is not None and view is not owner or view is None and key is not keys[0]:
                raise CommandError(errors.view_writethrough_mixed(owner.name))
            view = owner
        if view is None:
            return cmd.handler(client, argv)  # type: ignore[misc]
        reply = self._write_through(client, cmd, argv, view, keys)
        client.propagate_override = []   # what it did is the view's own apply, already recorded
        return reply

    def check_served(self, client: Client, cmd: Command, argv: list[bytes]) -> None:
        """Before a blocked client's command is served (BLMOVE, BRPOPLPUSH: `Engine.run_unit`):
        refused if one of its keys became a view key while it waited (a view created since)."""
        db = client.db_index
        for key in cmd.keys(argv):
            owner = self.owner(db, key)
            if owner is not None:
                raise CommandError(_refusal(owner, key, cmd.name))

    def _check_flush(self, name: str, db: int, argv: list[bytes]) -> None:
        if name == "flushdb":
            affected = {db}
        elif name == "swapdb":
            try:
                affected = {int(argv[1]), int(argv[2])}
            except ValueError:
                return      # SWAPDB itself reports the bad index
        else:
            affected = {v.db for v in self.views.values()}
        for view in self.views.values():
            if view.db in affected:
                raise CommandError(errors.view_blocks_flush(name.upper(), view.name))

    def _write_through(self, client: Client, cmd: Command, argv: list[bytes], view: View,
                       keys: list[bytes]) -> Any:
        db = self.engine.dbs[view.db]
        name = cmd.name
        kind = view.kind
        records: list[tuple[bytes, bytes | None]] = []
        reply: Any
        if name in ("del", "unlink"):
            reply = 0
            for key in dict.fromkeys(keys):
                value = db.peek(key)
                if value is None:
                    continue
                reply += 1
                if kind == "hash":
                    records.extend((f, None) for f in value)
                else:
                    records.append((key[len(view.name):], None))
        elif name in ("hset", "hmset", "hdel") and kind != "strings":
            key = argv[1]
            current = db.peek(key)
            if current is not None and type(current) is not Hash:
                raise CommandError(errors.WRONGTYPE)
            fields = dict(current or {})
            if name == "hdel":
                gone = [f for f in dict.fromkeys(argv[2:]) if f in fields]
                reply = len(gone)
                for f in gone:
                    del fields[f]
                if kind == "hash":
                    records = [(f, None) for f in gone]
                elif gone:
                    records = [(key[len(view.name):], self._json(fields) if fields else None)]
            else:
                if len(argv) % 2:
                    raise CommandError(errors.wrong_arity(name))
                pairs = list(zip(argv[2::2], argv[3::2], strict=True))
                new = {f for f, _ in pairs if f not in fields}
                reply = len(new) if name == "hset" else OK
                if kind == "hash":
                    records = pairs  # type: ignore[assignment]
                else:
                    fields.update(pairs)
                    records = [(key[len(view.name):], self._json(fields))]
        elif name == "set" and kind == "strings" and len(argv) == 3:
            records = [(argv[1][len(view.name):], argv[2])]
            reply = OK
        else:
            raise CommandError(errors.view_writethrough_unsupported(name, view.name, kind))
        if records:
            self.produce(view.topic, records)
        return reply

    @staticmethod
    def _json(fields: dict[bytes, bytes]) -> bytes:
        try:
            obj = {f.decode(): v.decode() for f, v in fields.items()}
        except UnicodeDecodeError:
            raise CommandError(errors.VIEW_JSON_UTF8) from None
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()

    def produce(self, topic: str, records: list[tuple[bytes, bytes | None]]) -> None:
        """Append keyed records to topic (each to its key's partition) and tell the listeners
        (the views apply them now)."""
        engine = self.engine
        meta = engine.logs.topics.get(topic)
        if meta is None:
            raise CommandError(errors.view_no_topic(topic))
        by_part: dict[int, list[tuple[bytes, bytes | None, list[tuple[bytes, bytes]]]]] = {}
        for key, value in records:
            by_part.setdefault(partition_for(key, meta.num_partitions), []).append((key, value, []))
        now = engine.now_ms()
        for p, recs in sorted(by_part.items()):
            plog: PartitionLog | None = engine.logs.partition(topic, p)
            if plog is None:
                raise CommandError(errors.view_no_topic(topic))
            try:
                plog.append(build_batch_with_headers(recs, now), now)
            except (LogError, ValueError) as e:
                raise CommandError(errors.view_produce_failed(topic, str(e))) from None
            engine.notify_append(topic, p)

    # -- reporting -----------------------------------------------------------------------------
    def lag(self, view: View) -> int:
        logs = self.engine.logs
        total = 0
        for p, nxt in enumerate(view.next_offsets):
            plog = logs.partition(view.topic, p)
            if plog is not None:
                total += max(0, plog.last_stable_offset - nxt)
        return total

    def describe(self, view: View) -> dict[bytes, Any]:
        return {
            b"name": view.name, b"topic": view.topic.encode(), b"type": view.kind.encode(), b"db": view.db,
            b"writethrough": int(view.writethrough), b"declared": int(view.declared),
            b"offsets_applied": [n - 1 for n in view.next_offsets], b"lag": self.lag(view),
            b"records_applied": view.applied, b"records_skipped": view.skipped,
        }

    def info_lines(self) -> list[str]:
        lines = [f"views:{len(self.views)}"]
        for i, view in enumerate(self.views.values()):
            offsets = "/".join(str(n - 1) for n in view.next_offsets)
            lines.append(f"view{i}:name={view.name.decode('utf-8', 'replace')},topic={view.topic},"
                         f"type={view.kind},db={view.db},writethrough={int(view.writethrough)},"
                         f"offsets_applied={offsets},lag={self.lag(view)},records_applied={view.applied},"
                         f"records_skipped={view.skipped}")
        return lines
