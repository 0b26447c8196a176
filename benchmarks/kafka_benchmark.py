"""Kafka benchmark: produce/consume throughput and end-to-end latency with confluent-kafka (librdkafka).

Starts `keystream serve` as a subprocess (free ports, data in a temp dir) and measures, with
1 KB messages:

- produce throughput with 1 MB batches (batch.size=1000000, linger.ms=20) and 16 KB batches
  (batch.size=16384, linger.ms=5), acks=1 and acks=all, one and eight partitions;
- consume throughput (a consumer assigned to every partition from offset 0, reading all of
  what each 1 MB / acks=1 run wrote, right after that run);
- end-to-end latency p50/p99 at a fixed rate (default 20 MB/s, paced every millisecond):
  the producer (acks=1, linger.ms=1) writes time.time_ns() into each value, a consumer in
  another process polls one message at a time and measures on receipt.

- transactions (--only txn): an idempotent producer (acks=all, 1 MB batches, 4 partitions)
  against the same producer with a transactional.id committing every 100 ms, then a
  read_uncommitted against a read_committed consumer of the transactional data; it prints
  each and the ratios transactional / plain.

For each run it prints MB/s, msgs/s, the broker's CPU seconds per GB (utime+stime from
/proc/<pid>/stat before and after) and the client's (this process, librdkafka's threads
included). Client and broker share the machine; with --repeat N each throughput test runs N
times and the fastest is printed with the others' rates. Repeats go round-robin over the
configurations (all of them once, then all again), and each run's topic is deleted once it is
measured, so every configuration meets the same machine: kept topics pile up page cache, and
on this VM writes into the page cache cost several times more system CPU once some 6 GB are
cached (seen as acks=all and 8-partition runs, which came last, looking slower). The producer uses
`produce_batch` (no per-message delivery callback); a run ends with `flush()` and its count is
checked against the partitions' high watermarks, so a lost message fails the run.

Usage: python benchmarks/kafka_benchmark.py [--mb 512] [--repeat 1] [--e2e-seconds 10] [--e2e-rate-mb 20]
           [--e2e-linger-ms 1] [--bootstrap HOST:PORT --broker-pid PID] [--only produce,consume,e2e,txn]
           [--batches 1MB,16KB] [--server-arg=--some.setting --server-arg=value]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

MSG_SIZE = 1024
_CLK_TCK = os.sysconf("SC_CLK_TCK")
_TS = struct.Struct(">q")


# -- the broker ---------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"keystream exited with code {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"keystream did not listen on {port}")


class Broker:
    def __init__(self, extra: list[str]) -> None:
        self.dir = tempfile.mkdtemp(prefix="ks-kafka-bench-")
        self.port = _free_port()
        self.kafka_port = _free_port()
        self.cmd = [sys.executable, "-m", "keystream", "serve", "--port", str(self.port),
                    "--kafka-port", str(self.kafka_port), "--dir", self.dir, *extra]
        self.log = open(os.path.join(self.dir, "server.log"), "wb")  # noqa: SIM115 - the server keeps it open
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        _wait_port(self.kafka_port, self.proc)
        self.bootstrap = f"127.0.0.1:{self.kafka_port}"
        self.pid = self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of a process, in seconds (0 when we do not own the broker)."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


# -- measurements ---------------------------------------------------------------------------

@dataclass
class Result:
    name: str
    seconds: float
    messages: int
    nbytes: int
    cpu: float
    client_cpu: float = 0.0
    extra: str = ""

    def line(self) -> str:
        mb = self.nbytes / 1e6
        gb = self.nbytes / 1e9
        cpu_gb = f"{self.cpu / gb:6.2f}" if gb and self.cpu else "     -"
        return (f"{self.name:<38} {mb / self.seconds:9.1f} MB/s {self.messages / self.seconds:11.0f} msgs/s"
                f"   broker CPU {cpu_gb} s/GB   client CPU {self.client_cpu / gb if gb else 0:5.2f} s/GB"
                f"{self.extra}")


def best(results: list[Result]) -> str:
    """The fastest of repeated runs (the machine is shared: slower runs measured others' load)."""
    r = max(results, key=lambda r: r.nbytes / r.seconds)
    if len(results) == 1:
        return r.line()
    rates = ", ".join(f"{x.nbytes / x.seconds / 1e6:.0f}" for x in results)
    return f"{r.line()}   (runs: {rates} MB/s)"


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fut = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name]
    fut.result(timeout=30)


def delete_topic(bootstrap: str, name: str) -> None:
    """Delete a measured run's topic (the broker removes its files, which frees their page cache)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.delete_topics([name])[name].result(timeout=30)


def high_watermarks(bootstrap: str, topic: str, partitions: int) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-wm", "enable.auto.commit": False})
    try:
        return sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in range(partitions))
    finally:
        c.close()


def produce_run(bootstrap: str, pid: int | None, topic: str, partitions: int, batch: str, acks: str,
                total_mb: int) -> Result:
    big = batch == "1MB"
    conf = {
        "bootstrap.servers": bootstrap,
        "acks": acks,
        "compression.type": "none",
        "linger.ms": 20 if big else 5,
        "batch.size": 1_000_000 if big else 16384,
        "batch.num.messages": 1_000_000,
        "message.max.bytes": 1_000_000,
        "queue.buffering.max.kbytes": 1_048_576,
        "queue.buffering.max.messages": 2_000_000,
        "max.in.flight.requests.per.connection": 5,
        "enable.idempotence": False,
    }
    p = Producer(conf)
    value = b"x" * MSG_SIZE
    chunk = 10_000
    n_total = total_mb * 1_000_000 // MSG_SIZE
    msgs = [{"value": value, "partition": i % partitions} for i in range(chunk)]
    create_topic(bootstrap, topic, partitions)
    p.list_topics(topic, timeout=10)
    cpu0 = cpu_seconds(pid)
    c0 = time.process_time()
    t0 = time.perf_counter()
    sent = 0
    while sent < n_total:
        want = msgs if n_total - sent >= chunk else msgs[:n_total - sent]
        try:
            sent += p.produce_batch(topic, want)
        except BufferError:
            p.poll(0.005)
            continue
        p.poll(0)
    left = p.flush(120)
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    client = time.process_time() - c0
    if left:
        raise RuntimeError(f"{left} messages not delivered")
    stored = high_watermarks(bootstrap, topic, partitions)
    if stored != n_total:
        raise RuntimeError(f"{topic}: sent {n_total}, broker holds {stored}")
    name = f"produce {batch:>4} batches acks={acks:<3} {partitions}p"
    return Result(name, elapsed, n_total, n_total * MSG_SIZE, cpu, client)


def consume_run(bootstrap: str, pid: int | None, topic: str, partitions: int, total: int = -1,
                isolation: str = "read_uncommitted") -> Result:
    """Read every message of topic (total: how many, default the high watermarks)."""
    if total < 0:
        total = high_watermarks(bootstrap, topic, partitions)
    c = Consumer({
        "isolation.level": isolation,
        "bootstrap.servers": bootstrap,
        "group.id": f"bench-{topic}-{time.time_ns()}",
        "enable.auto.commit": False,
        "fetch.max.bytes": 64 * 1024 * 1024,
        "max.partition.fetch.bytes": 16 * 1024 * 1024,
        "fetch.min.bytes": 1,
        "queued.max.messages.kbytes": 512 * 1024,
        "queued.min.messages": 1_000_000,
        "fetch.wait.max.ms": 100,
    })
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got = 0
    nbytes = 0
    # The first message starts the clock: connection set-up is not throughput.
    first = None
    while first is None:
        m = c.poll(10)
        if m is not None and m.error() is None:
            first = m
    cpu0 = cpu_seconds(pid)
    c0 = time.process_time()
    t0 = time.perf_counter()
    got, nbytes = 1, len(first.value())
    deadline = time.monotonic() + 300
    while got < total and time.monotonic() < deadline:
        # consume(n) waits until it has n messages or the timeout: never ask for more than is left.
        batch = c.consume(min(20_000, total - got), 1.0)
        got += len(batch)
        nbytes += sum(map(len, batch))    # len(message) is its value's length; errors add 0 bytes
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    client = time.process_time() - c0
    c.close()
    if got != total or nbytes != total * MSG_SIZE:
        raise RuntimeError(f"consumed {got} of {total} messages, {nbytes} bytes")
    name = f"consume {partitions}p" if isolation == "read_uncommitted" else f"consume {partitions}p {isolation}"
    return Result(name, elapsed, got, nbytes, cpu, client)


def txn_produce_run(bootstrap: str, pid: int | None, topic: str, partitions: int, total_mb: int,
                    transactional: bool, commit_ms: float = 100.0) -> Result:
    """Produce total_mb with an idempotent producer, in transactions committed every commit_ms if asked."""
    conf = {
        "bootstrap.servers": bootstrap, "acks": "all", "compression.type": "none", "linger.ms": 20,
        "batch.size": 1_000_000, "batch.num.messages": 1_000_000, "message.max.bytes": 1_000_000,
        # a 64 MB queue for both: the plain producer must not buffer the whole run ahead of the broker
        "queue.buffering.max.kbytes": 65_536, "queue.buffering.max.messages": 2_000_000,
        "enable.idempotence": True,
    }
    if transactional:
        conf["transactional.id"] = f"bench-{topic}"
    p = Producer(conf)
    value = b"x" * MSG_SIZE
    chunk = 2_000
    n_total = total_mb * 1_000_000 // MSG_SIZE
    msgs = [{"value": value, "partition": i % partitions} for i in range(chunk)]
    create_topic(bootstrap, topic, partitions)
    p.list_topics(topic, timeout=10)
    if transactional:
        p.init_transactions(30)
    cpu0 = cpu_seconds(pid)
    c0 = time.process_time()
    t0 = time.perf_counter()
    sent = 0
    commits = 0
    while sent < n_total:
        if transactional:
            p.begin_transaction()
        window_end = time.perf_counter() + commit_ms / 1000
        while sent < n_total and time.perf_counter() < window_end:
            want = msgs if n_total - sent >= chunk else msgs[:n_total - sent]
            try:
                sent += p.produce_batch(topic, want)
            except BufferError:
                p.poll(0.005)
                continue
            p.poll(0)
        if transactional:
            p.commit_transaction(120)
            commits += 1
    left = p.flush(120)
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    client = time.process_time() - c0
    if left:
        raise RuntimeError(f"{left} messages not delivered")
    markers = high_watermarks(bootstrap, topic, partitions) - n_total      # one per partition per commit at most
    if not 0 <= markers <= commits * partitions:
        raise RuntimeError(f"{topic}: sent {n_total} in {commits} transactions, the broker holds {n_total + markers}")
    kind = f"transactional ({commits} commits)" if transactional else "idempotent"
    return Result(f"produce 1MB acks=all {partitions}p {kind}", elapsed, n_total, n_total * MSG_SIZE, cpu, client)


def txn_runs(bootstrap: str, pid: int | None, run_id: str, total_mb: int, repeat: int) -> None:
    """Transactional produce and read_committed consume next to their plain counterparts."""
    parts = 4
    plain: list[Result] = []
    txn: list[Result] = []
    uncommitted: list[Result] = []
    committed: list[Result] = []
    n_total = total_mb * 1_000_000 // MSG_SIZE
    for i in range(repeat):
        topic = f"bench-plain-{run_id}-{i}"
        plain.append(txn_produce_run(bootstrap, pid, topic, parts, total_mb, False))
        print(f"#   {plain[-1].line()}", flush=True)
        delete_topic(bootstrap, topic)
        topic = f"bench-txn-{run_id}-{i}"
        txn.append(txn_produce_run(bootstrap, pid, topic, parts, total_mb, True))
        print(f"#   {txn[-1].line()}", flush=True)
        uncommitted.append(consume_run(bootstrap, pid, topic, parts, n_total, "read_uncommitted"))
        print(f"#   {uncommitted[-1].line()}", flush=True)
        committed.append(consume_run(bootstrap, pid, topic, parts, n_total, "read_committed"))
        print(f"#   {committed[-1].line()}", flush=True)
        delete_topic(bootstrap, topic)
    for results in (plain, txn, uncommitted, committed):
        print(best(results), flush=True)

    def rate(rs: list[Result]) -> float:
        return max(r.nbytes / r.seconds for r in rs)

    print(f"transactional / idempotent produce: {rate(txn) / rate(plain):.2f}x; "
          f"read_committed / read_uncommitted consume: {rate(committed) / rate(uncommitted):.2f}x", flush=True)


def _e2e_consumer(bootstrap: str, topic: str, expect: int, ready, out) -> None:
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"bench-e2e-{time.time_ns()}",
        "enable.auto.commit": False,
        "fetch.wait.max.ms": 100,
        "fetch.min.bytes": 1,
        "fetch.error.backoff.ms": 1,
        "socket.nagle.disable": True,
    })
    c.assign([TopicPartition(topic, 0, 0)])
    c.poll(0.5)
    ready.set()
    lat: list[int] = []
    deadline = time.monotonic() + 120
    while len(lat) < expect and time.monotonic() < deadline:
        m = c.poll(0.5)     # one at a time: consume(n) would wait for n messages
        if m is not None and m.error() is None:
            lat.append(time.time_ns() - _TS.unpack_from(m.value(), 0)[0])
    c.close()
    out.send(lat)


def e2e_run(bootstrap: str, pid: int | None, rate_mb: float, seconds: float, linger_ms: float) -> Result:
    topic = f"bench-e2e-{os.urandom(3).hex()}"
    create_topic(bootstrap, topic, 1)
    per_sec = int(rate_mb * 1e6 / MSG_SIZE)
    total = int(per_sec * seconds)
    ready = mp.Event()
    recv, send = mp.Pipe(duplex=False)
    proc = mp.Process(target=_e2e_consumer, args=(bootstrap, topic, total, ready, send))
    proc.start()
    ready.wait(30)
    p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": linger_ms, "compression.type": "none",
                  "socket.nagle.disable": True,
                  "batch.size": 1_000_000, "enable.idempotence": False})
    p.list_topics(topic, timeout=10)
    pad = b"x" * (MSG_SIZE - 8)
    tick = 0.001
    per_tick = per_sec * tick
    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    sent = 0
    while sent < total:
        due = min(total, int((time.perf_counter() - t0) * per_sec) + 1)
        while sent < due:
            p.produce(topic, _TS.pack(time.time_ns()) + pad, partition=0)
            sent += 1
        p.poll(0)
        nxt = t0 + (sent / per_tick) * tick
        delay = nxt - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    p.flush(30)
    elapsed = time.perf_counter() - t0
    lat = recv.recv()
    cpu = cpu_seconds(pid) - cpu0
    proc.join(30)
    if len(lat) != total:
        raise RuntimeError(f"e2e: received {len(lat)} of {total}")
    lat.sort()
    p50 = lat[len(lat) // 2] / 1e6
    p99 = lat[int(len(lat) * 0.99)] / 1e6
    mx = lat[-1] / 1e6
    return Result(f"e2e latency at {rate_mb:g} MB/s", elapsed, total, total * MSG_SIZE, cpu, 0.0,
                  f"  p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {mx:.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=512, help="MB produced per produce run")
    ap.add_argument("--repeat", type=int, default=1, help="run each throughput test N times, print the best")
    ap.add_argument("--e2e-seconds", type=float, default=10.0)
    ap.add_argument("--e2e-rate-mb", type=float, default=20.0)
    ap.add_argument("--e2e-linger-ms", type=float, default=1.0, help="producer linger.ms of the latency run")
    ap.add_argument("--bootstrap", help="use a running broker instead of starting one")
    ap.add_argument("--broker-pid", type=int, help="with --bootstrap: the broker's pid, to measure its CPU")
    ap.add_argument("--only", default="produce,consume,e2e", help="any of produce,consume,e2e,txn")
    ap.add_argument("--batches", help="only these produce batch sizes, e.g. 16KB")
    ap.add_argument("--server-arg", action="append", default=[], help="extra `keystream serve` argument")
    args = ap.parse_args()
    only = set(args.only.split(","))
    broker = None
    if args.bootstrap:
        bootstrap, pid = args.bootstrap, args.broker_pid
    else:
        broker = Broker(args.server_arg)
        bootstrap, pid = broker.bootstrap, broker.pid
        print(f"# broker: {' '.join(broker.cmd)}")
    print(f"# {MSG_SIZE}-byte messages, {args.mb} MB per produce run, confluent-kafka "
          f"(librdkafka {__import__('confluent_kafka').libversion()[0]}), {os.cpu_count()} cores")
    run_id = os.urandom(3).hex()
    try:
        if "produce" in only or "consume" in only:
            runs = [("1MB", "1", 1), ("1MB", "1", 8), ("1MB", "all", 1), ("1MB", "all", 8),
                    ("16KB", "1", 1), ("16KB", "1", 8), ("16KB", "all", 1), ("16KB", "all", 8)]
            if args.batches:
                runs = [r for r in runs if r[0] in args.batches.split(",")]
            if "produce" not in only:
                runs = runs[:2]
            produced: dict[tuple[str, str, int], list[Result]] = {r: [] for r in runs}
            consumed: dict[int, list[Result]] = {}
            for i in range(args.repeat):
                for batch, acks, parts in runs:
                    topic = f"bench-{batch}-{acks}-{parts}p-{run_id}-{i}"
                    r = produce_run(bootstrap, pid, topic, parts, batch, acks, args.mb)
                    produced[(batch, acks, parts)].append(r)
                    print(f"#   {r.line()}", flush=True)
                    if "consume" in only and batch == "1MB" and acks == "1":
                        c = consume_run(bootstrap, pid, topic, parts)
                        consumed.setdefault(parts, []).append(c)
                        print(f"#   {c.line()}", flush=True)
                    delete_topic(bootstrap, topic)
            if "produce" in only:
                for results in produced.values():
                    print(best(results), flush=True)
            for results in consumed.values():
                print(best(results), flush=True)
        if "txn" in only:
            txn_runs(bootstrap, pid, run_id, args.mb, args.repeat)
        if "e2e" in only:
            print(e2e_run(bootstrap, pid, args.e2e_rate_mb, args.e2e_seconds, args.e2e_linger_ms).line(),
                  flush=True)
    except KafkaException as e:
        print(f"failed: {e}", file=sys.stderr)
        raise
    finally:
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    main()
