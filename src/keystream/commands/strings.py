"""String commands (t_string.c): GET SET.

Placeholder module: the strings helper completes every command and option of Redis 7.0.
"""

from __future__ import annotations

from keystream.commands.registry import command
from keystream.resp.errors import WRONGTYPE, CommandError
from keystream.resp.writer import OK


@command("get", 2, "readonly fast", 1, 1, 1, acl="string", group="string",
         summary="Get the value of a key")
def get_command(client, argv):
    """GET key"""
    value = client.db.get(argv[1])
    if value is not None and type(value) is not bytes:
        raise CommandError(WRONGTYPE)
    return value


@command("set", -3, "write denyoom", 1, 1, 1, acl="string", group="string",
         summary="Set the string value of a key")
def set_command(client, argv):
    """SET key value"""
    client.db.set(argv[1], argv[2])
    return OK
