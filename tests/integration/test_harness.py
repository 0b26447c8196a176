"""The test harness itself: a crashed handler, an internal error or an unexpected exit of a server
fails the test, and differential comparison tells every RESP type apart.

These guard the guards: if the health check or the byte-exact comparison stopped working, every
other test would pass green over real defects.
"""

from __future__ import annotations

import os
import signal
import sys

import pytest

from tests.conftest import check_servers, start_keystream
from tests.differential import RawClient, parse_reply

# Runs `keystream serve` with ECHO's handler replaced by one that raises: a stand-in for any bug.
_BROKEN_ECHO = r"""
import sys
from keystream.commands.registry import COMMANDS, load_all
load_all()
def broken(client, argv):
    raise RuntimeError("deliberate bug for the harness test")
COMMANDS[b"echo"].handler = broken
sys.argv = ["keystream", *sys.argv[1:]]
from keystream.cli import main
main()
"""


@pytest.fixture
def broken_server():
    h = start_keystream(launcher=[sys.executable, "-c", _BROKEN_ECHO])
    yield h
    h.stop()


def test_internal_error_fails_the_test_with_the_log_tail(broken_server) -> None:
    c = RawClient(broken_server.port)
    assert c.call("ECHO", "x") == ("ERR", "ERR internal error while running 'echo'")
    c.close()
    with pytest.raises(pytest.fail.Exception) as e:
        check_servers([broken_server])
    assert "deliberate bug for the harness test" in str(e.value)
    assert "Traceback" in str(e.value)
    check_servers([broken_server])  # reported once: the next test starts clean


def test_allowed_log_lines_do_not_fail(broken_server) -> None:
    broken_server.allow_log(r"command 'echo' failed")
    c = RawClient(broken_server.port)
    assert c.call("ECHO", "x")[0] == "ERR"
    c.close()
    check_servers([broken_server])


def test_unexpected_exit_fails_the_test() -> None:
    h = start_keystream()
    os.kill(h.proc.pid, signal.SIGKILL)
    h.proc.wait(timeout=10)
    with pytest.raises(pytest.fail.Exception, match="exited unexpectedly with code -9"):
        check_servers([h])
    h.stop()


@pytest.mark.parametrize(("ours", "theirs"), [
    (b"+OK\r\n", b"$2\r\nOK\r\n"),                   # simple vs bulk string
    (b"$-1\r\n", b"*-1\r\n"),                        # null bulk vs null array
    (b"_\r\n", b"$-1\r\n"),                          # RESP3 null vs RESP2 null
    (b"=7\r\ntxt:abc\r\n", b"$7\r\ntxt:abc\r\n"),    # verbatim vs bulk
    (b"~1\r\n:1\r\n", b"*1\r\n:1\r\n"),              # set vs array
    (b"%1\r\n+a\r\n:1\r\n", b"*2\r\n+a\r\n:1\r\n"),  # map vs flat array
    (b",1\r\n", b":1\r\n"),                          # double vs integer
    (b"#t\r\n", b":1\r\n"),                          # boolean vs integer
    (b",1\r\n", b",1.0\r\n"),                        # double formatting
])
def test_differential_comparison_keeps_every_type(ours: bytes, theirs: bytes) -> None:
    a, b = parse_reply(ours), parse_reply(theirs)
    assert a is not None and b is not None
    for unordered in (False, True):
        assert a[0].canonical(unordered) != b[0].canonical(unordered)


def test_unordered_ignores_only_order() -> None:
    def canon(raw: bytes, how: bool | str) -> bytes:
        got = parse_reply(raw)
        assert got is not None
        return got[0].canonical(how)

    assert canon(b"*2\r\n$1\r\na\r\n$1\r\nb\r\n", True) == canon(b"*2\r\n$1\r\nb\r\n$1\r\na\r\n", True)
    assert canon(b"*2\r\n$1\r\na\r\n$1\r\nb\r\n", True) != canon(b"*2\r\n$1\r\nb\r\n+a\r\n", True)
    assert canon(b"%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n", True) == canon(b"%2\r\n+b\r\n:2\r\n+a\r\n:1\r\n", True)
    assert canon(b"%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n", True) != canon(b"%2\r\n+a\r\n:2\r\n+b\r\n:1\r\n", True)
    flat = b"*4\r\n$1\r\nf\r\n$1\r\n1\r\n$1\r\ng\r\n$1\r\n2\r\n"
    assert canon(flat, "pairs") == canon(b"*4\r\n$1\r\ng\r\n$1\r\n2\r\n$1\r\nf\r\n$1\r\n1\r\n", "pairs")
    assert canon(flat, "pairs") != canon(b"*4\r\n$1\r\nf\r\n$1\r\n2\r\n$1\r\ng\r\n$1\r\n1\r\n", "pairs")
    assert parse_reply(b"*2\r\n:1\r\n") is None    # a partial reply is not taken as whole
