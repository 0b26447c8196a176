"""Command line: `keystream serve` and friends.

Every setting of the settings table is a `--<name> <value>` flag of `serve` (Kafka-style
dotted names too). Precedence, lowest first: built-in defaults, the settings file (a
redis.conf in Redis's syntax, or a keystream.toml; `keystream serve FILE` or `--config FILE`),
`KEYSTREAM_*` environment variables, command-line flags.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from keystream import __version__
from keystream.config import SETTINGS, Config, ConfigError


def _setting_options(fn):
    for i, s in reversed(list(enumerate(SETTINGS))):
        default = s.render(s.default)
        fn = click.option(
            f"--{s.name}", f"setting_{i}", default=None, metavar=s.kind.upper(),
            help=f"{s.help} [default: {default!r}]",
        )(fn)
    return fn


@click.group()
@click.version_option(__version__, prog_name="keystream")
def main() -> None:
    """Keystream: a Redis- and Kafka-compatible server in one process."""


@main.command()
@click.argument("conf", required=False, type=click.Path(dir_okay=False))
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="Settings file: a redis.conf (Redis's syntax) or a keystream.toml")
@_setting_options
def serve(conf: str | None, config_file: str | None, **flags: str | None) -> None:
    """Start the server (RESP on --port, Kafka on --kafka-port). CONF: a redis.conf or
    keystream.toml to read settings from (as --config)."""
    if conf and config_file:
        raise click.UsageError("give the settings file once: as CONF or as --config")
    config_file = conf or config_file
    config = Config()
    try:
        if config_file:
            config.load_file(config_file)
        config.load_env()
        for key, text in flags.items():
            if text is not None:
                s = SETTINGS[int(key.split("_", 1)[1])]
                config.set_text(s.name, text)
    except ConfigError as e:
        raise click.UsageError(str(e)) from None
    except (OSError, ValueError) as e:
        raise click.UsageError(f"cannot read config file: {e}") from None

    level = {"debug": logging.DEBUG, "verbose": logging.INFO, "notice": logging.INFO,
             "warning": logging.WARNING, "nothing": logging.CRITICAL}[config["loglevel"]]
    # As Redis: the log goes to logfile, or to standard output when it is "".
    log_to = {"filename": config["logfile"]} if config["logfile"] else {"stream": sys.stdout}
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", **log_to)
    data_dir = config["dir"]
    os.makedirs(data_dir, exist_ok=True)
    log = logging.getLogger("keystream")

    # kio (the Kafka schema types) registers a hypothesis strategy for each of its types when
    # hypothesis is importable, which costs the server ~0.8 s of start-up where a test
    # environment has it; the server never generates data, so it is kept from importing it.
    sys.modules.setdefault("hypothesis", None)  # type: ignore[arg-type]
    from keystream.server import Server, run

    def ready(server: Server) -> None:
        where = ", ".join(server.listening_on()) or "nothing"
        kafka = server.kafka.listening_on() if server.kafka is not None else []
        kafka_where = f"; Kafka on {', '.join(kafka)}" if kafka else ""
        click.echo(f"Keystream {__version__} ready: RESP on {where}{kafka_where}; "
                   f"data in {os.path.abspath(data_dir)}")
        sys.stdout.flush()
        # With the " PID: " line the server logs once it listens, the line tools that start
        # Redis wait for (Redis's test suite among them).
        log.info("Ready to accept connections tcp")

    try:
        run(config, ready)
    except OSError as e:
        # Redis's words, which tools that start servers on free ports look for
        log.critical("Failed listening on port %s (tcp), aborting: %s", config["port"], e)
        click.echo(f"keystream: cannot start: {e}", err=True)
        sys.exit(1)


@main.command()
@click.option("--bootstrap", default="127.0.0.1:9092", show_default=True, help="Kafka address of the broker")
@click.option("--group", "groups", multiple=True, help="Only this group (repeatable); default: every group")
def groups(bootstrap: str, groups: tuple[str, ...]) -> None:
    """Consumer groups and their lag, as `kafka-consumer-groups --describe` shows them."""
    from keystream.kafka.groups.client import MiniClient, describe_lag

    host, _, port = bootstrap.rpartition(":")
    try:
        with MiniClient(host or "127.0.0.1", int(port)) as client:
            states, rows = describe_lag(client, list(groups) or None)
    except (OSError, ValueError) as e:
        raise click.ClickException(f"cannot query {bootstrap}: {e}") from None
    header = ("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST",
              "CLIENT-ID")
    table = [header]
    for r in rows:
        table.append((r.group, r.topic, str(r.partition), "-" if r.committed is None else str(r.committed),
                      "-" if r.log_end is None else str(r.log_end), "-" if r.lag is None else str(r.lag),
                      r.member_id, r.host, r.client_id))
    for g, state in sorted(states.items()):
        if not any(r.group == g for r in rows):
            table.append((g, "-", "-", "-", "-", "-", "-", "-", f"({state}, no offsets)"))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _resp_call(address: str, *args: str) -> object:
    """One command over RESP2 (a socket and hiredis's reader); an error reply raises."""
    import socket

    import hiredis

    host, _, port = address.rpartition(":")
    req = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args)
    reader = hiredis.Reader()
    with socket.create_connection((host or "127.0.0.1", int(port)), timeout=10) as sock:
        sock.sendall(req)
        reply = reader.gets()
        while reply is False:
            data = sock.recv(65536)
            if not data:
                raise OSError("connection closed")
            reader.feed(data)
            reply = reader.gets()
    if isinstance(reply, hiredis.ReplyError):
        raise click.ClickException(str(reply))
    return reply


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@main.command()
@click.option("--redis", "address", default="127.0.0.1:6379", show_default=True, help="RESP address of the server")
def bridge(address: str) -> None:
    """Table views and change captures with their offsets, lag and counters (VIEW.LIST, CAPTURE.LIST)."""
    try:
        views = _resp_call(address, "VIEW.LIST")
        captures = _resp_call(address, "CAPTURE.LIST")
    except (OSError, ValueError) as e:
        raise click.ClickException(f"cannot query {address}: {e}") from None

    def fields(item: list) -> dict[str, str]:
        return {k.decode(): (v.decode("utf-8", "replace") if isinstance(v, bytes)
                             else "/".join(str(x) for x in v) if isinstance(v, list) else str(v))
                for k, v in zip(item[::2], item[1::2], strict=True)}

    rows: list[tuple[str, ...]] = [("VIEW", "TOPIC", "TYPE", "DB", "WRITETHROUGH", "OFFSETS-APPLIED", "LAG", "APPLIED", "SKIPPED")]
    for v in map(fields, views):  # type: ignore[call-overload]
        rows.append((v["name"], v["topic"], v["type"].upper(), v["db"], "yes" if v["writethrough"] == "1" else "no",
                     v["offsets_applied"] or "-", v["lag"], v["records_applied"], v["records_skipped"]))
    _table(rows)
    click.echo("")
    rows = [("CAPTURE-TOPIC", "MATCH", "DB", "FORMAT", "WRITTEN", "LAST-OFFSET")]
    for c in map(fields, captures):  # type: ignore[call-overload]
        rows.append((c["topic"], c["match"], "all" if c["db"] == "-1" else c["db"], c["format"].upper(),
                     c["records_written"], c["last_offset"]))
    _table(rows)


if __name__ == "__main__":  # pragma: no cover
    main()
