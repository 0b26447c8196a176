"""Command line: `keystream serve` and friends.

Every setting of the settings table is a `--<name> <value>` flag of `serve` (Kafka-style
dotted names too). Precedence, lowest first: built-in defaults, `--config keystream.toml`,
`KEYSTREAM_*` environment variables, command-line flags.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from keystream import __version__
from keystream.config import SETTINGS, Config, ConfigError


def _setting_options(fn):  # type: ignore[no-untyped-def]
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
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="TOML settings file (keys are setting names)")
@_setting_options
def serve(config_file: str | None, **flags: str | None) -> None:
    """Start the server (RESP on --port, Kafka on --kafka-port)."""
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
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        filename=config["logfile"] or None,
    )
    data_dir = config["dir"]
    os.makedirs(data_dir, exist_ok=True)

    from keystream.server import run

    def ready(server) -> None:  # type: ignore[no-untyped-def]
        where = ", ".join(server.listening_on()) or "nothing"
        kafka = [a for svc in server.extra_services for a in getattr(svc, "listening_on", list)()]
        kafka_where = f"; Kafka on {', '.join(kafka)}" if kafka else ""
        click.echo(f"Keystream {__version__} ready: RESP on {where}{kafka_where}; "
                   f"data in {os.path.abspath(data_dir)}")
        sys.stdout.flush()

    try:
        run(config, ready)
    except OSError as e:
        click.echo(f"keystream: cannot start: {e}", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
