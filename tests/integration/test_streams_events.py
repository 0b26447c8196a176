"""The typed write events stream commands report (kind, key), in order, compared with the
keyspace notifications real Redis 7.0 sends for the same commands (`notify-keyspace-events
KEA`: every class but `new`): what keyspace notifications, WATCH, tracking and blocked
clients are driven by. Group changes (XGROUP ..., consumers created by reads and claims)
are events that do not invalidate WATCH, as in Redis."""

from __future__ import annotations

import shlex

from keystream.config import Config
from keystream.engine import Engine
from tests.differential import RawClient

SCRIPT = """
XADD s 1-0 a 1
XADD s 2-0 a 1
XADD s MAXLEN 1 3-0 a 1
XADD s MAXLEN 5 4-0 a 1
XADD nokey NOMKSTREAM 1-0 a 1
XTRIM s MAXLEN 0
XTRIM s MAXLEN 0
XADD s 5-0 a 1
XADD s 6-0 a 1
XDEL s 5-0 9-0
XDEL s 9-0
XSETID s 10-0
XGROUP CREATE s g 0
XGROUP CREATE t g $ MKSTREAM
XGROUP CREATECONSUMER s g c1
XGROUP CREATECONSUMER s g c1
XREADGROUP GROUP g c2 STREAMS s >
XREADGROUP GROUP g c2 STREAMS s >
XACK s g 6-0
XADD s 11-0 a 1
XREADGROUP GROUP g c3 NOACK STREAMS s >
XREADGROUP GROUP g c2 STREAMS s >
XCLAIM s g c4 0 11-0
XCLAIM s g c4 0 6-0 FORCE
XAUTOCLAIM s g c5 0 0
XGROUP SETID s g 0
XGROUP DELCONSUMER s g c1
XGROUP DELCONSUMER s g nobody
XGROUP DESTROY s g
XGROUP DESTROY s g
DEL s t
"""


def _redis_events(port: int, lines: list[list[str]]) -> list[tuple[str, str]]:
    ctl = RawClient(port)
    sub = RawClient(port)
    try:
        ctl.call("FLUSHALL")
        ctl.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        sub.call("PSUBSCRIBE", "__keyevent@0__:*")
        for args in lines:
            ctl.call(*args)
        ctl.call("SET", "end-marker", "x")
        events = []
        while True:
            msg = sub.read()
            kind = msg[2].decode().split(":", 1)[1]
            if msg[3] == b"end-marker":
                return events
            events.append((kind, msg[3].decode()))
    finally:
        ctl.call("CONFIG", "SET", "notify-keyspace-events", "")
        ctl.close()
        sub.close()


def test_stream_events_match_redis_notifications(redis_server) -> None:
    lines = [shlex.split(line) for line in SCRIPT.strip().splitlines()]
    engine = Engine(Config())
    ours: list[tuple[str, str]] = []
    engine.event_subscribers.append(lambda kind, db, key: ours.append((kind, key.decode())))
    client = engine.fake_client()
    for args in lines:
        engine.call(client, [a.encode() for a in args])
    assert ours == _redis_events(redis_server.port, lines)


def test_group_changes_do_not_invalidate_watch() -> None:
    engine = Engine(Config())
    a, b = engine.fake_client(), engine.fake_client()
    run = lambda c, line: engine.call(c, [x.encode() for x in line.split()])
    run(a, "XADD s 1-0 f v")
    run(a, "XGROUP CREATE s g 0")
    run(a, "WATCH s")
    run(b, "XREADGROUP GROUP g c STREAMS s >")
    run(b, "XACK s g 1-0")
    run(b, "XGROUP SETID s g 0")
    run(b, "XGROUP CREATECONSUMER s g d")
    assert not a.dirty_cas
    run(b, "XADD s 2-0 f v")
    assert a.dirty_cas
