"""Connection commands: PING ECHO QUIT SELECT.

Redis 7.0 syntax and replies. HELLO, AUTH, RESET and CLIENT live in `server_client.py`.
"""

from __future__ import annotations

from keystream.commands.registry import command
from keystream.resp.errors import DB_INDEX_OUT_OF_RANGE, CommandError
from keystream.resp.writer import OK, PONG, Push
from keystream.commands.util import parse_int


@command("ping", -1, "fast sentinel", acl="connection", group="connection",
         summary="Ping the server", since="1.0.0")
def ping_command(client, argv):
    """PING [message]"""
    if len(argv) > 2:
        raise CommandError("ERR wrong number of arguments for 'ping' command")
    if client.proto == 2 and client.subscribed:
        # RESP2 subscribed clients get a two-element array (as Redis does).
        return [b"pong", argv[1] if len(argv) == 2 else b""]
    return argv[1] if len(argv) == 2 else PONG


@command("echo", 2, "fast", acl="connection", group="connection", summary="Echo the given string")
def echo_command(client, argv):
    """ECHO message"""
    return argv[1]


@command("quit", -1, "allow_busy fast noscript loading stale no_auth", acl="connection",
         group="connection", summary="Close the connection")
def quit_command(client, argv):
    """QUIT"""
    client.close_after_reply = True
    return OK


@command("select", 2, "loading stale fast", acl="connection", group="connection",
         summary="Change the selected database for the current connection")
def select_command(client, argv):
    """SELECT index"""
    try:
        index = parse_int(argv[1])
    except CommandError:
        raise CommandError("ERR value is not an integer or out of range") from None
    if not 0 <= index < len(client.server.dbs):
        raise CommandError(DB_INDEX_OUT_OF_RANGE)
    client.select(index)
    return OK


__all__ = ["Push"]
