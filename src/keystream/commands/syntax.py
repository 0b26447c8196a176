"""Command arguments: our compact notation, parsed into COMMAND DOCS argument trees and rendered
as the syntax line Redis documents.

Each command declares its arguments once, in its decorator (`@command(..., args="...")`). The
notation is the documented syntax line with the facts a client needs added in place:

    key value [condition=[NX | XX]@2.6.12] [GET@6.2.0] [expiration=[EX seconds:int@2.6.12 | ...]]

- `name` is an argument of type string; `name:int`, `:double`, `:pattern`, `:time` (unix-time)
  and `:key` give other types. `:keyN` / `:patternN` name key spec N (`:key` is spec 0); an
  argument called `key` is a key of spec 0 without saying so.
- A word in capitals is a pure token, named after itself in lower case (`change=CH` names it
  otherwise). Directly followed by an argument or a `( )` group, the token introduces that
  argument or group instead (`EX seconds:int`, `LIMIT (offset:int count:int)`).
- `( )` is a group: `a | b` inside is a oneof, anything else a block. `[ ]` makes what it holds
  optional: a oneof or block as `( )` would, or, around a single item, that item. `name=` before
  a group (or before a token that introduces a group) names it; a group introduced by a token
  is named after the token unless named.
- Suffixes: `...` multiple, `...T` multiple with the token repeated before each, `@7.0.0` the
  version the argument came in, `!2.8.12` the version that deprecated it.

`render` gives the syntax line in the redis.io form (`<A | B>` for a required choice,
`arg [arg ...]` for repetition), which every handler's docstring opens with.
"""

from __future__ import annotations

import re

__all__ = ["parse_args", "render_args"]

_LEXEME = re.compile(r"[\[\]()|]|[^\s\[\]()|]+")
_TOKEN = re.compile(r"[A-Z][A-Z0-9_-]*\Z")
_SUFFIX = re.compile(r"(\.\.\.T?|[@!][0-9.]+)\Z")
_TYPES = {"int": "integer", "double": "double", "pattern": "pattern", "time": "unix-time",
          "key": "key"}
_SPEC_TYPE = re.compile(r"(key|pattern)(\d*)\Z")


class _Parser:
    def __init__(self, text: str) -> None:
        self.lex = _LEXEME.findall(text)
        self.pos = 0
        self.text = text

    def error(self, why: str) -> ValueError:
        return ValueError(f"bad argument notation ({why}) in {self.text!r}")

    def peek(self) -> str | None:
        return self.lex[self.pos] if self.pos < len(self.lex) else None

    def take(self) -> str:
        lexeme = self.lex[self.pos]
        self.pos += 1
        return lexeme

    def alternatives(self, closer: str | None) -> list[list[dict]]:
        alts = [self.sequence(closer)]
        while self.peek() == "|":
            self.take()
            alts.append(self.sequence(closer))
        return alts

    def sequence(self, closer: str | None) -> list[dict]:
        items: list[dict] = []
        while (nxt := self.peek()) is not None and nxt not in ("|", closer):
            items.append(self.item())
        if not items:
            raise self.error("empty group")
        return items

    def item(self, token: str | None = None) -> dict:
        lexeme = self.take()
        name = None
        if "=" in lexeme:
            name, lexeme = lexeme.split("=", 1)
            if not lexeme:
                lexeme = self.take()
        if lexeme in ("[", "("):
            node = self.group(lexeme)
        elif lexeme in ("]", ")", "|"):
            raise self.error(f"unexpected {lexeme!r}")
        else:
            word, suffixes = _split_suffixes(lexeme)
            if _TOKEN.match(word) and not suffixes and self._binds():
                node = self.item(word)
            else:
                node = _leaf(word)
                _apply(node, suffixes)
        if token is not None:
            node["token"] = token
            if node["name"] == "":
                node["name"] = token.lower()
        if name is not None:
            node["name"] = name
        if node["name"] == "":
            raise self.error("a group needs a name")
        return node

    def _binds(self) -> bool:
        nxt = self.peek()
        if nxt is None or nxt in ("[", "]", ")", "|"):
            return False
        if nxt == "(":
            return True
        word = nxt.split("=", 1)[-1]
        return not _TOKEN.match(_split_suffixes(word)[0]) and word != ""

    def group(self, opener: str) -> dict:
        closer = "]" if opener == "[" else ")"
        alts = self.alternatives(closer)
        if self.peek() != closer:
            raise self.error(f"missing {closer!r}")
        self.take()
        if len(alts) > 1:
            node: dict = {"name": "", "type": "oneof",
                          "arguments": [a[0] if len(a) == 1 else _block(a) for a in alts]}
        elif len(alts[0]) > 1 or opener == "(":
            node = _block(alts[0])
        else:
            node = alts[0][0]
        if opener == "[":
            node.setdefault("flags", []).insert(0, "optional")
        while (nxt := self.peek()) is not None and nxt not in ("[", "]", "(", ")", "|") and _split_suffixes(nxt)[0] == "":
            _apply(node, _split_suffixes(self.take())[1])
        return node


def _block(items: list[dict]) -> dict:
    return {"name": "", "type": "block", "arguments": items}


def _split_suffixes(word: str) -> tuple[str, list[str]]:
    suffixes: list[str] = []
    while m := _SUFFIX.search(word):
        suffixes.insert(0, m.group(1))
        word = word[:m.start()]
    return word, suffixes


def _leaf(word: str) -> dict:
    if _TOKEN.match(word):
        return {"name": word.lower(), "type": "pure-token", "token": word}
    name, _, kind = word.rpartition(":")
    spec = _SPEC_TYPE.match(kind)
    if not name or (kind not in _TYPES and spec is None):
        name, kind = word, ("key" if word == "key" else "")
        spec = _SPEC_TYPE.match(kind)
    node: dict = {"name": name, "type": _TYPES.get(kind, "string")}
    if spec is not None:
        node["type"] = spec.group(1)
        if spec.group(1) == "key" or spec.group(2):
            node["key_spec_index"] = int(spec.group(2) or 0)
    return node


def _apply(node: dict, suffixes: list[str]) -> None:
    for s in suffixes:
        if s.startswith("@"):
            node["since"] = s[1:]
        elif s.startswith("!"):
            node["deprecated_since"] = s[1:]
        else:
            flags = node.setdefault("flags", [])
            flags.append("multiple")
            if s == "...T":
                flags.append("multiple_token")


_ORDER = ("name", "type", "key_spec_index", "token", "since", "deprecated_since", "flags",
          "arguments")


def _ordered(node: dict) -> dict:
    out = {k: node[k] for k in _ORDER if k in node}
    if "flags" in out:
        out["flags"] = tuple(f for f in ("optional", "multiple", "multiple_token") if f in out["flags"])
    if "arguments" in out:
        out["arguments"] = tuple(_ordered(a) for a in out["arguments"])
    return out


def parse_args(text: str) -> tuple[dict, ...]:
    """The COMMAND DOCS argument tree of a notation string (dicts in Redis's key order)."""
    if not text.strip():
        return ()
    parser = _Parser(text)
    items = parser.sequence(None)
    if parser.peek() is not None:
        raise parser.error(f"unexpected {parser.peek()!r}")
    return tuple(_ordered(i) for i in items)


def _render(node: dict) -> str:
    kind = node["type"]
    flags = node.get("flags", ())
    token = node.get("token")
    if kind == "pure-token":
        return f"[{token}]" if "optional" in flags else (token or '""')  # MIGRATE's "" token
    if kind == "oneof":
        body = " | ".join(_render(a) for a in node["arguments"])
        if "optional" in flags and not token and "multiple" not in flags:
            return f"[{body}]"
        body = f"<{body}>"
    elif kind == "block":
        body = " ".join(_render(a) for a in node["arguments"])
    else:
        body = node["name"]
    if "multiple" in flags:
        if token and "multiple_token" in flags:
            text = f"{token} {body} [{token} {body} ...]"
        else:
            text = f"{token + ' ' if token else ''}{body} [{body} ...]"
    else:
        text = f"{token} {body}" if token else body
    return f"[{text}]" if "optional" in flags else text


def render_args(name: str, arguments: tuple[dict, ...]) -> str:
    """The syntax line of a command (`container|sub` names render as `CONTAINER SUB`)."""
    head = name.replace("|", " ").upper()
    return " ".join([head, *(_render(a) for a in arguments)])
