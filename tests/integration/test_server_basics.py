"""Start-up, basic round trips and protocol handling against a real `keystream serve`."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import redis

from tests.conftest import LOG_PROBLEM, free_port, start_keystream


def raw(port: int, data: bytes, expect_close: bool = False, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if not expect_close:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)


def test_ping_set_get(r: redis.Redis) -> None:
    assert r.ping() is True
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"


def test_resp3_client(r3: redis.Redis) -> None:
    assert r3.set("k", "v") is True
    assert r3.get("k") == b"v"


def test_inline_commands_and_quotes(keystream_server) -> None:
    out = raw(keystream_server.port, b'PING\r\nset x "a b\\x41"\r\nget x\r\n\r\nquit\r\n')
    assert out == b"+PONG\r\n+OK\r\n$4\r\na bA\r\n+OK\r\n"


def test_pipelined_replies_in_order(keystream_server) -> None:
    req = b"".join(b"*3\r\n$3\r\nSET\r\n$2\r\nk%d\r\n$1\r\n%d\r\n" % (i, i) for i in range(10))
    req += b"".join(b"*2\r\n$3\r\nGET\r\n$2\r\nk%d\r\n" % i for i in range(10))
    out = raw(keystream_server.port, req)
    assert out == b"+OK\r\n" * 10 + b"".join(b"$1\r\n%d\r\n" % i for i in range(10))


def test_command_split_across_reads(keystream_server) -> None:
    req = b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$100000\r\n" + b"x" * 100000 + b"\r\n*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n"
    with socket.create_connection(("127.0.0.1", keystream_server.port), timeout=5) as s:
        for i in range(0, len(req), 777):
            s.sendall(req[i:i + 777])
        s.shutdown(socket.SHUT_WR)
        data = b""
        while len(data) < 5 + 9 + 100000 + 2:
            b = s.recv(65536)
            if not b:
                break
            data += b
    assert data == b"+OK\r\n$100000\r\n" + b"x" * 100000 + b"\r\n"


def test_protocol_errors_close_connection_after_earlier_replies(keystream_server) -> None:
    out = raw(keystream_server.port, b"PING\r\n*1\r\nfoo\r\n", expect_close=True)
    assert out == b"+PONG\r\n-ERR Protocol error: expected '$', got 'f'\r\n"
    out = raw(keystream_server.port, b"*3000000000\r\n", expect_close=True)
    assert out == b"-ERR Protocol error: invalid multibulk length\r\n"
    out = raw(keystream_server.port, b"*1\r\n$2000000000\r\n", expect_close=True)
    assert out == b"-ERR Protocol error: invalid bulk length\r\n"
    out = raw(keystream_server.port, b'set """a""" b\r\n', expect_close=True)
    assert out == b"-ERR Protocol error: unbalanced quotes in request\r\n"
    out = raw(keystream_server.port, b"*1\r\n:5\r\n", expect_close=True)
    assert out == b"-ERR Protocol error: expected '$', got ':'\r\n"


def test_server_survives_garbage_and_keeps_serving(keystream_server, r: redis.Redis) -> None:
    for junk in (b"\x00\xff" * 1000, b"*-1\r\n", b"$5\r\nhello\r\n", b"*2\r\n$3\r\nGET\r\n"):
        try:
            raw(keystream_server.port, junk, timeout=1)
        except OSError:
            pass
    assert r.ping() is True


def test_unknown_command_and_arity_errors(r: redis.Redis) -> None:
    try:
        r.execute_command("NOSUCHCMD", "a", "b")
    except redis.ResponseError as e:
        assert str(e) == "unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b' "
    else:
        raise AssertionError("expected an error")
    try:
        r.execute_command("GET")
    except redis.ResponseError as e:
        assert str(e) == "wrong number of arguments for 'get' command"
    else:
        raise AssertionError("expected an error")


def test_serve_prints_where_it_listens_and_stops_on_sigterm(tmp_path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "keystream", "serve", "--port", str(port), "--kafka-port", "0",
         "--dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        line = proc.stdout.readline().decode()
        while line and "ready:" not in line:  # log lines (PID, loading) may come first
            line = proc.stdout.readline().decode()
        assert f"127.0.0.1:{port}" in line
        assert redis.Redis(port=port, protocol=2).ping()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    rest = proc.stdout.read().decode(errors="replace")
    assert not LOG_PROBLEM.search(rest), rest
    assert (tmp_path / "data").is_dir()


def test_unknown_setting_is_refused(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "keystream", "serve", "--no-such-setting", "1", "--dir", str(tmp_path)],
        capture_output=True, timeout=30,
    )
    assert proc.returncode != 0
    assert b"no-such-setting" in proc.stderr


def test_invalid_setting_value_names_the_setting(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "keystream", "serve", "--maxmemory-policy", "bogus", "--dir", str(tmp_path)],
        capture_output=True, timeout=30,
    )
    assert proc.returncode != 0
    assert b"maxmemory-policy" in proc.stderr


def test_dotted_kafka_setting_accepted() -> None:
    h = start_keystream("--log.retention.check.interval.ms", "1000")
    try:
        assert redis.Redis(port=h.port, protocol=2).ping()
    finally:
        h.stop()
    _ = time
