"""In-process cost of EVALSHA and FCALL per call, for comparing two checkouts.

    python benchmarks/scripting_micro.py /path/to/checkout [calls]

Loads `return redis.call('INCR', KEYS[1])` as a script and as a library function, then times
`EVALSHA <sha> 1 k`, `FCALL incr1 1 k`, a script doing `return 1` and `INCR` alone through
`executor.execute` (no socket): the best `time.process_time` per call over 9 repetitions.
Run the checkouts alternately a few times and compare the minima (a loaded machine inflates
single runs).
"""

import sys
import time

sys.path.insert(0, sys.argv[1] + "/src")

from keystream import hotpath
from keystream.client import Client
from keystream.commands import executor
from keystream.config import Config
from keystream.engine import Engine

client = Client(Engine(Config()), 1, None)


def call(*argv: bytes) -> bytes:
    out: list[bytes] = []
    executor.execute(client, list(argv), out)
    return b"".join(out)


incr_sha = call(b"SCRIPT", b"LOAD", b"return redis.call('INCR', KEYS[1])").split(b"\r\n")[1]
one_sha = call(b"SCRIPT", b"LOAD", b"return 1").split(b"\r\n")[1]
call(b"FUNCTION", b"LOAD", b"REPLACE", b"#!lua name=benchlib\n"
     b"redis.register_function('incr1', function(keys, args) return redis.call('INCR', keys[1]) end)")
CASES = {
    "incr": [b"INCR", b"k2"],
    "evalsha": [b"EVALSHA", incr_sha, b"1", b"k"],
    "evalsha_return_1": [b"EVALSHA", one_sha, b"0"],
    "fcall": [b"FCALL", b"incr1", b"1", b"k"],
}
for name, argv in CASES.items():
    assert call(*argv).startswith(b":"), name
calls = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
results = {}
for name, argv in CASES.items():
    best = 1e9
    for _ in range(9):
        t0 = time.process_time()
        for _ in range(calls):
            executor.execute(client, argv, [])
        best = min(best, (time.process_time() - t0) / calls * 1e6)
    results[name] = best
print(sys.argv[1], hotpath.mode(), " ".join(f"{k}={v:.2f}us" for k, v in results.items()))
