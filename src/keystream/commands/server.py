"""Server commands: FLUSHALL FLUSHDB DBSIZE.

Placeholder module: the server-commands helper completes it.
"""

from __future__ import annotations

from keystream.commands.registry import command
from keystream.resp.writer import OK


@command("flushall", -1, "write", acl="keyspace dangerous", group="server",
         summary="Remove all keys from all databases")
def flushall_command(client, argv):
    """FLUSHALL [ASYNC|SYNC]"""
    for db in client.server.dbs:
        db.flush()
    return OK


@command("dbsize", 1, "readonly fast", acl="keyspace", group="server",
         summary="Return the number of keys in the selected database")
def dbsize_command(client, argv):
    """DBSIZE"""
    return len(client.db)
