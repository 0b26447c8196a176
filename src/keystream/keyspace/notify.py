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

Not here: delivery (keystream/pubsub.py), which events a command causes (its write paths).
Modules do not exist here, so `d` is accepted and never fires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keystream.engine import Engine

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

    def _on_config_change(self, name: str, value: Any) -> None:
        if name == "notify-keyspace-events":
            self.configure(value)
