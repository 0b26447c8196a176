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


class ClientId:
    """Stands for the CLIENT ID of connection `index` of a Sessions (ids differ per server)."""

    def __init__(self, index: int) -> None:
        self.index = index


class Sessions:
    """Several connections to each server, driven in lockstep, for what one connection's
    command makes others receive (pub/sub messages, invalidations, keyspace events).

    `send(i, *args)` sends a command on connection i of both servers without reading;
    `sync()` then collects, on every connection, everything received up to the reply of a
    PING sent last (the server answers in order, and a connection's pushes caused by
    earlier commands of any connection precede that reply), and asserts each connection
    got the same replies and pushes, in the same order, from both servers.
    """

    def __init__(self, ks_port: int, redis_port: int, protos: list[int]) -> None:
        self.ks = [RawClient(ks_port, p) for p in protos]
        self.ref = [RawClient(redis_port, p) for p in protos]
        self.ids = {"ks": [c.call("CLIENT", "ID") for c in self.ks],
                    "ref": [c.call("CLIENT", "ID") for c in self.ref]}
        self._token = 0
        self._senders: set[int] = set()

    def _args(self, side: str, args: tuple[Any, ...]) -> list[Any]:
        return [self.ids[side][a.index] if isinstance(a, ClientId) else a for a in args]

    def send(self, i: int, *args: Any) -> None:
        self._senders.add(i)
        self.ks[i].send(*self._args("ks", args))
        self.ref[i].send(*self._args("ref", args))

    def run(self, i: int, *args: Any) -> None:
        """send, then sync."""
        self.send(i, *args)
        self.sync()

    @staticmethod
    def _collect(c: RawClient, token: bytes) -> list[Any]:
        c.send("PING", token)
        got: list[Any] = []
        while True:
            reply = c.read()
            if reply == token or reply == [b"pong", token]:
                return got
            got.append(normalize(reply))

    def sync(self, sort: bool = False, sort_items: bool = False) -> list[list[Any]]:
        """Compare what every connection received since the last sync; `sort` compares each
        connection's replies as a multiset, `sort_items` the items of each array reply as
        one (where Redis's order is its hash table's).

        Two rounds of PINGs: the first, on the connections that sent commands, makes sure
        those ran; the second then collects on every connection what they caused."""
        got: dict[str, list[list[Any]]] = {"ks": [[] for _ in self.ks], "ref": [[] for _ in self.ref]}
        for rnd in (sorted(self._senders), range(len(self.ks))):
            self._token += 1
            token = b"sync-%d" % self._token
            for side, conns in (("ks", self.ks), ("ref", self.ref)):
                for i in rnd:
                    got[side][i].extend(self._collect(conns[i], token))
        self._senders.clear()
        out = []
        for i, (mine, want) in enumerate(zip(got["ks"], got["ref"])):
            if sort_items:
                mine, want = ([sorted(x) if isinstance(x, list) else x for x in side] for side in (mine, want))
            if sort:
                mine, want = sorted(map(repr, mine)), sorted(map(repr, want))
            assert mine == want, f"connection {i}: keystream {mine!r} != redis {want!r}"
            out.append(want)
        return out

    def close(self) -> None:
        for c in self.ks + self.ref:
            c.close()
