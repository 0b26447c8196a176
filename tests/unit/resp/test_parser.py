"""RequestParser: the fast path and the exact path must agree, whatever the bytes and splits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from keystream.resp.parser import RequestParser, _parse_buffer, _parse_whole, split_inline

args_st = st.lists(st.binary(max_size=40), min_size=1, max_size=6)
cmds_st = st.lists(args_st, min_size=1, max_size=8)


def encode(cmds: list[list[bytes]]) -> bytes:
    out = []
    for args in cmds:
        out.append(b"*%d\r\n" % len(args))
        for a in args:
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


@settings(max_examples=300, deadline=None)
@given(cmds_st, st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_any_split_gives_the_same_commands(cmds, cuts) -> None:
    data = encode(cmds)
    points = sorted({min(c, len(data)) for c in cuts})
    parser = RequestParser()
    got = []
    prev = 0
    for p in points + [len(data)]:
        got.extend(parser.feed(data[prev:p]) if p > prev else [])
        prev = p
    assert parser.error is None
    assert got == cmds


def test_partial_array_is_not_taken_as_complete() -> None:
    p = RequestParser()
    assert p.feed(b"*2\r\n$3\r\nGET\r\n") == []
    assert p.feed(b"$1\r\nk\r\n") == [[b"GET", b"k"]]


def test_huge_declared_lengths_are_errors_not_allocations() -> None:
    p = RequestParser()
    assert p.feed(b"*3000000000\r\n") == []
    assert p.error == "Protocol error: invalid multibulk length"
    p = RequestParser()
    p.feed(b"*1\r\n$600000000\r\n")
    assert p.error == "Protocol error: invalid bulk length"


def test_commands_before_a_bad_frame_are_kept() -> None:
    p = RequestParser()
    assert p.feed(b"*1\r\n$4\r\nPING\r\n*1\r\n:5\r\n") == [[b"PING"]]
    assert p.error == "Protocol error: expected '$', got ':'"


def test_negative_and_zero_multibulk_are_skipped() -> None:
    p = RequestParser()
    assert p.feed(b"*-10\r\n*0\r\n*1\r\n$4\r\nPING\r\n") == [[b"PING"]]
    assert p.error is None


def test_too_big_inline_and_count_strings() -> None:
    p = RequestParser()
    p.feed(b"a" * (70 * 1024))
    assert p.error == "Protocol error: too big inline request"
    p = RequestParser()
    p.feed(b"*1\r\n$" + b"1" * (70 * 1024))
    assert p.error == "Protocol error: too big bulk count string"


def test_split_inline_quotes_and_escapes() -> None:
    assert split_inline(b'set "a b" \'c d\' "\\x41\\n"') == [b"set", b"a b", b"c d", b"A\n"]
    assert split_inline(b'set "unterminated') is None
    assert split_inline(b'"a"b') is None
    assert split_inline(b"   ") == []


def test_split_inline_words_end_only_at_space_tab_and_newlines() -> None:
    # sdssplitargs skips any isspace() between words but ends a bare word only at ' ', \t, \r, \n
    assert split_inline(b"\v\fa\x0bb\x0cc d\te") == [b"a\x0bb\x0cc", b"d", b"e"]


def test_protocol_error_shows_the_byte_found_as_redis_does() -> None:
    p = RequestParser()
    p.feed(b"*1\r\n\r\n")
    assert p.error == "Protocol error: expected '$', got ' '"  # newlines become spaces
    p = RequestParser()
    p.feed(b"*1\r\n\xab\r\n")
    assert p.error is not None
    assert p.error.encode("utf-8", "surrogateescape") == b"Protocol error: expected '$', got '\xab'"


def test_simple_strings_and_other_resp3_types_are_not_requests() -> None:
    for frame, got in ((b"*1\r\n+PING\r\n", "+"), (b"*1\r\n=8\r\ntxt:PING\r\n", "="),
                       (b"*1\r\n(12\r\n", "("), (b"*2\r\n$3\r\nGET\r\n+k\r\n", "+")):
        p = RequestParser()
        assert p.feed(frame) == []
        assert p.error == f"Protocol error: expected '$', got '{got}'"
    # Values that merely contain those bytes still parse (on whichever path).
    p = RequestParser()
    assert p.feed(b"*2\r\n$4\r\nECHO\r\n$5\r\na+=(b\r\n") == [[b"ECHO", b"a+=(b"]]
    assert p.feed(b"*2\r\n$4\r\nECHO\r\n$3\r\n\n+x\r\n") == [[b"ECHO", b"\n+x"]]


# Pieces of requests, well-formed or not, for reads the fast path must either decline or
# parse exactly as the exact path does.
pieces_st = st.sampled_from([
    b"*1\r\n", b"*2\r\n", b"*3\r\n", b"*0\r\n", b"*-1\r\n", b"*02\r\n", b"*+2\r\n", b"* 2\r\n", b"*2\n",
    b"*11\r\n", b"$0\r\n", b"$1\r\n", b"$3\r\n", b"$03\r\n", b"$-1\r\n", b"$+3\r\n", b"$3\n",
    b"$17000\r\n", b"+OK\r\n", b":1\r\n", b"\r\n", b"x", b"abc", b"GET", b"\r", b"\n", b"PING\r\n",
])


@settings(max_examples=2000, deadline=None)
@given(st.lists(pieces_st, max_size=14), st.booleans())
def test_fast_path_accepts_only_what_the_exact_path_parses_the_same(parts, authed) -> None:
    data = b"".join(parts)
    fast = _parse_whole(data, 512 * 1024 * 1024, authed)
    if fast is None:
        return
    out: list[list[bytes]] = []
    assert _parse_buffer(bytearray(data), out, 512 * 1024 * 1024, authed) == (len(data), 0)
    assert fast == out


def test_non_canonical_lengths_and_limits_take_the_exact_path() -> None:
    for data in (b"*1\r\n$04\r\nPING\r\n", b"*01\r\n$4\r\nPING\r\n", b"*1\r\n$+4\r\nPING\r\n",
                 b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI", b"*1000000\r\n", b"*1\r\n$12345678901\r\n"):
        assert _parse_whole(data, 512 * 1024 * 1024, True) is None
    assert _parse_whole(b"*11\r\n", 512 * 1024 * 1024, False) is None
    assert _parse_whole(b"*1\r\n$16385\r\n" + b"a" * 16385 + b"\r\n", 512 * 1024 * 1024, False) is None
    assert _parse_whole(b"*1\r\n$5\r\nhello\r\n", 4, True) is None
    # What it does accept: empty values, and (as Redis) the two bytes after a bulk unread.
    assert _parse_whole(b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n*1\r\n$4\r\nPINGxx", 512 * 1024 * 1024, True) == [
        [b"GET", b""], [b"PING"]]


def test_unauthenticated_limits_hold_for_whole_reads_too() -> None:
    # (the hiredis fast path used to accept these when the command arrived in one read)
    p = RequestParser()
    p.authenticated = False
    assert p.feed(encode([[b"a"] * 11])) == []
    assert p.error == "Protocol error: unauthenticated multibulk length"
    p = RequestParser()
    p.authenticated = False
    assert p.feed(encode([[b"SET", b"k", b"v" * 16385]])) == []
    assert p.error == "Protocol error: unauthenticated bulk length"
