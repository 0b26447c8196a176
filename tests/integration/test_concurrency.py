"""Many clients at once, and clients that go away at awkward moments.

- Writers (INCR, MULTI/EXEC blocks, WATCH-guarded read-modify-write) and blocking consumers
  (BLPOP, BLMOVE) run together on one server; afterwards every counter, list and hand-over adds
  up: nothing lost, nothing done twice, no transaction torn.
- A client disconnecting inside MULTI, after WATCH, while blocked, or while its write is held
  by CLIENT PAUSE leaves no trace: its queued commands never run, the blocked-clients count goes
  back, a later push is not swallowed by the dead waiter, and the server goes on serving. Each of
  these runs on Keystream and on a real redis-server and must observe the same thing.
The server health check (tests/conftest.py) fails any of these if a handler crashed.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest
import redis

from tests.conftest import ServerHandle, wait_until
from tests.differential import RawClient

WRITERS = 6
CONSUMERS = 3
OPS = 150


def test_mixed_clients_keep_state_consistent(keystream_server: ServerHandle) -> None:
    port = keystream_server.port
    admin = redis.Redis(port=port, socket_timeout=30)
    admin.flushall()
    errors: list[BaseException] = []
    popped_by: dict[int, list[bytes]] = {n: [] for n in range(CONSUMERS)}
    pushed_per_writer = [0] * WRITERS

    def guard(fn: Callable[..., None]) -> Callable[..., None]:
        def run(*args: object) -> None:
            try:
                fn(*args)
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                errors.append(e)
        return run

    @guard
    def writer(w: int) -> None:
        c = redis.Redis(port=port, socket_timeout=30)
        rng = random.Random(w)
        pushed = 0
        for i in range(OPS):
            op = rng.randrange(4)
            if op == 0:
                c.incr("counter")
            elif op == 1:   # a transaction: its three effects are all there or none
                with c.pipeline(transaction=True) as p:
                    p.incr("tx:count").rpush("tx:log", f"{w}:{i}").hincrby("tx:per-writer", str(w), 1)
                    p.execute()
            elif op == 2:   # optimistic increment: retried until EXEC succeeds
                while True:
                    with c.pipeline(transaction=True) as p:
                        try:
                            p.watch("cas")
                            value = int(p.get("cas") or 0)
                            p.multi()
                            p.set("cas", value + 1)
                            p.execute()
                            break
                        except redis.WatchError:
                            continue
            else:
                c.lpush("queue", f"{w}:{i}")
                pushed += 1
        pushed_per_writer[w] = pushed
        c.close()

    @guard
    def consumer(n: int) -> None:
        c = redis.Redis(port=port, socket_timeout=60)
        while True:
            if n % 2:
                got = c.blpop(["queue"], timeout=30)
                item = got[1] if got else None
            else:
                item = c.blmove("queue", f"moved:{n}", 30, "RIGHT", "LEFT")
            assert item is not None, "a consumer waited 30 s for the stop marker"
            if item == b"stop":
                break
            popped_by[n].append(item)
        c.close()

    consumers = [threading.Thread(target=consumer, args=(n,)) for n in range(CONSUMERS)]
    writers = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in consumers + writers:
        t.start()
    for t in writers:
        t.join(300)
    for _ in consumers:
        admin.rpush("queue", "stop")
    for t in consumers:
        t.join(120)
    assert not errors, errors[:3]
    assert not any(t.is_alive() for t in consumers + writers)

    ops = {k: 0 for k in range(4)}
    for w in range(WRITERS):
        rng = random.Random(w)
        for _ in range(OPS):
            ops[rng.randrange(4)] += 1
    assert int(admin.get("counter") or 0) == ops[0]
    assert int(admin.get("tx:count") or 0) == admin.llen("tx:log") == ops[1]
    assert sum(int(v) for v in admin.hvals("tx:per-writer")) == ops[1]
    assert int(admin.get("cas") or 0) == ops[2]
    assert sum(pushed_per_writer) == ops[3]
    assert admin.llen("queue") == 0
    popped = [x for items in popped_by.values() for x in items]
    assert len(popped) == len(set(popped)) == ops[3], "an item was lost or handed out twice"
    for n in range(0, CONSUMERS, 2):   # BLMOVE consumers: each item moved exactly where it said
        assert admin.lrange(f"moved:{n}", 0, -1) == [b"stop", *reversed(popped_by[n])]
    assert admin.info("clients")["blocked_clients"] == 0


def _blocked(c: redis.Redis) -> int:
    return int(c.info("clients")["blocked_clients"])


@pytest.fixture(params=["keystream", "redis"])
def server(request, keystream_server: ServerHandle, redis_server: ServerHandle) -> ServerHandle:
    """The same scenario on Keystream and on the reference: both must behave alike."""
    h = keystream_server if request.param == "keystream" else redis_server
    redis.Redis(port=h.port).flushall()
    return h


def test_disconnect_inside_multi_discards_the_queue(server: ServerHandle) -> None:
    c = RawClient(server.port)
    assert c.call("MULTI") == b"OK"
    assert c.call("SET", "k", "queued") == b"QUEUED"
    assert c.call("LPUSH", "l", "queued") == b"QUEUED"
    c.close()
    r = redis.Redis(port=server.port, socket_timeout=10)
    wait_until(lambda: len(r.client_list()) == 1, what="the client to be gone")
    assert r.exists("k", "l") == 0
    assert r.pipeline(transaction=True).set("k", "v").get("k").execute() == [True, b"v"]


def test_disconnect_after_watch_leaves_no_watch_behind(server: ServerHandle) -> None:
    for _ in range(20):
        c = RawClient(server.port)
        assert c.call("WATCH", "w1", "w2") == b"OK"
        c.close()
    r = redis.Redis(port=server.port, socket_timeout=10)
    wait_until(lambda: len(r.client_list()) == 1, what="the watchers to be gone")
    r.set("w1", "changed")
    other = RawClient(server.port)
    assert other.call("WATCH", "w1") == b"OK"
    assert other.call("MULTI") == b"OK"
    assert other.call("SET", "w1", "mine") == b"QUEUED"
    assert other.call("EXEC") == [b"OK"]
    other.close()
    assert r.get("w1") == b"mine"


@pytest.mark.parametrize("command", [("BLPOP", "bl", "0"), ("BLMOVE", "bl", "dst", "LEFT", "LEFT", "0"),
                                     ("BZPOPMIN", "bz", "0"), ("BLMPOP", "0", "1", "bl", "LEFT")])
def test_disconnect_while_blocked_does_not_swallow_a_later_push(server: ServerHandle, command) -> None:
    r = redis.Redis(port=server.port, socket_timeout=10)
    c = RawClient(server.port)
    c.send(*command)
    wait_until(lambda: _blocked(r) == 1, what="the client to block")
    c.close()
    wait_until(lambda: _blocked(r) == 0, what="the blocked client to be gone")
    if command[0] == "BZPOPMIN":
        assert r.zadd("bz", {"m": 1}) == 1
        assert r.zcard("bz") == 1
    else:
        assert r.lpush("bl", "v") == 1
        assert r.lrange("bl", 0, -1) == [b"v"] and r.exists("dst") == 0


def test_disconnect_while_held_by_client_pause(server: ServerHandle) -> None:
    r = redis.Redis(port=server.port, socket_timeout=10)
    r.set("k", "before")
    pauser = RawClient(server.port)
    assert pauser.call("CLIENT", "PAUSE", "60000", "WRITE") == b"OK"
    pauser.close()                               # the pause outlives the client that set it
    try:
        held = RawClient(server.port)
        held.send("SET", "k", "from-a-gone-client")
        wait_until(lambda: _blocked(r) == 1, what="the write to be held")
        held.close()
        wait_until(lambda: _blocked(r) == 0, what="the held client to be gone")
        assert r.get("k") == b"before"           # reads go on during the pause
        waiting = RawClient(server.port)
        waiting.send("SET", "k", "after")
        wait_until(lambda: _blocked(r) == 1, what="a new write to be held")
    finally:
        r.execute_command("CLIENT", "UNPAUSE")
    assert waiting.read() == b"OK"
    waiting.close()
    assert r.get("k") == b"after"
