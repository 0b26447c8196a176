"""The AOF's own formats: command framing (with annotations and torn tails) and the manifest."""

from __future__ import annotations

import pytest

from keystream.persistence.aof import AofError, Manifest, encode_command, parse_commands


def test_commands_round_trip_and_annotations_are_skipped() -> None:
    cmds = [[b"SELECT", b"0"], [b"SET", b"k", b"a\r\nb"], [b"DEL", b""]]
    data = b"#TS:1700000000\r\n" + b"".join(map(encode_command, cmds))
    got, end, why = parse_commands(data)
    assert (got, end, why) == (cmds, len(data), "")


@pytest.mark.parametrize("cut", [1, 5, 12, 20, 26])
def test_a_torn_tail_reports_where_the_last_whole_command_ends(cut: int) -> None:
    first = encode_command([b"SET", b"a", b"1"])
    second = encode_command([b"SET", b"b", b"2"])
    got, end, why = parse_commands(first + second[:cut])
    assert got == [[b"SET", b"a", b"1"]] and end == len(first) and why == "truncated"


def test_garbage_is_corrupt_not_truncated() -> None:
    _, end, why = parse_commands(encode_command([b"PING"]) + b"hello\r\n")
    assert why.startswith("corrupt") and end == len(encode_command([b"PING"]))
    _, _, why = parse_commands(b"*1\r\n$3\r\nabcXY")
    assert why.startswith("corrupt")


def test_manifest_round_trip() -> None:
    m = Manifest("appendonly.aof.2.base.rdb", 2, [("appendonly.aof.2.incr.aof", 2), ("appendonly.aof.3.incr.aof", 3)])
    text = m.render().decode()
    assert text == ("file appendonly.aof.2.base.rdb seq 2 type b\n"
                    "file appendonly.aof.2.incr.aof seq 2 type i\n"
                    "file appendonly.aof.3.incr.aof seq 3 type i\n")
    assert Manifest.parse(text) == m
    spaced = Manifest("my file.1.base.rdb", 1, [])
    assert Manifest.parse(spaced.render().decode()) == spaced


@pytest.mark.parametrize(("text", "why"), [
    ("", "empty"),
    ("file a seq 1 type b\nfile b seq 2 type b\n", "duplicate base"),
    ("file a seq 2 type i\nfile b seq 1 type i\n", "non-monotonic"),
    ("file a seq x type i\n", "format"),
    ("file ../a seq 1 type i\n", "name"),
    ("file a seq 1\n", "format"),
])
def test_bad_manifests_are_refused(text: str, why: str) -> None:
    with pytest.raises(AofError, match=why):
        Manifest.parse(text)
