"""INFO (server.c genRedisInfoString): every section Redis 7.0 has, with Redis's field names.

`INFO [section ...]`: no argument or `default` gives server clients memory persistence
stats replication cpu modules errorstats cluster keyspace; `all` adds commandstats and
latencystats; `everything` is all of them. `bridge` (ours, only when named): table views and
change captures with their offsets, lag and counters. Several sections may be named at once, in any
case. `INFO server` also says who we are: `keystream_version`.

The values are ours: `used_memory` is the keyspace's own accounting (keyspace/db.py: keys
and values estimated from our Python objects) plus clients' buffers and a fixed startup
share (Engine.used_memory), which maxmemory limits; `used_memory_rss` is the process's
resident set, and the fragmentation ratio is RSS over used_memory (the interpreter and
the allocator's slack included), persistence and replication report an
instance without replicas unless that layer publishes its state on the engine
(`engine.replication_info`, when set); persistence comes from `engine.snapshots`.
Deliberately absent: Sentinel sections.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from typing import TYPE_CHECKING, Any

from keystream import __version__
from keystream.commands.executor import paused_count
from keystream.commands.registry import COMMANDS, command
from keystream.keyspace.db import DICT_ENTRY, EXPIRE_ENTRY
from keystream.resp.writer import Verbatim

if TYPE_CHECKING:
    from keystream.client import Client
    from keystream.engine import Engine

DEFAULT_SECTIONS = ("server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                    "modules", "errorstats", "cluster", "keyspace")
ALL_ORDER = ("server", "clients", "memory", "persistence", "stats", "replication", "cpu",
             "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace", "bridge")
# Sections of ours that Redis does not have: given only when named (`all`/`everything` stay Redis's).
_NAMED_ONLY = frozenset({"bridge"})
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _human(n: float) -> str:
    """Redis's bytesToHuman: 1.20M, 32.00K, 200B."""
    for unit, size in (("P", 1024**5), ("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return f"{int(n)}B"


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _total_memory() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * _PAGE
    except (ValueError, OSError, AttributeError):
        return 0


def _section_server(engine: Engine) -> list[str]:
    now = time.time()
    uptime = int(now - engine.started)
    uname = platform.uname()
    ports = [int(x.rsplit(":", 1)[1]) for x in engine.resp_addresses] or [engine.config["port"]]
    return [
        f"redis_version:{engine.redis_version}",
        f"keystream_version:{__version__}",
        "redis_git_sha1:00000000",
        "redis_git_dirty:0",
        "redis_build_id:0",
        "redis_mode:standalone",
        f"os:{uname.system} {uname.release} {uname.machine}",
        f"arch_bits:{64 if sys.maxsize > 2**32 else 32}",
        "monotonic_clock:POSIX clock_gettime",
        "multiplexing_api:epoll",
        "atomicvar_api:c11-builtin",
        "gcc_version:0.0.0",
        f"process_id:{os.getpid()}",
        "process_supervised:no",
        f"run_id:{engine.run_id}",
        f"tcp_port:{ports[0]}",
        f"server_time_usec:{time.time_ns() // 1000}",
        f"uptime_in_seconds:{uptime}",
        f"uptime_in_days:{uptime // 86400}",
        f"hz:{engine.config['hz']}",
        f"configured_hz:{engine.config['hz']}",
        f"lru_clock:{int(now) & ((1 << 24) - 1)}",
        f"executable:{os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ''}",
        f"config_file:{engine.config.config_file or ''}",
        "io_threads_active:0",
    ]


def _section_clients(engine: Engine) -> list[str]:
    clients = list(engine.clients.values())
    max_in = max((c.qbuf_peak for c in clients), default=0)
    max_out = 0
    for c in clients:
        if c.conn is not None:
            max_out = max(max_out, c.conn.output_buffered())
    tracking = engine.tracking.clients
    blocked = engine.blocking.count + paused_count(engine)
    return [
        f"connected_clients:{len(clients)}",
        "cluster_connections:0",
        f"maxclients:{engine.config['maxclients']}",
        f"client_recent_max_input_buffer:{max_in}",
        f"client_recent_max_output_buffer:{max_out}",
        f"blocked_clients:{blocked}",
        f"tracking_clients:{tracking}",
        f"clients_in_timeout_table:{engine.blocking.count}",
    ]


def memory_overhead(engine: Engine) -> dict[str, Any]:
    """The memory figures INFO memory, MEMORY STATS and MEMORY DOCTOR report (Redis's
    getMemoryOverheadData): `total` is used_memory (Engine.used_memory); the overhead is
    the fixed startup share, clients' buffers, the expiry tables and values waiting to be
    freed lazily; the dataset is the rest (keys and values)."""
    total = engine.used_memory()
    peak = max(engine.mem_peak, total)
    engine.mem_peak = peak
    startup = engine.mem_startup
    clients_normal = 0
    for c in engine.clients.values():
        if c.conn is not None:
            clients_normal += c.conn.input_buffered() + c.conn.output_buffered()
    dbs = []
    keys = 0
    overhead = startup + clients_normal + engine.lazyfree.pending_bytes
    for db in engine.dbs:
        if not db.data:
            continue
        keys += len(db.data)
        main = len(db.data) * DICT_ENTRY
        expires = len(db.expires) * EXPIRE_ENTRY
        overhead += main + expires
        dbs.append((db.id, main, expires))
    net = total - startup
    dataset = max(0, total - overhead)
    return {
        "peak": peak, "total": total, "startup": startup, "clients_normal": clients_normal,
        "clients": len(engine.clients), "dbs": dbs, "rss": rss_bytes(), "overhead": overhead, "keys": keys,
        "bytes_per_key": net // keys if keys and net > 0 else 0, "dataset": dataset,
        "dataset_perc": dataset * 100.0 / net if net > 0 else 0.0,
        "peak_perc": total * 100.0 / peak if peak else 100.0,
    }


def _section_memory(engine: Engine) -> list[str]:
    mh = memory_overhead(engine)
    used = mh["total"]
    peak = mh["peak"]
    rss = rss_bytes()
    maxmem = engine.config["maxmemory"]
    total = _total_memory()
    lazyfree = engine.lazyfree
    return [
        f"used_memory:{used}",
        f"used_memory_human:{_human(used)}",
        f"used_memory_rss:{rss}",
        f"used_memory_rss_human:{_human(rss)}",
        f"used_memory_peak:{peak}",
        f"used_memory_peak_human:{_human(peak)}",
        f"used_memory_peak_perc:{mh['peak_perc']:.2f}%",
        f"used_memory_overhead:{mh['overhead']}",
        f"used_memory_startup:{mh['startup']}",
        f"used_memory_dataset:{mh['dataset']}",
        f"used_memory_dataset_perc:{mh['dataset_perc']:.2f}%",
        f"allocator_allocated:{used}",
        f"allocator_active:{used}",
        f"allocator_resident:{rss}",
        f"total_system_memory:{total}",
        f"total_system_memory_human:{_human(total)}",
        *engine.scripting.memory_info(_human),
        f"maxmemory:{maxmem}",
        f"maxmemory_human:{_human(maxmem)}",
        f"maxmemory_policy:{engine.config['maxmemory-policy']}",
        "allocator_frag_ratio:1.00",
        "allocator_frag_bytes:0",
        f"allocator_rss_ratio:{rss / used if used else 1.0:.2f}",
        f"allocator_rss_bytes:{rss - used}",
        "rss_overhead_ratio:1.00",
        "rss_overhead_bytes:0",
        f"mem_fragmentation_ratio:{rss / used if used else 1.0:.2f}",
        f"mem_fragmentation_bytes:{rss - used}",
        "mem_not_counted_for_evict:0",
        "mem_replication_backlog:0",
        "mem_total_replication_buffers:0",
        "mem_clients_slaves:0",
        f"mem_clients_normal:{mh['clients_normal']}",
        "mem_cluster_links:0",
        "mem_aof_buffer:0",
        "mem_allocator:libc",
        "active_defrag_running:0",
        f"lazyfree_pending_objects:{lazyfree.pending_objects}",
        f"lazyfreed_objects:{engine.stats.lazyfreed_objects}",
    ]


def _section_persistence(engine: Engine) -> list[str]:
    return [*engine.snapshots.info_lines(), *engine.snapshots.aof.info_lines()]


def _section_stats(engine: Engine) -> list[str]:
    calls = sum(c.calls + sum(s.calls for s in c.subcommands.values()) for c in COMMANDS.values())
    pubsub = engine.pubsub.stats()
    tracking = engine.tracking.stats()
    return [
        f"total_connections_received:{engine.stats.connections}",
        f"total_commands_processed:{calls}",
        "instantaneous_ops_per_sec:0",
        f"total_net_input_bytes:{engine.stats.net_input_bytes}",
        f"total_net_output_bytes:{engine.stats.net_output_bytes}",
        "total_net_repl_input_bytes:0",
        "total_net_repl_output_bytes:0",
        "instantaneous_input_kbps:0.00",
        "instantaneous_output_kbps:0.00",
        "instantaneous_input_repl_kbps:0.00",
        "instantaneous_output_repl_kbps:0.00",
        f"rejected_connections:{engine.stats.rejected_conn}",
        "sync_full:0",
        "sync_partial_ok:0",
        "sync_partial_err:0",
        f"expired_keys:{engine.stats.expired_keys}",
        f"expired_stale_perc:{max((db.expired_stale_perc for db in engine.dbs), default=0) * 100:.2f}",
        "expired_time_cap_reached_count:0",
        "expire_cycle_cpu_milliseconds:0",
        f"evicted_keys:{engine.stats.evicted_keys}",
        "evicted_clients:0",
        "total_eviction_exceeded_time:0",
        "current_eviction_exceeded_time:0",
        f"keyspace_hits:{engine.stats.keyspace_hits}",
        f"keyspace_misses:{engine.stats.keyspace_misses}",
        f"pubsub_channels:{pubsub['pubsub_channels']}",
        f"pubsub_patterns:{pubsub['pubsub_patterns']}",
        f"pubsubshard_channels:{pubsub['pubsubshard_channels']}",
        f"latest_fork_usec:{engine.snapshots.latest_fork_usec}",
        f"total_forks:{engine.snapshots.total_forks}",
        f"migrate_cached_sockets:{len(engine.migrate_sockets)}",
        "slave_expires_tracked_keys:0",
        "active_defrag_hits:0",
        "active_defrag_misses:0",
        "active_defrag_key_hits:0",
        "active_defrag_key_misses:0",
        "total_active_defrag_time:0",
        "current_active_defrag_time:0",
        f"tracking_total_keys:{tracking['tracking_total_keys']}",
        f"tracking_total_items:{tracking['tracking_total_items']}",
        f"tracking_total_prefixes:{tracking['tracking_total_prefixes']}",
        "unexpected_error_replies:0",
        f"total_error_replies:{engine.stats.total_errors}",
        "dump_payload_sanitizations:0",
        f"total_reads_processed:{calls}",
        f"total_writes_processed:{calls}",
        "io_threaded_reads_processed:0",
        "io_threaded_writes_processed:0",
        "reply_buffer_shrinks:0",
        "reply_buffer_expands:0",
    ]


def _section_replication(engine: Engine) -> list[str]:
    hook = engine.replication_info
    if hook is not None:
        return list(hook())
    return [
        "role:master", "connected_slaves:0", "master_failover_state:no-failover",
        f"master_replid:{engine.run_id[:40]}",
        "master_replid2:0000000000000000000000000000000000000000", "master_repl_offset:0",
        "second_repl_offset:-1", "repl_backlog_active:0", "repl_backlog_size:1048576",
        "repl_backlog_first_byte_offset:0", "repl_backlog_histlen:0",
    ]


def _section_cpu(engine: Engine) -> list[str]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return [
        f"used_cpu_sys:{me.ru_stime:.6f}",
        f"used_cpu_user:{me.ru_utime:.6f}",
        f"used_cpu_sys_children:{kids.ru_stime:.6f}",
        f"used_cpu_user_children:{kids.ru_utime:.6f}",
        f"used_cpu_sys_main_thread:{me.ru_stime:.6f}",
        f"used_cpu_user_main_thread:{me.ru_utime:.6f}",
    ]


def _all_commands() -> list[Any]:
    out = []
    for c in COMMANDS.values():
        if c.handler is not None:
            out.append(c)
        out.extend(c.subcommands.values())
    return out


def _section_commandstats(engine: Engine) -> list[str]:
    lines = []
    for c in _all_commands():
        if c.calls or c.rejected_calls or c.failed_calls:
            per = c.usec / c.calls if c.calls else 0.0
            lines.append(f"cmdstat_{c.name}:calls={c.calls},usec={int(c.usec)},usec_per_call={per:.2f},"
                         f"rejected_calls={c.rejected_calls},failed_calls={c.failed_calls}")
    return lines


def _section_errorstats(engine: Engine) -> list[str]:
    return [f"errorstat_{k}:count={v}" for k, v in engine.error_stats.items()]


def _section_latencystats(engine: Engine) -> list[str]:
    # Per-command percentiles need latency histograms, which we do not keep: report the mean.
    lines: list[str] = []
    if not engine.config["latency-tracking"]:
        return lines
    for c in _all_commands():
        if c.calls:
            mean = c.usec / c.calls
            lines.append(f"latency_percentiles_usec_{c.name}:p50={mean:.3f},p99={mean:.3f},"
                         f"p99.9={mean:.3f}")
    return lines


def _section_keyspace(engine: Engine) -> list[str]:
    lines = []
    now = time.time_ns() // 1_000_000
    for db in engine.dbs:
        n = len(db.data)
        if n:
            exp = db.expires
            ttls = [w - now for w in exp.values() if w > now]
            avg = int(sum(ttls) / len(ttls)) if ttls else 0
            lines.append(f"db{db.id}:keys={n},expires={len(exp)},avg_ttl={avg}")
    return lines


_SECTIONS = {
    "server": ("Server", _section_server),
    "clients": ("Clients", _section_clients),
    "memory": ("Memory", _section_memory),
    "persistence": ("Persistence", _section_persistence),
    "stats": ("Stats", _section_stats),
    "replication": ("Replication", _section_replication),
    "cpu": ("CPU", _section_cpu),
    "modules": ("Modules", lambda engine: []),
    "commandstats": ("Commandstats", _section_commandstats),
    "errorstats": ("Errorstats", _section_errorstats),
    "latencystats": ("Latencystats", _section_latencystats),
    "cluster": ("Cluster", lambda engine: ["cluster_enabled:0"]),
    "keyspace": ("Keyspace", _section_keyspace),
    "bridge": ("Bridge", lambda engine: engine.views.info_lines() + engine.captures.info_lines()),
}


def info_text(engine: Engine, names: list[str]) -> str:
    """The INFO text for the requested section names (as typed by the client)."""
    wanted: set[str] = set()
    every = False
    if not names:
        wanted.update(DEFAULT_SECTIONS)
    for name in names:
        low = name.lower()
        if low == "default":
            wanted.update(DEFAULT_SECTIONS)
        elif low in ("all", "everything"):
            every = True
        else:
            wanted.add(low)
    parts = []
    for key in ALL_ORDER:
        if key in wanted or every and key not in _NAMED_ONLY:
            title, fn = _SECTIONS[key]
            lines = fn(engine)
            parts.append("# " + title + "\r\n" + "".join(line + "\r\n" for line in lines))
    return "\r\n".join(parts)


@command("info", -1, "loading stale", acl="dangerous", group="server",
         summary="Information and statistics about the server", since="1.0.0",
         tips=("nondeterministic_output", "request_policy:all_shards", "response_policy:special"),
         history=(("7.0.0", "Several sections in one call."),),
         args="[section...]")
def info_command(client: Client, argv: list[bytes]) -> Any:
    """INFO [section [section ...]]"""
    names = [a.decode("utf-8", "replace") for a in argv[1:]]
    return Verbatim(info_text(client.engine, names).encode())
