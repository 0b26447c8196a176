"""redis.conf files: Redis's word splitting, directives into the settings table, refusal of
unknown directives by name, CONFIG REWRITE keeping the file's lines."""

from __future__ import annotations

import pytest

from keystream.config import Config, ConfigError
from keystream.redisconf import quote, split_args


@pytest.mark.parametrize(("line", "words"), [
    ("port 6379", ["port", "6379"]),
    ('  save ""  ', ["save", ""]),
    ('dbfilename "a b\\x41\\n"', ["dbfilename", "a bA\n"]),
    ("requirepass 'it\\'s'", ["requirepass", "it's"]),
    ("bind 127.0.0.1 -::1", ["bind", "127.0.0.1", "-::1"]),
])
def test_split_args_as_sdssplitargs(line: str, words: list[str]) -> None:
    assert split_args(line) == words


@pytest.mark.parametrize("line", ['a "b', "a 'b", 'a "b"c'])
def test_unbalanced_quotes(line: str) -> None:
    assert split_args(line) is None


def test_quote_round_trips() -> None:
    for word in ("plain", "", "a b", 'q"uote', "back\\slash", "new\nline"):
        assert split_args("x " + quote(word)) == ["x", word]


def _load(tmp_path, text: str, name: str = "redis.conf") -> Config:
    path = tmp_path / name
    path.write_text(text)
    c = Config()
    c.load_file(str(path))
    return c


def test_directives_set_settings(tmp_path) -> None:
    c = _load(tmp_path, "# comment\n\nPort 7000\nclient-query-buffer-limit 10mb\nappendfsync no\n"
                        "hash-max-ziplist-entries 64\nnotify-keyspace-events \"Ex\"\n")
    assert c["port"] == 7000 and c["client-query-buffer-limit"] == 10 * 1024 * 1024
    assert c["appendfsync"] == "no" and c["hash-max-listpack-entries"] == 64
    assert c["notify-keyspace-events"] == "Ex"
    assert c.config_format == "redis"


def test_save_lines_add_up_and_empty_save_clears(tmp_path) -> None:
    assert _load(tmp_path, "save 900 1\nsave 300 10\n")["save"] == "900 1 300 10"
    assert _load(tmp_path, 'save 900 1\nsave ""\n')["save"] == ""
    assert _load(tmp_path, "port 1\n")["save"] == "3600 1 300 100 60 10000"


def test_output_buffer_limit_lines_set_one_class(tmp_path) -> None:
    c = _load(tmp_path, "client-output-buffer-limit pubsub 1 2 3\nclient-output-buffer-limit replica 4 5 6\n")
    assert c["client-output-buffer-limit"] == "normal 0 0 0 slave 4 5 6 pubsub 1 2 3"


def test_include_reads_another_file(tmp_path) -> None:
    (tmp_path / "other.conf").write_text("maxclients 77\n")
    assert _load(tmp_path, "include other.conf\nport 5\n")["maxclients"] == 77


@pytest.mark.parametrize(("text", "why"), [
    ("port 1\nrename-command FLUSHALL \"\"\n", "line 2.*unknown directive 'rename-command'"),
    ("port\n", "needs a value"),
    ("port 1 2\n", "takes one value"),
    ("maxmemory lots\n", "Invalid argument"),
    ("save 10\n", "Invalid save parameters"),
    ('dir "/tmp\n', "unbalanced quotes"),
])
def test_bad_directives_are_refused_with_their_line(tmp_path, text: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        _load(tmp_path, text)


def test_toml_files_still_load(tmp_path) -> None:
    assert _load(tmp_path, 'maxclients = 12\n', "keystream.toml")["maxclients"] == 12
    assert _load(tmp_path, 'maxclients = 13\n', "settings")["maxclients"] == 13


def test_rewrite_keeps_lines_and_updates_values(tmp_path) -> None:
    path = tmp_path / "redis.conf"
    path.write_text("# mine\nport 7000\nsave 900 1\nsave 300 10\nclient-query-buffer-limit 1mb\n")
    c = Config()
    c.load_file(str(path))
    c.set_text("client-query-buffer-limit", "2mb")
    c.set_text("save", "60 5")
    c.set_text("maxclients", "99")
    c.rewrite()
    text = path.read_text()
    assert text.startswith("# mine\nport 7000\nsave 60 5\nclient-query-buffer-limit 2097152\n")
    assert "maxclients 99" in text
    again = Config()
    again.load_file(str(path))
    assert (again["save"], again["client-query-buffer-limit"], again["maxclients"]) == ("60 5", 2097152, 99)


def test_a_bare_save_line_clears_save_points(tmp_path) -> None:
    assert _load(tmp_path, "save\n")["save"] == ""
