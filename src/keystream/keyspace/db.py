"""Databases: keys, values, millisecond expiry, WATCH invalidation, access times.

A value's Redis type is its Python class (see `TYPE_NAMES`): strings are `bytes`; each
other type is a class from `keyspace.datatypes` registered with `register_type`.

Expiry is lazy on access (every lookup checks the key's deadline) and active: the server
calls `active_expire_cycle` `hz` times a second, which samples keys with a deadline and
deletes the expired ones, repeating while more than a quarter of a sample had expired, as
Redis's activeExpireCycle does, within a time budget.

Every modification goes through `set`/`delete`/`touch` so that WATCH, the dirty counter
and (later) keyspace events and blocked clients see it. In-place changes to a container
value must call `touch(key)`.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from keystream.server import Server

__all__ = ["Database", "TYPE_NAMES", "register_type", "type_name", "now_ms"]

TYPE_NAMES: dict[type, bytes] = {bytes: b"string"}


def register_type(cls: type, name: bytes) -> None:
    TYPE_NAMES[cls] = name


def type_name(value: Any) -> bytes:
    return TYPE_NAMES[type(value)]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Database:
    __slots__ = ("id", "data", "expires", "watched", "access", "server", "expired_stale_perc", "_scan",
                 "_scan_pos")

    def __init__(self, db_id: int, server: "Server | None" = None) -> None:
        self.id = db_id
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        # key -> list of clients WATCHing it in this database
        self.watched: dict[bytes, list[Any]] = {}
        # key -> last access time in ms (OBJECT IDLETIME) or LFU counter state
        self.access: dict[bytes, int] = {}
        self.server = server
        self.expired_stale_perc = 0.0
        self._scan: list[bytes] = []
        self._scan_pos = 0

    def __len__(self) -> int:
        return len(self.data)

    # -- reads -----------------------------------------------------------------------
    def get(self, key: bytes) -> Any:
        """The live value at key, or None (deleting it first if it has expired)."""
        value = self.data.get(key)
        if value is None:
            return None
        if self.expires and key in self.expires and self.expires[key] <= self._now():
            self._expire(key)
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
        return self.get(key) is not None

    def ttl_ms(self, key: bytes) -> int | None:
        """Absolute expiry time in ms of a live key, or None if it has none."""
        return self.expires.get(key)

    def keys(self) -> Iterator[bytes]:
        return iter(list(self.data))

    def random_key(self) -> bytes | None:
        """A random live key (expired keys met on the way are deleted), or None."""
        tries = 0
        while self.data:
            key = _random_dict_key(self.data)
            if self.get(key) is not None:
                return key
            tries += 1
            if tries > 100 and len(self.expires) == len(self.data):
                # Every key has a deadline: as Redis, give one back even if it is logically expired.
                return key
        return None

    # -- writes ----------------------------------------------------------------------
    def set(self, key: bytes, value: Any, keep_ttl: bool = False) -> None:
        """Store value at key; the key's TTL is removed unless keep_ttl."""
        self.data[key] = value
        if not keep_ttl and key in self.expires:
            del self.expires[key]
        self.touch(key)

    def delete(self, key: bytes) -> bool:
        """Delete key if it exists (live); True if something was deleted."""
        if self.get(key) is None:
            return False
        self._remove(key)
        self.touch(key)
        return True

    def set_expire(self, key: bytes, when_ms: int) -> None:
        self.expires[key] = when_ms
        self.touch(key)

    def persist(self, key: bytes) -> bool:
        if key in self.expires:
            del self.expires[key]
            self.touch(key)
            return True
        return False

    def touch(self, key: bytes) -> None:
        """Record that key was modified: WATCHers become dirty, the dirty counter grows."""
        if self.watched:
            clients = self.watched.get(key)
            if clients:
                for c in clients:
                    c.dirty_cas = True
        server = self.server
        if server is not None:
            server.dirty += 1
            if server.key_listeners:
                for listener in server.key_listeners:
                    listener(self, key)

    def flush(self) -> int:
        """Remove every key; returns how many there were. Every WATCHer becomes dirty."""
        n = len(self.data)
        for clients in self.watched.values():
            for c in clients:
                c.dirty_cas = True
        self.data = {}
        self.expires = {}
        self.access = {}
        if self.server is not None:
            self.server.dirty += n
        return n

    def swap_contents(self, other: "Database") -> None:
        self.data, other.data = other.data, self.data
        self.expires, other.expires = other.expires, self.expires
        self.access, other.access = other.access, self.access
        for db in (self, other):
            for clients in db.watched.values():
                for c in clients:
                    c.dirty_cas = True

    # -- expiry ------------------------------------------------------------------------
    def _now(self) -> int:
        server = self.server
        return server.cmd_time_ms if server is not None else now_ms()

    def _remove(self, key: bytes) -> None:
        del self.data[key]
        self.expires.pop(key, None)
        self.access.pop(key, None)

    def _expire(self, key: bytes) -> None:
        self._remove(key)
        self.touch(key)
        server = self.server
        if server is not None:
            server.stat_expired_keys += 1
            server.on_key_expired(self, key)

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
        server = self.server
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
                    if server is not None:
                        server.cmd_time_ms = now
                    self._expire(key)
                    expired += 1
            deleted += expired
            self.expired_stale_perc = expired / len(keys) if keys else 0.0
            if expired * 4 <= len(keys) and self._scan_pos < len(self._scan):
                break
            if time.perf_counter() > deadline:
                break
        return deleted


def _random_dict_key(d: dict) -> Any:
    """A random key of d. O(n) in the worst case; RANDOMKEY is not a hot path."""
    i = random.randrange(len(d))
    for j, k in enumerate(d):
        if j == i:
            return k
    raise KeyError
