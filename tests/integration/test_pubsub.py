"""Pub/Sub against real Redis: subscriptions, confirmations, messages interleaved with replies
(RESP2 and RESP3), subscribed mode, PUBSUB introspection; redis-py PubSub (threads, asyncio),
redis-cli --csv subscribe; a slow subscriber is disconnected while others are served."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time

import pytest
import redis
import redis.asyncio

from tests.conftest import require_tool, start_keystream, wait_until
from tests.differential import Pair, RawClient, Sessions


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def proto(request) -> int:
    return request.param


@pytest.fixture
def sessions(keystream_server, redis_server, proto):
    """Three connections to each server in the protocol under test."""
    s = Sessions(keystream_server.port, redis_server.port, [proto] * 3)
    yield s
    s.close()


@pytest.fixture
def mixed(keystream_server, redis_server):
    """A RESP2 and a RESP3 connection to each server, and a RESP2 publisher."""
    s = Sessions(keystream_server.port, redis_server.port, [2, 3, 2])
    yield s
    s.close()


def test_subscribe_unsubscribe_confirmations(sessions: Sessions) -> None:
    s = sessions
    s.run(0, "SUBSCRIBE", "a", "b", "a")
    s.run(0, "PSUBSCRIBE", "n*", "n*")
    s.run(0, "SSUBSCRIBE", "s1", "s2")
    s.run(0, "UNSUBSCRIBE", "b", "nosuch")
    s.run(0, "PUNSUBSCRIBE", "x*")
    s.run(0, "SUNSUBSCRIBE", "s2")
    s.run(0, "UNSUBSCRIBE")
    s.run(0, "PUNSUBSCRIBE")
    s.run(0, "SUNSUBSCRIBE")
    # subscribed to nothing: one confirmation with a null name each
    s.run(0, "UNSUBSCRIBE")
    s.run(0, "PUNSUBSCRIBE")
    s.run(0, "SUNSUBSCRIBE")


def test_messages_to_channel_pattern_and_shard_subscribers(sessions: Sessions) -> None:
    s = sessions
    s.run(0, "SUBSCRIBE", "news", "other")
    s.run(1, "PSUBSCRIBE", "n?ws", "x*")
    s.run(1, "SUBSCRIBE", "news")
    s.run(0, "SSUBSCRIBE", "news")
    s.run(2, "PUBLISH", "news", "hello")       # 0: message; 1: message then pmessage
    s.run(2, "PUBLISH", "nows", "x")
    s.run(2, "PUBLISH", "nobody", "x")
    s.run(2, "SPUBLISH", "news", "sharded")    # shard subscribers only, no patterns
    s.run(2, "SPUBLISH", "nobody", "x")
    s.run(2, "PUBLISH", "", "empty channel")
    s.run(2, "PUBLISH", "news", "")
    s.run(2, "PUBLISH", "news", "bin\r\n\x00ary")


def test_publish_to_self_orders_push_before_reply(sessions: Sessions, proto: int) -> None:
    s = sessions
    if proto == 2:
        s.run(0, "SUBSCRIBE", "me")
        s.run(0, "PUBLISH", "me", "x")   # refused in RESP2 subscribed mode
        return
    s.run(0, "SUBSCRIBE", "me")
    s.run(0, "PSUBSCRIBE", "m*")
    s.run(0, "PUBLISH", "me", "x")       # >message, >pmessage, then :2
    s.run(0, "SET", "k", "v")            # normal commands keep working in RESP3
    s.run(0, "GET", "k")
    s.run(0, "PING")
    s.run(0, "SSUBSCRIBE", "sh")
    s.run(0, "SPUBLISH", "sh", "y")


def test_pipelined_publishes_interleave_with_replies(sessions: Sessions, proto: int) -> None:
    s = sessions
    s.run(0, "SUBSCRIBE", "c")
    if proto == 3:
        for i in range(5):
            s.send(0, "PUBLISH", "c", f"m{i}")
            s.send(0, "ECHO", f"e{i}")
        s.sync()
    for i in range(20):
        s.send(1, "PUBLISH", "c", f"n{i}")
    s.sync()
    for i in range(5):  # two publishers at once: how their messages mix is up to timing
        s.send(1, "PUBLISH", "c", f"n{i}")
        s.send(2, "PUBLISH", "c", f"o{i}")
    s.sync(sort=True)


def test_resp2_subscribed_mode_refuses_other_commands(sessions: Sessions, proto: int) -> None:
    s = sessions
    s.run(0, "PSUBSCRIBE", "p*")
    for cmd in (("GET", "x"), ("CLIENT", "GETNAME"), ("PUBSUB", "NUMPAT"), ("PUBLISH", "c", "m"),
                ("MULTI",), ("DISCARD",), ("PING",), ("PING", "hi"), ("ECHO", "x"), ("nosuchcommand",),
                ("SUBSCRIBE",), ("HELLO", "4")):
        s.send(0, *cmd)
    s.sync()
    s.run(0, "PUNSUBSCRIBE")
    s.run(0, "GET", "x")                 # out of subscribed mode again
    s.run(0, "SSUBSCRIBE", "s")
    s.run(0, "UNSUBSCRIBE")              # still shard-subscribed: still in subscribed mode
    s.run(0, "GET", "x")
    s.run(0, "SUNSUBSCRIBE", "s")
    s.run(0, "GET", "x")


def test_subscribe_inside_multi(sessions: Sessions) -> None:
    s = sessions
    s.send(0, "MULTI")
    s.send(0, "SSUBSCRIBE", "a")
    s.send(0, "SUBSCRIBE", "x", "y")
    s.send(0, "PSUBSCRIBE", "x*")
    s.send(0, "PUBLISH", "x", "1")
    s.send(0, "EXEC")
    s.sync()
    s.run(1, "PUBLISH", "x", "2")


def test_publish_inside_multi_resp3_push_inside_exec_array(keystream_server, redis_server) -> None:
    s = Sessions(keystream_server.port, redis_server.port, [3])
    try:
        s.run(0, "SUBSCRIBE", "x")
        s.send(0, "MULTI")
        s.send(0, "SET", "k", "1")
        s.send(0, "PUBLISH", "x", "1")
        s.send(0, "PUBLISH", "x", "2")
        s.send(0, "GET", "k")
        s.send(0, "EXEC")
        s.sync()
        # The raw bytes too: the pushes sit between the array's elements.
        ks, ref = RawClient(keystream_server.port, 3), RawClient(redis_server.port, 3)
        raw = []
        for c in (ks, ref):
            c.call("SUBSCRIBE", "y")
            c.sock.sendall(b"MULTI\r\nPUBLISH y 1\r\nEXEC\r\nPING z\r\n")
            data = b""
            while not data.endswith(b"$1\r\nz\r\n"):
                data += c.sock.recv(65536)
            raw.append(data)
            c.close()
        assert raw[0] == raw[1]
        assert raw[0].endswith(b"*1\r\n>3\r\n$7\r\nmessage\r\n$1\r\ny\r\n$1\r\n1\r\n:1\r\n$1\r\nz\r\n")
    finally:
        s.close()


def test_reset_and_quit_leave_subscribed_mode(sessions: Sessions, keystream_server) -> None:
    s = sessions
    s.run(0, "SUBSCRIBE", "a")
    s.run(0, "PSUBSCRIBE", "b*")
    s.run(0, "SSUBSCRIBE", "c")
    s.run(0, "RESET")                     # no unsubscribe confirmations, back to RESP2
    s.run(0, "GET", "x")
    s.run(1, "PUBLISH", "a", "gone")
    s.run(1, "PUBSUB", "NUMSUB", "a")
    s.run(1, "PUBSUB", "NUMPAT")
    s.run(1, "PUBSUB", "SHARDNUMSUB", "c")
    c = RawClient(keystream_server.port)
    c.call("SUBSCRIBE", "q")
    assert c.call("QUIT") == b"OK"
    probe = RawClient(keystream_server.port)
    wait_until(lambda: probe.call("PUBSUB", "NUMSUB", "q") == [b"q", 0], what="QUIT unsubscribed")
    probe.close()
    c.close()


def test_pubsub_introspection(sessions: Sessions) -> None:
    s = sessions
    s.run(0, "SUBSCRIBE", "news.tech", "news.art", "sport")
    s.run(1, "SUBSCRIBE", "news.tech")
    s.run(1, "PSUBSCRIBE", "news.*", "x")
    s.run(1, "SSUBSCRIBE", "sh1", "sh2")
    s.send(2, "PUBSUB", "CHANNELS")
    s.send(2, "PUBSUB", "CHANNELS", "news.*")
    s.send(2, "PUBSUB", "CHANNELS", "[a-s]*")
    s.send(2, "PUBSUB", "SHARDCHANNELS")
    s.send(2, "PUBSUB", "SHARDCHANNELS", "*2")
    s.sync(sort_items=True)  # Redis lists channels in its hash table's order
    for cmd in (("PUBSUB", "NUMSUB"), ("PUBSUB", "NUMSUB", "news.tech", "sport", "none", "news.tech"),
                ("PUBSUB", "NUMPAT"), ("PUBSUB", "SHARDNUMSUB", "sh1", "zz"), ("PUBSUB", "SHARDNUMSUB"),
                ("PUBSUB", "HELP"), ("PUBSUB", "CHANNELS", "a", "b"), ("PUBSUB", "SHARDCHANNELS", "a", "b"),
                ("PUBSUB", "NUMPAT", "x"), ("PUBSUB", "foo"), ("PUBSUB",), ("PUBSUB", "help", "x"),
                ("PUBLISH", "a"), ("SPUBLISH", "a", "b", "c"), ("SUBSCRIBE",), ("PSUBSCRIBE",),
                ("SSUBSCRIBE",)):
        s.run(2, *cmd)


def test_info_stats_and_client_list_fields(keystream_server, redis_server, proto) -> None:
    def fields(port: int) -> tuple[dict, dict]:
        c, other = RawClient(port, proto), RawClient(port)
        c.call("CLIENT", "SETNAME", "subber")
        c.send("SUBSCRIBE", "a", "b")
        c.read()
        c.read()
        c.send("PSUBSCRIBE", "p*")
        c.read()
        c.send("SSUBSCRIBE", "s")
        c.read()
        listing = other.call("CLIENT", "LIST").decode()
        line = next(x for x in listing.splitlines() if "name=subber" in x)
        info = dict(kv.split("=", 1) for kv in line.split())
        pubsub_kind = other.call("CLIENT", "LIST", "TYPE", "pubsub").decode()
        stats = other.call("INFO", "stats").decode()
        got = {k: info[k] for k in ("flags", "sub", "psub", "ssub", "resp")}
        got["in_type_pubsub"] = "name=subber" in pubsub_kind
        kinds = {k: v for k, v in (x.split(":", 1) for x in stats.split() if x.startswith("pubsub"))}
        c.close()
        other.close()
        return got, kinds

    ks, ref = fields(keystream_server.port), fields(redis_server.port)
    assert ks == ref
    assert ks[0]["sub"] == "2" and ks[0]["flags"] == "P"


# -- real clients ---------------------------------------------------------------------------
def test_redis_py_pubsub_threads(keystream_server) -> None:
    r = redis.Redis(port=keystream_server.port)
    received: list[tuple[str, bytes]] = []
    done = threading.Event()

    def handler(msg):
        received.append((msg["type"], msg["data"]))
        if msg["data"] == b"stop":
            done.set()

    p = r.pubsub()
    p.subscribe(jobs=handler)
    p.psubscribe(**{"job*": handler})
    worker = p.run_in_thread(sleep_time=0.01)
    try:
        wait_until(lambda: r.pubsub_numsub("jobs")[0][1] == 1 and r.pubsub_numpat() == 1,
                   what="subscriptions")
        for i in range(50):
            assert r.publish("jobs", f"m{i}") == 2
        r.publish("jobs", "stop")
        assert done.wait(10)
        wait_until(lambda: len(received) == 102, what="all messages")
    finally:
        worker.stop()
        worker.join(5)
        p.close()
    assert [d for t, d in received if t == "message"] == [f"m{i}".encode() for i in range(50)] + [b"stop"]
    assert [d for t, d in received if t == "pmessage"] == [f"m{i}".encode() for i in range(50)] + [b"stop"]
    r.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_pubsub_asyncio(keystream_server, protocol: int) -> None:
    async def main() -> list:
        r = redis.asyncio.Redis(port=keystream_server.port, protocol=protocol)
        p = r.pubsub()
        await p.subscribe("a")
        await p.ssubscribe("s") if protocol == 3 else None
        first = await p.get_message(timeout=5)
        got = [first["type"]]
        assert await r.publish("a", "one") == 1
        while len(got) < (3 if protocol == 3 else 2):
            m = await p.get_message(timeout=5)
            assert m is not None
            got.append((m["type"], m["data"]))
        if protocol == 3:
            assert await r.spublish("s", "two") == 1
            m = await p.get_message(timeout=5)
            got.append((m["type"], m["data"]))
        await p.unsubscribe("a")
        await p.aclose()
        await r.aclose()
        return got

    got = asyncio.run(main())
    assert got[0] == "subscribe"
    assert ("message", b"one") in got
    if protocol == 3:
        assert ("smessage", b"two") in got


def test_redis_cli_csv_subscribe(keystream_server) -> None:
    cli = require_tool("redis-cli")
    proc = subprocess.Popen([cli, "-p", str(keystream_server.port), "--csv", "subscribe", "tv"],
                            stdout=subprocess.PIPE, text=True)
    try:
        r = redis.Redis(port=keystream_server.port)
        wait_until(lambda: r.pubsub_numsub("tv")[0][1] == 1, what="redis-cli subscribed")
        r.publish("tv", 'say "hi"')
        r.publish("tv", "two")
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(4)]
    finally:
        proc.terminate()
        proc.wait(5)
    assert lines == ["Reading messages... (press Ctrl-C to quit)", '"subscribe","tv",1', '"message","tv","say \\"hi\\""', '"message","tv","two"']


def test_slow_subscriber_disconnected_others_served() -> None:
    """A subscriber that never reads is closed once its output passes the pubsub hard limit;
    a reading subscriber gets every message and the publisher never waits."""
    server = start_keystream("--client-output-buffer-limit", "normal 0 0 0 pubsub 2mb 1mb 60")
    try:
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(b"SUBSCRIBE feed\r\n")
        fast = redis.Redis(port=server.port)
        p = fast.pubsub()
        p.subscribe("feed")
        pub = redis.Redis(port=server.port)
        wait_until(lambda: pub.pubsub_numsub("feed")[0][1] == 2, what="two subscribers")
        payload = b"x" * 50_000
        counts = []
        received = 0
        start = time.monotonic()
        for _ in range(400):  # 20 MB, far more than the kernel buffers and the limit
            counts.append(pub.publish("feed", payload))
            while p.get_message(timeout=0) is not None:
                received += 1
        elapsed = time.monotonic() - start
        wait_until(lambda: pub.pubsub_numsub("feed")[0][1] == 1, what="slow subscriber closed")
        assert counts[0] == 2 and counts[-1] == 1
        while received < 401:  # the subscribe confirmation and every message
            m = p.get_message(timeout=5)
            assert m is not None, f"reading subscriber got only {received}"
            received += 1
        assert "output buffer over its limit" in server.log()
        assert elapsed < 30
        slow.close()
        p.close()
    finally:
        server.stop()


def test_soft_limit_disconnects_after_its_seconds() -> None:
    server = start_keystream("--client-output-buffer-limit", "pubsub 0 512kb 1")
    try:
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(b"SUBSCRIBE feed\r\n")
        pub = redis.Redis(port=server.port)
        wait_until(lambda: pub.pubsub_numsub("feed")[0][1] == 1, what="subscriber")
        payload = b"y" * 50_000

        def over_then_gone() -> bool:
            pub.publish("feed", payload)
            return pub.pubsub_numsub("feed")[0][1] == 0

        t0 = time.monotonic()
        wait_until(over_then_gone, timeout=30, interval=0.05, what="soft limit disconnect")
        assert time.monotonic() - t0 > 1.0
        slow.close()
    finally:
        server.stop()


def test_pair_publish_reply_counts(keystream_server, redis_server) -> None:
    p = Pair(keystream_server.port, redis_server.port)
    try:
        p.run("PUBLISH", "nobody", "x")
        p.run("SPUBLISH", "nobody", "x")
        p.run("PUBSUB", "CHANNELS")
    finally:
        p.close()


def test_soft_limit_disconnects_without_more_traffic() -> None:
    """Over the soft limit, then nothing more is published: the cron still closes it."""
    server = start_keystream("--client-output-buffer-limit", "pubsub 0 256kb 1")
    try:
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(b"SUBSCRIBE feed\r\n")
        pub = redis.Redis(port=server.port)
        wait_until(lambda: pub.pubsub_numsub("feed")[0][1] == 1, what="subscriber")
        for _ in range(200):  # 10 MB: far past the kernel buffers and the soft limit
            pub.publish("feed", b"z" * 50_000)
        if pub.pubsub_numsub("feed")[0][1] == 1:  # still there: the soft timer is running
            wait_until(lambda: pub.pubsub_numsub("feed")[0][1] == 0, timeout=10,
                       what="soft limit disconnect with no traffic")
        assert "output buffer over its limit" in server.log()
        slow.close()
    finally:
        server.stop()
