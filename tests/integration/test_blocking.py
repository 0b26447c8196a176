"""Blocking list operations with several clients: wake-ups, FIFO order, timeouts, MULTI,
CLIENT UNBLOCK, pipelining behind a blocked command. No sleeps-and-hope: a test waits until
the server reports the client as blocked (CLIENT LIST flag `b`) before acting."""

from __future__ import annotations

import socket
import time

import pytest

from tests.differential import RawClient, parse_reply


def _cmd(*args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class Wire:
    """A socket that reads exact reply bytes."""

    def __init__(self, port: int, proto: int = 2) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        if proto == 3:
            self.sock.sendall(_cmd("HELLO", "3"))
            while (hello := parse_reply(self.buf)) is None:   # exactly the HELLO reply, however slow
                self.buf += self.sock.recv(65536)
            self.buf = self.buf[hello[1]:]
        self.sock.sendall(_cmd("CLIENT", "ID"))
        self.id = int(self.read_exact_line()[1:])

    def send(self, *args) -> None:
        self.sock.sendall(_cmd(*args))

    def read_exact_line(self) -> bytes:
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            assert data, "connection closed"
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def expect(self, raw: bytes) -> None:
        while len(self.buf) < len(raw):
            data = self.sock.recv(65536)
            assert data, "connection closed"
            self.buf += data
        got, self.buf = self.buf[:len(raw)], self.buf[len(raw):]
        assert got == raw, f"{got!r} != {raw!r}"

    def nothing_pending(self) -> bool:
        self.sock.setblocking(False)
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            data = b""
        finally:
            self.sock.setblocking(True)
            self.sock.settimeout(10)
        self.buf += data
        return not self.buf

    def close(self) -> None:
        self.sock.close()


def wait_blocked(ctl: RawClient, ids: list[int], timeout: float = 5.0) -> None:
    """Wait until every client in ids shows flag b in CLIENT LIST."""
    deadline = time.monotonic() + timeout
    while True:
        listing = ctl.call("CLIENT", "LIST")
        blocked = set()
        for line in listing.decode().splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            if "b" in fields.get("flags", ""):
                blocked.add(int(fields["id"]))
        if set(ids) <= blocked:
            return
        assert time.monotonic() < deadline, f"clients {ids} not blocked; blocked={blocked}"
        time.sleep(0.01)


@pytest.fixture
def ctl(keystream_server):
    c = RawClient(keystream_server.port)
    c.call("FLUSHALL")
    yield c
    c.close()


@pytest.fixture
def wires(keystream_server):
    made: list[Wire] = []

    def make(proto: int = 2) -> Wire:
        w = Wire(keystream_server.port, proto)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


@pytest.mark.parametrize("proto", [2, 3])
def test_blpop_woken_by_push_from_another_client(ctl, wires, proto):
    w = wires(proto)
    w.send("BLPOP", "k1", "k2", 0)
    wait_blocked(ctl, [w.id])
    assert w.nothing_pending()
    assert ctl.call("RPUSH", "k2", "v") == 1
    w.expect(b"*2\r\n$2\r\nk2\r\n$1\r\nv\r\n")
    assert ctl.call("EXISTS", "k2") == 0


@pytest.mark.parametrize("proto,null", [(2, b"*-1\r\n"), (3, b"_\r\n")])
def test_timeout_replies_null_array(ctl, wires, proto, null):
    w = wires(proto)
    t0 = time.monotonic()
    for cmd in (("BLPOP", "nol", "0.05"), ("BRPOP", "a", "b", "0.05"),
                ("BLMOVE", "nol", "d", "LEFT", "LEFT", "0.05"), ("BRPOPLPUSH", "nol", "d", "0.05"),
                ("BLMPOP", "0.05", 1, "nol", "LEFT")):
        w.send(*cmd)
        w.expect(null)
    assert time.monotonic() - t0 >= 0.2


def test_fifo_order_across_clients(ctl, wires):
    clients = [wires() for _ in range(3)]
    for c in clients:
        c.send("BRPOP", "q", 0)
        wait_blocked(ctl, [c.id])
    ctl.call("RPUSH", "q", "a", "b", "c")
    # BRPOP takes from the tail: first blocked gets c, then b, then a.
    for c, v in zip(clients, [b"c", b"b", b"a"]):
        c.expect(b"*2\r\n$1\r\nq\r\n$1\r\n" + v + b"\r\n")


def test_blpop_woken_by_push_inside_multi(ctl, wires):
    w = wires()
    w.send("BLPOP", "blist", 0)
    wait_blocked(ctl, [w.id])
    ctl.call("MULTI")
    for v in ("a", "b", "c"):
        ctl.call("LPUSH", "blist", v)
    assert ctl.call("EXEC") == [1, 2, 3]
    # Served after EXEC, so it sees the whole transaction's effect.
    w.expect(b"*2\r\n$5\r\nblist\r\n$1\r\nc\r\n")
    assert ctl.call("LRANGE", "blist", 0, -1) == [b"b", b"a"]


def test_push_and_pop_in_same_transaction_keeps_waiting(ctl, wires):
    w = wires()
    w.send("BLPOP", "k", 0)
    wait_blocked(ctl, [w.id])
    ctl.call("MULTI")
    ctl.call("LPUSH", "k", "x")
    ctl.call("LPOP", "k")
    ctl.call("EXEC")
    wait_blocked(ctl, [w.id])
    assert w.nothing_pending()
    ctl.call("RPUSH", "k", "y")
    w.expect(b"*2\r\n$1\r\nk\r\n$1\r\ny\r\n")


def test_blmove_chain_wakes_next_client(ctl, wires):
    a, b = wires(), wires()
    a.send("BLMOVE", "src", "dst", "LEFT", "RIGHT", 0)
    wait_blocked(ctl, [a.id])
    b.send("BLPOP", "dst", 0)
    wait_blocked(ctl, [b.id])
    ctl.call("RPUSH", "src", "v")
    a.expect(b"$1\r\nv\r\n")
    b.expect(b"*2\r\n$3\r\ndst\r\n$1\r\nv\r\n")
    assert ctl.call("EXISTS", "src", "dst") == 0


def test_brpoplpush_same_key_rotation(ctl, wires):
    w = wires()
    w.send("BRPOPLPUSH", "r", "r", 0)
    wait_blocked(ctl, [w.id])
    ctl.call("RPUSH", "r", "x")
    w.expect(b"$1\r\nx\r\n")
    assert ctl.call("LRANGE", "r", 0, -1) == [b"x"]


def test_blmove_wrong_type_destination_errors_when_served(ctl, wires):
    w = wires()
    ctl.call("SET", "dst", "string")
    w.send("BLMOVE", "src", "dst", "LEFT", "LEFT", 0)
    wait_blocked(ctl, [w.id])
    ctl.call("RPUSH", "src", "v")
    w.expect(b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
    assert ctl.call("LRANGE", "src", 0, -1) == [b"v"]


def test_wrong_type_value_keeps_client_waiting(ctl, wires):
    w = wires()
    w.send("BLPOP", "k", 0)
    wait_blocked(ctl, [w.id])
    ctl.call("SET", "k", "str")
    ctl.call("DEL", "k")
    wait_blocked(ctl, [w.id])
    ctl.call("RPUSH", "k", "v")
    w.expect(b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n")


def test_blmpop_served_with_count(ctl, wires):
    w = wires(3)
    w.send("BLMPOP", 0, 2, "a", "b", "RIGHT", "COUNT", 2)
    wait_blocked(ctl, [w.id])
    ctl.call("RPUSH", "b", "1", "2", "3")
    w.expect(b"*2\r\n$1\r\nb\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n")
    assert ctl.call("LRANGE", "b", 0, -1) == [b"1"]


def test_pipelined_commands_wait_behind_blocked_command(ctl, wires):
    w = wires()
    w.sock.sendall(_cmd("BLPOP", "k", 0) + _cmd("PING") + _cmd("LLEN", "k"))
    wait_blocked(ctl, [w.id])
    assert w.nothing_pending()
    ctl.call("RPUSH", "k", "v", "w")
    w.expect(b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n+PONG\r\n:1\r\n")


def test_client_unblock_timeout_and_error(ctl, wires):
    w = wires()
    w.send("BLPOP", "k", 0)
    wait_blocked(ctl, [w.id])
    assert ctl.call("CLIENT", "UNBLOCK", w.id, "TIMEOUT") == 1
    w.expect(b"*-1\r\n")
    assert ctl.call("CLIENT", "UNBLOCK", w.id) == 0
    w.send("BLMOVE", "k", "d", "LEFT", "LEFT", 0)
    wait_blocked(ctl, [w.id])
    assert ctl.call("CLIENT", "UNBLOCK", w.id, "ERROR") == 1
    w.expect(b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n")
    w.send("PING")
    w.expect(b"+PONG\r\n")


def test_disconnected_waiter_is_forgotten(ctl, wires):
    gone, stays = wires(), wires()
    gone.send("BLPOP", "k", 0)
    stays.send("BLPOP", "k", 0)
    wait_blocked(ctl, [gone.id, stays.id])
    gone.close()
    deadline = time.monotonic() + 5
    while b"id=%d " % gone.id in ctl.call("CLIENT", "LIST"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    ctl.call("RPUSH", "k", "v")
    stays.expect(b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n")


def test_server_serves_others_while_clients_wait(ctl, wires):
    waiters = [wires() for _ in range(5)]
    for i, w in enumerate(waiters):
        w.send("BLPOP", f"w{i}", 0)
    wait_blocked(ctl, [w.id for w in waiters])
    for i in range(100):
        assert ctl.call("SET", f"x{i}", i) == b"OK"
    for i, w in enumerate(waiters):
        ctl.call("LPUSH", f"w{i}", "go")
        w.expect(b"*2\r\n$%d\r\nw%d\r\n$2\r\ngo\r\n" % (len(f"w{i}"), i))


def test_timeout_zero_point_something_and_fractional(ctl, wires):
    w = wires()
    t0 = time.monotonic()
    w.send("BLPOP", "nol", "0.2")
    w.expect(b"*-1\r\n")
    elapsed = time.monotonic() - t0
    assert elapsed >= 0.18   # 0.2 s, not 0 (which would block for ever: the wait above returned)
