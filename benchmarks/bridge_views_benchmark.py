"""The bridge's costs, side by side in one run: a table view under produce load, and SET with
change capture on and off.

    PYTHONPATH=src python3 benchmarks/bridge_views_benchmark.py --seconds 10 --rounds 3

1. View: a confluent-kafka producer in its own process sends 1 KB records (2,000 keys) to a
   one-partition topic as fast as the broker takes them, for `--seconds`, once with no view
   and once with a HASH view of the topic (alternating, `--rounds` times). Reported: acked
   MB/s of each and the ratio; with the view, the visibility latency of probe records (a
   second producer sends one every 10 ms, waits for its ack, then a redis-py client polls
   HGET every 0.5 ms until the view has it): p50/p99 from the send and from the ack; the
   server's CPU seconds per GB acked (/proc, steadier than MB/s on a loaded machine; with the
   view it includes serving the probes and VIEW.INFO); and VIEW.INFO's lag
   (records not yet applied), sampled every 10 ms. Then the same probes with the load paced
   at each of `--rates` MB/s, where the server is not saturated.
2. Capture: `redis-benchmark -t set -P 1 -c 50 -n N` against Keystream with no capture and
   with `CAPTURE.CREATE bench` (every key), alternating; rps and the ratio (target >= 0.7x).
3. In process (`--part apply`, no sockets, so far less sensitive to a loaded machine): the
   cost per 1 KB record of appending batches of 100 to a partition log; of a HASH view
   replaying 20,000 of them (VIEW.CREATE) over 2,000 and over 20,000 distinct keys; and, live,
   of appending each batch and applying it at once (`notify_append`, as after a Produce),
   best of `--rounds`, in process CPU time (steadier than the wall clock on a loaded machine);
   the MB/s one core sustains for each.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import redis
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_keystream(data_dir: str) -> tuple[subprocess.Popen, int, int]:
    port, kport = free_port(), free_port()
    log = open(os.path.join(data_dir, "ks.log"), "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen([sys.executable, "-m", "keystream", "serve", "--port", str(port), "--kafka-port",
                             str(kport), "--dir", data_dir, "--save", ""], stdout=log, stderr=log, cwd=data_dir)
    log.close()
    r = redis.Redis(port=port)
    deadline = time.monotonic() + 60
    while True:
        try:
            r.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    with socket.socket() as s:
        while s.connect_ex(("127.0.0.1", kport)) != 0:
            time.sleep(0.05)
    return proc, port, kport


def _load(bootstrap: str, topic: str, seconds: float, rate: float, out: multiprocessing.Queue) -> None:
    """A producer process: 1 KB records for `seconds` (at most `rate` MB/s, 0: no limit); puts
    (records acked, bytes acked, elapsed)."""
    acked = [0]
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "batch.size": 256 * 1024,
                  "queue.buffering.max.messages": 200000})

    def done(err: object, _msg: object) -> None:
        if err is None:
            acked[0] += 1

    value = os.urandom(512).hex().encode()
    t0 = time.monotonic()
    i = 0
    per_second = rate * 1e6 / (len(value) + 10) if rate else 0.0
    while time.monotonic() - t0 < seconds:
        if per_second and i % 20 == 0:
            ahead = t0 + i / per_second - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            p.poll(0)
        try:
            p.produce(topic, key=b"key-%d" % (i % 2000), value=value, on_delivery=done)
            i += 1
        except BufferError:
            p.poll(0.005)
        if i % 1000 == 0:
            p.poll(0)
    p.flush(60)
    elapsed = time.monotonic() - t0
    out.put((acked[0], acked[0] * (len(value) + 10), elapsed))


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used (its threads included), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def view_round(pid: int, port: int, kport: int, with_view: bool, seconds: float,
               rate: float = 0.0) -> dict[str, float]:
    bootstrap = f"127.0.0.1:{kport}"
    topic = f"load-{time.monotonic_ns()}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for fut in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        fut.result(timeout=30)
    r = redis.Redis(port=port)
    if with_view:
        r.execute_command("VIEW.CREATE", "view:" + topic, "FROM", topic, "AS", "HASH")
    q: multiprocessing.Queue = multiprocessing.Queue()
    proc = multiprocessing.Process(target=_load, args=(bootstrap, topic, seconds, rate, q))
    from_send: list[float] = []
    from_ack: list[float] = []
    lags: list[int] = []
    stop = threading.Event()

    def probe() -> None:
        p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        pr = redis.Redis(port=port)
        n = 0
        while not stop.is_set():
            key = b"probe-%d" % n
            t_send = time.monotonic()
            p.produce(topic, key=key, value=b"x")
            p.flush(30)
            t_ack = time.monotonic()
            while pr.hget("view:" + topic, key) is None:
                if time.monotonic() - t_send > 30:
                    raise TimeoutError("probe never reached the view")
                time.sleep(0.0005)      # polling, not flooding the server
            t_seen = time.monotonic()
            from_send.append((t_seen - t_send) * 1000)
            from_ack.append((t_seen - t_ack) * 1000)
            n += 1
            time.sleep(0.01)

    def sample_lag() -> None:
        lr = redis.Redis(port=port)
        while not stop.is_set():
            info = lr.execute_command("VIEW.INFO", "view:" + topic)
            info = info if isinstance(info, dict) else dict(zip(info[::2], info[1::2], strict=True))
            lags.append(int(info[b"lag"]))
            time.sleep(0.01)

    threads = [threading.Thread(target=probe), threading.Thread(target=sample_lag)] if with_view else []
    cpu0 = cpu_seconds(pid)
    proc.start()
    for t in threads:
        t.start()
    records, nbytes, elapsed = q.get(timeout=seconds + 120)
    cpu = cpu_seconds(pid) - cpu0
    stop.set()
    for t in threads:
        t.join(60)
    proc.join(30)
    if with_view:
        assert r.hlen("view:" + topic) >= 2000, "the view missed keys"
        r.execute_command("VIEW.DROP", "view:" + topic)
    admin.delete_topics([topic])
    return {"mbps": nbytes / elapsed / 1e6, "rps": records / elapsed, "cpu_s_per_gb": cpu / (nbytes / 1e9),
            "p50_send": _pct(from_send, 0.5),
            "p99_send": _pct(from_send, 0.99), "p50_ack": _pct(from_ack, 0.5), "p99_ack": _pct(from_ack, 0.99),
            "lag_p99": _pct([float(x) for x in lags], 0.99), "lag_max": max(lags, default=0),
            "probes": len(from_send)}


def set_round(port: int, capture: bool, n: int) -> float:
    r = redis.Redis(port=port)
    if capture:
        r.execute_command("CAPTURE.CREATE", "bench")
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-P", "1", "-c", "50", "-n", str(n),
                          "-r", "100000", "-q"], capture_output=True, text=True, check=True).stdout
    if capture:
        r.execute_command("CAPTURE.DROP", "bench")
        info = r.execute_command("CAPTURE.LIST")
        assert info == [], info
    m = re.search(r"SET: ([\d.]+) requests per second", out.replace("\r", "\n"))
    assert m, out
    return float(m.group(1))


def report_view(off: list[dict[str, float]], on: list[dict[str, float]]) -> None:
    m_off = statistics.median(x["mbps"] for x in off)
    m_on = statistics.median(x["mbps"] for x in on)
    c_off = statistics.median(x["cpu_s_per_gb"] for x in off)
    c_on = statistics.median(x["cpu_s_per_gb"] for x in on)
    print(f"view: produce of 1 KB records {m_off:.1f} MB/s without a view, {m_on:.1f} MB/s with one "
          f"({m_on / m_off:.2f}x); server CPU {c_off:.1f} s/GB without, {c_on:.1f} s/GB with "
          f"({c_on / c_off:.2f}x); visibility after the ack p99 "
          f"{statistics.median(x['p99_ack'] for x in on):.2f} ms, after the send p99 "
          f"{statistics.median(x['p99_send'] for x in on):.2f} ms; VIEW.INFO lag max "
          f"{max(x['lag_max'] for x in on)} records")


def apply_in_process(rounds: int) -> None:
    import asyncio

    from keystream.config import Config
    from keystream.engine import Engine
    from keystream.hotpath import mode
    from keystream.log.batch import build_batch

    value = os.urandom(512).hex().encode()

    def batches(nkeys: int) -> list[bytes]:
        return [build_batch([(b"key-%d" % ((i * 100 + j) % nkeys), value) for j in range(100)], 0)
                for i in range(200)]

    async def run() -> dict[str, float]:
        data = tempfile.mkdtemp(prefix="bridge-apply-")
        config = Config()
        config.set_text("dir", data)
        engine = Engine(config)
        await engine.start()
        engine.loaded()
        out: dict[str, float] = {}
        for name, nkeys in (("replay, 2,000 keys", 2000), ("replay, 20,000 keys", 20000)):
            topic = f"t{nkeys}"
            engine.logs.create_topic(topic, 1, {})
            plog = engine.logs.partition(topic, 0)
            assert plog is not None
            t0 = time.process_time()
            for b in batches(nkeys):
                plog.append(b, 0)
            t1 = time.process_time()
            engine.views.create(topic.encode(), topic, "hash", 0, False)     # applies the 20,000 records
            t2 = time.process_time()
            out["append"] = min(out.get("append", 1e9), (t1 - t0) / 20000)
            out[name] = (t2 - t1) / 20000
        # live: each append of 100 records applied at once, as after a Produce request
        engine.logs.create_topic("live", 1, {})
        engine.views.create(b"live", "live", "hash", 0, False)
        plog = engine.logs.partition("live", 0)
        assert plog is not None
        todo = batches(2000)
        t0 = time.process_time()
        for b in todo:
            plog.append(b, 0)
            engine.notify_append("live", 0)
        out["live: append + apply per 100 records, 2,000 keys"] = (time.process_time() - t0) / 20000
        assert engine.dbs[0].get(b"live") is not None and len(engine.dbs[0].get(b"live")) == 2000
        await engine.stop()
        shutil.rmtree(data, ignore_errors=True)
        return out

    results = [asyncio.run(run()) for _ in range(max(rounds, 1))]
    print(f"in process ({mode()}), CPU per 1 KB record, best of {len(results)}; load average {os.getloadavg()}")
    for name in results[0]:
        best = min(r[name] for r in results)
        print(f"  {name}: {best * 1e6:.2f} us ({1034 / best / 1e6:.0f} MB/s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sets", type=int, default=100000)
    ap.add_argument("--part", choices=("view", "capture", "both", "apply"), default="both")
    ap.add_argument("--rates", default="2,5,10,20", help="paced produce rates (MB/s) for the view's latency")
    args = ap.parse_args()
    if args.part == "apply":
        apply_in_process(args.rounds)
        return
    data = tempfile.mkdtemp(prefix="bridge-bench-")
    proc, port, kport = start_keystream(data)
    try:
        print(f"load average: {os.getloadavg()}")
        off: list[dict[str, float]] = []
        on: list[dict[str, float]] = []
        for _ in range(args.rounds if args.part != "capture" else 0):
            off.append(view_round(proc.pid, port, kport, False, args.seconds))
            on.append(view_round(proc.pid, port, kport, True, args.seconds))
            print(f"  no view {off[-1]['mbps']:.1f} MB/s ({off[-1]['cpu_s_per_gb']:.1f} server CPU s/GB); view "
                  f"{on[-1]['mbps']:.1f} MB/s ({on[-1]['cpu_s_per_gb']:.1f} CPU s/GB), probe p50/p99 from ack "
                  f"{on[-1]['p50_ack']:.2f}/{on[-1]['p99_ack']:.2f} ms, from send {on[-1]['p50_send']:.2f}/"
                  f"{on[-1]['p99_send']:.2f} ms, lag p99 {on[-1]['lag_p99']:.0f} records ({on[-1]['probes']} probes)")
        if off:
            report_view(off, on)
        for rate in [float(x) for x in args.rates.split(",") if x] if args.part != "capture" else []:
            x = view_round(proc.pid, port, kport, True, args.seconds, rate)
            print(f"view at {rate:g} MB/s offered: {x['mbps']:.1f} MB/s acked ({x['cpu_s_per_gb']:.1f} server CPU "
                  f"s/GB), probe visibility after the ack "
                  f"p50/p99 {x['p50_ack']:.2f}/{x['p99_ack']:.2f} ms, after the send {x['p50_send']:.2f}/"
                  f"{x['p99_send']:.2f} ms ({x['probes']} probes); VIEW.INFO lag max {x['lag_max']} records")
        s_off: list[float] = []
        s_on: list[float] = []
        for _ in range(args.rounds if args.part != "view" else 0):
            s_off.append(set_round(port, False, args.sets))
            s_on.append(set_round(port, True, args.sets))
            print(f"  SET -P 1: capture off {s_off[-1]:.0f} rps, on {s_on[-1]:.0f} rps")
        if s_off:
            print(f"capture: SET -P 1 {statistics.median(s_off):.0f} rps off, {statistics.median(s_on):.0f} rps "
                  f"on ({statistics.median(s_on) / statistics.median(s_off):.2f}x)")
        print(f"load average: {os.getloadavg()}")
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
