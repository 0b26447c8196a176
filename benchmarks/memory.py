"""Memory side by side: N small hashes, sets, sorted sets, lists and strings in Keystream and
in redis-server, and one stream of N entries.

For each type, both servers start empty, get the same N keys loaded with pipelines
(each container key: 5 small fields/members/elements; a string key: a ~12-byte value; the
stream: N entries of two fields, `XADD *`), and we report the growth of INFO memory
`used_memory` and of the process RSS, and the ratio Keystream/Redis of each. Keystream's
used_memory is its own accounting (keyspace/db.py), Redis's its allocator's: the figure
of merit is Keystream's RSS growth over Redis's used_memory growth (`ks RSS/redis used`).

    python benchmarks/memory.py                 # N = 1,000,000
    python benchmarks/memory.py --keys 200000
    python benchmarks/memory.py --types stream   # one stream of 1,000,000 entries
    python benchmarks/memory.py --types hash,set,zset,list,string
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile

import redis

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from redis_benchmark import start_servers  # noqa: E402


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def used_memory(c: redis.Redis) -> int:
    return int(c.info("memory")["used_memory"])


def load(c: redis.Redis, kind: str, n: int) -> None:
    pipe = c.pipeline(transaction=False)
    for i in range(n):
        key = f"{kind}:{i}"
        if kind == "stream":
            pipe.xadd("stream", {"sensor": "temperature", "value": str(i % 1000)})
        elif kind == "hash":
            pipe.hset(key, mapping={"f1": "v1", "f2": "v2", "f3": str(i), "f4": "x" * 10, "f5": "y"})
        elif kind == "set":
            pipe.sadd(key, "a", "b", "c", str(i), "member-e")
        elif kind == "list":
            pipe.rpush(key, "a", "b", "c", str(i), "member-e")
        elif kind == "string":
            pipe.set(key, f"value-{i}")
        else:
            pipe.zadd(key, {"a": 1, "b": 2.5, "c": 3, str(i): i, "member-e": -1})
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--types", default="hash,set,zset")
    args = ap.parse_args()
    print(f"{'type':<6}{'keys':>10}{'ks used_memory':>16}{'ks RSS':>12}{'redis used_memory':>19}"
          f"{'redis RSS':>12}{'ratio(used)':>13}{'ratio(RSS)':>12}{'ks RSS/redis used':>19}")
    for kind in args.types.split(","):
        tmp = tempfile.mkdtemp(prefix="ks-mem-")
        ks, ks_port, rd, rd_port = start_servers(tmp)
        try:
            row = []
            for proc, port in ((ks, ks_port), (rd, rd_port)):
                c = redis.Redis(port=port, protocol=2)
                u0, r0 = used_memory(c), rss_bytes(proc.pid)
                load(c, kind, args.keys)
                row.append((used_memory(c) - u0, rss_bytes(proc.pid) - r0))
                c.close()
            (ku, kr), (ru, rr) = row
            print(f"{kind:<6}{args.keys:>10}{ku / 2**20:>14.1f}MB{kr / 2**20:>10.1f}MB"
                  f"{ru / 2**20:>17.1f}MB{rr / 2**20:>10.1f}MB{ku / ru:>12.2f}x{kr / rr:>11.2f}x"
                  f"{kr / ru:>18.2f}x", flush=True)
        finally:
            for proc in (ks, rd):
                proc.terminate()
                proc.wait(timeout=30)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
