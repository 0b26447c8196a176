"""Side-by-side redis-benchmark: Keystream vs the real redis-server, same machine, same run.

Starts both servers on free ports, then for every (test, pipeline) pair runs Debian's
`redis-benchmark` against each, alternating which goes first, `--rounds` times, and
prints the median ops/s, p50 and p99 latency, and the ratio Keystream/Redis.

    python benchmarks/redis_benchmark.py                       # default set, -P 1 and -P 16
    python benchmarks/redis_benchmark.py --tests set,get --rounds 5 --requests 200000

Ratios, not absolute numbers, are what to read: this machine is shared and noisy.
The server's CPU time per request (user + system, from /proc, median of the rounds) is
printed beside the throughput: on a loaded machine it is the steadier of the two figures
(`cpu ratio` is Redis's CPU per request over Keystream's: 1.0 means as cheap per request).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULT_TESTS = "set,get,incr,mset,lpush,rpop,sadd,hset,zadd,lrange_100,lrange_600,zrangebyscore"
# Custom commands (redis-benchmark runs argv after the options), with a preload step.
CUSTOM = {
    "zrangebyscore": (["ZRANGEBYSCORE", "bench:zbig", "1000", "1100"], "zbig"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ping(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} did not answer")


def start_servers(tmp: str) -> tuple[subprocess.Popen, int, subprocess.Popen, int]:
    ks_port, redis_port = free_port(), free_port()
    ks = subprocess.Popen(
        [sys.executable, "-m", "keystream", "serve", "--port", str(ks_port), "--kafka-port", "0",
         "--dir", os.path.join(tmp, "ks"), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    rd = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", tmp],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_ping(ks_port)
    wait_ping(redis_port)
    return ks, ks_port, rd, redis_port


def preload(port: int, what: str) -> None:
    if what == "zbig":
        import redis

        c = redis.Redis(port=port, protocol=2)
        c.delete("bench:zbig")
        pipe = c.pipeline(transaction=False)
        for i in range(0, 100_000, 1000):
            pipe.zadd("bench:zbig", {f"m{j}": j for j in range(i, i + 1000)})
        pipe.execute()
        c.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_bench(port: int, pid: int, test: str, pipeline: int, requests: int, clients: int) -> dict[str, float]:
    cmd = ["redis-benchmark", "-p", str(port), "-c", str(clients), "-n", str(requests),
           "-P", str(pipeline), "--csv", "-r", "100000"]
    if test in CUSTOM:
        cmd += CUSTOM[test][0]
    else:
        cmd += ["-t", test]
    cpu0 = cpu_seconds(pid)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    cpu_us = (cpu_seconds(pid) - cpu0) * 1e6 / requests
    rows = [row for row in csv.reader(io.StringIO(out)) if row]
    if len(rows) < 2 or rows[-1][0] == "test":
        return {"rps": float("nan"), "p50": float("nan"), "p99": float("nan"), "cpu": cpu_us}
    rec = dict(zip(rows[0], rows[-1]))
    return {"rps": float(rec["rps"]), "p50": float(rec["p50_latency_ms"]), "p99": float(rec["p99_latency_ms"]),
            "cpu": cpu_us}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tests", default=DEFAULT_TESTS)
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if shutil.which("redis-benchmark") is None or shutil.which("redis-server") is None:
        sys.exit("needs Debian's redis-server and redis-tools (apt-get install redis-server redis-tools)")

    tmp = tempfile.mkdtemp(prefix="ks-bench-")
    ks, ks_port, rd, redis_port = start_servers(tmp)
    try:
        preloaded: set[str] = set()
        print(f"{'test':<16}{'-P':>4}{'keystream ops/s':>17}{'p50':>8}{'p99':>8}"
              f"{'redis ops/s':>14}{'p50':>8}{'p99':>8}{'ratio':>8}"
              f"{'ks cpu us/op':>14}{'redis cpu us/op':>17}{'cpu ratio':>11}")
        for test in args.tests.split(","):
            test = test.strip().lower()
            if test in CUSTOM and CUSTOM[test][1] not in preloaded:
                preload(ks_port, CUSTOM[test][1])
                preload(redis_port, CUSTOM[test][1])
                preloaded.add(CUSTOM[test][1])
            for p in (int(x) for x in args.pipelines.split(",")):
                ks_runs, rd_runs = [], []
                for rnd in range(args.rounds):
                    order = [(ks_port, ks.pid, ks_runs), (redis_port, rd.pid, rd_runs)]
                    if rnd % 2:
                        order.reverse()
                    for port, pid, runs in order:
                        runs.append(run_bench(port, pid, test, p, args.requests, args.clients))
                k = {m: statistics.median(r[m] for r in ks_runs) for m in ("rps", "p50", "p99", "cpu")}
                r = {m: statistics.median(x[m] for x in rd_runs) for m in ("rps", "p50", "p99", "cpu")}
                print(f"{test:<16}{p:>4}{k['rps']:>17,.0f}{k['p50']:>8.3f}{k['p99']:>8.3f}"
                      f"{r['rps']:>14,.0f}{r['p50']:>8.3f}{r['p99']:>8.3f}{k['rps'] / r['rps']:>7.2f}x"
                      f"{k['cpu']:>14.2f}{r['cpu']:>17.2f}{r['cpu'] / k['cpu']:>10.2f}x",
                      flush=True)
    finally:
        for proc in (ks, rd):
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
