"""MEMORY: USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE, HELP (Redis 7.0 object.c memoryCommand).

Arity, options, error texts and reply shapes are Redis 7.0's; the numbers are ours:

- MEMORY USAGE measures our Python objects (`keyspace.memsize`): the key, its entry in the
  database's dict and the value, sampling SAMPLES elements of a container (default 5,
  0 = all). As Redis's dictFind, it looks at the stored entry without touching the key's
  access time or expiring it.
- MEMORY STATS gives Redis 7.0's fields in Redis's order, from the same figures as INFO
  memory (`commands.info.memory_overhead`): allocated is used_memory (the keyspace's
  accounting), resident is the process's RSS, fragmentation is RSS over used_memory. The
  per-db overheads are the dict entries of the main and expires tables.
- MEMORY DOCTOR runs Redis's checks that mean something here (an almost empty instance,
  a past peak much above current use, big client buffers) and words its report its own way.
- MEMORY MALLOC-STATS replies as Redis built with libc malloc does (we report
  `mem_allocator:libc` in INFO).
- MEMORY PURGE runs a full garbage collection (`gc.collect()`).
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

from keystream.commands.info import memory_overhead
from keystream.commands.registry import KeySpec, command, container
from keystream.commands.util import parse_int
from keystream.keyspace.memsize import DEFAULT_SAMPLES, key_size, value_size
from keystream.resp.errors import SYNTAX, CommandError
from keystream.resp.writer import OK, Status, Verbatim

if TYPE_CHECKING:
    from keystream.client import Client

container("memory", "server", "Memory diagnostics", "4.0.0", acl="slow")

_STATS_TIPS = ("nondeterministic_output", "request_policy:all_shards", "response_policy:special")
_MALLOC_STATS = b"Stats not supported for the current allocator"
_EMPTY_BELOW = 5 * 1024 * 1024  # Redis's "empty instance" line for the doctor
_CLIENT_BUF_LIMIT = 200 * 1024  # average bytes per client above which the doctor complains


# -- USAGE -------------------------------------------------------------------------------
@command("memory|usage", -3, "readonly", 2, 2, 1, group="server", since="4.0.0",
         summary="Estimate how many bytes a key and its value take",
         complexity="O(N) where N is the number of samples.",
         key_specs=(KeySpec(("index", 2), ("range", 0, 1, 0), ("RO",)),),
         args="key [SAMPLES count:int]")
def memory_usage_command(client: Client, argv: list[bytes]) -> Any:
    """MEMORY USAGE key [SAMPLES count]"""
    samples = DEFAULT_SAMPLES
    i = 3
    n = len(argv)
    while i < n:
        if argv[i].lower() != b"samples" or i + 1 >= n:
            raise CommandError(SYNTAX)
        samples = parse_int(argv[i + 1])
        if samples < 0:
            raise CommandError(SYNTAX)
        i += 2
    value = client.db.data.get(argv[2])
    if value is None:
        return None
    return key_size(argv[2]) + value_size(value, samples)


# -- STATS -------------------------------------------------------------------------------
@command("memory|stats", 2, "", group="server", since="4.0.0",
         summary="Report how the server's memory is used", tips=_STATS_TIPS)
def memory_stats_command(client: Client, argv: list[bytes]) -> Any:
    """MEMORY STATS"""
    mh = memory_overhead(client.engine)
    total = mh["total"]
    rss = mh["rss"]
    reply: dict[bytes, Any] = {
        b"peak.allocated": mh["peak"],
        b"total.allocated": total,
        b"startup.allocated": mh["startup"],
        b"replication.backlog": 0,
        b"clients.slaves": 0,
        b"clients.normal": mh["clients_normal"],
        b"cluster.links": 0,
        b"aof.buffer": 0,
        b"lua.caches": 0,
        b"functions.caches": 0,
    }
    for db_id, main, expires in mh["dbs"]:
        reply[b"db.%d" % db_id] = {
            b"overhead.hashtable.main": main,
            b"overhead.hashtable.expires": expires,
            b"overhead.hashtable.slot-to-keys": 0,
        }
    reply.update({
        b"overhead.total": mh["overhead"],
        b"keys.count": mh["keys"],
        b"keys.bytes-per-key": mh["bytes_per_key"],
        b"dataset.bytes": mh["dataset"],
        b"dataset.percentage": mh["dataset_perc"],
        b"peak.percentage": mh["peak_perc"],
        b"allocator.allocated": total,
        b"allocator.active": total,
        b"allocator.resident": rss,
        b"allocator-fragmentation.ratio": 1.0,
        b"allocator-fragmentation.bytes": 0,
        b"allocator-rss.ratio": rss / total if total else 1.0,
        b"allocator-rss.bytes": rss - total,
        b"rss-overhead.ratio": 1.0,
        b"rss-overhead.bytes": 0,
        b"fragmentation": rss / total if total else 1.0,
        b"fragmentation.bytes": rss - total,
    })
    return reply


# -- DOCTOR ------------------------------------------------------------------------------
_DOCTOR_FINE = (
    b"Hi Sam, I looked everywhere and found nothing wrong with this instance's memory. "
    b"Mind you, I can only vouch for what happens on this base.\n")
_DOCTOR_EMPTY = (
    b"Hi Sam, this instance holds almost no data, so there is nothing for my memory checks "
    b"to look at yet. Load it with some data and ask me again once it has been at work "
    b"for a while.\n")
_DOCTOR_INTRO = b"Sam, the memory checks of this instance found something:\n\n"
_DOCTOR_PEAK = (
    b" * Past peak: this instance once used more than one and a half times the memory it "
    b"uses now. A process rarely gives freed memory back to the system, so the resident "
    b"size stays near the peak; the space is reused as data grows again. MEMORY PURGE runs "
    b"a full garbage collection; a restart is the only way to return all of it.\n\n")
_DOCTOR_CLIENTS = (
    b" * Big client buffers: on average each client holds more than 200K of buffered "
    b"input or output. Slow readers (Pub/Sub subscribers included), commands with huge "
    b"replies or very long pipelines are the usual causes; CLIENT LIST shows which "
    b"connections hold them.\n\n")
_DOCTOR_OUTRO = b"Look after yourself, Sam. I am here to help.\n"


@command("memory|doctor", 2, "", group="server", since="4.0.0",
         summary="Report memory problems of the server, if any", tips=_STATS_TIPS)
def memory_doctor_command(client: Client, argv: list[bytes]) -> Any:
    """MEMORY DOCTOR"""
    mh = memory_overhead(client.engine)
    if mh["total"] - mh["startup"] < _EMPTY_BELOW:
        return Verbatim(_DOCTOR_EMPTY)
    findings = []
    if mh["peak"] > 1.5 * mh["total"]:
        findings.append(_DOCTOR_PEAK)
    if mh["clients"] and mh["clients_normal"] // mh["clients"] > _CLIENT_BUF_LIMIT:
        findings.append(_DOCTOR_CLIENTS)
    if not findings:
        return Verbatim(_DOCTOR_FINE)
    return Verbatim(_DOCTOR_INTRO + b"".join(findings) + _DOCTOR_OUTRO)


# -- MALLOC-STATS, PURGE, HELP -------------------------------------------------------------
@command("memory|malloc-stats", 2, "", group="server", since="4.0.0",
         summary="Report the memory allocator's own statistics",
         complexity="Depends on how much memory is allocated, could be slow", tips=_STATS_TIPS)
def memory_malloc_stats_command(client: Client, argv: list[bytes]) -> Any:
    """MEMORY MALLOC-STATS"""
    return _MALLOC_STATS


@command("memory|purge", 2, "", group="server", since="4.0.0",
         summary="Collect garbage so that freed memory can be reused",
         complexity="Depends on how much memory is allocated, could be slow",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"))
def memory_purge_command(client: Client, argv: list[bytes]) -> Any:
    """MEMORY PURGE"""
    gc.collect()
    return OK


_MEMORY_HELP = [
    Status(line) for line in (
        b"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"DOCTOR",
        b"    Report memory problems of this instance, if any.",
        b"MALLOC-STATS",
        b"    Report the memory allocator's own statistics.",
        b"PURGE",
        b"    Collect garbage so that freed memory can be reused.",
        b"STATS",
        b"    Report how the server's memory is used.",
        b"USAGE <key> [SAMPLES <count>]",
        b"    Estimate the bytes taken by <key> and its value. Containers are estimated",
        b"    from <count> sampled elements (default: 5, 0 measures every element).",
        b"HELP",
        b"    Print this help.",
    )
]


@command("memory|help", 2, "loading stale", group="server", since="4.0.0",
         summary="Show helpful text about the different subcommands")
def memory_help_command(client: Client, argv: list[bytes]) -> Any:
    """MEMORY HELP"""
    return _MEMORY_HELP
