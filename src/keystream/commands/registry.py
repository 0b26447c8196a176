"""The Redis command table: one `@command` decorator per command, one executor.

Each handler is registered once with its metadata (name, arity, flags, key positions, ACL
categories, docs). Dispatch, arity and unknown-command errors, `COMMAND` and its
subcommands, ACL checks and cluster key hashing all read this one table.

Handlers have the signature `handler(client: Client, argv: list[bytes]) -> reply` where
`argv[0]` is the command name as sent. They return a reply value (see
`keystream.resp.writer`) or raise `CommandError`. A write handler records what it changed
through the database API (`db.set(..., kind=)`, `db.delete`, `db.touch(key, kind)`: typed
write events, the dirty counter, WATCH); a command that moved the dirty counter is an
effect of its execution unit as it came, unless it calls `client.propagate(argv, ...)` to
say what it did instead (INCRBYFLOAT -> SET, BLPOP -> LPOP). Everything else (statistics,
slow log, MONITOR, effects, transactions' queuing, reply encoding) is done by the engine's
call path (`Engine.run`, `executor.execute`).

Subcommands ("container" commands such as CONFIG, CLIENT, OBJECT) register as
`"config|get"`; the container itself is created implicitly.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from keystream.commands.syntax import parse_args

__all__ = [
    "BLOCKED",
    "COMMANDS",
    "Command",
    "Handler",
    "KeySpec",
    "command",
    "key_spec",
    "keynum_spec",
    "keyword_spec",
    "load_all",
    "unknown_spec",
]

Handler = Callable[..., Any]


class _Blocked:
    """Returned by a handler that parked the client (blocking list/zset/stream ops)."""

    __slots__ = ()


BLOCKED = _Blocked()


@dataclass
class KeySpec:
    """Where a command's keys are, in Redis 7 key-spec terms (simplified to the common forms).

    begin_search: ("index", pos) or ("keyword", keyword, startfrom)
    find_keys:    ("range", lastkey, step, limit) or ("keynum", keynumidx, firstkey, step)
    """

    begin_search: tuple
    find_keys: tuple
    flags: tuple[str, ...] = ()
    notes: str = ""


def key_spec(pos: int, *flags: str, lastkey: int = 0, step: int = 1, notes: str = "") -> KeySpec:
    """A key spec for keys from argv[pos] (a range ending `lastkey` after it, -1: the last
    argument), with Redis 7 key-spec flags (RW RO OW RM, access insert update delete ...)."""
    return KeySpec(("index", pos), ("range", lastkey, step, 0), flags, notes)


def keyword_spec(keyword: str, startfrom: int, *flags: str, lastkey: int = 0, step: int = 1,
                 notes: str = "") -> KeySpec:
    """A key spec for keys after `keyword`, searched from argv[startfrom] (negative: backwards
    from the end), e.g. GEORADIUS's `STORE key`."""
    return KeySpec(("keyword", keyword, startfrom), ("range", lastkey, step, 0), flags, notes)


def keynum_spec(pos: int, *flags: str, keynumidx: int = 0, firstkey: int = 1, step: int = 1,
                notes: str = "") -> KeySpec:
    """A key spec for `numkeys key [key ...]` with numkeys at argv[pos + keynumidx] and the first
    key `firstkey` after argv[pos], e.g. ZUNIONSTORE's sources."""
    return KeySpec(("index", pos), ("keynum", keynumidx, firstkey, step), flags, notes)


def unknown_spec(*flags: str, notes: str = "") -> KeySpec:
    """A key spec Redis cannot describe by position (SORT's BY/GET patterns and STORE key)."""
    return KeySpec(("unknown",), ("unknown",), flags, notes)


@dataclass
class Command:
    name: str
    handler: Handler | None
    arity: int
    flags: frozenset[str]
    first_key: int = 0
    last_key: int = 0
    step: int = 0
    acl_categories: tuple[str, ...] = ()
    group: str = "generic"
    summary: str = ""
    since: str = "1.0.0"
    complexity: str = ""
    key_specs: tuple[KeySpec, ...] = ()
    tips: tuple[str, ...] = ()
    arguments: tuple[dict, ...] = ()
    doc_flags: tuple[str, ...] = ()
    deprecated_since: str = ""
    replaced_by: str = ""
    history: tuple[tuple[str, str], ...] = ()
    # For commands whose keys are not at fixed positions (movablekeys): argv -> key indexes.
    get_keys: Callable[[list[bytes]], list[int]] | None = None
    # For key specs flagged variable_flags: argv -> the flags this invocation's key gets.
    key_flags: Callable[[list[bytes]], tuple[str, ...]] | None = None
    container: Command | None = None
    subcommands: dict[bytes, Command] = field(default_factory=dict)
    # Per-command statistics (INFO commandstats).
    calls: int = 0
    usec: float = 0.0
    rejected_calls: int = 0
    failed_calls: int = 0

    def __post_init__(self) -> None:
        flags = self.flags
        self.is_write = "write" in flags
        # What dispatch checks, read once from the flags (see `command`).
        self.no_auth = "no_auth" in flags
        self.runs_in_multi = "runs_in_multi" in flags
        self.while_subscribed = "while_subscribed" in flags
        self.no_multi = "no_multi" in flags
        self.may_replicate = self.is_write or "may_replicate" in flags
        self.denyoom = "denyoom" in flags
        self.noscript = "noscript" in flags

    @property
    def fullname(self) -> str:
        return self.name

    def key_indexes(self, argv: list[bytes]) -> list[int]:
        """Indexes in argv of the keys this invocation touches."""
        if self.get_keys is not None:
            return self.get_keys(argv)
        if self.first_key <= 0:
            return []
        last = self.last_key if self.last_key >= 0 else len(argv) + self.last_key
        return list(range(self.first_key, min(last, len(argv) - 1) + 1, self.step or 1))

    def keys(self, argv: list[bytes]) -> list[bytes]:
        return [argv[i] for i in self.key_indexes(argv)]


COMMANDS: dict[bytes, Command] = {}


def command(
    name: str,
    arity: int,
    flags: str = "",
    first_key: int = 0,
    last_key: int = 0,
    step: int = 0,
    acl: str = "",
    group: str = "",
    summary: str = "",
    since: str = "1.0.0",
    complexity: str = "O(1)",
    key_specs: tuple[KeySpec, ...] = (),
    tips: tuple[str, ...] = (),
    arguments: tuple[dict, ...] = (),
    args: str = "",
    get_keys: Callable[[list[bytes]], list[int]] | None = None,
    key_flags: Callable[[list[bytes]], tuple[str, ...]] | None = None,
    doc_flags: tuple[str, ...] = (),
    deprecated_since: str = "",
    replaced_by: str = "",
    history: tuple[tuple[str, str], ...] = (),
) -> Callable[[Handler], Handler]:
    """Register a command (or `container|sub` subcommand) handler.

    arity: as Redis: N means exactly N arguments including the name, -N means at least N.
    flags: space-separated Redis command flags (write readonly denyoom fast admin noscript
           loading stale blocking pubsub skip_monitor no_multi no_auth may_replicate ...),
           which dispatch reads: no_auth (runs before AUTH), no_multi (refused inside MULTI),
           may_replicate (held back by CLIENT PAUSE WRITE, as writes), denyoom, noscript; and
           two of ours that COMMAND INFO does not show, for what Redis decides by command:
           runs_in_multi (runs at once inside MULTI instead of being queued: EXEC, DISCARD,
           MULTI, WATCH, QUIT, RESET) and while_subscribed (allowed to a RESP2 client in
           subscribed state: (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET).
    acl: space-separated ACL categories without '@' (the flags imply some, as in Redis;
         `-read` drops an implied one, e.g. EVAL_RO is readonly but not @read).
    args: the arguments in our notation (see `keystream.commands.syntax`), from which COMMAND
          DOCS's argument tree comes; the handler's docstring opens with the syntax line they
          render to.
    """
    if args:
        arguments = parse_args(args)

    def deco(fn: Handler) -> Handler:
        flagset = frozenset(flags.split())
        removed = {c[1:] for c in acl.split() if c.startswith("-")}
        cats = _implied_categories(flagset) + tuple(c for c in acl.split() if c and c[0] != "-")
        cats = tuple(c for c in dict.fromkeys(cats) if c not in removed)
        if "|" in name:
            parent_name, sub = name.split("|", 1)
            parent = COMMANDS.get(parent_name.encode())
            if parent is None:
                parent = Command(
                    name=parent_name, handler=None, arity=-2, flags=frozenset(),
                    group=group or "generic", since=since,
                )
                COMMANDS[parent_name.encode()] = parent
            cmd = Command(
                name=name, handler=fn, arity=arity, flags=flagset, first_key=first_key,
                last_key=last_key, step=step, acl_categories=cats, group=group or parent.group,
                summary=summary, since=since, complexity=complexity, key_specs=key_specs,
                tips=tips, arguments=arguments, get_keys=get_keys, key_flags=key_flags, container=parent,
                doc_flags=doc_flags, deprecated_since=deprecated_since, replaced_by=replaced_by,
                history=history,
            )
            parent.subcommands[sub.encode()] = cmd
        else:
            existing = COMMANDS.get(name.encode())
            cmd = Command(
                name=name, handler=fn, arity=arity, flags=flagset, first_key=first_key,
                last_key=last_key, step=step, acl_categories=cats, group=group or "generic",
                summary=summary, since=since, complexity=complexity, key_specs=key_specs,
                tips=tips, arguments=arguments, get_keys=get_keys, key_flags=key_flags, doc_flags=doc_flags,
                deprecated_since=deprecated_since, replaced_by=replaced_by, history=history,
            )
            if existing is not None and existing.handler is None:
                # A container declared implicitly by a subcommand: keep its subcommands.
                cmd.subcommands = existing.subcommands
                for sub_cmd in cmd.subcommands.values():
                    sub_cmd.container = cmd
            COMMANDS[name.encode()] = cmd
        return fn

    return deco


def container(name: str, group: str, summary: str = "", since: str = "1.0.0", acl: str = "") -> None:
    """Declare the metadata of a container command (CONFIG, CLIENT, ...)."""
    cmd = COMMANDS.get(name.encode())
    if cmd is None:
        cmd = Command(name=name, handler=None, arity=-2, flags=frozenset())
        COMMANDS[name.encode()] = cmd
    cmd.group = group
    cmd.summary = summary
    cmd.since = since
    cmd.acl_categories = tuple(c for c in acl.split() if c)


_FLAG_CATEGORIES = {
    "write": "write",
    "readonly": "read",
    "admin": "admin",
    "pubsub": "pubsub",
    "fast": "fast",
    "blocking": "blocking",
}


def _implied_categories(flags: frozenset[str]) -> tuple[str, ...]:
    cats = [c for f, c in _FLAG_CATEGORIES.items() if f in flags]
    if "admin" in flags:
        cats.append("dangerous")
    if "fast" not in flags and "slow" not in cats:
        cats.append("slow")
    return tuple(cats)


_loaded = False


def load_all() -> None:
    """Import every module of keystream.commands so their decorators register."""
    global _loaded
    if _loaded:
        return
    import keystream.commands as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in ("registry", "executor"):
            importlib.import_module(f"keystream.commands.{mod.name}")
    _loaded = True
