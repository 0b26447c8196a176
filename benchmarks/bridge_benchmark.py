"""The bridge, side by side in one Keystream: a topic's stream key vs a native stream.

Starts `keystream serve` with its Kafka listener, produces `--records` records (key, a
`--value-size` value, one header) to a one-partition topic with confluent-kafka, copies the
same entries (same IDs, same fields) into a native stream with XADD, checks both answer
`XRANGE key - + COUNT 100` with the same bytes, then runs Debian's `redis-benchmark` on that
command against each key, alternating which goes first, `--rounds` times, and prints the
median requests/s of each and the ratio topic/native (the issue's target: >= 0.9x), and the
server's own time per call (INFO commandstats, reset before each run) with its ratio
native/topic: on a loaded machine the client side can cap both request rates alike.

`--write-guard` measures instead what the append-only guard of topic keys costs every write
while topics exist (`check_write` on the call path): `SET` (redis-benchmark -t set) with no
topic vs with one, deleting and re-creating the topic between rounds.

    python benchmarks/bridge_benchmark.py
    python benchmarks/bridge_benchmark.py --records 100000 --rounds 5 --pipelines 1,16
    python benchmarks/bridge_benchmark.py --write-guard --pipelines 1,16

Ratios, not absolute numbers, are what to read: this machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from redis_benchmark import free_port, run_bench, wait_ping

COMMAND = ["XRANGE", "{key}", "-", "+", "COUNT", "100"]


def start(tmp: str) -> tuple[subprocess.Popen, int, int]:
    port, kport = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "keystream", "serve", "--port", str(port), "--kafka-port", str(kport),
         "--dir", os.path.join(tmp, "ks"), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_ping(port)
    return proc, port, kport


def load(port: int, kport: int, records: int, value_size: int) -> tuple[str, str]:
    import redis
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    bs = f"127.0.0.1:{kport}"
    admin = AdminClient({"bootstrap.servers": bs})
    admin.create_topics([NewTopic("bench", 1, 1)])["bench"].result(20)
    p = Producer({"bootstrap.servers": bs, "linger.ms": 20})
    value = b"v" * value_size
    for i in range(records):
        p.produce("bench", partition=0, key=b"key-%d" % i, value=value, headers=[("source", b"bench")])
        if i % 10000 == 0:
            p.poll(0)
    assert p.flush(30) == 0
    c = redis.Redis(port=port)
    topic_key, native_key = "kafka:bench:0", "native:bench"
    pipe = c.pipeline(transaction=False)
    for sid, fields in c.xrange(topic_key):
        pipe.execute_command("XADD", native_key, sid, *[x for kv in fields.items() for x in kv])
        if len(pipe) >= 1000:
            pipe.execute()
    pipe.execute()
    assert c.xlen(topic_key) == c.xlen(native_key) == records
    raw = redis.Redis(port=port)
    raw.set_response_callback("XRANGE", lambda x, **_kw: x)
    assert raw.execute_command("XRANGE", topic_key, "-", "+", "COUNT", "100") == \
        raw.execute_command("XRANGE", native_key, "-", "+", "COUNT", "100")
    c.close()
    raw.close()
    return topic_key, native_key


def bench(port: int, key: str, pipeline: int, requests: int, clients: int) -> tuple[float, float]:
    """(requests/s, the server's own usec per XRANGE call from INFO commandstats)."""
    import redis
    import redis_benchmark

    c = redis.Redis(port=port)
    c.config_resetstat()
    redis_benchmark.CUSTOM["bridge"] = ([a.replace("{key}", key) for a in COMMAND], "")
    rps = run_bench(port, "bridge", pipeline, requests, clients)["rps"]
    usec = float(c.info("commandstats")["cmdstat_xrange"]["usec_per_call"])
    c.close()
    return rps, usec


def write_guard(port: int, kport: int, args: argparse.Namespace) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{kport}"})

    def topics(present: bool) -> None:
        if present:
            admin.create_topics([NewTopic("guard", 1, 1)])["guard"].result(20)
        else:
            admin.delete_topics(["guard"])["guard"].result(20)
        while ("guard" in admin.list_topics(timeout=10).topics) != present:
            time.sleep(0.05)

    print(f"{'command':<34}{'-P':>4}{'topic exists':>15}{'no topic':>13}{'ratio':>8}")
    for pipeline in (int(x) for x in args.pipelines.split(",")):
        with_rps: list[float] = []
        without_rps: list[float] = []
        for rnd in range(args.rounds):
            order = [(True, with_rps), (False, without_rps)]
            if rnd % 2:
                order.reverse()
            for present, out in order:
                if present:
                    topics(True)
                out.append(run_bench(port, "set", pipeline, args.requests * 5, args.clients)["rps"])
                if present:
                    topics(False)
        w, wo = statistics.median(with_rps), statistics.median(without_rps)
        print(f"{'SET (redis-benchmark -t set)':<34}{pipeline:>4}{w:>15,.0f}{wo:>13,.0f}{w / wo:>7.2f}x", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--pipelines", default="1")
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write-guard", action="store_true")
    args = ap.parse_args()
    if shutil.which("redis-benchmark") is None:
        sys.exit("needs Debian's redis-tools (redis-benchmark)")
    tmp = tempfile.mkdtemp(prefix="ks-bridge-bench-")
    proc, port, kport = start(tmp)
    try:
        if args.write_guard:
            write_guard(port, kport, args)
            return
        topic_key, native_key = load(port, kport, args.records, args.value_size)
        print(f"{'command':<28}{'-P':>4}{'topic key rps':>15}{'native rps':>12}{'ratio':>7}"
              f"{'topic us/call':>15}{'native us/call':>16}{'ratio':>7}")
        for pipeline in (int(x) for x in args.pipelines.split(",")):
            runs: dict[str, list[tuple[float, float]]] = {topic_key: [], native_key: []}
            for rnd in range(args.rounds):
                order = [topic_key, native_key]
                if rnd % 2:
                    order.reverse()
                for key in order:
                    runs[key].append(bench(port, key, pipeline, args.requests, args.clients))
            t = statistics.median(r[0] for r in runs[topic_key])
            n = statistics.median(r[0] for r in runs[native_key])
            tu = statistics.median(r[1] for r in runs[topic_key])
            nu = statistics.median(r[1] for r in runs[native_key])
            print(f"{'XRANGE key - + COUNT 100':<28}{pipeline:>4}{t:>15,.0f}{n:>12,.0f}{t / n:>6.2f}x"
                  f"{tu:>15.1f}{nu:>16.1f}{nu / tu:>6.2f}x", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
