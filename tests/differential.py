"""Differential testing helpers: run the same commands on Keystream and real Redis.

`Pair.run(*args)` sends one command to both servers over raw RESP and asserts that the two replies
are the same bytes: every RESP type (simple vs bulk string, RESP2 null bulk vs null array vs RESP3
null, verbatim vs bulk, set vs array, map vs array, double vs bulk, boolean vs integer), every
length and every element order count. The only normalisations are explicit and named:

- `unordered=True`: the order of elements inside every aggregate (array, set, map entries, push)
  is ignored, at every level; for replies whose order depends on hash table layout (SMEMBERS,
  KEYS, SSCAN). Types, counts and bytes of the elements still have to match.
- `unordered="pairs"`: a flat field/value array (RESP2 HGETALL, CONFIG GET) or a map is compared as
  a set of pairs, at the top level.

`RawClient.call` parses replies with hiredis (errors as `("ERR", text)` tuples) for tests that look
inside a reply; `RawClient.call_raw` returns the reply's exact bytes, which is what `Pair.run`
compares. `Pair.both` returns both parsed replies for the few tests whose replies legitimately
differ in content (MEMORY USAGE sizes) and which compare a chosen part of them.
"""

from __future__ import annotations

import shlex
import socket
from typing import Any

import hiredis

# RESP type bytes: one-line values, length-prefixed strings, aggregates (count = elements or pairs).
_LINE_TYPES = frozenset(b"+-:_,#(")
_BLOB_TYPES = frozenset(b"$=!")
_AGGREGATE_TYPES = frozenset(b"*~>")
_PAIR_TYPES = frozenset(b"%|")


class Reply:
    """One RESP value as sent: its type byte, its exact bytes, and its elements if an aggregate."""

    __slots__ = ("children", "raw", "type")

    def __init__(self, type_: int, raw: bytes, children: list[Reply] | None) -> None:
        self.type = type_
        self.raw = raw
        self.children = children

    def canonical(self, unordered: bool | str) -> bytes:
        """The bytes to compare under the named normalisation (see the module docstring)."""
        if not unordered or self.children is None:
            return self.raw
        header = self.raw[:self.raw.index(b"\r\n") + 2]
        if unordered == "pairs":
            kids = [c.raw for c in self.children]
            pairs = sorted(b"".join(kids[i:i + 2]) for i in range(0, len(kids), 2))
            return header + b"".join(pairs)
        if self.type in _PAIR_TYPES:
            kids = [c.canonical(True) for c in self.children]
            return header + b"".join(sorted(kids[i] + kids[i + 1] for i in range(0, len(kids), 2)))
        return header + b"".join(sorted(c.canonical(True) for c in self.children))


def parse_reply(buf: bytes, pos: int = 0) -> tuple[Reply, int] | None:
    """Parse one RESP2/RESP3 value at pos: (reply, end) or None if buf holds only part of it."""
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        return None
    t = buf[pos]
    line_end = nl + 2
    if t in _LINE_TYPES:
        return Reply(t, buf[pos:line_end], None), line_end
    n = int(buf[pos + 1:nl])
    if t in _BLOB_TYPES:
        if n < 0:
            return Reply(t, buf[pos:line_end], None), line_end
        end = line_end + n + 2
        if len(buf) < end:
            return None
        return Reply(t, buf[pos:end], None), end
    if t in _AGGREGATE_TYPES or t in _PAIR_TYPES:
        if n < 0:
            return Reply(t, buf[pos:line_end], None), line_end
        children: list[Reply] = []
        p = line_end
        for _ in range(n * 2 if t in _PAIR_TYPES else n):
            got = parse_reply(buf, p)
            if got is None:
                return None
            child, p = got
            children.append(child)
        return Reply(t, buf[pos:p], children), p
    raise ValueError(f"not a RESP reply at {buf[pos:pos + 40]!r}")


class RawClient:
    """A minimal RESP client that returns replies exactly as the server sent them."""

    def __init__(self, port: int, proto: int = 2, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buf = b""
        if proto == 3:
            self.call(b"HELLO", b"3")

    def send(self, *args: Any) -> None:
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(out))

    def read_reply(self) -> Reply:
        """The next whole reply (attributes, `|`, come back as their own reply)."""
        while True:
            if self.buf:
                got = parse_reply(self.buf)
                if got is not None:
                    reply, end = got
                    self.buf = self.buf[end:]
                    return reply
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("server closed the connection")
            self.buf += data

    def read_raw(self) -> bytes:
        return self.read_reply().raw

    def read(self) -> Any:
        """The next reply parsed by hiredis (errors as ("ERR", text))."""
        reader = hiredis.Reader(replyError=lambda text: ("ERR", text))
        reader.feed(self.read_raw())
        return reader.gets()

    def call(self, *args: Any) -> Any:
        self.send(*args)
        return self.read()

    def call_raw(self, *args: Any) -> bytes:
        self.send(*args)
        return self.read_raw()

    def call_reply(self, *args: Any) -> Reply:
        self.send(*args)
        return self.read_reply()

    def close(self) -> None:
        self.sock.close()


class Pair:
    def __init__(self, ks_port: int, redis_port: int, proto: int = 2) -> None:
        self.ks = RawClient(ks_port, proto)
        self.ref = RawClient(redis_port, proto)
        self.proto = proto

    def both(self, *args: Any) -> tuple[Any, Any]:
        """Both replies parsed by hiredis, not compared: for replies that legitimately differ."""
        return self.ks.call(*args), self.ref.call(*args)

    def run(self, *args: Any, unordered: bool | str = False) -> Any:
        """Send args to both servers; assert the replies are the same bytes (under `unordered`);
        return Redis's reply parsed by hiredis."""
        got, want = self.ks.call_reply(*args), self.ref.call_reply(*args)
        assert got.canonical(unordered) == want.canonical(unordered), (
            f"{args!r} (RESP{self.proto}): keystream {got.raw!r} != redis {want.raw!r}")
        reader = hiredis.Reader(replyError=lambda text: ("ERR", text))
        reader.feed(want.raw)
        return reader.gets()

    def close(self) -> None:
        self.ks.close()
        self.ref.close()


def run_script(pair: Pair, script: str) -> None:
    """Run each line of script (shell-quoted words; blank lines and # comments skipped) on pair."""
    for line in script.strip().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            pair.run(*shlex.split(line))
