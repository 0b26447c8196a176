"""Keyspace notifications (Redis's notify.c): write events published on Pub/Sub channels.

`notify-keyspace-events` selects classes of events by letter (K: `__keyspace@<db>__:<key>`
channels with the event as message, E: `__keyevent@<db>__:<event>` channels with the key
as message; g generic, $ string, l list, s set, h hash, z sorted set, t stream,
x expired, e evicted, m key miss, n new key, d module, A = g$lshzxetd). Nothing is published
unless K or E and at least one class are on. For each event, the keyspace message goes
first, then the keyevent one, as in Redis.

Every event comes from the database's typed write events, `(kind, db, key)` with kind the
notification name Redis uses (`set`, `lpush`, `expired`, ...): this module only knows the
class of each name and the channel format. The order of events per command is the order
the write paths report them in.

`keymiss` (class m) is the one event that is not a write: Redis notifies it from its read
lookups (lookupKeyRead) when the key is missing. Here the databases report every miss of a
read (`Database.on_miss`, set only while m is selected) and `KeyspaceNotifier.key_missed`
keeps those Redis makes with a read lookup: any key of a readonly command but OBJECT's and
DEBUG's, and the source keys of the write commands that read theirs that way (SUNIONSTORE's
sources, COPY's source, XACK's stream, GETEX's key, ...), never a write lookup's.

Not here: delivery (keystream/pubsub.py), which events a command causes (its write paths).
Modules do not exist here, so `d` is accepted and never fires.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keystream.engine import Engine
    from keystream.keyspace.db import Database

__all__ = ["EVENT_CLASSES", "KeyspaceNotifier", "parse_classes", "render_classes"]

KEYSPACE = 1 << 0   # K
KEYEVENT = 1 << 1   # E
GENERIC = 1 << 2    # g
STRING = 1 << 3     # $
LIST = 1 << 4       # l
SET = 1 << 5        # s
HASH = 1 << 6       # h
ZSET = 1 << 7       # z
EXPIRED = 1 << 8    # x
EVICTED = 1 << 9    # e
STREAM = 1 << 10    # t
KEY_MISS = 1 << 11  # m (not part of A, on purpose, as in Redis)
MODULE = 1 << 13    # d
NEW = 1 << 14       # n (not part of A either)
ALL = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE

_LETTERS = {"A": ALL, "g": GENERIC, "$": STRING, "l": LIST, "s": SET, "h": HASH, "z": ZSET,
            "x": EXPIRED, "e": EVICTED, "K": KEYSPACE, "E": KEYEVENT, "t": STREAM, "m": KEY_MISS,
            "d": MODULE, "n": NEW}
# The canonical spelling CONFIG GET gives (Redis's keyspaceEventsFlagsToString order).
_CLASS_ORDER = (("g", GENERIC), ("$", STRING), ("l", LIST), ("s", SET), ("h", HASH), ("z", ZSET),
                ("x", EXPIRED), ("e", EVICTED), ("t", STREAM), ("d", MODULE), ("n", NEW))

INVALID_CLASS = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."


def parse_classes(text: str) -> int:
    """notify-keyspace-events text -> flags; ValueError(Redis's message) on a bad letter."""
    flags = 0
    for ch in text:
        bit = _LETTERS.get(ch)
        if bit is None:
            raise ValueError(INVALID_CLASS)
        flags |= bit
    return flags


def render_classes(flags: int) -> str:
    if flags & ALL == ALL:
        out = "A"
    else:
        out = "".join(ch for ch, bit in _CLASS_ORDER if flags & bit)
    if flags & KEYSPACE:
        out += "K"
    if flags & KEYEVENT:
        out += "E"
    if flags & KEY_MISS:
        out += "m"
    return out


def _classes(cls: int, *names: str) -> dict[str, int]:
    return dict.fromkeys(names, cls)


# Every event name Redis 7.0 notifies, and its class.
EVENT_CLASSES: dict[str, int] = {
    **_classes(GENERIC, "del", "expire", "persist", "rename_from", "rename_to", "copy_to",
               "move_from", "move_to", "restore"),
    **_classes(STRING, "set", "setrange", "append", "incrby", "incrbyfloat", "pfadd", "setbit"),
    **_classes(LIST, "lpush", "rpush", "lpop", "rpop", "linsert", "lset", "ltrim", "lrem",
               "sortstore"),
    **_classes(SET, "sadd", "srem", "spop", "sinterstore", "sunionstore", "sdiffstore"),
    **_classes(HASH, "hset", "hdel", "hincrby", "hincrbyfloat"),
    **_classes(ZSET, "zadd", "zincr", "zrem", "zremrangebyscore", "zremrangebyrank",
               "zremrangebylex", "zinterstore", "zunionstore", "zdiffstore", "zrangestore",
               "zpopmin", "zpopmax", "georadiusstore", "geosearchstore"),
    **_classes(STREAM, "xadd", "xdel", "xtrim", "xsetid", "xgroup-create", "xgroup-createconsumer",
               "xgroup-delconsumer", "xgroup-destroy", "xgroup-setid"),
    "expired": EXPIRED,
    "evicted": EVICTED,
    "keymiss": KEY_MISS,
    "new": NEW,
}


def _all_keys(argv: list[bytes], key: bytes) -> bool:
    return True


def _not_at(index: int) -> Callable[[list[bytes], bytes], bool]:
    """Every key but the destination at argv[index] (a write lookup in Redis)."""
    def rule(argv: list[bytes], key: bytes) -> bool:
        return len(argv) <= index or key != argv[index]
    return rule


def _not_after(*words: bytes) -> Callable[[list[bytes], bytes], bool]:
    """Every key but the one after one of words (SORT's and GEORADIUS's STORE key)."""
    def rule(argv: list[bytes], key: bytes) -> bool:
        for i in range(2, len(argv) - 1):
            if argv[i].lower() in words and argv[i + 1] == key:
                return False
        return True
    return rule


def _set_get(argv: list[bytes], key: bytes) -> bool:
    """SET ... GET reads the old value as GET does."""
    return any(a.lower() == b"get" for a in argv[3:])


def _bitfield_gets_only(argv: list[bytes], key: bytes) -> bool:
    """BITFIELD reads its key with a read lookup when it has no SET and no INCRBY."""
    return not any(a.lower() in (b"set", b"incrby") for a in argv[2:])


# Readonly commands whose lookups Redis makes without the keymiss event (LOOKUP_NONOTIFY).
_NO_MISS_EVENT = frozenset({"object|encoding", "object|freq", "object|idletime", "object|refcount",
                            "debug", "memory|usage"})
# Write commands that read (some of) their keys with a read lookup: which misses notify.
_WRITE_READS: dict[str, Callable[[list[bytes], bytes], bool]] = {
    **dict.fromkeys(("sinterstore", "sunionstore", "sdiffstore", "zunionstore", "zinterstore",
                     "zdiffstore", "zrangestore", "geosearchstore"), _not_at(1)),
    "bitop": _not_at(2),
    "copy": _not_at(2),
    "sort": _not_after(b"store"),
    "georadius": _not_after(b"store", b"storedist"),
    "georadiusbymember": _not_after(b"store", b"storedist"),
    "set": _set_get,
    # PFMERGE reads its destination as a source too.
    **dict.fromkeys(("getex", "getdel", "getset", "pfmerge", "xreadgroup", "xack", "xclaim", "xautoclaim"), _all_keys),
    "bitfield": _bitfield_gets_only,
}


class KeyspaceNotifier:
    """Publishes the write events of the classes `notify-keyspace-events` selects; listens
    to the engine's write events only while some would be published."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.flags = 0
        self._listening = False
        self.configure(engine.config["notify-keyspace-events"])
        engine.config.listeners.append(self._on_config_change)

    def configure(self, text: str) -> None:
        self.flags = flags = parse_classes(text)
        active = bool(flags & (KEYSPACE | KEYEVENT)) and bool(flags & ~(KEYSPACE | KEYEVENT))
        subscribers = self.engine.event_subscribers
        on_miss = self.key_missed if flags & KEY_MISS and flags & (KEYSPACE | KEYEVENT) else None
        for db in self.engine.dbs:
            db.on_miss = on_miss
        if active and not self._listening:
            subscribers.append(self.on_event)
        elif not active and self._listening:
            subscribers.remove(self.on_event)
        self._listening = active

    def on_event(self, kind: str, db_index: int, key: bytes) -> None:
        """Redis's notifyKeyspaceEvent for one typed write event."""
        flags = self.flags
        if not flags & EVENT_CLASSES.get(kind, GENERIC):
            return
        event = kind.encode()
        publish = self.engine.pubsub.publish
        if flags & KEYSPACE:
            publish(b"__keyspace@%d__:%s" % (db_index, key), event)
        if flags & KEYEVENT:
            publish(b"__keyevent@%d__:%s" % (db_index, event), key)

    def key_missed(self, db: Database, key: bytes) -> None:
        """A read found no key: Redis's keymiss event when its lookup would have been a read."""
        cmd = self.engine.running_cmd
        if cmd is None:
            return
        if "readonly" in cmd.flags:
            if cmd.name in _NO_MISS_EVENT:
                return
        else:
            rule = _WRITE_READS.get(cmd.name)
            if rule is None or not rule(self.engine.running_argv, key):
                return
        self.on_event("keymiss", db.id, key)

    def _on_config_change(self, name: str, value: Any) -> None:
        if name == "notify-keyspace-events":
            self.configure(value)
