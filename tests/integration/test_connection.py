"""Connection commands and CLIENT: PING ECHO QUIT RESET HELLO SELECT AUTH, CLIENT *."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest
import redis

from tests.conftest import require_tool, start_keystream
from tests.differential import Pair, RawClient


@pytest.fixture
def pair(keystream_server, redis_server):
    p = Pair(keystream_server.port, redis_server.port)
    yield p
    p.close()


@pytest.fixture
def pair3(keystream_server, redis_server):
    p = Pair(keystream_server.port, redis_server.port, proto=3)
    yield p
    p.close()


ERRORS = [
    ("ping", "a", "b"), ("echo",), ("echo", "a", "b"), ("select", "x"), ("select", "99"),
    ("select", "-1"), ("hello", "4"), ("hello", "x"), ("hello", "3", "foo"), ("hello", "3", "auth", "a"),
    ("hello", "3", "setname"), ("hello", "3", "setname", "a b"), ("auth", "x"), ("auth", "a", "b"),
    ("auth", "a", "b", "c"), ("client",), ("client", "foo"), ("client", "kill"),
    ("client", "kill", "id", "10", "wrong_arg"), ("client", "kill", "id", "str"),
    ("client", "kill", "id", "0"), ("client", "kill", "type", "wrong_type"),
    ("client", "kill", "user", "wrong_user"), ("client", "kill", "skipme", "maybe"),
    ("client", "kill", "1.2.3.4:5"), ("client", "pause"), ("client", "pause", "x"),
    ("client", "pause", "-1"), ("client", "pause", "10", "foo"), ("client", "pause", "10", "write", "x"),
    ("client", "reply"), ("client", "reply", "foo"), ("client", "list", "foo"),
    ("client", "list", "type", "foo"), ("client", "list", "id", "x"), ("client", "no-evict", "x"),
    ("client", "unblock", "x"), ("client", "unblock", "1", "foo"), ("client", "unblock", "1", "timeout", "x"),
    ("client", "setname", "a b"), ("client", "setname", "a\nb"), ("client", "id", "x"),
]


@pytest.mark.parametrize("args", ERRORS, ids=lambda a: " ".join(a))
def test_errors_match_redis(pair: Pair, args) -> None:
    pair.run(*args)


@pytest.mark.parametrize("args", [
    ("ping",), ("ping", "hi"), ("echo", "x"), ("select", "3"), ("client", "getname"),
    ("client", "setname", "nm"), ("client", "getname"), ("client", "setname", ""), ("client", "getname"),
    ("client", "unblock", "999999"), ("client", "no-evict", "on"), ("client", "no-evict", "off"),
    ("client", "list", "id", "0"), ("reset",),
])
def test_replies_match_redis(pair: Pair, args) -> None:
    pair.run(*args)


def test_hello_reply_shape(pair3: Pair) -> None:
    ks, ref = pair3.both("HELLO", "3")
    ks.pop(b"id")
    ref.pop(b"id")
    assert ks == ref
    ks, ref = pair3.both("HELLO")
    assert ks[b"proto"] == ref[b"proto"] == 3


def test_hello_setname_and_auth_default(keystream_server) -> None:
    c = RawClient(keystream_server.port)
    reply = c.call("HELLO", "3", "AUTH", "default", "whatever", "SETNAME", "me")
    assert reply[b"server"] == b"redis" and reply[b"version"] == b"7.0.15"
    assert reply[b"modules"] == [] and reply[b"mode"] == b"standalone" and reply[b"role"] == b"master"
    assert c.call("CLIENT", "GETNAME") == b"me"
    assert c.call("RESET") == b"RESET"
    assert c.call("CLIENT", "GETNAME") is None
    c.close()


def test_requirepass_auth_flow() -> None:
    h = start_keystream("--requirepass", "sekret")
    try:
        c = RawClient(h.port)
        assert c.call("GET", "x") == ("ERR", "NOAUTH Authentication required.")
        assert c.call("AUTH", "nope") == ("ERR", "WRONGPASS invalid username-password pair or user is disabled.")
        assert c.call("HELLO", "3")[0] == "ERR"
        assert c.call("AUTH", "sekret") == b"OK"
        assert c.call("GET", "x") is None
        assert c.call("RESET") == b"RESET"
        assert c.call("GET", "x") == ("ERR", "NOAUTH Authentication required.")
        assert c.call("HELLO", "3", "AUTH", "default", "sekret")[b"proto"] == 3
        c.close()
    finally:
        h.stop()


def test_quit_closes_after_reply(keystream_server) -> None:
    with socket.create_connection(("127.0.0.1", keystream_server.port), timeout=5) as s:
        s.sendall(b"*1\r\n$4\r\nQUIT\r\n*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nbar\r\n")
        data = b""
        while True:
            b = s.recv(1024)
            if not b:
                break
            data += b
    assert data == b"+OK\r\n"
    r = redis.Redis(port=keystream_server.port)
    assert r.get("foo") is None


def test_client_list_and_info(r: redis.Redis) -> None:
    line = r.execute_command("CLIENT", "INFO").decode()
    assert "flags=N" in line and "cmd=client|info" in line and "qbuf=26" in line and "resp=2" in line
    myid = r.client_id()
    lines = r.execute_command("CLIENT", "LIST", "ID", myid).decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"id={myid} ")
    fields = [kv.split("=")[0] for kv in lines[0].split(" ")]
    assert fields == ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub",
                      "ssub", "multi", "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl",
                      "oll", "omem", "tot-mem", "events", "cmd", "user", "redir", "resp"]


def test_client_kill_filters(keystream_server) -> None:
    a = RawClient(keystream_server.port)
    b = RawClient(keystream_server.port)
    b_id = b.call("CLIENT", "ID")
    assert a.call("CLIENT", "KILL", "ID", b_id) == 1
    with pytest.raises((ConnectionError, OSError)):
        b.call("PING")
    c = RawClient(keystream_server.port)
    addr = [ln for ln in c.call("CLIENT", "INFO").decode().split() if ln.startswith("addr=")][0][5:]
    assert a.call("CLIENT", "KILL", addr) == b"OK"
    assert a.call("CLIENT", "KILL", "ID", a.call("CLIENT", "ID"), "SKIPME", "yes") == 0
    assert a.call("CLIENT", "KILL", "ID", a.call("CLIENT", "ID"), "SKIPME", "no") == 1
    with pytest.raises((ConnectionError, OSError)):
        a.call("PING")


def test_client_reply_modes(keystream_server) -> None:
    c = RawClient(keystream_server.port)
    c.send("CLIENT", "REPLY", "OFF")
    c.send("PING", "a")
    c.send("CLIENT", "REPLY", "ON")
    assert c.read() == b"OK"
    c.send("CLIENT", "REPLY", "SKIP")
    c.send("PING", "b")
    c.send("PING", "c")
    assert c.read() == b"c"
    c.send("CLIENT", "REPLY", "SKIP")
    c.send("CLIENT", "REPLY", "ON")
    assert c.read() == b"OK"
    c.close()


def _wait(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_client_pause_write_holds_writes_until_unpause(keystream_server, r: redis.Redis) -> None:
    r.set("k", "1")
    r.execute_command("CLIENT", "PAUSE", 60000, "WRITE")
    w = RawClient(keystream_server.port)
    try:
        w.send("SET", "k", "2")
        assert _wait(lambda: r.info("clients")["blocked_clients"] == 1)
        assert r.get("k") == b"1"  # reads go on
    finally:
        r.execute_command("CLIENT", "UNPAUSE")
    assert w.read() == b"OK"
    assert r.get("k") == b"2"
    w.close()


def test_client_pause_times_out(keystream_server, r: redis.Redis) -> None:
    r.execute_command("CLIENT", "PAUSE", 100, "ALL")
    w = RawClient(keystream_server.port)
    t = time.monotonic()
    assert w.call("PING") == b"PONG"
    assert time.monotonic() - t >= 0.05
    w.close()


def test_select_is_per_connection(r: redis.Redis, keystream_server) -> None:
    c = RawClient(keystream_server.port)
    assert c.call("SELECT", "2") == b"OK"
    c.call("SET", "x", "in2")
    assert r.get("x") is None
    c.close()


def test_redis_cli(keystream_server, redis_server) -> None:
    cli = require_tool("redis-cli")

    def run(port: int, *args: str) -> str:
        return subprocess.run([cli, "-p", str(port), *args], capture_output=True, text=True, timeout=10,
                              check=True).stdout

    for args in (("PING",), ("-3", "CONFIG", "GET", "maxmemory"), ("CONFIG", "GET", "maxmemory")):
        assert run(keystream_server.port, *args) == run(redis_server.port, *args), args
    hello = run(keystream_server.port, "-3", "HELLO", "3")
    assert "7.0.15" in hello and "standalone" in hello
    run(keystream_server.port, "SET", "clikey", "v")
    assert run(keystream_server.port, "GET", "clikey") == "v\n"
