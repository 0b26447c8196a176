"""Consumer-group benchmark: rebalance time of a 10-member group over 100 partitions, and
OffsetCommit throughput from librdkafka (confluent-kafka) clients.

    python benchmarks/kafka_groups_bench.py [--bootstrap HOST:PORT] [--seconds 5] [--committers 4]

Without --bootstrap it starts its own Keystream (group.initial.rebalance.delay.ms=0) on free
ports in a temporary directory. Measures:

1. protocol rebalance: 10 members (raw JoinGroup/SyncGroup/Heartbeat v5/v5/v3 over our tiny
   client, one thread each, heartbeating every 2 ms and rejoining on REBALANCE_IN_PROGRESS)
   join an empty group at once; time from the first JoinGroup sent to the last SyncGroup
   answered of the generation all ten end in (the group is Stable then). Median of 5 rounds.
   The same for KIP-848: 10 members send ConsumerGroupHeartbeat v1 (join, then every 2 ms with
   the partitions they own, acknowledging revocations at once); time until every member is at
   the same epoch and the ten own all 100 partitions, none twice.
2. librdkafka rebalance, classic protocol (heartbeat.interval.ms=100) and KIP-848
   (group.protocol=consumer; the server's group.consumer.heartbeat.interval.ms=100): 10
   confluent-kafka consumers subscribe to a 100-partition topic at once; time until all 100
   partitions are assigned. Then an 11th joins and the time until the 11 members own all 100
   partitions again.
3. OffsetCommit/s: `--committers` processes, each a librdkafka consumer committing one
   partition's offset asynchronously in a loop (up to 1000 commits in flight), counted by the
   commit callbacks.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, ROOT)

from keystream.kafka.groups.client import MiniClient


def start_server() -> tuple[subprocess.Popen[bytes], str, str]:
    from tests.conftest import free_port, wait_for_port

    data = tempfile.mkdtemp(prefix="ks-groups-bench-")
    port, kport = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "keystream", "serve", "--port", str(port), "--kafka-port",
                             str(kport), "--dir", data, "--group.initial.rebalance.delay.ms", "0",
                             "--offsets.topic.num.partitions", "8", "--group.consumer.heartbeat.interval.ms", "100"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc)
    return proc, f"127.0.0.1:{kport}", data


def _subscription(topic: str) -> bytes:
    t = topic.encode()
    return struct.pack(">hih", 0, 1, len(t)) + t + struct.pack(">i", -1)


def _assignment(topic: str, parts: list[int]) -> bytes:
    t = topic.encode()
    return struct.pack(">hih", 0, 1, len(t)) + t + struct.pack(f">i{len(parts)}i", len(parts), *parts) + \
        struct.pack(">i", -1)


def protocol_rebalance(bootstrap: str, members: int = 10, partitions: int = 100) -> float:
    host, port = bootstrap.rsplit(":", 1)
    group = "bench-" + uuid.uuid4().hex[:8]
    topic = "bench-topic"
    proto_cls = MiniClient.cls(11, 5, "JoinGroupRequestProtocol")
    assign_cls = MiniClient.cls(14, 5, "SyncGroupRequestAssignment")
    clients = [MiniClient(host, int(port), client_id=f"m{i}") for i in range(members)]
    for c in clients:        # warm up the connection (and the offsets topic)
        c.request(10, 3, key=group, key_type=0)
    synced: dict[int, tuple[int, float]] = {}       # member index -> (generation, when)
    barrier = threading.Barrier(members + 1)
    finished = threading.Event()

    def settled() -> bool:
        gens = {g for g, _ in synced.values()}
        return len(synced) == members and len(gens) == 1

    def member(i: int, c: MiniClient) -> None:
        barrier.wait()
        member_id = ""
        while not finished.is_set():
            r = c.request(11, 5, group_id=group, session_timeout=10000, rebalance_timeout=10000,
                          member_id=member_id, group_instance_id=None, protocol_type="consumer",
                          protocols=(proto_cls(name="range", metadata=_subscription(topic)),))
            member_id = r.member_id
            if r.error_code == 79:        # MEMBER_ID_REQUIRED: join again with the id
                continue
            assert r.error_code == 0, r.error_code
            assignments: tuple = ()
            if r.leader == member_id:
                ids = sorted(m.member_id for m in r.members)
                assignments = tuple(assign_cls(member_id=mid, assignment=_assignment(topic, list(
                    range(k, partitions, len(ids))))) for k, mid in enumerate(ids))
            s = c.request(14, 5, group_id=group, generation_id=r.generation_id, member_id=member_id,
                          group_instance_id=None, protocol_type="consumer", protocol_name="range",
                          assignments=assignments)
            if s.error_code == 27:        # REBALANCE_IN_PROGRESS: rejoin
                continue
            assert s.error_code == 0, s.error_code
            synced[i] = (r.generation_id, time.perf_counter())
            while not finished.is_set():  # heartbeat until everyone is in one generation
                if settled():
                    finished.set()
                    break
                h = c.request(12, 3, group_id=group, generation_id=r.generation_id, member_id=member_id,
                              group_instance_id=None)
                if h.error_code:
                    synced.pop(i, None)
                    break
                time.sleep(0.002)

    threads = [threading.Thread(target=member, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = max(when for _, when in synced.values()) - start
    for c in clients:
        c.close()
    return elapsed


def kip848_protocol_rebalance(bootstrap: str, members: int = 10, partitions: int = 100) -> float:
    host, port = bootstrap.rsplit(":", 1)
    group = "bench-" + uuid.uuid4().hex[:8]
    topic = "bench848-" + uuid.uuid4().hex[:8]
    tp_cls = MiniClient.cls(68, 1, "TopicPartitions")
    clients = [MiniClient(host, int(port), client_id=f"m{i}") for i in range(members)]
    topic_cls = MiniClient.cls(19, 5, "CreatableTopic")
    clients[0].request(19, 5, topics=(topic_cls(name=topic, num_partitions=partitions, replication_factor=1,
                                                assignments=(), configs=()),), timeout=10000, validate_only=False)
    clients[0].request(10, 3, key=group, key_type=0)
    state: dict[int, tuple[int, frozenset[int]]] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(members + 1)
    finished = threading.Event()
    settled_at: list[float] = []

    def settled() -> bool:
        if len(state) < members or len({e for e, _ in state.values()}) != 1:
            return False
        owned = [p for _, ps in state.values() for p in ps]
        return len(owned) == len(set(owned)) == partitions and all(ps for _, ps in state.values())

    def member(i: int, c: MiniClient) -> None:
        member_id = str(uuid.uuid4())
        barrier.wait()
        r = c.request(68, 1, group_id=group, member_id=member_id, member_epoch=0, rebalance_timeout=10000,
                      subscribed_topic_names=(topic,), topic_partitions=())
        tid = None
        mine: frozenset[int] = frozenset()
        while True:
            assert r.error_code == 0, r
            if r.assignment is not None:
                mine = frozenset(p for t in r.assignment.topic_partitions for p in t.partitions)
                tid = next((t.topic_id for t in r.assignment.topic_partitions), tid)
            with lock:
                state[i] = (r.member_epoch, mine)
                if not finished.is_set() and settled():
                    settled_at.append(time.perf_counter())
                    finished.set()
            if finished.is_set():
                return
            time.sleep(0.002)
            owned = (tp_cls(topic_id=tid, partitions=tuple(sorted(mine))),) if tid is not None else ()
            r = c.request(68, 1, group_id=group, member_id=member_id, member_epoch=r.member_epoch,
                          topic_partitions=owned)

    threads = [threading.Thread(target=member, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    for c in clients:
        c.close()
    return settled_at[0] - start


def librdkafka_rebalance(bootstrap: str, members: int = 10, partitions: int = 100,
                         protocol: str = "classic") -> tuple[float, float]:
    from confluent_kafka import Consumer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = "bench-" + uuid.uuid4().hex[:8]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(10)
    group = "bench-" + uuid.uuid4().hex[:8]
    conf: dict[str, object] = {"bootstrap.servers": bootstrap, "group.id": group, "log_level": 0}
    if protocol == "classic":
        conf.update({"session.timeout.ms": 10000, "heartbeat.interval.ms": 100})
    else:       # KIP-848: the session and heartbeat interval are the broker's
        conf["group.protocol"] = "consumer"

    def covered(cs: list[Consumer]) -> bool:
        for c in cs:
            c.poll(0.001)
        parts = [len(c.assignment()) for c in cs]
        return sum(parts) == partitions and all(parts)

    cs = [Consumer(conf) for _ in range(members)]
    start = time.perf_counter()
    for c in cs:
        c.subscribe([topic])
    while not covered(cs):
        pass
    cold = time.perf_counter() - start
    extra = Consumer(conf)
    start = time.perf_counter()
    extra.subscribe([topic])
    while not covered([*cs, extra]):
        pass
    join = time.perf_counter() - start
    for c in [*cs, extra]:
        c.close()
    return cold, join


def _committer(bootstrap: str, topic: str, index: int, seconds: float, out: mp.Queue) -> None:
    from confluent_kafka import Consumer, TopicPartition

    acked = [0]

    def on_commit(err: object, _parts: object) -> None:
        if err is None:
            acked[0] += 1

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"committer-{index}-{uuid.uuid4().hex[:6]}",
                  "enable.auto.commit": False, "on_commit": on_commit, "log_level": 0})
    sent = 0
    offset = 0
    c.poll(0)
    start = time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        if sent - acked[0] < 1000:
            offset += 1
            c.commit(offsets=[TopicPartition(topic, index % 4, offset)], asynchronous=True)
            sent += 1
        else:
            c.poll(0.001)
    elapsed = time.perf_counter() - start
    done = acked[0]
    while acked[0] < sent and time.perf_counter() < end + 5:
        c.poll(0.01)
    c.close()
    out.put((done, elapsed))


def commit_throughput(bootstrap: str, committers: int, seconds: float) -> float:
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = "bench-" + uuid.uuid4().hex[:8]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 4, 1)])[topic].result(10)
    q: mp.Queue = mp.Queue()
    procs = [mp.Process(target=_committer, args=(bootstrap, topic, i, seconds, q)) for i in range(committers)]
    for p in procs:
        p.start()
    results = [q.get(timeout=seconds + 60) for _ in procs]
    for p in procs:
        p.join()
    return sum(done for done, _ in results) / max(elapsed for _, elapsed in results)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--committers", type=int, default=4)
    args = ap.parse_args()
    proc = None
    data = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        proc, bootstrap, data = start_server()
    try:
        rounds = [protocol_rebalance(bootstrap) for _ in range(5)]
        print(f"protocol rebalance, 10 members / 100 partitions: median {statistics.median(rounds) * 1000:.1f} ms "
              f"(rounds: {', '.join(f'{r * 1000:.1f}' for r in rounds)} ms)")
        rounds = [kip848_protocol_rebalance(bootstrap) for _ in range(5)]
        print(f"KIP-848 protocol rebalance, 10 members / 100 partitions: median "
              f"{statistics.median(rounds) * 1000:.1f} ms (rounds: {', '.join(f'{r * 1000:.1f}' for r in rounds)} ms)")
        for protocol in ("classic", "consumer"):
            cold, join = librdkafka_rebalance(bootstrap, protocol=protocol)
            print(f"librdkafka group.protocol={protocol}: 10 consumers subscribe to 100 partitions -> all assigned "
                  f"in {cold * 1000:.0f} ms; an 11th joins -> all reassigned in {join * 1000:.0f} ms")
        rate = commit_throughput(bootstrap, args.committers, args.seconds)
        print(f"OffsetCommit from {args.committers} librdkafka clients: {rate:,.0f} commits/s")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
            shutil.rmtree(data or "", ignore_errors=True)


if __name__ == "__main__":
    main()
