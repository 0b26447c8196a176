"""Connection commands: PING ECHO QUIT RESET HELLO SELECT AUTH.

Redis 7.0 syntax, replies and error texts. Authentication knows one user, `default`,
whose password is `requirepass` (no ACL file, no other users yet): `AUTH default <pass>`
and `AUTH <pass>` are the accepted forms. CLIENT lives in `client.py`.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from keystream import REDIS_VERSION
from keystream.commands.registry import command
from keystream.commands.transactions import unwatch_all
from keystream.commands.util import parse_int
from keystream.resp import errors
from keystream.resp.errors import DB_INDEX_OUT_OF_RANGE, CommandError
from keystream.resp.writer import OK, PONG, Status

if TYPE_CHECKING:
    from keystream.client import Client

RESET = Status(b"RESET")


@command("ping", -1, "fast while_subscribed", acl="connection", group="connection",
         summary="Check that the server answers", since="1.0.0", tips=("request_policy:all_shards",
                                                                    "response_policy:all_succeeded"),
         args="[message]")
def ping_command(client: Client, argv: list[bytes]) -> Any:
    """PING [message]"""
    if len(argv) > 2:
        raise CommandError(errors.wrong_arity("ping"))
    if client.proto == 2 and client.subscribed:
        # RESP2 subscribed clients get a two-element array (as Redis does).
        return [b"pong", argv[1] if len(argv) == 2 else b""]
    return argv[1] if len(argv) == 2 else PONG


@command("echo", 2, "loading stale fast", acl="connection", group="connection",
         summary="Reply with the given string",
         args="message")
def echo_command(client: Client, argv: list[bytes]) -> Any:
    """ECHO message"""
    return argv[1]


@command("quit", -1, "allow_busy noscript loading stale fast no_auth runs_in_multi while_subscribed", acl="connection",
         group="connection", summary="Close the connection after replying")
def quit_command(client: Client, argv: list[bytes]) -> Any:
    """QUIT"""
    client.close_after_reply = True
    return OK


@command("select", 2, "loading stale fast", acl="connection", group="connection",
         summary="Change the database of the connection",
         args="index:int")
def select_command(client: Client, argv: list[bytes]) -> Any:
    """SELECT index"""
    try:
        index = parse_int(argv[1])
    except CommandError:
        raise CommandError(errors.NOT_INTEGER) from None
    if not 0 <= index < len(client.engine.dbs):
        raise CommandError(DB_INDEX_OUT_OF_RANGE)
    client.select(index)
    return OK


def check_password(client: Any, username: bytes, password: bytes) -> bool:
    """True if (username, password) names the default user with its password."""
    if username != b"default":
        return False
    required = client.engine.config["requirepass"]
    if not required:
        return True
    return hmac.compare_digest(password, required.encode())


def _auth_failed(client: Any) -> CommandError:
    client.engine.stats.auth_failures += 1
    return CommandError(errors.WRONGPASS)


@command("auth", -2, "noscript loading stale fast no_auth allow_busy", acl="connection",
         group="connection", summary="Authenticate the connection", since="1.0.0",
         complexity="O(N) where N is the number of passwords of the user",
         args="[username@6.0.0] password",
         history=(("6.0.0", "The optional username (ACL users)."),))
def auth_command(client: Client, argv: list[bytes]) -> Any:
    """AUTH [username] password"""
    if len(argv) > 3:
        raise CommandError(errors.SYNTAX)
    if len(argv) == 2:
        if not client.engine.config["requirepass"]:
            raise CommandError(
                "ERR AUTH <password> called without any password configured for the default "
                "user. Are you sure your configuration is correct?")
        username, password = b"default", argv[1]
    else:
        username, password = argv[1], argv[2]
    if not check_password(client, username, password):
        raise _auth_failed(client)
    client.authenticated = True
    client.user = username
    if client.conn is not None:
        client.conn.authenticated()
    return OK


def validate_client_name(name: bytes) -> None:
    """Raise Redis's error for a client name with spaces or special characters."""
    for b in name:
        if b < 33 or b > 126:
            raise CommandError(
                "ERR Client names cannot contain spaces, newlines or special characters.")


def hello_reply(client: Any) -> dict:
    return {
        b"server": b"redis",
        b"version": REDIS_VERSION.encode(),
        b"proto": client.proto,
        b"id": client.id,
        b"mode": b"standalone",
        b"role": b"master",
        b"modules": [],
    }


@command("hello", -1, "noscript loading stale fast no_auth allow_busy", acl="connection",
         group="connection", summary="Choose the protocol version; optionally authenticate "
         "and name the connection", since="6.0.0",
         args="arguments=[protover:int [username_password=AUTH (username password)] [SETNAME "
              "clientname]]",
         history=(
             ("6.2.0", "protover is optional; with no arguments, the reply describes the connection."),
         ))
def hello_command(client: Client, argv: list[bytes]) -> Any:
    """HELLO [protover [AUTH username password] [SETNAME clientname]]"""
    ver = 0
    if len(argv) >= 2:
        try:
            ver = parse_int(argv[1])
        except CommandError:
            raise CommandError("ERR Protocol version is not an integer or out of range") from None
        if ver < 2 or ver > 3:
            raise CommandError(errors.NOPROTO)
    auth: tuple[bytes, bytes] | None = None
    name: bytes | None = None
    j = 2
    while j < len(argv):
        more = len(argv) - 1 - j
        opt = argv[j].lower()
        if opt == b"auth" and more >= 2:
            auth = (argv[j + 1], argv[j + 2])
            j += 3
        elif opt == b"setname" and more >= 1:
            name = argv[j + 1]
            j += 2
        else:
            raise CommandError(
                f"ERR Syntax error in HELLO option '{argv[j].decode('utf-8', 'replace')}'")
    if auth is not None:
        if not check_password(client, *auth):
            raise _auth_failed(client)
        client.authenticated = True
        client.user = auth[0]
        if client.conn is not None:
            client.conn.authenticated()
    if name is not None:
        validate_client_name(name)
    if not client.authenticated:
        raise CommandError(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
            "select the RESP protocol version at the same time")
    if name is not None:
        client.name = name
    if ver:
        client.proto = ver
    return hello_reply(client)


@command("reset", 1, "noscript loading stale fast no_auth allow_busy runs_in_multi while_subscribed", acl="connection",
         group="connection", summary="Reset the connection to its initial state", since="6.2.0")
def reset_command(client: Client, argv: list[bytes]) -> Any:
    """RESET"""
    engine = client.engine
    client.multi = None
    client.multi_error = False
    unwatch_all(client)
    if client in engine.monitors:
        engine.monitors.remove(client)
    for hook in engine.client_reset_hooks:
        hook(client)
    client.channels.clear()
    client.patterns.clear()
    client.select(0)
    client.proto = 2
    client.name = b""
    client.reply_mode = "on"
    client.skip_next = False
    client.no_evict = False
    client.no_touch = False
    client.user = b"default"
    client.authenticated = not engine.config["requirepass"]
    client.flags.discard("monitor")
    return RESET
