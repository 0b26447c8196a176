"""FUNCTION (functions.c): FLUSH only, for now.

The Redis test suite sends FUNCTION FLUSH before every test block, so it exists before the
rest of Redis Functions. With no function libraries loaded yet, FLUSH checks its syntax
and, when the scripting layer keeps libraries on the server (`server.function_libraries`,
a dict), empties them. The other subcommands are registered by the scripting family.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keystream.commands.registry import command, container
from keystream.resp.errors import CommandError
from keystream.resp.writer import OK

if TYPE_CHECKING:
    from keystream.client import Client

container("function", "scripting", "Redis Functions management", "7.0.0")


@command("function|flush", -2, "write noscript", acl="scripting", group="scripting",
         summary="Delete every function library", since="7.0.0",
         complexity="O(N) where N is the number of functions deleted",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"),
         args="async=[ASYNC | SYNC]")
def function_flush_command(client: Client, argv: list[bytes]) -> Any:
    """FUNCTION FLUSH [ASYNC | SYNC]"""
    if len(argv) == 3:
        if argv[2].lower() not in (b"async", b"sync"):
            raise CommandError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    elif len(argv) > 3:
        raise CommandError("ERR unknown subcommand or wrong number of arguments for 'flush'. "
                           "Try FUNCTION HELP.")
    client.engine.function_libraries.clear()
    client.engine.dirty += 1
    return OK
