"""Pub/Sub fan-out, side by side: messages delivered per second, Keystream vs redis-server.

For each server: `--subscribers` connections SUBSCRIBE to one channel; `redis-benchmark`
then PUBLISHes `--messages` messages to it (`-c 1`, pipeline `-P`), and the clock runs from
the first PUBLISH until every subscriber has received every message (the subscribers only
count bytes: every frame has the same size). Delivered/s = messages x subscribers / time.
Rounds alternate which server goes first; the median is printed with the ratio, and beside
it each server's CPU time per delivered message (user + system from /proc, around the
publishing): the steadier figure on a loaded machine (`cpu ratio`: Redis's over Keystream's).

    python benchmarks/pubsub_benchmark.py                   # 100 subscribers, -P 1 and -P 16
    python benchmarks/pubsub_benchmark.py --messages 20000 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from redis_benchmark import cpu_seconds, start_servers

CHANNEL = b"bench:channel"


def frame_size(payload: int) -> int:
    def bulk(n: int) -> int:
        return len(b"$%d\r\n" % n) + n + 2

    return len(b"*3\r\n") + bulk(7) + bulk(len(CHANNEL)) + bulk(payload)


def subscribe_all(port: int, n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"SUBSCRIBE %s\r\n" % CHANNEL)
        socks.append(s)
    confirmation = b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(CHANNEL), CHANNEL)
    for s in socks:
        got = b""
        while len(got) < len(confirmation):
            got += s.recv(len(confirmation) - len(got))
        s.setblocking(False)
    return socks


def drain(socks: list[socket.socket], expected: int, done: threading.Event) -> None:
    """Read from every socket until each has received `expected` bytes."""
    sel = selectors.DefaultSelector()
    left = {}
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
        left[s] = expected
    while left:
        for key, _ in sel.select(timeout=30):
            s = key.fileobj
            data = s.recv(1 << 20)  # type: ignore[union-attr]
            if not data:
                raise ConnectionError("a subscriber was disconnected")
            left[s] -= len(data)  # type: ignore[index]
            if left[s] <= 0:  # type: ignore[index]
                sel.unregister(s)
                del left[s]  # type: ignore[arg-type]
    done.set()


def one_run(port: int, pid: int, subscribers: int, messages: int, pipeline: int,
            payload: int) -> tuple[float, float]:
    """(delivered messages per second, the server's CPU microseconds per delivery)."""
    socks = subscribe_all(port, subscribers)
    done = threading.Event()
    reader = threading.Thread(target=drain, args=(socks, messages * frame_size(payload), done), daemon=True)
    reader.start()
    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    subprocess.run(["redis-benchmark", "-p", str(port), "-c", "1", "-n", str(messages), "-P", str(pipeline),
                    "-q", "PUBLISH", CHANNEL.decode(), "x" * payload],
                   check=True, capture_output=True)
    if not done.wait(300):
        raise TimeoutError("subscribers did not get every message")
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    for s in socks:
        s.close()
    return messages * subscribers / elapsed, cpu * 1e6 / (messages * subscribers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--payload", type=int, default=16)
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if shutil.which("redis-benchmark") is None:
        sys.exit("redis-benchmark is not installed")
    tmp = tempfile.mkdtemp(prefix="pubsub-bench-")
    ks, ks_port, rd, rd_port = start_servers(tmp)
    try:
        print(f"{'pipeline':>8} {'keystream msg/s':>16} {'redis msg/s':>14} {'ratio':>6}"
              f" {'ks cpu us/msg':>14} {'redis cpu us/msg':>17} {'cpu ratio':>9}")
        for pipeline in (int(p) for p in args.pipelines.split(",")):
            results: dict[str, list[tuple[float, float]]] = {"ks": [], "redis": []}
            for r in range(args.rounds):
                order = [("ks", ks_port, ks.pid), ("redis", rd_port, rd.pid)]
                if r % 2:
                    order.reverse()
                for name, port, pid in order:
                    results[name].append(one_run(port, pid, args.subscribers, args.messages, pipeline,
                                                 args.payload))
            k = statistics.median(x[0] for x in results["ks"])
            d = statistics.median(x[0] for x in results["redis"])
            kc = statistics.median(x[1] for x in results["ks"])
            dc = statistics.median(x[1] for x in results["redis"])
            print(f"{pipeline:>8} {k:>16,.0f} {d:>14,.0f} {k / d:>6.2f} {kc:>14.2f} {dc:>17.2f} {dc / kc:>9.2f}")
    finally:
        for p in (ks, rd):
            p.terminate()
            p.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
