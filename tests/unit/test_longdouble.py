"""Exact long-double arithmetic used by INCRBYFLOAT (outputs checked against Redis 7.0)."""

from __future__ import annotations

import pytest

from keystream.keyspace.datatypes.longdouble import (
    add_long_double,
    format_long_double_human,
    parse_long_double,
)


def incr(a: bytes, b: bytes) -> bytes | None:
    x, y = parse_long_double(a), parse_long_double(b)
    assert x is not None and y is not None
    total = add_long_double(x, y)
    return None if total is None else format_long_double_human(total)


@pytest.mark.parametrize("a,b,want", [
    (b"10.5", b"0.1", b"10.6"),
    (b"0", b"3.0e3", b"3000"),
    (b"0.1", b"0.2", b"0.3"),
    (b"1.1", b"2.2", b"3.3"),
    (b"0", b"-0.0", b"0"),
    (b"5.0e3", b"-5000", b"0"),
    (b"0", b"0x10", b"16"),
])
def test_redis_outputs(a: bytes, b: bytes, want: bytes) -> None:
    assert incr(a, b) == want


def test_big_value_prints_all_digits() -> None:
    out = incr(b"0", b"1e200")
    # Redis 7.0.15 replies exactly this to INCRBYFLOAT k 1e200 (long double rounding).
    assert out == (b"10000000000000000000245858653416102566150806804005000288732750048732578543"
                   b"23839262083728907361291987398136581473596522385665929606178545877878453260"
                   b"97835852628442219969983473365844529789269081145212928")


@pytest.mark.parametrize("text", [b"", b" 1", b"1 ", b"abc", b"nan", b"1e5000", b"1e-5000",
                                  b"1e", b"0x", b"1_0", b"x" * 6000])
def test_rejected(text: bytes) -> None:
    assert parse_long_double(text) is None


def test_infinity_parses_but_cannot_be_added() -> None:
    inf = parse_long_double(b"inf")
    assert inf is not None
    assert add_long_double(parse_long_double(b"1"), inf) is None
