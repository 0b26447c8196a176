"""Blocking XREAD and XREADGROUP with several clients, played as the same scenario on Keystream
and on real redis-server and compared byte for byte (RESP2 and RESP3): FIFO order, wake-ups by
XADD (also inside MULTI, served after EXEC), writes that do not wake (XSETID, XDEL, XGROUP
SETID), XGROUP DESTROY and DEL/SET of the key for XREADGROUP waiters, CLIENT UNBLOCK, timeouts,
BLOCK inside MULTI. Scenarios use explicit IDs so that replies do not depend on the clock."""

from __future__ import annotations

import pytest

from tests.integration.test_blocking_differential import play


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def check(request, keystream_server, redis_server):
    proto = request.param

    def run(n: int, steps: list[tuple]) -> list:
        want = play(redis_server.port, proto, n, steps)
        got = play(keystream_server.port, proto, n, steps)
        assert got == want
        return want

    return run


def test_xread_block_woken_by_xadd_fifo(check) -> None:
    check(3, [
        ("ctl", "XADD", "s", "1-0", "a", "1"),
        ("send", 0, "XREAD", "BLOCK", 0, "STREAMS", "s", "$"), ("blocked", 0),
        ("send", 1, "XREAD", "COUNT", 1, "BLOCK", 0, "STREAMS", "other", "s", "0", "1-0"), ("blocked", 1),
        ("send", 2, "XREAD", "BLOCK", 0, "STREAMS", "s", "nokey", "$", "$"), ("blocked", 2),
        ("ctl", "XADD", "s", "2-0", "b", "2"),
        ("read", 0), ("read", 1), ("read", 2),
        ("send", 0, "XREAD", "BLOCK", 0, "STREAMS", "nokey", "$"), ("blocked", 0),
        ("ctl", "XADD", "nokey", "5-0", "c", "3"), ("read", 0),
    ])


def test_xread_block_served_after_exec(check) -> None:
    check(2, [
        ("ctl", "XADD", "s", "1-0", "a", "1"),
        ("send", 0, "XREAD", "BLOCK", 0, "STREAMS", "s", "$"), ("blocked", 0),
        ("send", 1, "XREAD", "COUNT", 2, "BLOCK", 0, "STREAMS", "s", "$"), ("blocked", 1),
        ("ctl", "MULTI"), ("ctl", "XADD", "s", "2-0", "b", "2"), ("ctl", "XADD", "s", "3-0", "c", "3"),
        ("ctl", "XADD", "s", "4-0", "d", "4"), ("ctl", "EXEC"),
        ("read", 0), ("read", 1),
    ])


def test_writes_that_do_not_wake_readers(check) -> None:
    check(1, [
        ("ctl", "XADD", "s", "1-0", "a", "1"), ("ctl", "XADD", "s", "2-0", "a", "1"),
        ("send", 0, "XREAD", "BLOCK", 0, "STREAMS", "s", "2-0"), ("blocked", 0),
        ("ctl", "XSETID", "s", "5-0"), ("ctl", "XDEL", "s", "1-0"), ("ctl", "XTRIM", "s", "MAXLEN", "0"),
        ("blocked", 0),
        ("ctl", "DEL", "s"), ("blocked", 0),
        ("ctl", "SET", "s", "x"), ("blocked", 0), ("ctl", "DEL", "s"),
        ("ctl", "XADD", "s", "1-5", "z", "9"), ("blocked", 0),
        ("ctl", "XADD", "s", "3-0", "z", "9"), ("read", 0),
    ])


def test_xreadgroup_block_and_pending(check) -> None:
    check(3, [
        ("ctl", "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"),
        ("send", 0, "XREADGROUP", "GROUP", "g", "alice", "BLOCK", 0, "STREAMS", "s", ">"), ("blocked", 0),
        ("send", 1, "XREADGROUP", "GROUP", "g", "bob", "COUNT", 1, "BLOCK", 0, "STREAMS", "s", ">"),
        ("blocked", 1),
        ("send", 2, "XREADGROUP", "GROUP", "g", "carol", "NOACK", "BLOCK", 0, "STREAMS", "s", ">"),
        ("blocked", 2),
        ("ctl", "XADD", "s", "1-0", "a", "1"), ("read", 0),
        ("ctl", "MULTI"), ("ctl", "XADD", "s", "2-0", "b", "2"), ("ctl", "XADD", "s", "3-0", "c", "3"),
        ("ctl", "EXEC"), ("read", 1), ("read", 2),
        ("ctl", "XPENDING", "s", "g"), ("ctl", "XINFO", "GROUPS", "s"),
        ("ctl", "XGROUP", "SETID", "s", "g", "0"),
        ("send", 0, "XREADGROUP", "GROUP", "g", "alice", "BLOCK", 0, "STREAMS", "s", ">"),
        ("read", 0),
    ])


def test_xreadgroup_group_destroyed_or_key_deleted(check) -> None:
    check(3, [
        ("ctl", "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"),
        ("ctl", "XGROUP", "CREATE", "s", "h", "$"),
        ("send", 0, "XREADGROUP", "GROUP", "g", "c", "BLOCK", 0, "STREAMS", "s", ">"), ("blocked", 0),
        ("send", 1, "XREADGROUP", "GROUP", "h", "c", "BLOCK", 0, "STREAMS", "s", ">"), ("blocked", 1),
        ("send", 2, "XREAD", "BLOCK", 0, "STREAMS", "s", "$"), ("blocked", 2),
        ("ctl", "XGROUP", "DESTROY", "s", "g"), ("read", 0), ("blocked", 1, 2),
        ("ctl", "DEL", "s"), ("read", 1), ("blocked", 2),
        ("ctl", "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"),
        ("send", 0, "XREADGROUP", "GROUP", "g", "c", "BLOCK", 0, "STREAMS", "s", ">"), ("blocked", 0),
        ("ctl", "SET", "s", "v"), ("read", 0),
        ("ctl", "DEL", "s"), ("ctl", "XADD", "s", "1-0", "f", "v"), ("read", 2),
    ])


def test_client_unblock_timeout_and_multi(check) -> None:
    check(2, [
        ("send", 0, "XREAD", "BLOCK", 0, "STREAMS", "s", "$"),
        ("send", 1, "XREADGROUP", "GROUP", "g", "c", "BLOCK", 0, "STREAMS", "s", ">"),
        ("read", 1),
        ("ctl", "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"),
        ("send", 1, "XREADGROUP", "GROUP", "g", "c", "BLOCK", 0, "STREAMS", "s", ">"),
        ("blocked", 0, 1),
        ("unblock", 0, "TIMEOUT"), ("read", 0),
        ("unblock", 1, "ERROR"), ("read", 1),
        ("timed", 0, 0.05, "XREAD", "BLOCK", 50, "STREAMS", "s", "$"),
        ("timed", 0, 0.05, "XREADGROUP", "GROUP", "g", "c", "BLOCK", 50, "STREAMS", "s", ">"),
        ("send", 0, "MULTI"), ("read", 0),
        ("send", 0, "XREAD", "BLOCK", 0, "STREAMS", "s", "$"), ("read", 0),
        ("send", 0, "XREADGROUP", "GROUP", "g", "c", "BLOCK", 0, "STREAMS", "s", ">"), ("read", 0),
        ("send", 0, "EXEC"), ("read", 0),
        ("ctl", "XINFO", "GROUPS", "s"),
    ])


def test_xreadgroup_unblocked_by_flush(check) -> None:
    check(2, [
        ("ctl", "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"),
        ("send", 0, "XREADGROUP", "GROUP", "g", "c", "BLOCK", 0, "STREAMS", "s", ">"),
        ("send", 1, "XREAD", "BLOCK", 0, "STREAMS", "s", "$"), ("blocked", 0, 1),
        ("ctl", "FLUSHALL"), ("read", 0), ("blocked", 1),
        ("ctl", "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"),
        ("send", 0, "XREADGROUP", "GROUP", "g", "c", "BLOCK", 0, "STREAMS", "s", ">"), ("blocked", 0),
        ("ctl", "FLUSHDB"), ("read", 0),
        ("ctl", "XADD", "s", "1-0", "f", "v"), ("read", 1),
    ])


def test_blocked_command_ended_by_error_counts_as_failed(keystream_server) -> None:
    from tests.differential import RawClient
    from tests.integration.test_blocking import wait_blocked
    from tests.integration.test_blocking_differential import Waiter

    ctl = RawClient(keystream_server.port)
    ctl.call("FLUSHALL")
    ctl.call("CONFIG", "RESETSTAT")
    ctl.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    w = Waiter(keystream_server.port, 2)
    try:
        w.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", 0, "STREAMS", "s", ">")
        wait_blocked(ctl, [w.id])
        ctl.call("XGROUP", "DESTROY", "s", "g")
        assert w.read().startswith(b"-NOGROUP")
        stats = ctl.call("INFO", "commandstats").decode()
        assert "cmdstat_xreadgroup:calls=1," in stats and "failed_calls=1" in stats.split("cmdstat_xreadgroup")[1]
    finally:
        w.close()
        ctl.close()
