"""redis-cli (Debian's, 7.0.15) as a subprocess against Keystream and against real redis-server:
the same invocation must print the same thing. Covers RESP2 and RESP3 (`-3`) output with its
type annotations (`--no-raw`: doubles, maps, sets, booleans, verbatim strings), commands read
from stdin, `-x`, `-n`, `-r`, `--scan`, `--bigkeys` and mass insertion with `--pipe`."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import require_tool

CLI = shutil.which("redis-cli")


@pytest.fixture(autouse=True)
def _cli_installed() -> None:
    require_tool("redis-cli")


def cli(port: int, *args: str, stdin: bytes | None = None) -> str:
    out = subprocess.run([CLI, "-p", str(port), *args], input=stdin, capture_output=True,  # type: ignore[list-item]
                         timeout=30, check=False)
    return (out.stdout + out.stderr).decode("utf-8", "replace")


@pytest.fixture
def ports(keystream_server, redis_server):
    for port in (keystream_server.port, redis_server.port):
        assert cli(port, "FLUSHALL").strip() == "OK"
    return keystream_server.port, redis_server.port


def same(ports, *args: str, stdin: bytes | None = None, unordered: bool = False) -> str:
    got, want = (cli(p, *args, stdin=stdin) for p in ports)
    if unordered:
        got, want = sorted(got.splitlines()), sorted(want.splitlines())  # type: ignore[assignment]
    assert got == want, f"redis-cli {' '.join(args)}:\nkeystream:\n{got}\nredis:\n{want}"
    return want if isinstance(want, str) else "\n".join(want)


SETUP = """SET s hello
SET n 10
RPUSH l a b c
SADD set m
HSET h f v
ZADD z 1.5 a 2 b
GEOADD g 13.361389 38.115556 Palermo
SETBIT bits 7 1
PFADD hll x
"""

COMMANDS = [
    "GET s", "GET nokey", "MGET s nokey", "INCRBYFLOAT n 1.5", "INCR n", "STRLEN s", "LCS s s IDX WITHMATCHLEN",
    "BITFIELD bf SET u8 0 200 GET u8 0", "BITCOUNT bits", "EXISTS s nokey", "TYPE z", "TTL s", "EXPIRETIME s",
    "OBJECT ENCODING s", "LRANGE l 0 -1", "LPOP nolist 2", "HGETALL h", "HRANDFIELD h 1 WITHVALUES",
    "SMEMBERS set", "SMISMEMBER set m x", "ZRANGE z 0 -1 WITHSCORES", "ZSCORE z a", "ZMSCORE z a nomember",
    "ZINCRBY z 0.5 a", "ZPOPMIN nozset", "GEOPOS g Palermo nomember", "GEODIST g Palermo Palermo km",
    "PFCOUNT hll", "CONFIG GET maxmemory", "INFO keyspace", "PING", "ECHO hi", "DEBUG PROTOCOL bignum",
    "DEBUG PROTOCOL verbatim", "DEBUG PROTOCOL map", "DEBUG PROTOCOL set", "DEBUG PROTOCOL true",
    "DEBUG PROTOCOL double", "DEBUG PROTOCOL attrib", "GET", "NOSUCH x", "SET s v EX 0", "SELECT 99",
]


@pytest.mark.parametrize("mode", [(), ("--no-raw",), ("-3",), ("-3", "--no-raw"), ("--raw",)],
                         ids=["default", "no-raw", "resp3", "resp3-no-raw", "raw"])
def test_same_output_as_redis(ports, mode) -> None:
    same(ports, *mode, stdin=SETUP.encode())
    for line in COMMANDS:
        same(ports, *mode, *line.split())


def test_commands_from_stdin_one_per_line(ports) -> None:
    out = same(ports, stdin=b'SET a 1\nINCR a\nSET "b c" "x y"\nGET "b c"\nAPPEND a 2\nGET a\n')
    assert out.split("\n")[:6] == ["OK", "2", "OK", "x y", "2", "22"]


def test_x_n_r_options(ports) -> None:
    assert same(ports, "-x", "SET", "fromstdin", stdin=b"hello\nworld") == "OK\n"
    assert same(ports, "GET", "fromstdin") == "hello\nworld\n"
    assert same(ports, "-n", "3", "-r", "3", "INCR", "x") == "1\n2\n3\n"
    assert same(ports, "-n", "3", "DBSIZE") == "1\n"
    assert same(ports, "DBSIZE") == "1\n"


def test_scan_and_bigkeys(ports) -> None:
    same(ports, stdin=b"MSET a 1 bb 22 ccc 333\nRPUSH l x y\nSADD s m\n")
    assert same(ports, "--scan", "--pattern", "b*") == "bb\n"
    same(ports, "--scan", unordered=True)
    ks, ref = (cli(p, "--bigkeys") for p in ports)
    summary = [line for line in ref.splitlines() if line.startswith(("Biggest", "5 keys", "1 lists", "1 sets"))
               or " strings with " in line]
    assert summary and all(line in ks.splitlines() for line in summary), ks


def test_pipe_mass_insertion(ports) -> None:
    n = 5000
    payload = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$%d\r\nv%d\r\n" % (len(b"k%d" % i), i, len(b"v%d" % i), i)
                       for i in range(n))
    payload += b"INCR counter\r\nLPUSH l a\r\nGET\r\n"  # inline commands and an error too
    for port in ports:
        out = cli(port, "--pipe", stdin=payload)
        assert f"errors: 1, replies: {n + 3}" in out, out
    assert same(ports, "DBSIZE") == f"{n + 2}\n"
    assert same(ports, "GET", f"k{n - 1}") == f"v{n - 1}\n"
