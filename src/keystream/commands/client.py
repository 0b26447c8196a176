"""CLIENT subcommands (networking.c): ID SETNAME GETNAME LIST INFO KILL PAUSE UNPAUSE REPLY
NO-EVICT UNBLOCK HELP.

Redis 7.0 syntax, replies and error texts. CLIENT LIST/INFO print Redis's fields in Redis's
order; the memory figures are ours (query buffer sizes follow Redis's allocation pattern:
a fresh buffer, growth to the largest read, shrinking when idle or when the peak drops;
output buffers are the transport's unsent bytes). Not registered yet: TRACKING, CACHING,
GETREDIR, TRACKINGINFO (client-side caching is another family's).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from keystream.commands import blocking
from keystream.commands.connection import validate_client_name
from keystream.commands.executor import pause_clients, unpause_clients
from keystream.commands.registry import command, container
from keystream.commands.util import parse_int
from keystream.resp import errors
from keystream.resp.errors import CommandError
from keystream.resp.writer import OK, Status, Verbatim

if TYPE_CHECKING:
    from keystream.client import Client

container("client", "connection", "Connection management commands", "2.4.0")

_TYPES = {b"normal": "normal", b"master": "master", b"replica": "replica", b"slave": "replica",
          b"pubsub": "pubsub"}
QBUF_RESIZE_THRESHOLD = 32 * 1024


def _subcommand_syntax(sub: str) -> str:
    return f"ERR unknown subcommand or wrong number of arguments for '{sub}'. Try CLIENT HELP."


def _client_type(c: Any) -> str:
    if "replica" in c.flags:
        return "replica"
    if "master" in c.flags:
        return "master"
    if c.subscribed:
        return "pubsub"
    return "normal"


def _parse_type(arg: bytes) -> str:
    t = _TYPES.get(arg.lower())
    if t is None:
        raise CommandError(f"ERR Unknown client type '{arg.decode('utf-8', 'replace')}'")
    return t


def _flags(c: Any) -> str:
    f = ""
    if c in c.engine.monitors:
        f += "O"
    if c.subscribed:
        f += "P"
    if c.multi is not None:
        f += "x"
    if c.blocked is not None:
        f += "b"
    if c.tracking is not None:
        f += "t"
    if c.dirty_cas:
        f += "d"
    if c.close_after_reply:
        f += "c"
    if c.no_evict:
        f += "e"
    if c.no_touch:
        f += "T"
    return f or "N"


def _resp_len(argv: list[bytes]) -> int:
    n = len(b"*%d\r\n" % len(argv))
    for a in argv:
        n += len(b"$%d\r\n" % len(a)) + len(a) + 2
    return n


def _resize_query_buffer(c: Any, now: float) -> None:
    """Redis's clientsCronResizeQueryBuffer, applied lazily once per cron period."""
    period = 1.0 / max(1, c.engine.config["hz"])
    if now - c.qbuf_checked < period:
        return
    c.qbuf_checked = now
    used = c.conn.input_buffered() if c.conn is not None else 0
    if c.qbuf_alloc - used > 4096:
        if now - c.last_interaction > 2:
            c.qbuf_alloc = used
        elif c.qbuf_alloc > QBUF_RESIZE_THRESHOLD and c.qbuf_alloc // 2 > c.qbuf_peak:
            c.qbuf_alloc = max(used, c.qbuf_peak)
    c.qbuf_peak = used


def client_info_line(c: Any, current: Any, argv: list[bytes] | None = None) -> str:
    """One CLIENT LIST line (without the newline)."""
    now = time.time()
    _resize_query_buffer(c, now)
    conn = c.conn
    qbuf = conn.input_buffered() if conn is not None else 0
    if c is current and argv is not None:
        qbuf += _resp_len(argv)
    alloc = max(c.qbuf_alloc, qbuf)
    omem = conn.output_buffered() if conn is not None else 0
    multi = -1 if c.multi is None else len(c.multi)
    multi_mem = 0 if c.multi is None else sum(_resp_len(a) for _, a in c.multi)
    argv_mem = sum(len(a) for a in argv) if (c is current and argv) else 0
    tot = alloc + omem + multi_mem + argv_mem + 16384 + 2000
    name = c.name.decode("utf-8", "replace")
    user = c.user.decode("utf-8", "replace")
    events = "r" + ("w" if omem else "")
    redir = -1
    if c.tracking is not None:
        redir = c.tracking.redirect or -1
    return (
        f"id={c.id} addr={c.addr} laddr={c.laddr} fd={c.fd} name={name} "
        f"age={int(now - c.created)} idle={int(now - c.last_interaction)} flags={_flags(c)} "
        f"db={c.db_index} sub={len(c.channels)} psub={len(c.patterns)} "
        f"ssub={len(c.shard_channels)} multi={multi} qbuf={qbuf} "
        f"qbuf-free={alloc - qbuf} argv-mem={argv_mem} multi-mem={multi_mem} rbs=16384 "
        f"rbp=16384 obl=0 oll=0 omem={omem} tot-mem={tot} events={events} cmd={c.last_cmd} "
        f"user={user} redir={redir} resp={c.proto}"
    )


@command("client|id", 2, "noscript loading stale", acl="connection",
         summary="The unique id of the connection", since="5.0.0")
def client_id_command(client: Client, argv: list[bytes]) -> Any:
    """CLIENT ID"""
    return client.id


@command("client|setname", 3, "noscript loading stale", acl="connection",
         summary="Name the connection", since="2.6.9",
         args="connection-name")
def client_setname_command(client: Client, argv: list[bytes]) -> Any:
    """CLIENT SETNAME connection-name"""
    validate_client_name(argv[2])
    client.name = argv[2]
    return OK


@command("client|getname", 2, "noscript loading stale", acl="connection",
         summary="The name of the connection", since="2.6.9")
def client_getname_command(client: Client, argv: list[bytes]) -> Any:
    """CLIENT GETNAME"""
    return client.name or None


@command("client|list", -2, "admin noscript loading stale", acl="connection",
         summary="One line per connected client", since="2.4.0",
         complexity="O(N) where N is the number of client connections",
         tips=("nondeterministic_output",),
         args="[normal_master_replica_pubsub=TYPE (NORMAL | MASTER | REPLICA | PUBSUB)@5.0.0] [ID "
              "(client-id:int...)@6.2.0]",
         history=(
             ("2.8.12", "The id field."),
             ("5.0.0", "The TYPE filter."),
             ("6.0.0", "The user field."),
             ("6.2.0", "The argv-mem, tot-mem, laddr and redir fields; the ID filter."),
             ("7.0.0", "The resp, multi-mem, rbs and rbp fields."),
             ("7.0.3", "The ssub field."),
         ))
def client_list_command(client: Client, argv: list[bytes]) -> Any:
    """CLIENT LIST [TYPE <NORMAL | MASTER | REPLICA | PUBSUB>] [ID client-id [client-id ...]]"""
    clients = list(client.engine.clients.values())
    if len(argv) == 4 and argv[2].lower() == b"type":
        kind = _parse_type(argv[3])
        clients = [c for c in clients if _client_type(c) == kind]
    elif len(argv) >= 4 and argv[2].lower() == b"id":
        ids: list[int] = []
        for a in argv[3:]:
            try:
                ids.append(parse_int(a))
            except CommandError:
                raise CommandError("ERR Invalid client ID") from None
        by_id = client.engine.clients
        clients = [by_id[i] for i in dict.fromkeys(ids) if i in by_id]
    elif len(argv) != 2:
        raise CommandError(errors.SYNTAX)
    text = "".join(client_info_line(c, client, argv) + "\n" for c in clients)
    return Verbatim(text.encode())


@command("client|info", 2, "noscript loading stale", acl="connection",
         summary="Information about the current connection", since="6.2.0",
         tips=("nondeterministic_output",))
def client_info_command(client: Client, argv: list[bytes]) -> Any:
    """CLIENT INFO"""
    return Verbatim((client_info_line(client, client, argv) + "\n").encode())


def _kill(target: Any, me: Any) -> None:
    if target is me:
        me.close_after_reply = True
    else:
        target.close()


@command("client|kill", -3, "admin noscript loading stale", acl="connection",
         summary="Close connections chosen by address or by filters", since="2.4.0",
         complexity="O(N) where N is the number of client connections",
         args="filter=(ip:port!2.8.12 | new-format=([ID client-id:int@2.8.12] | "
              "[normal_master_slave_pubsub=TYPE (NORMAL | MASTER@3.2.0 | SLAVE | REPLICA@5.0.0 | "
              "PUBSUB)@2.8.12] | [USER username] | [ADDR ip:port] | [LADDR ip:port@6.2.0] | "
              "[SKIPME yes/no])...)",
         history=(
             ("2.8.12", "The filter form."),
             ("2.8.12", "The ID filter."),
             ("3.2.0", "TYPE master."),
             ("5.0.0", "TYPE replica (slave stays an alias)."),
             ("6.2.0", "The LADDR filter."),
         ))
def client_kill_command(client: Client, argv: list[bytes]) -> Any:
    """CLIENT KILL <ip:port | <[ID client-id] | [TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB>]
    | [USER username] | [ADDR ip:port] | [LADDR ip:port] | [SKIPME yes/no]> [<[ID client-id] | [TYPE
    <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB>] | [USER username] | [ADDR ip:port] | [LADDR
    ip:port] | [SKIPME yes/no]> ...]>"""
    engine = client.engine
    if len(argv) == 3:
        addr = argv[2].decode("utf-8", "replace")
        for c in list(engine.clients.values()):
            if c.addr == addr:
                _kill(c, client)
                return OK
        raise CommandError("ERR No such client")
    if len(argv) % 2 != 0:
        raise CommandError(errors.SYNTAX)
    want_id: int | None = None
    kind: str | None = None
    user: bytes | None = None
    addr_f: str | None = None
    laddr_f: str | None = None
    skipme = True
    for i in range(2, len(argv), 2):
        opt, val = argv[i].lower(), argv[i + 1]
        if opt == b"id":
            try:
                want_id = parse_int(val)
            except CommandError:
                want_id = 0
            if want_id <= 0:
                raise CommandError("ERR client-id should be greater than 0")
        elif opt == b"type":
            kind = _parse_type(val)
        elif opt == b"user":
            if val != b"default":
                raise CommandError(f"ERR No such user '{val.decode('utf-8', 'replace')}'")
            user = val
        elif opt == b"addr":
            addr_f = val.decode("utf-8", "replace")
        elif opt == b"laddr":
            laddr_f = val.decode("utf-8", "replace")
        elif opt == b"skipme":
            low = val.lower()
            if low == b"yes":
                skipme = True
            elif low == b"no":
                skipme = False
            else:
                raise CommandError(errors.SYNTAX)
        else:
            raise CommandError(errors.SYNTAX)
    killed = 0
    for c in list(engine.clients.values()):
        if want_id is not None and c.id != want_id:
            continue
        if kind is not None and _client_type(c) != kind:
            continue
        if user is not None and c.user != user:
            continue
        if addr_f is not None and c.addr != addr_f:
            continue
        if laddr_f is not None and c.laddr != laddr_f:
            continue
        if c is client and skipme:
            continue
        _kill(c, client)
        killed += 1
    return killed


@command("client|pause", -3, "admin noscript loading stale", acl="connection",
         summary="Hold back the commands of all clients, or only writes, for a while",
         since="2.9.50", history=(("6.2.0", "The WRITE and ALL modes."),),
         args="timeout:int mode=[WRITE | ALL]@6.2.0")
def client_pause_command(client: Client, argv: list[bytes]) -> Any:
    """CLIENT PAUSE timeout [WRITE | ALL]"""
    try:
        timeout = parse_int(argv[2])
    except CommandError:
        raise CommandError("ERR timeout is not an integer or out of range") from None
    if timeout < 0:
        raise CommandError("ERR timeout is negative")
    all_commands = True
    if len(argv) == 4:
        mode = argv[3].lower()
        if mode == b"write":
            all_commands = False
        elif mode != b"all":
            raise CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
    elif len(argv) > 4:
        raise CommandError(_subcommand_syntax("pause"))
    pause_clients(client.engine, time.time_ns() // 1_000_000 + timeout, all_commands)
    return OK


@command("client|unpause", 2, "admin noscript loading stale", acl="connection",
         summary="End a CLIENT PAUSE", since="6.2.0",
         complexity="O(N) Where N is the number of paused clients")
def client_unpause_command(client: Client, argv: list[bytes]) -> Any:
    """CLIENT UNPAUSE"""
    unpause_clients(client.engine)
    return OK


@command("client|reply", 3, "noscript loading stale", acl="connection",
         summary="Turn replies to this connection on or off, or skip the next one",
         since="3.2.0",
         args="on_off_skip=(ON | OFF | SKIP)")
def client_reply_command(client: Client, argv: list[bytes]) -> Any:
    """CLIENT REPLY <ON | OFF | SKIP>"""
    mode = argv[2].lower()
    if mode == b"on":
        client.reply_mode = "on"
        client.skip_next = False
        return OK
    if mode == b"off":
        client.reply_mode = "off"
        return OK
    if mode == b"skip":
        if client.reply_mode == "on":
            client.reply_mode = "skip"
        return OK
    raise CommandError(errors.SYNTAX)


@command("client|no-evict", 3, "admin noscript loading stale", acl="connection",
         summary="Exempt this connection from client eviction", since="7.0.0",
         args="enabled=(ON | OFF)")
def client_no_evict_command(client: Client, argv: list[bytes]) -> Any:
    """CLIENT NO-EVICT <ON | OFF>"""
    mode = argv[2].lower()
    if mode == b"on":
        client.no_evict = True
    elif mode == b"off":
        client.no_evict = False
    else:
        raise CommandError(errors.SYNTAX)
    return OK


@command("client|unblock", -3, "admin noscript loading stale", acl="connection",
         summary="Wake a client blocked on keys, as a timeout or with an error",
         since="5.0.0", complexity="O(log N) where N is the number of client connections",
         args="client-id:int timeout_error=[TIMEOUT | ERROR]")
def client_unblock_command(client: Client, argv: list[bytes]) -> Any:
    """CLIENT UNBLOCK client-id [TIMEOUT | ERROR]"""
    target_id = parse_int(argv[2])
    error = False
    if len(argv) == 4:
        how = argv[3].lower()
        if how == b"error":
            error = True
        elif how != b"timeout":
            raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    elif len(argv) > 4:
        raise CommandError(_subcommand_syntax("unblock"))
    target = client.engine.clients.get(target_id)
    if target is None or target.blocked is None:
        return 0
    return 1 if blocking.unblock_client(target, error) else 0


_HELP = [
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    The name of this connection, or null.",
    "ID",
    "    The id of this connection.",
    "INFO",
    "    This connection, as one CLIENT LIST line.",
    "KILL <ip:port>",
    "    Close the connection from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Close the connections matching every filter:",
    "    * ID <client-id>",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "    * USER <username>",
    "    * SKIPME (YES|NO): leave this connection open (default: yes).",
    "LIST [options ...]",
    "    One line per connection. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "    * ID <client-id> [<client-id> ...]",
    "UNPAUSE",
    "    End a pause started by CLIENT PAUSE.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Hold back all commands, or only writes, for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Send replies to this connection, or not, or not for the next command.",
    "SETNAME <name>",
    "    Name this connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Wake a client blocked on keys.",
    "NO-EVICT (ON|OFF)",
    "    Exempt this connection from client eviction.",
    "HELP",
    "    Print this help.",
]


@command("client|help", 2, "loading stale", acl="connection", summary="Show the CLIENT subcommands",
         since="5.0.0")
def client_help_command(client: Client, argv: list[bytes]) -> Any:
    """CLIENT HELP"""
    return [Status(line.encode()) for line in _HELP]
