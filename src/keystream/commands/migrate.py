"""MIGRATE (cluster.c's migrateCommand): move or copy keys to another Redis-protocol server.

As Redis 7.0 does it: each key's value is serialised as a DUMP payload and sent as a RESTORE
(with the TTL it has left, REPLACE when asked) on a connection cached per host:port (at most
64; one unused for 10 seconds is closed by the cron: INFO `migrate_cached_sockets`), preceded
by AUTH / AUTH2 when given and by a SELECT of the destination db unless the cached connection
already selected it. Every key the target acknowledged is deleted here (unless COPY), and the
command propagates as a DEL of exactly those keys (nothing when COPY or nothing moved).

The transfer blocks the event loop, as MIGRATE blocks Redis: the command is atomic (no other
command sees a key half moved) and `timeout` (milliseconds; 1000 when not positive) bounds
the connect and each write and read. Errors as Redis's: IOERR when connecting, writing or
reading fails or times out (after one more try on a fresh connection when a cached one turns
out closed, never after a timeout); `Target instance replied with error: ...` with the first
error the target answered (AUTH's, then SELECT's, then a RESTORE's); NOKEY when none of the
keys exists.

The AUTH / AUTH2 arguments are redacted as Redis's redactClientCommandArgument does: each
is replaced by `(redacted)` in the command's argument list as the parser reaches it, so that
SLOWLOG and MONITOR, which read that list after the command, never show them (the command
propagates as DEL, never as itself).

Not here: cluster mode's RESTORE-ASKING (Keystream's Redis side has no cluster mode).
"""

from __future__ import annotations

import random
import socket
import time
from typing import Any

from keystream.client import Client
from keystream.commands.registry import command, key_spec, keyword_spec
from keystream.commands.syntax import parse_args
from keystream.commands.util import parse_int
from keystream.persistence.rdb import Limits, dump_payload
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.writer import OK, Status

__all__ = ["MigrateSockets"]

_CACHE_ITEMS = 64  # MIGRATE_SOCKET_CACHE_ITEMS
_CACHE_TTL = 10  # MIGRATE_SOCKET_CACHE_TTL, seconds
_CHUNK = 64 * 1024  # the transfer is written in chunks of this size, as Redis does
_MAX_LINE = 1024  # Redis reads each reply line into a buffer of this size
REDACTED = b"(redacted)"  # shared.redacted: what SLOWLOG and MONITOR show for a secret


class _Cached:
    """A cached connection: the db it has selected (-1: unknown) and when it was last used."""

    __slots__ = ("buf", "last_dbid", "last_use", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.last_dbid = -1
        self.last_use = time.time()
        self.buf = b""

    def write(self, data: bytes, timeout: float) -> None:
        sock = self.sock
        sock.settimeout(timeout)
        view = memoryview(data)
        for pos in range(0, len(data), _CHUNK):
            sock.sendall(view[pos:pos + _CHUNK])

    def readline(self, timeout: float) -> bytes:
        """One reply line without its CRLF. TimeoutError, or OSError (ConnectionError when
        the target closed the connection)."""
        sock = self.sock
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("connection closed by the target")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        line = line[:_MAX_LINE].removesuffix(b"\r")
        if not line:
            raise ConnectionError("empty reply line")
        return line


class MigrateSockets:
    """The engine's cache of MIGRATE connections, by "host:port"."""

    def __init__(self) -> None:
        self.cached: dict[bytes, _Cached] = {}

    def __len__(self) -> int:
        return len(self.cached)

    def get(self, host: bytes, port: bytes, timeout: float) -> _Cached:
        """The cached connection to host:port, or a new one. As Redis's blocking connect: an
        address that does not resolve is IOERR at once; a refused or timed-out connect is
        found out by the first write (_SocketFailure)."""
        name = host + b":" + port
        cs = self.cached.get(name)
        if cs is not None:
            cs.last_use = time.time()
            return cs
        if len(self.cached) >= _CACHE_ITEMS:  # too many: drop one at random, as Redis
            self.close_name(random.choice(list(self.cached)))
        try:
            family, kind, proto, _, address = socket.getaddrinfo(host.decode(), _atoi(port) & 0xFFFF,
                                                                 type=socket.SOCK_STREAM)[0]
        except (OSError, UnicodeError):
            raise CommandError(errors.MIGRATE_CONNECT) from None
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError as e:
            sock.close()
            raise _SocketFailure(True, isinstance(e, TimeoutError), True) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cs = self.cached[name] = _Cached(sock)
        return cs

    def close(self, host: bytes, port: bytes) -> None:
        self.close_name(host + b":" + port)

    def close_conn(self, cs: _Cached) -> None:
        for name in [n for n, c in self.cached.items() if c is cs]:
            self.close_name(name)

    def close_name(self, name: bytes) -> None:
        cs = self.cached.pop(name, None)
        if cs is not None:
            cs.sock.close()

    def cron(self) -> None:
        """Close the connections unused for more than 10 seconds."""
        if self.cached:
            now = time.time()
            for name in [n for n, cs in self.cached.items() if now - cs.last_use > _CACHE_TTL]:
                self.close_name(name)

    def close_all(self) -> None:
        for name in list(self.cached):
            self.close_name(name)


def _atoi(text: bytes) -> int:
    """C's atoi: the leading (signed) digits, 0 when there are none."""
    s = text.strip()
    sign = -1 if s[:1] == b"-" else 1
    if s[:1] in (b"-", b"+"):
        s = s[1:]
    digits = len(s) - len(s.lstrip(b"0123456789"))
    return sign * int(s[:digits]) if digits else 0


def _resp(*args: bytes) -> bytes:
    """A command in RESP (a multi-bulk request)."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _migrate_keys(argv: list[bytes]) -> list[int]:
    """migrateGetKeys: argv[3], or everything after KEYS (the options before it skipped)."""
    skip = {b"copy": 0, b"replace": 0, b"auth": 1, b"auth2": 2}
    i = 6
    while i < len(argv):
        word = argv[i].lower()
        if word == b"keys":
            if argv[3]:
                return []
            return list(range(i + 1, len(argv)))
        i += skip.get(word, 0) + 1
    return [3]


def _arguments() -> tuple[dict, ...]:
    """MIGRATE's argument tree; the empty-string token ("") has no notation of its own."""
    args = parse_args("host port:int key_or_empty_string=(key | EMPTY_STRING) destination-db:int timeout:int "
                      "[COPY@3.0.0] [REPLACE@3.0.0] [authentication=([AUTH password@4.0.7] | "
                      "[username_password=AUTH2 (username password)@6.0.0])] [KEYS key:key1...@3.0.6]")
    choice = args[2]
    empty = {**choice["arguments"][1], "token": ""}
    return (*args[:2], {**choice, "arguments": (choice["arguments"][0], empty)}, *args[3:])


@command("migrate", -6, "write", 3, 3, 1, acl="keyspace dangerous", group="generic", since="2.6.0",
         key_specs=(key_spec(3, "RW", "access", "delete"),
                    keyword_spec("KEYS", -2, "RW", "access", "delete", "incomplete", lastkey=-1)),
         get_keys=_migrate_keys, tips=("nondeterministic_output",),
         summary="Atomically transfer a key from a Redis instance to another one.",
         complexity="This command actually executes a DUMP+DEL in the source instance, and a RESTORE "
                    "in the target instance. See the pages of these commands for time complexity. "
                    "Also an O(N) data transfer between the two instances is performed.",
         history=(("3.0.0", "Added the `COPY` and `REPLACE` options."),
                  ("3.0.6", "Added the `KEYS` option."),
                  ("4.0.7", "Added the `AUTH` option."),
                  ("6.0.0", "Added the `AUTH2` option.")),
         arguments=_arguments())
def migrate_command(client: Client, argv: list[bytes]) -> Any:
    """MIGRATE host port <key | ""> destination-db timeout [COPY] [REPLACE] [[AUTH password] |
    [AUTH2 username password]] [KEYS key [key ...]]"""
    copy = replace = False
    username: bytes | None = None
    password: bytes | None = None
    first_key, num_keys = 3, 1
    n = len(argv)
    j = 6
    while j < n:
        opt = argv[j].lower()
        more = n - 1 - j
        if opt == b"copy":
            copy = True
        elif opt == b"replace":
            replace = True
        elif opt == b"auth":
            if not more:
                raise CommandError(errors.SYNTAX)
            j += 1
            password = argv[j]
            argv[j] = REDACTED
        elif opt == b"auth2":
            if more < 2:
                raise CommandError(errors.SYNTAX)
            username, password = argv[j + 1], argv[j + 2]
            argv[j + 1] = argv[j + 2] = REDACTED
            j += 2
        elif opt == b"keys":
            if argv[3]:
                raise CommandError(errors.MIGRATE_KEYS_KEY_NOT_EMPTY)
            first_key, num_keys = j + 1, n - j - 1
            break
        else:
            raise CommandError(errors.SYNTAX)
        j += 1
    timeout_ms = parse_int(argv[5])
    dbid = parse_int(argv[4])
    if timeout_ms <= 0:
        timeout_ms = 1000
    timeout = timeout_ms / 1000
    db = client.db
    found = []
    for key in argv[first_key:first_key + num_keys]:
        value = db.get(key)
        if value is not None:
            found.append((key, value))
    if not found:
        return Status(b"NOKEY")
    engine = client.engine
    sockets = engine.migrate_sockets
    host, port = argv[1], argv[2]
    may_retry = True
    while True:
        try:
            cs = sockets.get(host, port, timeout)
            return _transfer(client, cs, found, dbid, timeout, copy, replace, username, password)
        except _SocketFailure as failure:
            sockets.close(host, port)
            if failure.may_retry and may_retry and not failure.timed_out:
                may_retry = False  # a cached connection the target had closed: once more
                continue
            raise CommandError(errors.MIGRATE_IO_WRITING if failure.writing else errors.MIGRATE_IO_READING) from None


class _SocketFailure(Exception):
    """Writing or reading failed; may_retry: before any RESTORE was acknowledged."""

    def __init__(self, writing: bool, timed_out: bool, may_retry: bool) -> None:
        super().__init__()
        self.writing = writing
        self.timed_out = timed_out
        self.may_retry = may_retry


def _transfer(client: Client, cs: _Cached, found: list[tuple[bytes, Any]], dbid: int, timeout: float,
              copy: bool, replace: bool, username: bytes | None, password: bytes | None) -> Any:
    """One attempt: send AUTH, SELECT and the RESTOREs, read the replies, delete what the
    target acknowledged (unless copy). _SocketFailure when the connection fails."""
    db = client.db
    limits = Limits.from_config(client.engine.config)
    request = bytearray()
    if password is not None:
        request += _resp(b"AUTH", username, password) if username is not None else _resp(b"AUTH", password)
    select = cs.last_dbid != dbid
    if select:
        request += _resp(b"SELECT", b"%d" % dbid)
    now = time.time_ns() // 1_000_000
    sent = []
    for key, value in found:
        ttl = 0
        when = db.ttl_ms(key)
        if when is not None:
            ttl = when - now
            if ttl < 0:
                continue  # expired since it was looked up
            ttl = max(ttl, 1)
        sent.append(key)
        args = [b"RESTORE", key, b"%d" % ttl, dump_payload(value, limits)]
        if replace:
            args.append(b"REPLACE")
        request += _resp(*args)
    try:
        cs.write(bytes(request), timeout)
    except OSError as e:
        raise _SocketFailure(True, isinstance(e, TimeoutError), True) from None
    try:
        auth_reply = cs.readline(timeout) if password is not None else b"+"
        select_reply = cs.readline(timeout) if select else b"+"
    except OSError as e:
        raise _SocketFailure(False, isinstance(e, TimeoutError), True) from None
    target_error: bytes | None = None
    failure: _SocketFailure | None = None
    deleted: list[bytes] = []
    for i, key in enumerate(sent):
        try:
            line = cs.readline(timeout)
        except OSError as e:
            failure = _SocketFailure(False, isinstance(e, TimeoutError), i == 0 and target_error is None)
            break
        if auth_reply[:1] == b"-" or select_reply[:1] == b"-" or line[:1] == b"-":
            if target_error is None:
                cs.last_dbid = -1
                target_error = (auth_reply if auth_reply[:1] == b"-" else
                                select_reply if select_reply[:1] == b"-" else line)[1:]
        elif not copy:
            db.delete(key)
            deleted.append(key)
    if failure is not None and failure.may_retry:
        raise failure
    if not copy:
        client.propagate_override = [[b"DEL", *deleted]] if deleted else []
    if target_error is not None:
        if failure is not None:
            client.engine.migrate_sockets.close_conn(cs)
        raise CommandError(errors.MIGRATE_TARGET_ERROR + target_error.decode("utf-8", "replace"))
    if failure is not None:
        raise failure
    cs.last_dbid = dbid
    return OK
