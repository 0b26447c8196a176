"""redis.conf files: read a Redis-format configuration file into the settings table, and
write one back (CONFIG REWRITE), so a user starts Keystream with the file they run Redis with.

Syntax, as Redis's config.c reads it: one directive per line, `name arg arg ...`, words
split as Redis's sdssplitargs splits them ("double quotes" with \\n \\r \\t \\b \\a \\\\ \\"
and \\xHH escapes, 'single quotes' with \\' only); blank lines and lines starting with `#`
are skipped; names are case-insensitive. `include <path>` reads another file in place.
As in Redis, `save` lines add up (the first one replaces the default; `save ""` clears) and
each `client-output-buffer-limit` line sets one client class. Every setting of the table
(names and aliases) is accepted; any other directive is refused by name with its line, as
Redis refuses a bad directive.

Rewriting keeps the file's lines (comments, order) and puts each changed setting's current
value on its line (several lines for `save`), appending settings that are not at their
default and had no line.

Not here: the settings themselves (config.py), TOML files (config.py).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from keystream.config import SETTINGS, ConfigError, Setting

if TYPE_CHECKING:
    from keystream.config import Config

__all__ = ["is_redis_conf", "load_redis_conf", "quote", "rewrite_redis_conf", "split_args"]

# A TOML key/value pair or table header: `name = value`, `"a.b" = value`, `[table]`
_TOML_LINE = re.compile(r'(\[|[A-Za-z0-9_.\-"]+\s*=)')
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a", "\\": "\\", '"': '"'}


def split_args(line: str) -> list[str] | None:
    """The words of a line as sdssplitargs splits them; None if the quotes are unbalanced."""
    out: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return out
        word: list[str] = []
        quote_char = ""
        while i < n:
            c = line[i]
            if quote_char == '"':
                if (c == "\\" and i + 3 < n and line[i + 1] == "x"
                        and all(h in "0123456789abcdefABCDEF" for h in line[i + 2:i + 4])):
                    word.append(chr(int(line[i + 2:i + 4], 16)))
                    i += 4
                    continue
                if c == "\\" and i + 1 < n:
                    word.append(_ESCAPES.get(line[i + 1], line[i + 1]))
                    i += 2
                    continue
                if c == '"':
                    if i + 1 < n and not line[i + 1].isspace():
                        return None
                    quote_char = ""
                    i += 1
                    break
                word.append(c)
            elif quote_char == "'":
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    word.append("'")
                    i += 2
                    continue
                if c == "'":
                    if i + 1 < n and not line[i + 1].isspace():
                        return None
                    quote_char = ""
                    i += 1
                    break
                word.append(c)
            else:
                if c.isspace():
                    break
                if c in "\"'" and not word:
                    quote_char = c
                    i += 1
                    continue
                word.append(c)
            i += 1
        if quote_char:
            return None
        out.append("".join(word))


def quote(word: str) -> str:
    """word as a redis.conf argument (quoted when it has to be)."""
    if word and all(c.isprintable() and not c.isspace() and c not in "\"'\\" for c in word):
        return word
    body = word.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{body}"'


def is_redis_conf(path: str) -> bool:
    """True unless the file looks like TOML (`.toml`, or its first directive has an `=`)."""
    if path.endswith(".toml"):
        return False
    if path.endswith(".conf"):
        return True
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            text = line.strip()
            if text and not text.startswith("#"):
                return _TOML_LINE.match(text) is None
    return True


def _merge_output_limit(current: str, args: list[str]) -> str:
    """client-output-buffer-limit: set one class, keep the others."""
    words = current.split()
    classes = {words[i]: words[i + 1:i + 4] for i in range(0, len(words) - 3, 4)}
    for i in range(0, len(args) - 3, 4):
        cls = "slave" if args[i].lower() in ("replica", "slave") else args[i].lower()
        classes[cls] = args[i + 1:i + 4]
    return " ".join(f"{cls} {' '.join(v)}" for cls, v in classes.items())


def load_redis_conf(config: Config, path: str, _depth: int = 0) -> None:
    """Apply a redis.conf file to config; ConfigError naming the line of a bad directive."""
    if _depth > 8:
        raise ConfigError(f"{path}: include nested too deeply")
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        lines = f.read().split("\n")
    saw_save = False
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue

        def bad(why: str, line: str = line, lineno: int = lineno) -> ConfigError:
            return ConfigError(f"Bad directive or wrong number of arguments at line {lineno} of {path} "
                               f">>> '{line}': {why}")

        words = split_args(line)
        if words is None:
            raise bad("unbalanced quotes")
        name, args = words[0].lower(), words[1:]
        if name == "include":
            if len(args) != 1:
                raise bad("include takes one path")
            load_redis_conf(config, os.path.join(os.path.dirname(path), args[0]), _depth + 1)
            continue
        try:
            setting = config.setting(name)
        except ConfigError:
            raise bad(f"unknown directive '{words[0]}'") from None
        if setting.name == "save":  # a multi-argument directive: `save` alone clears, as `save ""`
            pairs = [a for a in args if a]
            text = " ".join(pairs) if not saw_save else f"{config['save']} {' '.join(pairs)}".strip()
            if not pairs:
                text = ""
            saw_save = True
        elif not args:
            raise bad(f"'{words[0]}' needs a value")
        elif setting.name == "client-output-buffer-limit":
            if len(args) != 4:
                raise bad("client-output-buffer-limit takes a class and three limits")
            text = _merge_output_limit(str(config[setting.name]), args)
        elif len(args) > 1 and setting.kind not in ("str", "list"):
            raise bad(f"'{words[0]}' takes one value")
        else:
            text = " ".join(args)
        try:
            config.set_text(setting.name, text)
        except ConfigError as e:
            raise bad(str(e)) from None
    config.config_file = os.path.abspath(path)
    config.config_format = "redis"


def _lines_for(s: Setting, config: Config) -> list[str]:
    value = config.values[s.name]
    text = s.render(value)
    if s.name == "save":
        words = text.split()
        if not words:
            return ['save ""']
        return [f"save {words[i]} {words[i + 1]}" for i in range(0, len(words) - 1, 2)]
    if s.name == "client-output-buffer-limit":
        words = text.split()
        return [f"client-output-buffer-limit {' '.join(words[i:i + 4])}" for i in range(0, len(words) - 3, 4)]
    if s.kind in ("str", "list") and s.name in ("bind", "oom-score-adj-values",
                                                 "latency-tracking-info-percentiles"):
        return [f"{s.name} {text}" if text else f'{s.name} ""']
    return [f"{s.name} {quote(text)}"]


def rewrite_redis_conf(config: Config, path: str) -> None:
    """CONFIG REWRITE of a redis.conf: current values on the file's own lines."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            old = f.read().split("\n")
    except FileNotFoundError:
        old = []
    if old and old[-1] == "":
        old.pop()
    out: list[str] = []
    done: set[str] = set()
    for raw in old:
        words = split_args(raw.strip()) if raw.strip() and not raw.strip().startswith("#") else None
        if not words:
            out.append(raw)
            continue
        try:
            s = config.setting(words[0])
        except ConfigError:
            out.append(raw)
            continue
        if s.name in done:
            continue
        done.add(s.name)
        out.extend(_lines_for(s, config))
    added = [s for s in SETTINGS if s.name not in done and config.values[s.name] != s.default]
    if added:
        out.append("# Generated by CONFIG REWRITE")
        for s in added:
            out.extend(_lines_for(s, config))
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("\n".join(out) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
