"""In-process cost of the Redis command path per command, for comparing two checkouts.

    python benchmarks/call_path_micro.py /path/to/checkout-a
    python benchmarks/call_path_micro.py /path/to/checkout-b

Runs 16-command pipelines of SET, GET, INCR, LPUSH and SADD through `executor.execute` (the
pipelined fast path, no socket) and prints the best time per command over 25 repetitions.
With no sockets and no second process, it is far less sensitive to a loaded machine than
redis-benchmark; run the two checkouts alternately a few times and compare the minima.
"""

import sys
import time

sys.path.insert(0, sys.argv[1] + "/src")

from keystream.commands import executor  # noqa: E402
from keystream.config import Config  # noqa: E402

try:
    from keystream.client import Client  # noqa: E402
    from keystream.engine import Engine  # noqa: E402

    owner = Engine(Config())
except ImportError:  # a checkout from before the engine (issue 8)
    from keystream.resp.connection import Client  # type: ignore[no-redef]  # noqa: E402
    from keystream.server import Server  # noqa: E402

    owner = Server(Config())  # type: ignore[assignment]
client = Client(owner, 1, None)  # type: ignore[arg-type]

BATCHES = {
    "set": [[b"SET", b"key:%d" % (i % 1000), b"xxx"] for i in range(16)],
    "get": [[b"GET", b"key:%d" % (i % 1000)] for i in range(16)],
    "incr": [[b"INCR", b"counter"] for _ in range(16)],
    "lpush": [[b"LPUSH", b"mylist", b"xxx"] for _ in range(16)],
    "sadd": [[b"SADD", b"myset", b"e%d" % i] for i in range(16)],
}

results = {}
for name, batch in BATCHES.items():
    best = 1e9
    for _rep in range(25):
        t0 = time.perf_counter()
        for _ in range(400):
            out: list[bytes] = []
            now = 0
            for argv in batch:
                now = executor.execute(client, argv, out, now)
        best = min(best, (time.perf_counter() - t0) / (400 * 16) * 1e9)
    results[name] = best
print(sys.argv[1], " ".join(f"{k}={v:.0f}ns" for k, v in results.items()))
