"""Differential testing helpers: run the same commands on Keystream and real Redis.

`Pair.run(*args)` sends one command to both servers over raw RESP (so error texts and
reply shapes are compared exactly, not as redis-py reshapes them) and asserts the two
replies are equal. Raw replies are parsed with hiredis into Python values; errors come
back as `("ERR", text)` tuples so they compare by text.
"""

from __future__ import annotations

import shlex
import socket
from typing import Any

import hiredis


class RawClient:
    """A minimal RESP client that returns replies exactly as the server sent them."""

    def __init__(self, port: int, proto: int = 2, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.reader = hiredis.Reader(replyError=lambda text: ("ERR", text))
        if proto == 3:
            self.call(b"HELLO", b"3")

    def send(self, *args: Any) -> None:
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(out))

    def read(self) -> Any:
        while True:
            reply = self.reader.gets()
            if reply is not False:
                return reply
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("server closed the connection")
            self.reader.feed(data)

    def call(self, *args: Any) -> Any:
        self.send(*args)
        return self.read()

    def close(self) -> None:
        self.sock.close()


def normalize(reply: Any) -> Any:
    """Make replies comparable (hiredis gives lists; error tuples keep their text)."""
    if isinstance(reply, list):
        return [normalize(x) for x in reply]
    return reply


class Pair:
    def __init__(self, ks_port: int, redis_port: int, proto: int = 2) -> None:
        self.ks = RawClient(ks_port, proto)
        self.ref = RawClient(redis_port, proto)

    def both(self, *args: Any) -> tuple[Any, Any]:
        return normalize(self.ks.call(*args)), normalize(self.ref.call(*args))

    def run(self, *args: Any, unordered: bool = False) -> Any:
        got, want = self.both(*args)
        if unordered and isinstance(got, list) and isinstance(want, list):
            got, want = sorted(map(repr, got)), sorted(map(repr, want))
        assert got == want, f"{args!r}: keystream {got!r} != redis {want!r}"
        return want

    def close(self) -> None:
        self.ks.close()
        self.ref.close()


def run_script(pair: Pair, script: str) -> None:
    """Run each line of script (shell-quoted words; blank lines and # comments skipped) on pair."""
    for line in script.strip().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            pair.run(*shlex.split(line))
