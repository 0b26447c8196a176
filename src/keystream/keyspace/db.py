"""Databases: keys, values, millisecond expiry, WATCH invalidation, access times.

A value's Redis type is its Python class (see `TYPE_NAMES`): strings are `bytes`; each
other type is a class from `keyspace.datatypes` registered with `register_type`.

Expiry is lazy on access (every lookup checks the key's deadline) and active: the server
calls `active_expire_cycle` `hz` times a second, which samples keys with a deadline and
deletes the expired ones, repeating while more than a quarter of a sample had expired, as
Redis's activeExpireCycle does, within a time budget.

Typed write events: every modification goes through a write method (`set`, `delete`,
`set_expire`, `persist`, `put_entry`, ...) or, for an in-place change of a container value,
`touch(key, kind)`: each reports one event `(kind, db index, key)`, kind being the
keyspace-notification event name Redis uses for it (`set`, `del`, `expire`, `expired`,
`lpush`, `hset`, `rename_from`, ...), in the order Redis notifies them. An event makes the
key's WATCHers dirty, counts in the dirty counter (not `expired`/`evicted`: Redis's dirty
counter counts commands' changes) and goes to the engine's `event_subscribers` (blocked
clients' wake-ups, and later keyspace notifications, tracking, change capture). An expired
key also becomes a DEL effect of the running execution unit (`Engine.key_expired`).
Nothing else changes `data`/`expires` (FLUSHDB/SWAPDB's whole-database operations aside).

Access tracking (OBJECT IDLETIME / OBJECT FREQ, eviction): `get` and `set` store one int
per key: the command time in ms of the last access, or, while an LFU `maxmemory-policy` is
selected, Redis's LFU word `(minutes << 8) | log-counter`. As in Redis, values written under
one policy are reinterpreted under the other after a switch. A container value keeps it in
its own `atime` slot (every registered type but `bytes` must have one): that costs 8 bytes
per key where a side table costs ~50, and the value carries it along on RENAME/MOVE. Strings
(`bytes`, which cannot carry a slot) use the `access` dict. The int itself is the engine's
command clock object, shared by all the keys accessed in the same millisecond.
`peek` is the lookup that does not count as an access (TYPE, TTL, EXISTS, OBJECT, ...).

Memory accounting (INFO used_memory, maxmemory): `used` is the estimated size in bytes of
this database's keys and values, kept up to date by the write methods: a string entry's
size is computed from its key and value lengths (`STRING_ENTRY` + both lengths, which
includes its access-time entry); a container's is estimated by `keyspace.memsize` and kept
in its `msize` slot. An in-place change of a container (`touch`) only marks the key in
`size_dirty`; `refresh_used` estimates those again (INFO and MEMORY read it fresh; the
eviction check before each command at most once per millisecond; every 4096 marks), so a
key written many times between two reads is estimated once.
Removing a key subtracts what was added for it, so the sum never drifts whatever the
estimates. Expiry entries are counted from the size of `expires` (`EXPIRE_ENTRY` each).
Values that leave the keyspace go to the engine's lazy free queue when the lazyfree-lazy-*
setting of the path says so (`keyspace.lazyfree`), else are dropped at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keystream.engine import Engine

__all__ = ["DICT_ENTRY", "EXPIRE_ENTRY", "LFU_INIT_VAL", "STRING_ENTRY", "TYPE_NAMES", "Database", "now_ms",
           "register_type", "type_name"]

LFU_INIT_VAL = 5  # the LFU counter of a new key, as Redis's

# A CPython dict entry (hash, key, value) with its index slot, in a table resized when two
# thirds full (as keyspace.memsize's DICT_ENTRY).
DICT_ENTRY = (3 * 8 + 8) * 3 // 2
# A string key's cost beside the lengths of its key and value: two bytes objects' headers,
# its entries in `data` and `access`.
STRING_ENTRY = 2 * 33 + 2 * DICT_ENTRY
# One entry of `expires`: the dict entry and the deadline's int object.
EXPIRE_ENTRY = DICT_ENTRY + 32
# Marked containers estimated again at once when this many accumulate (see refresh_used).
_SIZE_DIRTY_MAX = 4096
# Sizes below this are shared int objects (a container's `msize` then costs its slot only).
_SIZES_SHARED = 1 << 16
_SIZES: dict[int, int] = {}
# sample_keys with a `skip` test: draws per key asked for before it returns fewer.
_SKIP_DRAWS = 64

TYPE_NAMES: dict[type, bytes] = {bytes: b"string"}


def register_type(cls: type, name: bytes) -> None:
    for slot in ("atime", "msize"):
        if not hasattr(cls, slot):
            raise TypeError(f"{cls.__name__} needs an '{slot}' slot (see access tracking and memory "
                            f"accounting in keyspace/db.py)")
    TYPE_NAMES[cls] = name


def type_name(value: Any) -> bytes:
    return TYPE_NAMES[type(value)]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class _WallClock:
    """Stands in for the engine's command clock when a Database has no engine (unit tests)."""

    __slots__ = ()

    @property
    def cmd_time_ms(self) -> int:
        return now_ms()


class Database:
    __slots__ = (
        "_clock",
        "_rand_keys",
        "_rand_misses",
        "_rand_vkeys",
        "_sample_keys",
        "_scan",
        "_scan_pos",
        "_sized_at",
        "access",
        "data",
        "engine",
        "expired_stale_perc",
        "expires",
        "id",
        "lfu",
        "on_miss",
        "raw_strings",
        "size_dirty",
        "used",
        "watched",
    )

    def __init__(self, db_id: int, engine: Engine | None = None) -> None:
        self.id = db_id
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        # key -> list of clients WATCHing it in this database
        self.watched: dict[bytes, list[Any]] = {}
        # string key -> last access time in ms (OBJECT IDLETIME) or LFU counter state
        # (containers keep theirs in their `atime` slot)
        self.access: dict[bytes, int] = {}
        self.engine = engine
        self.expired_stale_perc = 0.0
        self._scan: list[bytes] = []
        self._scan_pos = 0
        # Where "now" comes from: the engine's command start time (or the wall clock).
        self._clock: Any = engine if engine is not None else _WallClock()
        # True while an LFU maxmemory-policy is selected: `access` holds LFU words.
        self.lfu = False
        # RANDOMKEY: a snapshot of the keys, renewed when it has drifted too far.
        self._rand_keys: list[bytes] = []
        self._rand_misses = 0
        # Eviction's sampling: the same for the keyspace and for the keys with a deadline.
        self._rand_vkeys: list[bytes] = []
        self._sample_keys: list[bytes] = []
        # key -> the string value that was modified in place (APPEND, SETRANGE): Redis keeps
        # such strings "raw" (OBJECT ENCODING). Valid while the key still holds that object.
        self.raw_strings: dict[bytes, bytes] = {}
        # Memory accounting (see the module docstring)
        self.used = 0
        self.size_dirty: set[bytes] = set()
        self._sized_at = 0  # command time of the last refresh_used by memory(fresh=False)
        # Called with (db, key) when a read finds no live key, while keymiss events are
        # notified (keyspace/notify.py); None otherwise.
        self.on_miss: Callable[[Database, bytes], None] | None = None
        if engine is not None:
            self.lfu = "lfu" in str(engine.config["maxmemory-policy"])
            engine.config.listeners.append(self._on_config_change)

    def _on_config_change(self, name: str, value: Any) -> None:
        if name == "maxmemory-policy":
            self.lfu = "lfu" in str(value)

    def __len__(self) -> int:
        return len(self.data)

    # -- reads -----------------------------------------------------------------------
    def get(self, key: bytes) -> Any:
        """The live value at key, or None (deleting it first if it has expired).

        Counts as an access of the key (OBJECT IDLETIME / FREQ)."""
        value = self.data.get(key)
        if value is None:
            if self.on_miss is not None:
                self.on_miss(self, key)
            return None
        if self.expires:
            when = self.expires.get(key)
            if when is not None and when <= self._clock.cmd_time_ms and self._expire(key):
                if self.on_miss is not None:
                    self.on_miss(self, key)
                return None
        if self.lfu:
            self._lfu_hit(key, value)
        elif type(value) is bytes:
            self.access[key] = self._clock.cmd_time_ms
        else:
            value.atime = self._clock.cmd_time_ms
        return value

    def peek(self, key: bytes) -> Any:
        """As `get` (expired keys are deleted) but not counted as an access of the key."""
        value = self.data.get(key)
        if value is None:
            if self.on_miss is not None:
                self.on_miss(self, key)
            return None
        if self.expires:
            when = self.expires.get(key)
            if when is not None and when <= self._clock.cmd_time_ms and self._expire(key):
                if self.on_miss is not None:
                    self.on_miss(self, key)
                return None
        return value

    def get_typed(self, key: bytes, cls: type) -> Any:
        """The value at key if it is of class cls; None if missing; WRONGTYPE otherwise."""
        value = self.get(key)
        if value is not None and type(value) is not cls:
            from keystream.resp.errors import WRONGTYPE, CommandError

            raise CommandError(WRONGTYPE)
        return value

    def exists(self, key: bytes) -> bool:
        return self.peek(key) is not None

    def ttl_ms(self, key: bytes) -> int | None:
        """Absolute expiry time in ms of a live key, or None if it has none."""
        return self.expires.get(key)

    def keys(self) -> Iterator[bytes]:
        return iter(list(self.data))

    def random_key(self) -> bytes | None:
        """A random live key (expired keys met on the way are deleted, as Redis's master
        does), or None. Amortised O(1): keys are drawn from a snapshot list that is
        renewed when the key count has drifted by more than 1/8 from it, or when draws
        keep hitting keys that are gone."""
        data = self.data
        while data:
            keys = self._rand_keys
            n = len(data)
            small = n < 64
            if (not keys or self._rand_misses > (0 if small else 16)
                    or (len(keys) != n if small else abs(len(keys) - n) * 8 > len(keys))):
                keys = self._rand_keys = list(data)
                self._rand_misses = 0
            key = keys[random.randrange(len(keys))]
            if key not in data:
                self._rand_misses += 1
                continue
            if self.peek(key) is not None:
                return key
        return None

    # -- writes ----------------------------------------------------------------------
    def set(self, key: bytes, value: Any, keep_ttl: bool = False, kind: str = "set") -> None:
        """Store value at key; the key's TTL is removed unless keep_ttl. Counts as an access
        (under LFU an overwritten key keeps its counter, a new one starts at LFU_INIT_VAL).
        Reports the write event `kind` (the command's: "set", "lpush", "sunionstore", ...).
        An expired key in the way is expired first (its DEL propagated), as Redis's setKey
        looks the key up for writing."""
        expires = self.expires
        if expires and key in expires and expires[key] <= self._clock.cmd_time_ms:
            self._expire(key)
        data = self.data
        engine = self.engine
        old = data.get(key)
        if old is not None:
            self.used -= STRING_ENTRY + len(key) + len(old) if type(old) is bytes else old.msize
        # A key that did not exist is "new" (Redis's dbAdd notifies it before the command's event)
        new = engine is not None and engine.event_subscribers and old is None
        if type(value) is bytes:
            if self.lfu:
                word = self._access_word(key, old)
                self.access[key] = self._lfu_minutes() << 8 | LFU_INIT_VAL if word is None else word
            else:
                self.access[key] = self._clock.cmd_time_ms
            self.used += STRING_ENTRY + len(key) + len(value)
        else:
            if self.lfu:
                word = self._access_word(key, old)
                value.atime = self._lfu_minutes() << 8 | LFU_INIT_VAL if word is None else word
            else:
                value.atime = self._clock.cmd_time_ms
            if self.access:
                self.access.pop(key, None)  # the key may have held a string
            value.msize = 0
            self.mark_size(key)
        data[key] = value
        if (old is not None and old is not value and type(old) is not bytes and engine is not None
                and engine.config["lazyfree-lazy-server-del"]):
            engine.lazyfree.free_value(old)
        if not keep_ttl and self.expires and key in self.expires:
            del self.expires[key]
        if self.raw_strings:
            self.raw_strings.pop(key, None)
        # touch(key, kind), inlined: this is the write hot path
        if self.watched:
            self._dirty_watchers(key)
        if engine is not None:
            engine.dirty += 1
            if engine.event_subscribers:
                for subscriber in engine.event_subscribers:
                    if new:
                        subscriber("new", self.id, key)
                    subscriber(kind, self.id, key)

    def replace(self, key: bytes, value: Any, kind: str) -> None:
        """Store a new value of the same type at a key that `get` just returned live in this
        command (INCR and friends): its TTL and its access data, which that `get` recorded,
        stay as they are. Cheaper than `set` on the hot path."""
        self._account_swap(key, self.data[key], value)
        self.data[key] = value
        if self.raw_strings:
            self.raw_strings.pop(key, None)
        if type(value) is bytes:  # touch, but a string's size is accounted already: no mark_size
            if self.watched:
                self._dirty_watchers(key)
            self.notify(key, kind)
        else:
            self.touch(key, kind)

    def update_cache(self, key: bytes, value: Any) -> None:
        """Store a new encoding of the same value at key (PFCOUNT's cached cardinality), TTL
        and access data kept: WATCHers become dirty and the change counts (it propagates), as
        Redis's signalModifiedKey without a keyspace notification: no write event, since
        nothing a reader can see changed."""
        self._account_swap(key, self.data[key], value)
        self.data[key] = value
        if self.raw_strings:
            self.raw_strings.pop(key, None)
        if self.watched:
            self._dirty_watchers(key)
        if self.engine is not None:
            self.engine.dirty += 1

    def _account_swap(self, key: bytes, old: Any, value: Any) -> None:
        """Account for value replacing old (of the same type) at key."""
        if type(value) is bytes:
            self.used += len(value) - len(old)
        elif value is not old:
            value.msize = old.msize
            self.mark_size(key)

    def mark_raw(self, key: bytes) -> None:
        """Record that the string at key was just modified in place (APPEND, SETRANGE): OBJECT
        ENCODING then says "raw", as Redis's. Call after `set`."""
        value = self.data.get(key)
        if type(value) is bytes:
            self.raw_strings[key] = value

    def take_entry(self, key: bytes, kind: str | None) -> tuple[Any, int | None, int | None, bytes | None]:
        """Remove key (which must exist) and return what moves with it to another name or
        database: (value, deadline ms, access data of a string, raw marker). Reports `kind`
        (None: the caller reports it later, with `touch`); a container carries its access
        data in its `atime` slot."""
        entry = (self.data.pop(key), self.expires.pop(key, None), self.access.pop(key, None),
                 self.raw_strings.pop(key, None) if self.raw_strings else None)
        value = entry[0]
        self.used -= STRING_ENTRY + len(key) + len(value) if type(value) is bytes else value.msize
        if kind is not None:
            self.touch(key, kind)
        return entry

    def put_entry(self, key: bytes, entry: tuple[Any, int | None, int | None, bytes | None],
                  kind: str | None) -> None:
        """Store an entry (from `take_entry`, or a copy of one) at key, which must not exist;
        reports "new", then `kind` (`copy_to`; None: the caller reports it later, with
        `touch`, as RENAME and MOVE do after both keys changed)."""
        value, when, access, raw = entry
        self.data[key] = value
        if type(value) is bytes:
            self.used += STRING_ENTRY + len(key) + len(value)
        else:
            self.used += value.msize  # estimated again: the key's name changed
            self.mark_size(key)
        if when is not None:
            self.expires[key] = when
        if access is not None:
            self.access[key] = access
        if raw is not None:
            self.raw_strings[key] = raw
        engine = self.engine
        if engine is not None and engine.event_subscribers:
            for subscriber in engine.event_subscribers:
                subscriber("new", self.id, key)
        if kind is not None:
            self.touch(key, kind)

    def put_copy(self, key: bytes, value: Any, when_ms: int | None, raw: bool) -> None:
        """COPY's new key (which must not exist): value with deadline when_ms, fresh access
        data (a new key's, as `set`), a raw string if raw; reports `copy_to`."""
        self._set_access(key, value, self._lfu_minutes() << 8 | LFU_INIT_VAL if self.lfu
                         else self._clock.cmd_time_ms)
        access = self.access.pop(key, None)
        if type(value) is not bytes:
            value.msize = 0
        self.put_entry(key, (value, when_ms, access, value if raw else None), "copy_to")

    def delete(self, key: bytes, kind: str = "del", lazy: bool = False) -> bool:
        """Delete key if it exists (live); True if something was deleted. Reports `kind`
        ("del"; a container a command emptied reports "del" after the command's own event).
        lazy: a big value is freed by the lazy free queue (UNLINK, lazyfree-lazy-user-del)."""
        if self.get(key) is None:
            return False
        self._remove(key, lazy)
        self.touch(key, kind)
        return True

    def remove(self, key: bytes) -> None:
        """Delete key, which the running command just read live, without an event of its
        own: the caller reports the event (RESTORE REPLACE and other overwrites). The value
        is freed lazily under lazyfree-lazy-server-del."""
        engine = self.engine
        self._remove(key, engine is not None and bool(engine.config["lazyfree-lazy-server-del"]))

    def evict(self, key: bytes, lazy: bool) -> None:
        """Remove key, which exists, to free memory (maxmemory): propagated as DEL (UNLINK
        when lazy), reported as the `evicted` event; WATCHers become dirty. Not a change of
        the dirty counter, as in Redis."""
        self._remove(key, lazy)
        if self.watched:
            self._dirty_watchers(key)
        engine = self.engine
        if engine is not None:
            engine.stats.evicted_keys += 1
            engine.propagate(self.id, [b"UNLINK" if lazy else b"DEL", key])
            if engine.event_subscribers:
                for subscriber in engine.event_subscribers:
                    subscriber("evicted", self.id, key)

    def set_expire(self, key: bytes, when_ms: int) -> None:
        self.expires[key] = when_ms
        self.touch(key, "expire")

    def persist(self, key: bytes) -> bool:
        if key in self.expires:
            del self.expires[key]
            self.touch(key, "persist")
            return True
        return False

    def touch(self, key: bytes, kind: str, dirty: int = 1) -> None:
        """Report the write event kind on key: WATCHers become dirty, the dirty counter
        grows by dirty (0 for an event Redis notifies although nothing changed, which then
        does not propagate), the engine's event subscribers hear of it. Call after an
        in-place change of a container value (LPUSH "lpush", HSET "hset", ...)."""
        sized = self.size_dirty  # mark_size, inlined: the write hot path
        sized.add(key)
        if len(sized) >= _SIZE_DIRTY_MAX:
            self.refresh_used()
        if self.watched:
            self._dirty_watchers(key)
        engine = self.engine
        if engine is not None:
            engine.dirty += dirty
            if engine.event_subscribers:
                for subscriber in engine.event_subscribers:
                    subscriber(kind, self.id, key)

    def notify(self, key: bytes, kind: str, dirty: int = 1) -> None:
        """Report the write event kind on key without touching WATCH: a change Redis notifies
        but does not signal as a modification of the key (a stream's consumer-group changes:
        "xgroup-create", "xgroup-setid", "xgroup-createconsumer" ...)."""
        engine = self.engine
        if engine is not None:
            engine.dirty += dirty
            if engine.event_subscribers:
                for subscriber in engine.event_subscribers:
                    subscriber(kind, self.id, key)

    def _dirty_watchers(self, key: bytes) -> None:
        clients = self.watched.get(key)
        if clients:
            for c in clients:
                if c.watched_stale and (self.id, key) in c.watched_stale:
                    # Watched while already expired: deleting it now is no change (and,
                    # as in Redis 7.0, neither is overwriting it).
                    if key not in self.data:
                        c.watched_stale.discard((self.id, key))
                    continue
                c.dirty_cas = True

    def flush(self, lazy: bool = False) -> int:
        """Remove every key; returns how many there were. WATCHers of keys that existed
        become dirty (watching a key that was absent is not disturbed, as in Redis).
        lazy: the old tables are freed by the lazy free queue (FLUSHALL/FLUSHDB ASYNC)."""
        n = len(self.data)
        self._dirty_watchers_of_existing(None)
        if lazy and n and self.engine is not None:
            self.engine.lazyfree.free_tables(self.data, self.expires, self.access, self.used)
        self.used = 0
        self.size_dirty = set()
        self.data = {}
        self.expires = {}
        self.access = {}
        self.raw_strings = {}
        self._rand_keys = []
        self._rand_vkeys = []
        self._sample_keys = []
        self._scan = []
        self._scan_pos = 0
        if self.engine is not None:
            self.engine.dirty += n
        return n

    def swap_contents(self, other: Database) -> None:
        """Exchange all keys, deadlines and access data with other (SWAPDB). WATCHers
        stay in their database; those whose key exists on either side become dirty."""
        self._dirty_watchers_of_existing(other)
        other._dirty_watchers_of_existing(self)
        self.data, other.data = other.data, self.data
        self.expires, other.expires = other.expires, self.expires
        self.access, other.access = other.access, self.access
        self.raw_strings, other.raw_strings = other.raw_strings, self.raw_strings
        self.used, other.used = other.used, self.used
        self.size_dirty, other.size_dirty = other.size_dirty, self.size_dirty
        self._rand_keys, other._rand_keys = other._rand_keys, self._rand_keys
        self._rand_vkeys, other._rand_vkeys = other._rand_vkeys, self._rand_vkeys
        self._sample_keys, other._sample_keys = other._sample_keys, self._sample_keys
        self._scan, other._scan = other._scan, self._scan
        self._scan_pos, other._scan_pos = other._scan_pos, self._scan_pos

    def _dirty_watchers_of_existing(self, replaced_with: Database | None) -> None:
        for key, clients in self.watched.items():
            exists = key in self.data
            replaced = replaced_with is not None and key in replaced_with.data
            if exists or replaced:
                wk = (self.id, key)
                for c in clients:
                    if wk in c.watched_stale:
                        if not replaced:
                            c.watched_stale.discard(wk)  # an expired key deleted: no change
                            continue
                        if replaced_with.is_expired(key):  # type: ignore[union-attr]
                            continue  # expired before, expired after
                    elif not exists and replaced_with.is_expired(key):  # type: ignore[union-attr]
                        c.watched_stale.add(wk)  # nothing replaced with an expired key
                        continue
                    c.dirty_cas = True

    # -- access tracking (LRU / LFU) --------------------------------------------------
    def _lfu_minutes(self) -> int:
        return (self._clock.cmd_time_ms // 60_000) & 0xFFFF

    def _lfu_counter(self, word: int) -> int:
        """The LFU counter of word after the decay due since its last access."""
        counter = word & 0xFF
        decay = self.engine.config["lfu-decay-time"] if self.engine is not None else 1
        if decay:
            ldt = (word >> 8) & 0xFFFF
            now = self._lfu_minutes()
            elapsed = now - ldt if now >= ldt else 65535 - ldt + now
            counter = max(0, counter - elapsed // decay)
        return counter

    def _access_word(self, key: bytes, value: Any) -> int | None:
        """The access data of key holding value (None: none recorded, or no such key)."""
        if value is None:
            return None
        if type(value) is bytes:
            return self.access.get(key)
        atime: int | None = value.atime
        return atime

    def _set_access(self, key: bytes, value: Any, word: int) -> None:
        if type(value) is bytes:
            self.access[key] = word
        else:
            value.atime = word

    def _lfu_hit(self, key: bytes, value: Any) -> None:
        word = self._access_word(key, value)
        counter = LFU_INIT_VAL if word is None else self._lfu_counter(word)
        if counter < 255:
            factor = self.engine.config["lfu-log-factor"] if self.engine is not None else 10
            base = max(counter - LFU_INIT_VAL, 0)
            if random.random() < 1.0 / (base * factor + 1):
                counter += 1
        self._set_access(key, value, self._lfu_minutes() << 8 | counter)

    def idle_ms(self, key: bytes) -> int:
        """Milliseconds since the last access of key (LRU tracking)."""
        last = self._access_word(key, self.data.get(key))
        if last is None:
            return 0
        return max(0, self._clock.cmd_time_ms - last)

    def frequency(self, key: bytes) -> int:
        """The LFU access-frequency counter of key, decayed to now (LFU tracking)."""
        word = self._access_word(key, self.data.get(key))
        return LFU_INIT_VAL if word is None else self._lfu_counter(word)

    def set_idle(self, key: bytes, idle_ms: int) -> None:
        """Make key look last accessed idle_ms ago (RESTORE IDLETIME; no-op under LFU)."""
        value = self.data.get(key)
        if not self.lfu and value is not None:
            self._set_access(key, value, self._clock.cmd_time_ms - idle_ms)

    def set_frequency(self, key: bytes, freq: int) -> None:
        """Set key's LFU counter (RESTORE FREQ; no-op unless LFU)."""
        value = self.data.get(key)
        if self.lfu and value is not None:
            self._set_access(key, value, self._lfu_minutes() << 8 | max(0, min(255, freq)))

    # -- memory accounting and eviction sampling ---------------------------------------
    def mark_size(self, key: bytes) -> None:
        """The container at key changed in place: estimate its size again before the next
        read of `used` (at once when many are waiting)."""
        dirty = self.size_dirty
        dirty.add(key)
        if len(dirty) >= _SIZE_DIRTY_MAX:
            self.refresh_used()

    def refresh_used(self) -> None:
        """Estimate again the containers marked by `mark_size`, so that `used` is current."""
        dirty = self.size_dirty
        if not dirty:
            return
        from keystream.keyspace.memsize import entry_size

        self.size_dirty = set()
        data = self.data
        for key in dirty:
            value = data.get(key)
            if value is not None and type(value) is not bytes:
                size = entry_size(key, value)
                self.used += size - value.msize
                # one int object per distinct small size, shared by the keys of that size
                value.msize = _SIZES.setdefault(size, size) if size < _SIZES_SHARED else size

    def account_loaded(self, values: dict[bytes, Any]) -> None:
        """Account for keys a dump put straight into `data` (see persistence.snapshot)."""
        used = 0
        for key, value in values.items():
            if type(value) is bytes:
                used += STRING_ENTRY + len(key) + len(value)
            else:
                value.msize = 0
                self.size_dirty.add(key)
        self.used += used
        self.refresh_used()

    def memory(self, fresh: bool = True) -> int:
        """The estimated bytes this database holds: its entries and its expiry table. Not
        fresh (the check before each command under maxmemory): containers changed in place
        are estimated again at most once per millisecond of command time."""
        if self.size_dirty and (fresh or self._sized_at != self._clock.cmd_time_ms):
            self._sized_at = self._clock.cmd_time_ms
            self.refresh_used()
        return self.used + len(self.expires) * EXPIRE_ENTRY

    def sample_keys(self, count: int, volatile: bool,
                    skip: Callable[[bytes], bool] | None = None) -> list[bytes]:
        """Up to count keys drawn at random from the keyspace, or from the keys with a
        deadline if volatile (Redis's dictGetSomeKeys for the eviction pool); keys may
        repeat, expired keys are not skipped. Drawn from a snapshot list of the table's
        keys, renewed when the table's size has drifted by more than 1/8 from it or when
        draws keep hitting keys that are gone (amortised O(count)). Keys for which `skip`
        is true are drawn again like gone ones (the snapshot renewed at most once per call
        for them), and after `_SKIP_DRAWS` draws per key asked for, fewer are returned."""
        table: dict[bytes, Any] = self.expires if volatile else self.data
        n = len(table)
        if n <= count:
            return list(table)
        keys = self._rand_vkeys if volatile else self._sample_keys
        out: list[bytes] = []
        misses = 0
        draws = 0
        renewed = False
        while len(out) < count:
            if ((misses > count and not (renewed and skip is not None)) or not keys
                    or (len(keys) != n if n < 64 else abs(len(keys) - n) * 8 > len(keys))):
                keys = list(table)
                if volatile:
                    self._rand_vkeys = keys
                else:
                    self._sample_keys = keys
                misses = 0
                renewed = True
            key = keys[int(random.random() * len(keys))]
            if key in table and (skip is None or not skip(key)):
                out.append(key)
            else:
                misses += 1
                if skip is not None:
                    draws += 1
                    if draws > _SKIP_DRAWS * count:
                        break
        return out

    # -- expiry ------------------------------------------------------------------------
    def _now(self) -> int:
        return self._clock.cmd_time_ms

    def _remove(self, key: bytes, lazy: bool = False) -> None:
        value = self.data.pop(key)
        self.expires.pop(key, None)
        self.access.pop(key, None)
        if self.raw_strings:
            self.raw_strings.pop(key, None)
        if type(value) is bytes:
            self.used -= STRING_ENTRY + len(key) + len(value)
        else:
            self.used -= value.msize
            if lazy and self.engine is not None:
                self.engine.lazyfree.free_value(value)

    def _expire(self, key: bytes) -> bool:
        """Delete key, whose time ran out; False if it stays alive: nothing expires while a
        dataset loads (an AOF's RPUSH after a PEXPIREAT in the past appends to the list, as
        in Redis, which expires it after loading)."""
        engine = self.engine
        if engine is not None:
            if engine.snapshots.loading:
                return False
            if engine.pause is not None:
                return True  # during CLIENT PAUSE keys expire logically only: nothing is deleted
        self._remove(key, engine is not None and bool(engine.config["lazyfree-lazy-expire"]))
        # The "expired" event: not a change of the command that met the key (no dirty count).
        if self.watched:
            self._dirty_watchers(key)
        if engine is not None:
            engine.key_expired(self, key)
            if engine.event_subscribers:
                for subscriber in engine.event_subscribers:
                    subscriber("expired", self.id, key)
        return True

    def is_expired(self, key: bytes) -> bool:
        when = self.expires.get(key)
        return when is not None and when <= self._now()

    def active_expire_cycle(self, budget_s: float, effort: int = 1) -> int:
        """Delete expired keys, checking them in batches within budget_s seconds.

        Keys with a deadline are visited in turn through a snapshot of the expires table
        (renewed when used up), so each cycle continues where the last one stopped, as
        Redis's incremental scan of its expires dictionary does. A cycle stops when a
        batch had few expired keys (<= 25%) or the time budget is spent.
        """
        if not self.expires:
            return 0
        deadline = time.perf_counter() + budget_s
        batch = 20 + 5 * (effort - 1)
        deleted = 0
        now = now_ms()
        engine = self.engine
        while self.expires:
            if self._scan_pos >= len(self._scan):
                self._scan = list(self.expires)
                self._scan_pos = 0
            keys = self._scan[self._scan_pos:self._scan_pos + batch]
            self._scan_pos += batch
            exp = self.expires
            expired = 0
            for key in keys:
                when = exp.get(key)
                if when is not None and when <= now:
                    if engine is not None:
                        engine.cmd_time_ms = now
                    self._expire(key)
                    if engine is not None and engine.effects and not engine.unit_depth:
                        engine.emit_effects()  # each expired key is a unit of its own
                    expired += 1
            deleted += expired
            self.expired_stale_perc = expired / len(keys) if keys else 0.0
            if expired * 4 <= len(keys) and self._scan_pos < len(self._scan):
                break
            if time.perf_counter() > deadline:
                break
        return deleted

