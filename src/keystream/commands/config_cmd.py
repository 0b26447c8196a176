"""CONFIG GET SET RESETSTAT REWRITE HELP (config.c), over the one settings table.

Redis 7.0 syntax, replies and error texts: GET takes several glob patterns (names and
aliases; RESP3 replies with a map), SET takes several name/value pairs and applies all of
them or none, REWRITE writes the `--config` TOML file (not a redis.conf). Only settings
marked Redis-visible in `keystream.config.SETTINGS` are seen here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keystream.commands.registry import COMMANDS, command, container
from keystream.commands.util import parse_int
from keystream.config import ConfigError, Setting, parse_memory
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.writer import OK, Status

if TYPE_CHECKING:
    from keystream.client import Client
    from keystream.engine import Engine

container("config", "server", "Reading and changing settings", "2.0.0")


@command("config|get", -3, "admin noscript loading stale", summary="The values of settings "
         "matching one or more patterns", since="2.0.0",
         complexity="O(N) when N is the number of configuration parameters provided",
         history=(("7.0.0", "Several patterns in one call."),),
         args="parameter=(parameter)...")
def config_get_command(client: Client, argv: list[bytes]) -> Any:
    """CONFIG GET parameter [parameter ...]"""
    config = client.engine.config
    out: dict[bytes, bytes] = {}
    for pattern in argv[2:]:
        for name, text in config.get_matching(pattern.decode("utf-8", "replace")):
            out.setdefault(name.encode(), text.encode())
    return out


# Settings Redis cannot change at run time either; every other setting that is fixed here
# (bind, port, dir, ...) accepts a CONFIG SET to the value it already has, as a no-op.
REDIS_IMMUTABLE = frozenset({
    "daemonize", "supervised", "pidfile", "io-threads", "io-threads-do-reads", "cluster-enabled",
    "cluster-config-file", "cluster-port", "unixsocket", "unixsocketperm", "syslog-enabled",
    "syslog-ident", "syslog-facility", "always-show-logo", "set-proc-title", "disable-thp",
    "aclfile", "tcp-backlog", "appenddirname", "appendfilename", "databases", "logfile",
    "enable-debug-command", "enable-module-command", "enable-protected-configs",
    "server_cpulist", "bio_cpulist", "aof_rewrite_cpulist", "bgsave_cpulist",
})


# Settings Redis 7.0 protects: CONFIG SET refuses to change them unless
# enable-protected-configs (setting the value they have is a no-op, as for immutable ones).
PROTECTED = frozenset({"dir", "dbfilename"})


def _unchanged(config: Any, s: Setting, raw: bytes) -> bool:
    if s.name in REDIS_IMMUTABLE:
        return False
    try:
        return s.parse(raw.decode("utf-8", "replace")) == config.values[s.name]
    except ConfigError:
        return False


def _check_value(s: Setting, text: str) -> str | None:
    """Redis's reason for refusing text as a value of s, or None if it is acceptable."""
    kind = s.kind
    if kind == "bool":
        return None if text.lower() in ("yes", "no") else "argument must be 'yes' or 'no'"
    if kind == "enum":
        if text.lower() in s.choices:
            return None
        return "argument(s) must be one of the following: " + ", ".join(s.choices)
    if kind in ("int", "memory"):
        try:
            value = parse_memory(text) if kind == "memory" else _strict_int(text)
            if kind == "memory" and not text[:1].isdigit():
                raise ValueError(text)  # Redis's memtoull: digits first (no sign, no space)
        except ValueError:
            return ("argument must be a memory value" if kind == "memory"
                    else "argument couldn't be parsed into an integer")
        lo, hi = s.minimum, s.maximum
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return f"argument must be between {lo} and {hi} inclusive"
        return None
    try:
        s.parse(text)
    except ConfigError as e:
        return str(e)
    return None


def _strict_int(text: str) -> int:
    """text as Redis's string2ll reads a number setting (no sign, spaces, leading zeros, -0)."""
    try:
        return parse_int(text.encode())
    except CommandError:
        raise ValueError(text) from None


@command("config|set", -4, "admin noscript loading stale", summary="Change settings at run time",
         since="2.0.0", complexity="O(N) when N is the number of configuration parameters provided",
         tips=("request_policy:all_nodes", "response_policy:all_succeeded"),
         history=(("7.0.0", "Several parameters in one call."),),
         args="parameter_value=(parameter value)...")
def config_set_command(client: Client, argv: list[bytes]) -> Any:
    """CONFIG SET parameter value [parameter value ...]"""
    if len(argv) % 2 != 0:
        raise CommandError(errors.SYNTAX)
    config = client.engine.config
    changes: list[tuple[Setting, str, str]] = []
    seen: set[str] = set()
    for i in range(2, len(argv), 2):
        name = argv[i].decode("utf-8", "replace")
        try:
            s = config.setting(name)
        except ConfigError:
            s = None
        if s is None or not s.redis_visible:
            raise CommandError(f"ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
        if (s.name in PROTECTED and not config["enable-protected-configs"]
                and not _unchanged(config, s, argv[i + 1])):
            raise CommandError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - "
                               "can't set protected config")
        if not s.mutable and not _unchanged(config, s, argv[i + 1]):
            raise CommandError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - "
                               "can't set immutable config")
        if s.name in seen:
            raise CommandError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - "
                               "duplicate parameter")
        seen.add(s.name)
        changes.append((s, name, argv[i + 1].decode("utf-8", "replace")))
    for s, name, text in changes:
        reason = _check_value(s, text)
        if reason is not None:
            raise CommandError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
    old = {s.name: config.values[s.name] for s, _, _ in changes}
    try:
        for s, _, text in changes:
            config.set_text(s.name, text)
    except ConfigError as e:  # a value our parser refuses after all: put everything back
        config.values.update(old)
        raise CommandError(f"ERR CONFIG SET failed - {e}") from None
    return OK


def reset_stats(engine: Engine) -> None:
    """What CONFIG RESETSTAT clears: counters, command and error statistics."""
    engine.reset_stats()
    engine.snapshots.reset_stats()
    for cmd in COMMANDS.values():
        for c in (cmd, *cmd.subcommands.values()):
            c.calls = 0
            c.usec = 0.0
            c.rejected_calls = 0
            c.failed_calls = 0


@command("config|resetstat", 2, "admin noscript loading stale", summary="Reset the statistics "
         "INFO reports", since="2.0.0")
def config_resetstat_command(client: Client, argv: list[bytes]) -> Any:
    """CONFIG RESETSTAT"""
    reset_stats(client.engine)
    return OK


@command("config|rewrite", 2, "admin noscript loading stale", summary="Write the current "
         "settings to the configuration file", since="2.8.0")
def config_rewrite_command(client: Client, argv: list[bytes]) -> Any:
    """CONFIG REWRITE"""
    try:
        client.engine.config.rewrite()
    except ConfigError as e:
        raise CommandError(f"ERR {e}") from None
    except OSError as e:
        raise CommandError(f"ERR Rewriting config file: {e.strerror}") from None
    return OK


_HELP = [
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern> [<pattern> ...]",
    "    Settings whose names match the glob-style patterns, with their values.",
    "SET <directive> <value> [<directive> <value> ...]",
    "    Change settings; all or nothing.",
    "RESETSTAT",
    "    Reset the statistics INFO reports.",
    "REWRITE",
    "    Write the current settings to the configuration file.",
    "HELP",
    "    Print this help.",
]


@command("config|help", 2, "loading stale", summary="Show the CONFIG subcommands", since="5.0.0")
def config_help_command(client: Client, argv: list[bytes]) -> Any:
    """CONFIG HELP"""
    return [Status(line.encode()) for line in _HELP]
