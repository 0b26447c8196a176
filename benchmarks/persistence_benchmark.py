"""Persistence side by side with redis-server: SAVE and load of N small keys of mixed types,
dump sizes, GET latency while BGSAVE runs, SET throughput with appendonly everysec/always.

    PYTHONPATH=src python3 benchmarks/persistence_benchmark.py --keys 1000000
    PYTHONPATH=src python3 benchmarks/persistence_benchmark.py --aof-only --set-requests 200000 --rounds 3

The dataset (written into redis-server with pipelined commands): 40% strings, and 15% each
of hashes, lists, sets and sorted sets of 5 elements. Keystream loads redis-server's dump.
Load times are the servers' own "DB loaded from disk" log lines; SAVE is the wall time of
the SAVE command; throughput is redis-benchmark's (50 clients, -P 1), with the AOF off,
everysec and always, each server in turn on the same settings.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import redis

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")  # this checkout's


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 600) -> None:
    r = redis.Redis(port=port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {proc.returncode}")
        try:
            if r.ping():
                return
        except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
            time.sleep(0.05)
    raise TimeoutError(f"port {port} not ready")


def start_redis(data_dir: str, *args: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--dir", data_dir, "--logfile", os.path.join(data_dir, "redis.log"), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, proc)
    return proc, port


def start_keystream(data_dir: str, *args: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    log = open(os.path.join(data_dir, "ks.log"), "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen([sys.executable, "-m", "keystream", "serve", "--port", str(port), "--kafka-port", "0",
                             "--dir", data_dir, "--save", "", *args], stdout=log, stderr=log, cwd=data_dir,
                            env={**os.environ, "PYTHONPATH": SRC})
    log.close()
    wait_ready(port, proc)
    return proc, port


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=120)


def populate(port: int, n: int) -> None:
    r = redis.Redis(port=port)
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        kind = i % 20
        if kind < 8:
            pipe.set(f"s:{i}", f"value-{i}")
        elif kind < 11:
            pipe.hset(f"h:{i}", mapping={"a": i, "b": "x", "c": "yy", "d": i * 2, "e": "zzz"})
        elif kind < 14:
            pipe.rpush(f"l:{i}", "a", "b", i, "c", "d")
        elif kind < 17:
            pipe.sadd(f"t:{i}", 1, 2, 3, i, i + 1)
        else:
            pipe.zadd(f"z:{i}", {"a": 1, "b": 2.5, "c": i, "d": 4, "e": 5})
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()


def loaded_seconds(log_path: str) -> float:
    with open(log_path, errors="replace") as f:
        m = re.findall(r"DB loaded from disk: ([0-9.]+) seconds", f.read())
    return float(m[-1])


def timed_save(port: int) -> float:
    r = redis.Redis(port=port, socket_timeout=600)
    t = time.perf_counter()
    r.save()
    return time.perf_counter() - t


def get_latency_during_bgsave(port: int, key: str) -> tuple[int, float, float, float, float]:
    r = redis.Redis(port=port)
    r.execute_command("BGSAVE")
    samples = []
    start = time.perf_counter()
    while True:
        t = time.perf_counter()
        r.get(key)
        samples.append(time.perf_counter() - t)
        if len(samples) % 50 == 0 and not r.info("persistence")["rdb_bgsave_in_progress"]:
            break
    duration = time.perf_counter() - start
    samples.sort()
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] * 1000
    return len(samples), duration, p(0.5), p(0.99), samples[-1] * 1000


def set_throughput(port: int, n: int) -> float:
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-n", str(n), "-c", "50", "-P", "1",
                          "-r", "100000", "-q"], check=True, capture_output=True, text=True, timeout=600).stdout
    m = re.search(r"SET: ([0-9.]+) requests per second", out.replace("\r", "\n"))
    return float(m.group(1)) if m else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--set-requests", type=int, default=100_000)
    ap.add_argument("--rdb-only", action="store_true", help="skip the appendonly SET throughput runs")
    ap.add_argument("--aof-only", action="store_true", help="only the SET throughput with the AOF")
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds of the SET throughput")
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="persist-bench-")
    rdir, kdir = os.path.join(root, "redis"), os.path.join(root, "ks")
    os.makedirs(rdir)
    os.makedirs(kdir)
    try:
        if not args.aof_only:
            rdb_side_by_side(args.keys, rdir, kdir)
        if not args.rdb_only:
            aof_side_by_side(root, args.set_requests, args.rounds)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def rdb_side_by_side(keys: int, rdir: str, kdir: str) -> None:
    rproc, rport = start_redis(rdir)
    t = time.perf_counter()
    populate(rport, keys)
    print(f"populated redis-server with {keys} keys in {time.perf_counter() - t:.1f}s")
    redis_save = timed_save(rport)
    redis_size = os.path.getsize(os.path.join(rdir, "dump.rdb"))
    r_n, r_d, r_p50, r_p99, r_max = get_latency_during_bgsave(rport, "s:0")
    stop(rproc)
    rproc, rport = start_redis(rdir)
    redis_load = loaded_seconds(os.path.join(rdir, "redis.log"))
    stop(rproc)
    shutil.copy(os.path.join(rdir, "dump.rdb"), os.path.join(kdir, "dump.rdb"))
    kproc, kport = start_keystream(kdir)
    ks_load = loaded_seconds(os.path.join(kdir, "ks.log"))
    ks_save = timed_save(kport)
    ks_size = os.path.getsize(os.path.join(kdir, "dump.rdb"))
    k_n, k_d, k_p50, k_p99, k_max = get_latency_during_bgsave(kport, "s:0")
    stop(kproc)
    print(f"{'':24}{'redis-server':>14}{'keystream':>14}{'ratio':>8}")
    print(f"{'SAVE (s)':24}{redis_save:14.2f}{ks_save:14.2f}{ks_save / redis_save:8.2f}")
    print(f"{'load (s)':24}{redis_load:14.2f}{ks_load:14.2f}{ks_load / max(redis_load, 1e-3):8.2f}")
    print(f"{'dump size (bytes)':24}{redis_size:14d}{ks_size:14d}{ks_size / redis_size:8.3f}")
    print(f"GET during BGSAVE: redis-server {r_n} GETs in {r_d:.2f}s p50 {r_p50:.3f} ms p99 {r_p99:.3f} ms "
          f"max {r_max:.3f} ms; keystream {k_n} GETs in {k_d:.2f}s p50 {k_p50:.3f} ms p99 {k_p99:.3f} ms "
          f"max {k_max:.3f} ms")


def aof_side_by_side(root: str, requests: int, rounds: int) -> None:
    """SET -P 1 with the AOF off, everysec and always; each round runs redis-server then
    Keystream with the same settings, and the ratio of the two medians is printed."""
    for fsync in ("off", "everysec", "always"):
        settings = ["--appendonly", "no"] if fsync == "off" else ["--appendonly", "yes", "--appendfsync", fsync]
        r_runs: list[float] = []
        k_runs: list[float] = []
        for _ in range(rounds):
            d1, d2 = tempfile.mkdtemp(dir=root), tempfile.mkdtemp(dir=root)
            rproc, rport = start_redis(d1, *settings)
            r_runs.append(set_throughput(rport, requests))
            stop(rproc)
            kproc, kport = start_keystream(d2, *settings)
            k_runs.append(set_throughput(kport, requests))
            stop(kproc)
            shutil.rmtree(d1, ignore_errors=True)
            shutil.rmtree(d2, ignore_errors=True)
        r_ops, k_ops = sorted(r_runs)[len(r_runs) // 2], sorted(k_runs)[len(k_runs) // 2]
        print(f"SET -P 1, AOF {fsync}: redis-server {r_ops:.0f}/s keystream {k_ops:.0f}/s "
              f"({k_ops / r_ops:.2f}x; runs redis {[round(x) for x in r_runs]} keystream "
              f"{[round(x) for x in k_runs]})", flush=True)


if __name__ == "__main__":
    main()
