"""Change capture (bridge/capture.py): CAPTURE.CREATE CAPTURE.DROP CAPTURE.LIST CAPTURE.INFO,
and CAPTURE.MARK, which only the AOF holds.

Module-style commands (no Redis reference):

- `CAPTURE.CREATE <topic> [MATCH <pattern>] [DB <n>] [FORMAT VALUE|EFFECT]`: capture the
  effects on keys matching the glob pattern (default `*`) of database n (default: all) into
  the topic (created with one partition if it does not exist); +OK.
- `CAPTURE.DROP <topic>`: stop capturing (the topic and its records stay); +OK.
- `CAPTURE.LIST`: one map per capture (topic, match, db (-1: all), format, declared,
  records_written, last_offset, next_seq); `CAPTURE.INFO <topic>`: that map for one capture.
- `CAPTURE.MARK <topic> <first seq> <count>`: written into the units the AOF logs, read back
  when the AOF is replayed (see bridge/capture.py); refused from clients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keystream.bridge.capture import parse_options
from keystream.commands.registry import command
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.writer import OK

if TYPE_CHECKING:
    from keystream.client import Client


@command("capture.create", -2, "admin noscript", group="server",
         summary="Capture the changes of matching keys into a topic", since="7.0.0")
def capture_create_command(client: Client, argv: list[bytes]) -> Any:
    """CAPTURE.CREATE topic [MATCH pattern] [DB n] [FORMAT VALUE|EFFECT]"""
    pattern, db, fmt = parse_options(argv[2:])
    if db is not None and db >= len(client.engine.dbs):
        raise CommandError(errors.DB_INDEX_OUT_OF_RANGE)
    client.engine.captures.create(argv[1].decode("utf-8", "replace"), pattern, db, fmt)
    return OK


@command("capture.drop", 2, "admin noscript", group="server",
         summary="Stop a change capture", since="7.0.0")
def capture_drop_command(client: Client, argv: list[bytes]) -> Any:
    """CAPTURE.DROP topic"""
    client.engine.captures.drop(argv[1].decode("utf-8", "replace"))
    return OK


@command("capture.list", 1, "loading stale", group="server",
         summary="Every change capture with its counters", since="7.0.0")
def capture_list_command(client: Client, argv: list[bytes]) -> Any:
    """CAPTURE.LIST"""
    captures = client.engine.captures
    return [captures.describe(c) for c in captures.captures.values()]


@command("capture.info", 2, "loading stale", group="server",
         summary="A change capture's records written and last offset", since="7.0.0")
def capture_info_command(client: Client, argv: list[bytes]) -> Any:
    """CAPTURE.INFO topic"""
    captures = client.engine.captures
    cap = captures.captures.get(argv[1].decode("utf-8", "replace"))
    if cap is None:
        raise CommandError(errors.capture_no_such(argv[1].decode("utf-8", "replace")))
    return captures.describe(cap)


@command("capture.mark", 4, "admin noscript loading", group="server",
         summary="A change capture's sequence numbers in the AOF (internal)", since="7.0.0")
def capture_mark_command(client: Client, argv: list[bytes]) -> Any:
    """CAPTURE.MARK topic first-seq count"""
    engine = client.engine
    if not engine.snapshots.loading:
        raise CommandError(errors.CAPTURE_MARK_INTERNAL)
    try:
        first, count = int(argv[2]), int(argv[3])
    except ValueError:
        raise CommandError(errors.CAPTURE_MARK_INTERNAL) from None
    engine.captures.replay_mark(argv[1].decode("utf-8", "replace"), first, count)
    return OK
