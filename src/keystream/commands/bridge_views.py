"""Table views (bridge/views.py): VIEW.CREATE VIEW.DROP VIEW.LIST VIEW.INFO.

Module-style commands, as Redis modules name theirs (there is no Redis reference for them):

- `VIEW.CREATE <key-or-prefix> FROM <topic> AS HASH|STRINGS|HASHES [WRITETHROUGH]`: a view in
  the client's selected database, built from the topic at once, then kept live; +OK.
- `VIEW.DROP <key-or-prefix>`: stops the view and deletes its keys; +OK.
- `VIEW.LIST`: an array with one map per view (name, topic, type, db, writethrough, declared,
  offsets_applied, lag, records_applied, records_skipped).
- `VIEW.INFO <key-or-prefix>`: that map for one view. `offsets_applied` holds, per partition,
  the offset of the last record the view has passed (-1: none); `lag` is the number of
  committed records not applied yet over all partitions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keystream.bridge.views import KINDS
from keystream.commands.registry import command
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.writer import OK

if TYPE_CHECKING:
    from keystream.client import Client


@command("view.create", -6, "admin noscript", group="server",
         summary="Materialise a topic as a hash, strings or hashes, kept live", since="7.0.0",
         complexity="O(N) where N is the number of records of the topic")
def view_create_command(client: Client, argv: list[bytes]) -> Any:
    """VIEW.CREATE key-or-prefix FROM topic AS HASH|STRINGS|HASHES [WRITETHROUGH]"""
    if (len(argv) not in (6, 7) or argv[2].upper() != b"FROM" or argv[4].upper() != b"AS"
            or argv[5].lower().decode("utf-8", "replace") not in KINDS
            or (len(argv) == 7 and argv[6].upper() != b"WRITETHROUGH")):
        raise CommandError(errors.VIEW_USAGE)
    client.engine.views.create(argv[1], argv[3].decode("utf-8", "replace"), argv[5].lower().decode(),
                               client.db_index, len(argv) == 7)
    return OK


@command("view.drop", 2, "admin noscript", group="server",
         summary="Stop a view and delete its keys", since="7.0.0", complexity="O(N) where N is the view's keys")
def view_drop_command(client: Client, argv: list[bytes]) -> Any:
    """VIEW.DROP key-or-prefix"""
    client.engine.views.drop(argv[1])
    return OK


@command("view.list", 1, "loading stale", group="server",
         summary="Every view with its state", since="7.0.0", complexity="O(N) where N is the number of views")
def view_list_command(client: Client, argv: list[bytes]) -> Any:
    """VIEW.LIST"""
    views = client.engine.views
    return [views.describe(v) for v in views.views.values()]


@command("view.info", 2, "loading stale", group="server",
         summary="A view's topic, type, offsets applied, lag and counters", since="7.0.0")
def view_info_command(client: Client, argv: list[bytes]) -> Any:
    """VIEW.INFO key-or-prefix"""
    views = client.engine.views
    view = views.views.get(argv[1])
    if view is None:
        raise CommandError(errors.view_no_such(argv[1]))
    return views.describe(view)
