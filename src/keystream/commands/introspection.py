"""Introspection: COMMAND (and its subcommands), SLOWLOG, LATENCY, MONITOR.

COMMAND replies are built entirely from the registry (`registry.Command`), in Redis 7.0's
shapes: COMMAND INFO gives name, arity, flags, first/last key and step, ACL categories,
tips, key specs and subcommands; COMMAND DOCS gives summary, since, group, complexity,
doc flags, history, arguments and subcommands. Summaries are our own words.

Commands registered without explicit key specs get one derived from their first/last/step
key positions (flags RW or RO by the command's write/readonly flag).

LATENCY: the latency monitor records the events `command` and `fast-command` (a command
slower than `latency-monitor-threshold` ms), keeping the last 160 samples per event, as
Redis does. LATENCY GRAPH and HISTOGRAM are not implemented (not registered).
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

from keystream.commands.registry import COMMANDS, Command, KeySpec, command, container
from keystream.config import Config
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.writer import OK, SetReply, Status, Verbatim

if TYPE_CHECKING:
    from keystream.client import Client

container("command", "server", "What the server knows about its commands", "2.8.13",
          acl="connection")
container("slowlog", "server", "The slow query log", "2.2.12")
container("latency", "server", "Latency monitoring", "2.8.13")

# Redis's order of flags in COMMAND INFO (flags it hides are left out).
FLAG_ORDER = ("write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking",
              "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth",
              "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys", "allow_busy")
ACL_ORDER = ("keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
             "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
             "dangerous", "connection", "transaction", "scripting")


# -- COMMAND -------------------------------------------------------------------------
def _flags_reply(cmd: Command) -> SetReply:
    flags = set(cmd.flags)
    if cmd.get_keys is not None:
        flags.add("movablekeys")
    return SetReply(Status(f.encode()) for f in FLAG_ORDER if f in flags)


def _acl_reply(cmd: Command) -> SetReply:
    cats = set(cmd.acl_categories)
    if cmd.handler is None and not cats:
        cats = {"slow"}
    return SetReply(Status(b"@" + c.encode()) for c in ACL_ORDER if c in cats)


def key_specs_of(cmd: Command) -> tuple[KeySpec, ...]:
    if cmd.key_specs:
        return cmd.key_specs
    if cmd.first_key <= 0:
        return ()
    last = cmd.last_key - cmd.first_key if cmd.last_key >= 0 else cmd.last_key
    flag = "RW" if "write" in cmd.flags else "RO"
    return (KeySpec(("index", cmd.first_key), ("range", last, cmd.step or 1, 0), (flag,)),)


def _key_spec_reply(spec: KeySpec) -> dict:
    bs = spec.begin_search
    if bs[0] == "index":
        begin: dict = {b"type": b"index", b"spec": {b"index": bs[1]}}
    elif bs[0] == "keyword":
        begin = {b"type": b"keyword", b"spec": {b"keyword": bs[1].encode() if isinstance(bs[1], str)
                                                 else bs[1], b"startfrom": bs[2]}}
    else:
        begin = {b"type": b"unknown", b"spec": {}}
    fk = spec.find_keys
    if fk[0] == "range":
        find: dict = {b"type": b"range", b"spec": {b"lastkey": fk[1], b"keystep": fk[2], b"limit": fk[3]}}
    elif fk[0] == "keynum":
        find = {b"type": b"keynum", b"spec": {b"keynumidx": fk[1], b"firstkey": fk[2], b"keystep": fk[3]}}
    else:
        find = {b"type": b"unknown", b"spec": {}}
    out: dict = {}
    if spec.notes:
        out[b"notes"] = spec.notes.encode()
    if spec.flags:
        out[b"flags"] = SetReply(Status(f.encode()) for f in spec.flags)
    else:
        out[b"flags"] = SetReply()
    out[b"begin_search"] = begin
    out[b"find_keys"] = find
    return out


def command_info(cmd: Command) -> list:
    first = last = step = 0
    specs = key_specs_of(cmd)
    if cmd.first_key > 0:
        first, last, step = cmd.first_key, cmd.last_key, cmd.step
    return [
        cmd.name.encode(), cmd.arity, _flags_reply(cmd), first, last, step, _acl_reply(cmd),
        SetReply(t.encode() for t in cmd.tips),         # tips are bulk strings in Redis 7.0
        SetReply(_key_spec_reply(s) for s in specs),
        # no subcommands: an empty set; some: an array (Redis 7.0's addReplyCommandSubCommands)
        [command_info(sub) for sub in cmd.subcommands.values()] if cmd.subcommands else SetReply(),
    ]


def command_docs(cmd: Command) -> dict:
    doc: dict = {}
    if cmd.summary:
        doc[b"summary"] = cmd.summary.encode()
    if cmd.since:
        doc[b"since"] = cmd.since.encode()
    doc[b"group"] = cmd.group.replace("_", "-").encode()  # sorted_set -> sorted-set, as Redis
    complexity = cmd.complexity if cmd.handler is not None else "Depends on subcommand."
    if complexity:
        doc[b"complexity"] = complexity.encode()
    doc_flags = cmd.doc_flags + (("deprecated",) if cmd.deprecated_since and "deprecated" not in
                                 cmd.doc_flags else ())
    if doc_flags:
        doc[b"doc_flags"] = SetReply(Status(f.encode()) for f in doc_flags)
    if cmd.deprecated_since:
        doc[b"deprecated_since"] = cmd.deprecated_since.encode()
    if cmd.replaced_by:
        doc[b"replaced_by"] = cmd.replaced_by.encode()
    if cmd.history:
        doc[b"history"] = SetReply([v.encode(), text.encode()] for v, text in cmd.history)
    if cmd.arguments:
        doc[b"arguments"] = [_argument_reply(a) for a in cmd.arguments]
    if cmd.subcommands:
        doc[b"subcommands"] = {s.name.encode(): command_docs(s) for s in cmd.subcommands.values()}
    return doc


def _argument_reply(arg: dict) -> dict:
    """One node of an argument tree (`syntax.parse_args`) as Redis replies it."""
    out: dict = {}
    for k, v in arg.items():
        if k == "flags":
            v = SetReply(Status(f.encode()) for f in v)
        elif k == "arguments":
            v = [_argument_reply(a) for a in v]
        elif isinstance(v, str):
            v = v.encode()
        out[k.encode()] = v
    return out


def _find(name: bytes) -> Command | None:
    """A command or `container|sub` by name, or None."""
    parts = name.lower().split(b"|")
    cmd = COMMANDS.get(parts[0])
    if cmd is None or len(parts) > 2:
        return None
    if len(parts) == 2:
        return cmd.subcommands.get(parts[1])
    return cmd


@command("command", -1, "loading stale", acl="connection", group="server",
         summary="Details about every command", since="2.8.13",
         complexity="O(N) where N is the total number of Redis commands",
         tips=("nondeterministic_output_order",))
def command_command(client: Client, argv: list[bytes]) -> Any:
    """COMMAND"""
    return [command_info(c) for c in COMMANDS.values()]


@command("command|count", 2, "loading stale", acl="connection",
         summary="How many commands the server has", since="2.8.13")
def command_count_command(client: Client, argv: list[bytes]) -> Any:
    """COMMAND COUNT"""
    return len(COMMANDS)


@command("command|info", -2, "loading stale", acl="connection",
         summary="Details about some or all commands", since="2.8.13",
         complexity="O(N) where N is the number of commands to look up",
         tips=("nondeterministic_output_order",),
         history=(("7.0.0", "No argument means every command."),),
         args="[command-name...]")
def command_info_command(client: Client, argv: list[bytes]) -> Any:
    """COMMAND INFO [command-name [command-name ...]]"""
    if len(argv) == 2:
        return [command_info(c) for c in COMMANDS.values()]
    out: list = []
    for name in argv[2:]:
        cmd = _find(name)
        out.append(None if cmd is None else command_info(cmd))
    return out


@command("command|docs", -2, "loading stale", acl="connection",
         summary="Documentation of some or all commands", since="7.0.0",
         complexity="O(N) where N is the number of commands to look up",
         tips=("nondeterministic_output_order",),
         args="[command-name...]")
def command_docs_command(client: Client, argv: list[bytes]) -> Any:
    """COMMAND DOCS [command-name [command-name ...]]"""
    if len(argv) == 2:
        return {c.name.encode(): command_docs(c) for c in COMMANDS.values()}
    out: dict = {}
    for name in argv[2:]:
        cmd = _find(name)
        if cmd is not None:
            out[cmd.name.encode()] = command_docs(cmd)
    return out


def _glob(pattern: bytes, name: bytes) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(name.lower().decode("latin-1"), pattern.lower().decode("latin-1"))


@command("command|list", -2, "loading stale", acl="connection",
         summary="Names of all commands, or of those matching a filter", since="7.0.0",
         complexity="O(N) where N is the total number of Redis commands",
         tips=("nondeterministic_output_order",),
         args="[FILTERBY (MODULE module-name | ACLCAT category | PATTERN pattern:pattern)]")
def command_list_command(client: Client, argv: list[bytes]) -> Any:
    """COMMAND LIST [FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]"""
    every: list[Command] = []
    for c in COMMANDS.values():
        every.append(c)
        every.extend(c.subcommands.values())
    if len(argv) == 2:
        return [c.name.encode() for c in every]
    if len(argv) != 5 or argv[2].lower() != b"filterby":
        raise CommandError(errors.SYNTAX)
    kind, value = argv[3].lower(), argv[4]
    if kind == b"module":
        return []
    if kind == b"aclcat":
        cat = value.lower().decode("utf-8", "replace")
        return [c.name.encode() for c in every if cat in c.acl_categories]
    if kind == b"pattern":
        return [c.name.encode() for c in every if _glob(value, c.name.encode())]
    raise CommandError(errors.SYNTAX)


def _keys_with_flags(argv: list[bytes]) -> tuple[list[int], list[tuple[str, ...]]]:
    cmd = _find(argv[0])
    if cmd is not None and cmd.subcommands and len(argv) >= 2:
        cmd = cmd.subcommands.get(argv[1].lower())
    if cmd is None or cmd.handler is None:
        raise CommandError("ERR Invalid command specified")
    if cmd.get_keys is None and (cmd.first_key <= 0 and not cmd.key_specs or cmd.key_specs and all(
            "not_key" in spec.flags for spec in cmd.key_specs)):
        # Redis's doesCommandHaveKeys: key specs flagged not_key (shard channels) are no keys
        raise CommandError("ERR The command has no key arguments")
    n = len(argv)
    if (cmd.arity > 0 and n != cmd.arity) or n < -cmd.arity:
        raise CommandError("ERR Invalid number of arguments specified for command")
    try:
        idx = cmd.key_indexes(argv)
    except CommandError:
        raise CommandError("ERR Invalid arguments specified for command") from None
    if not idx:
        if "no_mandatory_keys" in cmd.flags:  # EVAL and FCALL with no keys
            return [], []
        raise CommandError("ERR Invalid arguments specified for command")
    if cmd.key_flags is not None:
        return idx, [cmd.key_flags(argv)] * len(idx)
    specs = key_specs_of(cmd)
    found = [_spec_positions(s, argv) for s in specs]
    return idx, [_flags_of_key(specs, found, i) for i in idx]


def _spec_positions(spec: KeySpec, argv: list[bytes]) -> range:
    """The argv indexes a key spec names in this invocation (empty for an unknown spec)."""
    argc = len(argv)
    bs, fk = spec.begin_search, spec.find_keys
    if bs[0] == "index":
        start = bs[1]
    elif bs[0] == "keyword":
        word = bs[1].lower().encode()
        order = range(bs[2], argc) if bs[2] >= 0 else range(argc + bs[2], 0, -1)
        start = next((i + 1 for i in order if argv[i].lower() == word), argc)
    else:
        return range(0)
    if start >= argc:
        return range(0)
    if fk[0] == "range":
        last = start + fk[1] if fk[1] >= 0 else argc + fk[1]
        return range(start, min(last, argc - 1) + 1, fk[2])
    if fk[0] == "keynum" and start + fk[1] < argc:
        try:
            numkeys = int(argv[start + fk[1]])
        except ValueError:
            return range(0)
        first = start + fk[2]
        return range(first, min(first + numkeys * fk[3], argc), fk[3])
    return range(0)


def _flags_of_key(specs: tuple[KeySpec, ...], found: list[range], index: int) -> tuple[str, ...]:
    """Flags of the first key spec naming argv[index]; a key no spec places (SORT's STORE
    destination) takes the last spec's flags."""
    for spec, positions in zip(specs, found):
        if index in positions:
            return spec.flags
    return specs[-1].flags if specs else ()


@command("command|getkeys", -4, "loading stale", acl="connection",
         summary="The keys of a full command line", since="2.8.13",
         complexity="O(N) where N is the number of arguments to the command")
def command_getkeys_command(client: Client, argv: list[bytes]) -> Any:
    """COMMAND GETKEYS command [arg ...]"""
    idx, _ = _keys_with_flags(argv[2:])
    return [argv[2 + i] for i in idx]


@command("command|getkeysandflags", -4, "loading stale", acl="connection",
         summary="The keys of a full command line, with how each is used", since="7.0.0",
         complexity="O(N) where N is the number of arguments to the command")
def command_getkeysandflags_command(client: Client, argv: list[bytes]) -> Any:
    """COMMAND GETKEYSANDFLAGS command [arg ...]"""
    idx, flags = _keys_with_flags(argv[2:])
    return [[argv[2 + i], SetReply(Status(f.encode()) for f in fl)] for i, fl in zip(idx, flags)]


_COMMAND_HELP = [
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Details about every command.",
    "COUNT",
    "    How many commands there are.",
    "INFO [<command-name> ...]",
    "    Details about the named commands (all when none is named).",
    "DOCS [<command-name> ...]",
    "    Documentation of the named commands (all when none is named).",
    "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
    "    Names of all commands, or of those matching the filter.",
    "GETKEYS <full-command>",
    "    The keys of a full command line.",
    "GETKEYSANDFLAGS <full-command>",
    "    The keys of a full command line, with their key-spec flags.",
    "HELP",
    "    Print this help.",
]


@command("command|help", 2, "loading stale", acl="connection",
         summary="Show the COMMAND subcommands", since="5.0.0")
def command_help_command(client: Client, argv: list[bytes]) -> Any:
    """COMMAND HELP"""
    return [Status(line.encode()) for line in _COMMAND_HELP]


# -- SLOWLOG ---------------------------------------------------------------------------
@command("slowlog|get", -2, "admin loading stale", summary="The latest slow log entries",
         since="2.2.12", complexity="O(N) where N is the number of entries returned",
         tips=("request_policy:all_nodes", "nondeterministic_output"),
         history=(("4.0.0", "Entries carry the client's address and name."),),
         args="[count:int]")
def slowlog_get_command(client: Client, argv: list[bytes]) -> Any:
    """SLOWLOG GET [count]"""
    count = 10
    if len(argv) == 3:
        try:
            count = int(argv[2]) if argv[2].strip() == argv[2] else -2
        except ValueError:
            count = -2
        if count < -1:
            raise CommandError("ERR count should be greater than or equal to -1")
        if count == -1:
            count = len(client.engine.slowlog)
    elif len(argv) > 3:
        raise CommandError(errors.wrong_arity("slowlog|get"))
    entries = list(client.engine.slowlog)[:count]
    return [[e[0], e[1], e[2], list(e[3]), e[4], e[5]] for e in entries]


@command("slowlog|len", 2, "admin loading stale", summary="How many entries the slow log holds",
         since="2.2.12", tips=("request_policy:all_nodes", "response_policy:agg_sum",
                               "nondeterministic_output"))
def slowlog_len_command(client: Client, argv: list[bytes]) -> Any:
    """SLOWLOG LEN"""
    return len(client.engine.slowlog)


@command("slowlog|reset", 2, "admin loading stale", summary="Empty the slow log", since="2.2.12",
         complexity="O(N) where N is the number of entries in the slowlog",
         tips=("request_policy:all_nodes", "response_policy:all_succeeded"))
def slowlog_reset_command(client: Client, argv: list[bytes]) -> Any:
    """SLOWLOG RESET"""
    client.engine.slowlog.clear()
    return OK


@command("slowlog|help", 2, "loading stale", summary="Show the SLOWLOG subcommands", since="6.2.0")
def slowlog_help_command(client: Client, argv: list[bytes]) -> Any:
    """SLOWLOG HELP"""
    lines = [
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    The latest <count> entries (default 10, -1 for all), newest first. Each is:",
        "    id, unix time, duration in microseconds, arguments, client address, client name.",
        "LEN",
        "    How many entries the slow log holds.",
        "RESET",
        "    Empty the slow log.",
        "HELP",
        "    Print this help.",
    ]
    return [Status(line.encode()) for line in lines]


# -- LATENCY ---------------------------------------------------------------------------
LATENCY_SAMPLES = 160


class LatencyMonitor:
    """Per-event latency samples: event -> deque of (unix seconds, ms), and the max seen."""

    def __init__(self) -> None:
        self.events: dict[str, deque[tuple[int, int]]] = {}
        self.max: dict[str, int] = {}

    def record_command(self, config: Config, cmd: Command, usec: float) -> None:
        """A command took usec (>= 1 ms): a sample if over latency-monitor-threshold."""
        threshold = config["latency-monitor-threshold"]
        ms = int(usec // 1000)
        if threshold and ms >= threshold:
            self.add("fast-command" if "fast" in cmd.flags else "command", ms)

    def add(self, event: str, ms: int) -> None:
        now = int(time.time())
        samples = self.events.get(event)
        if samples is None:
            samples = self.events[event] = deque(maxlen=LATENCY_SAMPLES)
        if samples and samples[-1][0] == now:
            # One sample per second per event: keep the worst.
            if ms > samples[-1][1]:
                samples[-1] = (now, ms)
        else:
            samples.append((now, ms))
        if ms > self.max.get(event, 0):
            self.max[event] = ms


@command("latency|latest", 2, "admin noscript loading stale", summary="The latest latency "
         "sample of every event", since="2.8.13",
         tips=("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"))
def latency_latest_command(client: Client, argv: list[bytes]) -> Any:
    """LATENCY LATEST"""
    mon = client.engine.latency_monitor
    out = []
    for event, samples in mon.events.items():
        if samples:
            ts, ms = samples[-1]
            out.append([event.encode(), ts, ms, mon.max[event]])
    return out


@command("latency|history", 3, "admin noscript loading stale", summary="The latency samples "
         "of one event", since="2.8.13",
         tips=("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"),
         args="event")
def latency_history_command(client: Client, argv: list[bytes]) -> Any:
    """LATENCY HISTORY event"""
    samples = client.engine.latency_monitor.events.get(argv[2].decode("utf-8", "replace"), ())
    return [[ts, ms] for ts, ms in samples]


@command("latency|reset", -2, "admin noscript loading stale", summary="Forget the latency "
         "samples of some or all events", since="2.8.13",
         tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
         args="[event...]")
def latency_reset_command(client: Client, argv: list[bytes]) -> Any:
    """LATENCY RESET [event [event ...]]"""
    mon = client.engine.latency_monitor
    if len(argv) == 2:
        n = len(mon.events)
        mon.events.clear()
        mon.max.clear()
        return n
    n = 0
    for name in argv[2:]:
        event = name.decode("utf-8", "replace")
        if mon.events.pop(event, None) is not None:
            mon.max.pop(event, None)
            n += 1
    return n


@command("latency|doctor", 2, "admin noscript loading stale", summary="A human-readable "
         "latency report", since="2.8.13",
         tips=("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"))
def latency_doctor_command(client: Client, argv: list[bytes]) -> Any:
    """LATENCY DOCTOR"""
    mon = client.engine.latency_monitor
    threshold = client.engine.config["latency-monitor-threshold"]
    if not mon.events:
        if threshold == 0:
            text = ("The latency monitor is disabled: set latency-monitor-threshold to a number "
                    "of milliseconds (CONFIG SET latency-monitor-threshold <ms>) to enable it.\n")
        else:
            text = "No latency events were recorded: no command took longer than the " \
                   f"threshold of {threshold} ms.\n"
        return Verbatim(text.encode())
    lines = [f"Latency events recorded (threshold {threshold} ms):", ""]
    for event, samples in mon.events.items():
        values = [ms for _, ms in samples]
        avg = sum(values) / len(values) if values else 0
        lines.append(f"{event}: {len(values)} samples, latest {values[-1] if values else 0} ms, "
                     f"average {avg:.0f} ms, worst {mon.max.get(event, 0)} ms.")
    lines.append("")
    lines.append("Slow commands: see SLOWLOG GET; consider splitting big requests.")
    return Verbatim(("\n".join(lines) + "\n").encode())


@command("latency|help", 2, "loading stale", summary="Show the LATENCY subcommands", since="2.8.13")
def latency_help_command(client: Client, argv: list[bytes]) -> Any:
    """LATENCY HELP"""
    lines = [
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    A human-readable latency report.",
        "LATEST",
        "    The latest sample of each event: event, unix time, latest ms, worst ms.",
        "HISTORY <event>",
        "    The samples of <event>: unix time, ms.",
        "RESET [<event> ...]",
        "    Forget the samples of the events (all when none is named).",
        "HELP",
        "    Print this help.",
    ]
    return [Status(line.encode()) for line in lines]


# -- MONITOR ---------------------------------------------------------------------------
@command("monitor", 1, "admin noscript loading stale", group="server",
         summary="Stream every command the server runs", since="1.0.0", complexity="")
def monitor_command(client: Client, argv: list[bytes]) -> Any:
    """MONITOR"""
    if client.in_exec:
        raise CommandError("ERR MONITOR isn't allowed for DENY BLOCKING client")
    engine = client.engine
    if client not in engine.monitors:
        engine.monitors.append(client)
    return OK

