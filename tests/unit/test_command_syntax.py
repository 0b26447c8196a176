"""The argument notation (commands/syntax.py): parsing, rendering, and every handler's docstring
opening with the syntax line its registered arguments render to."""

from __future__ import annotations

import ast
import functools
import inspect
from pathlib import Path

import pytest

import keystream
from keystream.commands.registry import COMMANDS, load_all
from keystream.commands.syntax import parse_args, render_args


def _every_command():
    load_all()
    for cmd in COMMANDS.values():
        if cmd.handler is not None:
            yield cmd
        yield from cmd.subcommands.values()


def test_parse_set() -> None:
    args = parse_args("key value condition=[NX | XX]@2.6.12 [GET@6.2.0] "
                      "expiration=[EX seconds:int | PXAT unix-time-milliseconds:time | KEEPTTL]")
    assert args[0] == {"name": "key", "type": "key", "key_spec_index": 0}
    assert args[1] == {"name": "value", "type": "string"}
    assert args[2] == {"name": "condition", "type": "oneof", "since": "2.6.12", "flags": ("optional",),
                       "arguments": ({"name": "nx", "type": "pure-token", "token": "NX"},
                                     {"name": "xx", "type": "pure-token", "token": "XX"})}
    assert args[3] == {"name": "get", "type": "pure-token", "token": "GET", "since": "6.2.0",
                       "flags": ("optional",)}
    assert args[4]["arguments"][0] == {"name": "seconds", "type": "integer", "token": "EX"}
    assert args[4]["arguments"][1]["type"] == "unix-time"


def test_parse_tokens_groups_and_repetition() -> None:
    args = parse_args("destination:key2 [offset_count=LIMIT (offset:int count:int)] "
                      "[GET pattern:pattern1...T] score_member=(score:double member)... "
                      "[ID (client-id:int...)@6.2.0] [MATCH pattern:pattern] ip:port!2.8.12 "
                      "[change=CH]")
    dest, limit, get, pairs, ident, match, addr, change = args
    assert dest == {"name": "destination", "type": "key", "key_spec_index": 2}
    assert limit["name"] == "offset_count" and limit["token"] == "LIMIT" and limit["type"] == "block"
    assert get["flags"] == ("optional", "multiple", "multiple_token") and get["key_spec_index"] == 1
    assert pairs["type"] == "block" and pairs["flags"] == ("multiple",)
    assert ident["name"] == "id" and ident["type"] == "block" and len(ident["arguments"]) == 1
    assert match == {"name": "pattern", "type": "pattern", "token": "MATCH", "flags": ("optional",)}
    assert addr == {"name": "ip:port", "type": "string", "deprecated_since": "2.8.12"}
    assert change == {"name": "change", "type": "pure-token", "token": "CH", "flags": ("optional",)}


@pytest.mark.parametrize("bad", ["(a b", "[NX | XX]", "a ]", "[]", "x | y"])
def test_bad_notation_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_args(bad)


@pytest.mark.parametrize("notation, line", [
    ("key c=[NX | XX] [GET]", "X key [NX | XX] [GET]"),
    ("unit=(M | KM)", "X <M | KM>"),
    ("[AGGREGATE (SUM | MIN)]", "X [AGGREGATE <SUM | MIN>]"),
    ("key... [WEIGHTS weight:int...]", "X key [key ...] [WEIGHTS weight [weight ...]]"),
    ("[GET pattern...T]", "X [GET pattern [GET pattern ...]]"),
    ("count=[COUNT count:int [ANY]]", "X [COUNT count [ANY]]"),
])
def test_render(notation: str, line: str) -> None:
    assert render_args("x", parse_args(notation)) == line


@functools.cache
def _source_docstrings(module: str) -> dict[str, str]:
    """Every top-level function's docstring in a module's source file: compiled modules
    (keystream/hotpath.py) keep no docstrings, the source is the one truth."""
    path = Path(keystream.__file__).parent.joinpath(*module.split(".")[1:]).with_suffix(".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name: inspect.cleandoc(ast.get_docstring(node) or "") for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


@pytest.mark.parametrize("cmd", list(_every_command()), ids=lambda c: c.name)
def test_docstring_opens_with_the_syntax_line(cmd) -> None:
    doc = _source_docstrings(cmd.handler.__module__).get(cmd.handler.__name__) or inspect.getdoc(cmd.handler) or ""
    syntax = " ".join(doc.split("\n\n", 1)[0].split())
    if cmd.arguments:
        assert syntax == render_args(cmd.name, cmd.arguments)
    else:
        assert syntax.startswith(cmd.name.replace("|", " ").upper())


def test_unknown_command_error_echoes_the_client_bytes() -> None:
    from keystream.resp.errors import CommandError, unknown_command
    from keystream.resp.writer import encode_into

    out: list[bytes] = []
    encode_into(out, CommandError(unknown_command(b"\xf9x", [b"a\r\nb"])), 2)
    assert b"".join(out) == b"-ERR unknown command '\xf9x', with args beginning with: 'a  b' \r\n"
